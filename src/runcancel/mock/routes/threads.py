"""``/v1/threads``: create, retrieve, update, delete."""

from __future__ import annotations

from runcancel.mock.app import Answer, Call
from runcancel.mock.inputs import thread_update
from runcancel.mock.routes import Route
from runcancel.mock.validation import thread_request


async def create(call: Call) -> Answer:
    return call.store.create_thread(thread_request(await call.json()))


async def retrieve(call: Call) -> Answer:
    return call.store.get_thread(call.params[0])


async def update(call: Call) -> Answer:
    metadata, resources = thread_update(await call.json())
    return call.store.update_thread(call.params[0], metadata, resources)


async def delete(call: Call) -> Answer:
    return call.store.delete_thread(call.params[0])


ROUTES = (
    Route("POST", ("v1", "threads"), create),
    Route("GET", ("v1", "threads", None), retrieve),
    Route("POST", ("v1", "threads", None), update),
    Route("DELETE", ("v1", "threads", None), delete),
)
