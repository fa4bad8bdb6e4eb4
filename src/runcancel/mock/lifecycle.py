"""How a run of the mock moves through its statuses, computed from the clock.

A run is created ``queued``; after the pace's ``queued`` seconds it is ``in_progress``, and after its
``in_progress`` seconds it reaches the outcome its :class:`Plan` names. A ``requires_action`` run given
its tool outputs goes on the same way (``queued``, ``in_progress``) to ``completed``. The outcome
``queued`` or ``in_progress`` holds the run in that status. A run still active when ``EXPIRY_SECONDS``
have passed since its creation ``expired``.
A cancel moves an active run to ``cancelling``; ``cancelling`` seconds later it reads ``cancelled``
(or ``completed``, when the cancel lost the race).
Nothing runs in the background: the status is derived from the clock whenever a run is read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

from runcancel.mock.config import Timings
from runcancel.mock.errors import ApiError
from runcancel.mock.validation import SCENARIO_KEY

EXPIRY_SECONDS = 600
ACTIVE = frozenset({"queued", "in_progress", "requires_action"})
"""Statuses a run can be cancelled from."""
PENDING = ACTIVE | {"cancelling"}
"""Statuses in which a run has not finished: it has an ``expires_at`` and no ``usage``."""

FAILURE_MESSAGE = "The server had an error while processing your request. Sorry about that!"


@dataclass(frozen=True, slots=True)
class Plan:
    """Where a run ends up when nobody cancels it, and the function it calls if it needs tool outputs."""

    outcome: str
    function: str | None = None


def plan_run(
    metadata: dict[str, str], tools: list[dict[str, Any]], tool_choice: str | dict[str, Any]
) -> Plan:
    """Choose the outcome from inputs the live API also accepts.

    The metadata key ``runcancel_scenario`` names the outcome. Without it, a ``tool_choice`` that forces
    a function, or ``"required"`` with at least one function tool, leads to ``requires_action``;
    anything else to ``completed``.
    """
    functions = [tool["function"]["name"] for tool in tools if tool["type"] == "function"]
    forced: str | None = None
    if isinstance(tool_choice, dict) and tool_choice["type"] == "function":
        forced = tool_choice["function"]["name"]
        if forced not in functions:
            raise ApiError(
                400,
                f"Invalid 'tool_choice': the function '{forced}' is not one of the run's function tools.",
                param="tool_choice",
                code="invalid_value",
            )
    elif tool_choice == "required" and functions:
        forced = functions[0]
    scenario = metadata.get(SCENARIO_KEY)
    if scenario is None:
        return Plan("requires_action", forced) if forced else Plan("completed")
    if scenario == "requires_action":
        function = forced or (functions[0] if functions else None)
        if function is None:
            raise ApiError(
                400,
                f"Invalid 'metadata.{SCENARIO_KEY}': 'requires_action' needs a function tool on the run "
                "(give 'tools' with a function, on the run or on its assistant).",
                param="metadata",
                code="invalid_value",
            )
        return Plan("requires_action", function)
    return Plan(scenario)


class Snapshot(NamedTuple):
    """The status of a run at one moment, with the clock readings of the events so far.

    ``resumed`` is when tool outputs were accepted, if they were and the run has gone on since.
    (A named tuple: made on every read of a run, it costs a third of a frozen dataclass.)
    """

    status: str
    started: float | None = None
    ended: float | None = None
    resumed: float | None = None


class Timeline(Protocol):
    """What happened to a run: when it was created, given tool outputs, asked to cancel.

    ``cancel_lost`` marks an accepted cancel that loses the race (the run completes anyway). The
    store's run records are timelines as they stand, so reading a run copies nothing.
    """

    @property
    def plan(self) -> Plan: ...
    @property
    def created(self) -> float: ...
    @property
    def resumed(self) -> float | None: ...
    @property
    def cancel_requested(self) -> float | None: ...
    @property
    def cancel_lost(self) -> bool: ...


def natural(timeline: Timeline, now: float, timings: Timings) -> Snapshot:
    """The run's status at ``now`` if it is never cancelled."""
    plan, created = timeline.plan, timeline.created
    started = created + timings.queued
    if plan.outcome == "queued" or now < started:
        snapshot = Snapshot("queued")
    elif plan.outcome == "in_progress" or now < started + timings.in_progress:
        snapshot = Snapshot("in_progress", started)
    elif plan.outcome == "requires_action" and timeline.resumed is not None and now >= timeline.resumed:
        # Tool outputs were accepted: the run goes on, queued, in_progress, then completed.
        resumed = timeline.resumed
        if now < resumed + timings.queued:
            snapshot = Snapshot("queued", started, resumed=resumed)
        elif now < resumed + timings.queued + timings.in_progress:
            snapshot = Snapshot("in_progress", started, resumed=resumed)
        else:
            finished = resumed + timings.queued + timings.in_progress
            snapshot = Snapshot("completed", started, finished, resumed)
    else:
        ended = None if plan.outcome in ACTIVE else started + timings.in_progress
        snapshot = Snapshot(plan.outcome, started, ended)
    expiry = created + EXPIRY_SECONDS
    if snapshot.status in ACTIVE and now >= expiry:
        return Snapshot("expired", snapshot.started, expiry, snapshot.resumed)
    return snapshot


def snapshot_at(timeline: Timeline, now: float, timings: Timings) -> Snapshot:
    """The run's status at ``now``, given when (if ever) a cancel was accepted and whether it lost."""
    requested = timeline.cancel_requested
    if requested is None or now < requested:
        return natural(timeline, now, timings)
    before = natural(timeline, requested, timings)
    done = requested + timings.cancelling
    if now < done:
        return Snapshot("cancelling", before.started, resumed=before.resumed)
    if timeline.cancel_lost:
        return Snapshot("completed", before.started, done, before.resumed)
    return Snapshot("cancelled", before.started, done, before.resumed)


def usage(
    status: str, started: bool, instructions: str, tools: int, limits: tuple[int | None, int | None]
) -> dict[str, int] | None:
    """Token usage: ``None`` until the run has finished, then small numbers derived from its inputs."""
    if status in PENDING:
        return None
    max_prompt, max_completion = limits
    prompt = 0
    completion = 0
    if started:
        prompt = 40 + (len(instructions) + 3) // 4 + 12 * tools
        if max_prompt is not None:
            prompt = min(prompt, max_prompt)
        if status == "completed":
            completion = 24
        elif status == "incomplete":
            if incomplete_reason(limits) == "max_prompt_tokens":
                prompt = max_prompt or prompt
            else:
                completion = max_completion or 24
        if max_completion is not None:
            completion = min(completion, max_completion)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def incomplete_reason(limits: tuple[int | None, int | None]) -> str:
    """Why an ``incomplete`` run stopped: the completion limit, unless only a prompt limit was given."""
    max_prompt, max_completion = limits
    if max_prompt is not None and max_completion is None:
        return "max_prompt_tokens"
    return "max_completion_tokens"
