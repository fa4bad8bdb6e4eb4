"""Runs: create (also with a new thread), list, retrieve, update, cancel, submit tool outputs, steps."""

from __future__ import annotations

from runcancel.mock.app import Answer, Call, EventStream
from runcancel.mock.errors import ApiError
from runcancel.mock.fields import JSONObject, type_error
from runcancel.mock.inputs import metadata_update, tool_outputs_request
from runcancel.mock.routes import Route
from runcancel.mock.streaming import RunEvents, created_events, event, poll_interval
from runcancel.mock.validation import run_request, thread_request


def _noted(call: Call, run: JSONObject) -> JSONObject:
    call.facts.append(f"{run['id']} {run['status']}")
    return run


def _events(call: Call, run: JSONObject, first: list[bytes]) -> EventStream:
    events = RunEvents(call.store, run["thread_id"], run["id"], poll_interval(call.config.timings))
    return EventStream(events.stream(first))


async def create(call: Call) -> Answer:
    request = run_request(await call.json())
    run = _noted(call, call.store.create_run(call.params[0], request))
    return _events(call, run, created_events(run, None)) if request.stream else run


async def create_thread_and_run(call: Call) -> Answer:
    body = await call.json()
    thread_body = body.pop("thread", None)
    if thread_body is not None and not isinstance(thread_body, dict):
        raise type_error("thread", "an object", thread_body)
    thread = thread_request(thread_body or {})
    request = run_request(body)
    run = _noted(call, call.store.create_thread_and_run(thread, request))
    if not request.stream:
        return run
    created = call.store.get_thread(run["thread_id"])
    return _events(call, run, created_events(run, created))


async def listing(call: Call) -> Answer:
    return call.store.list_runs(call.params[0], call.listing())


async def retrieve(call: Call) -> Answer:
    return _noted(call, call.store.get_run(call.params[0], call.params[1]))


async def update(call: Call) -> Answer:
    metadata = metadata_update(await call.json())
    return _noted(call, call.store.update_run(call.params[0], call.params[1], metadata))


async def cancel(call: Call) -> Answer:
    # The body is ignored, as the live API does; the check-and-set runs with no await in between.
    return call.store.cancel_run(call.params[0], call.params[1], call.facts)


async def submit_tool_outputs(call: Call) -> Answer:
    request = tool_outputs_request(await call.json())
    thread_id, run_id = call.params
    before = call.store.run_state(thread_id, run_id) if request.stream else None
    try:
        run = call.store.submit_tool_outputs(thread_id, run_id, request)
    except ApiError:
        call.facts.append(f"{run_id}: tool outputs refused")
        raise
    call.facts.append(f"{run_id} requires_action -> {run['status']} (tool outputs)")
    if before is None:
        return run
    events = RunEvents(call.store, thread_id, run_id, poll_interval(call.config.timings))
    events.resume_from(before)
    return EventStream(events.stream([]))


async def list_steps(call: Call) -> Answer:
    return call.store.list_steps(call.params[0], call.params[1], call.listing())


async def retrieve_step(call: Call) -> Answer:
    thread_id, run_id, step_id = call.params
    return call.store.get_step(thread_id, run_id, step_id)


RUN = ("v1", "threads", None, "runs", None)
ROUTES = (
    Route("POST", ("v1", "threads", "runs"), create_thread_and_run),
    Route("POST", ("v1", "threads", None, "runs"), create),
    Route("GET", ("v1", "threads", None, "runs"), listing),
    Route("GET", RUN, retrieve),
    Route("POST", RUN, update),
    Route("POST", (*RUN, "cancel"), cancel),
    Route("POST", (*RUN, "submit_tool_outputs"), submit_tool_outputs),
    Route("GET", (*RUN, "steps"), list_steps),
    Route("GET", (*RUN, "steps", None), retrieve_step),
)
__all__ = ["ROUTES", "event"]
