"""The routes the mock serves, one module per kind of object, and the table the app dispatches on."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
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
    _fixed: tuple[tuple[int, str], ...] = field(init=False, repr=False, compare=False)
    _params: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        fixed = tuple((index, part) for index, part in enumerate(self.pattern) if part is not None)
        object.__setattr__(self, "_fixed", fixed)
        object.__setattr__(self, "_params", tuple(i for i, part in enumerate(self.pattern) if part is None))

    def match(self, segments: list[str]) -> list[str] | None:
        """The path parameters if ``segments`` (as many as the pattern has) fit it; none may be empty."""
        for index, part in self._fixed:
            if segments[index] != part:
                return None
        params = [segments[index] for index in self._params]
        return params if all(params) else None


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
