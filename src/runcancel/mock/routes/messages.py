"""``/v1/threads/{thread_id}/messages``: create, list, retrieve, update."""

from __future__ import annotations

from runcancel.mock.app import Answer, Call
from runcancel.mock.inputs import message_request, metadata_update
from runcancel.mock.routes import Route


async def create(call: Call) -> Answer:
    return call.store.create_message(call.params[0], message_request(await call.json()))


async def listing(call: Call) -> Answer:
    return call.store.list_messages(call.params[0], call.listing(), call.query("run_id"))


async def retrieve(call: Call) -> Answer:
    return call.store.get_message(call.params[0], call.params[1])


async def update(call: Call) -> Answer:
    metadata = metadata_update(await call.json())
    return call.store.update_message(call.params[0], call.params[1], metadata)


ROUTES = (
    Route("POST", ("v1", "threads", None, "messages"), create),
    Route("GET", ("v1", "threads", None, "messages"), listing),
    Route("GET", ("v1", "threads", None, "messages", None), retrieve),
    Route("POST", ("v1", "threads", None, "messages", None), update),
)
