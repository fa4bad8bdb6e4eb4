"""``/v1/assistants``: create, list, retrieve, update, delete."""

from __future__ import annotations

from dataclasses import fields

from runcancel.mock.app import Answer, Call
from runcancel.mock.routes import Route
from runcancel.mock.validation import AssistantRequest, assistant_request


async def create(call: Call) -> Answer:
    return call.store.create_assistant(assistant_request(await call.json()))


async def listing(call: Call) -> Answer:
    return call.store.list_assistants(call.listing())


async def retrieve(call: Call) -> Answer:
    return call.store.get_assistant(call.params[0])


async def update(call: Call) -> Answer:
    body = await call.json()
    current = call.store.get_assistant(call.params[0])
    # Validate the merged assistant as a create would, then keep the fields the body named.
    merged = {key: current[key] for key in ("model",)} | {k: v for k, v in body.items() if v is not None}
    checked = assistant_request(merged)
    names = {f.name for f in fields(AssistantRequest)}
    changes = {name: getattr(checked, name) for name in names if name in body and body[name] is not None}
    return call.store.update_assistant(call.params[0], changes)


async def delete(call: Call) -> Answer:
    return call.store.delete_assistant(call.params[0])


ROUTES = (
    Route("POST", ("v1", "assistants"), create),
    Route("GET", ("v1", "assistants"), listing),
    Route("GET", ("v1", "assistants", None), retrieve),
    Route("POST", ("v1", "assistants", None), update),
    Route("DELETE", ("v1", "assistants", None), delete),
)
