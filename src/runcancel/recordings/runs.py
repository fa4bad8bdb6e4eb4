"""The Run objects an answer carries, whatever the route: a Run, a list's `data[]`, a stream's events.

create, retrieve, update, cancel and submit_tool_outputs answer one Run; list answers a `list` whose
`data[]` are Runs; a streamed answer (`text/event-stream`) carries one Run in each `thread.run.*`
event (not `thread.run.step.*`). The Run is one object across all of them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

__all__ = ["RUN_OBJECT", "is_run", "runs_in", "sse_events", "sse_runs"]

RUN_OBJECT = "thread.run"


def is_run(value: Any) -> bool:
    return isinstance(value, dict) and value.get("object") == RUN_OBJECT


def runs_in(body: Any) -> list[dict[str, Any]]:
    """The Runs of a decoded JSON answer: itself, or the Runs of a list's `data`."""
    if is_run(body):
        return [body]
    if isinstance(body, dict) and body.get("object") == "list" and isinstance(body.get("data"), list):
        return [item for item in body["data"] if is_run(item)]
    return []


def sse_events(text: str) -> Iterator[tuple[str, str]]:
    """(event, data) of a server-sent event stream; `data` lines of one event joined by newlines."""
    event, data = "message", list[str]()
    for line in text.splitlines():
        if not line:
            if data:
                yield event, "\n".join(data)
            event, data = "message", list[str]()
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
    if data:
        yield event, "\n".join(data)


def sse_runs(text: str) -> Iterator[tuple[str, Any]]:
    """(event, decoded data) of each `thread.run.*` event of a stream (steps excluded); None if not JSON."""
    for event, data in sse_events(text):
        if event.startswith("thread.run.") and not event.startswith("thread.run.step"):
            try:
                yield event, json.loads(data)
            except ValueError:
                yield event, None


def looks_like_sse(content_type: str, body: bytes) -> bool:
    return content_type == "text/event-stream" or body.lstrip()[:6] in (b"event:", b"data: ")
