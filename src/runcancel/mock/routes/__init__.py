"""The routes the mock serves, one module per kind of object, and the table the app dispatches on."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from runcancel.mock.app import Answer, Call

Handler = Callable[["Call"], Awaitable["Answer"]]


@dataclass(frozen=True, slots=True)
class Route:
    """A method and a path pattern; ``None`` in the pattern stands for one path parameter."""

    method: str
    pattern: tuple[str | None, ...]
    handler: Handler

    def match(self, segments: list[str]) -> list[str] | None:
        """The path parameters if ``segments`` fit the pattern (parameters must not be empty)."""
        params: list[str] = []
        for part, segment in zip(self.pattern, segments, strict=True):
            if part is None:
                if not segment:
                    return None
                params.append(segment)
            elif part != segment:
                return None
        return params


def route_table(routes: Iterable[Route]) -> dict[tuple[str, int], tuple[Route, ...]]:
    """The routes by method and number of path segments, in their order."""
    table: dict[tuple[str, int], list[Route]] = {}
    for route in routes:
        table.setdefault((route.method, len(route.pattern)), []).append(route)
    return {key: tuple(value) for key, value in table.items()}


def _all_routes() -> tuple[Route, ...]:
    from runcancel.mock.routes import assistants, messages, runs, threads

    # Runs first: `POST /v1/threads/runs` (create and run) before `POST /v1/threads/{thread_id}` (update).
    return (*runs.ROUTES, *assistants.ROUTES, *threads.ROUTES, *messages.ROUTES)


ROUTES: tuple[Route, ...] = _all_routes()
