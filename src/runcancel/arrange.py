"""Arranging: putting runs into a wanted status through the target's public API, and cleaning up.

Runs are created the way any client creates them (assistant, thread, run) and steered with inputs
the real API accepts too: a `tool_choice` that forces a function call leads to `requires_action` on
any faithful server, and the metadata key `runcancel_scenario` names the outcome on the reference
mock (the live API stores it and ignores it). Waiting is bounded; a status the target does not reach
in time raises `NotArranged`, which a suite reports as "not verified", never as passed. A target
whose runs never move (a static mock answering canned runs) is recognised early, and the wait ends
with advice instead of running out the whole time-out.

Servers that cannot reach some statuses through their public API in time (`expired`, `failed`,
`incomplete`, `requires_action`) can hand the suites such runs through a *provider state*
(`runcancel.provider_state`): the suites ask the server's owner for a run in a status and get its
ids back, then read the run through the public API as usual.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from runcancel.findings import Evidence, Finding, NotVerified, Severity, preview
from runcancel.models import TERMINAL_STATUSES
from runcancel.rules import Outcome
from runcancel.targets import Exchange, TargetClient, TargetError

__all__ = [
    "CREATE_CLAUSE",
    "PROVIDED_STATUSES",
    "SCENARIO_KEY",
    "ArrangeError",
    "ArrangedRun",
    "Arranger",
    "NotArranged",
    "ProviderState",
    "create_status_outcome",
    "provider_state_from_url",
]

# The clause under which creates answered with another 2xx than the live API's 200 are reported (info).
CREATE_CLAUSE = "arrange.create_status"
# A provider state: given a status, the ids (thread_id, run_id) of a run in it, or None when the
# provider cannot give one (the suites then arrange it through the public API).
ProviderState = Callable[[str], "tuple[str, str] | None"]
# The statuses a server's public API may not reach in the time a test waits: a provider state can give them.
PROVIDED_STATUSES = ("expired", "failed", "incomplete", "requires_action")
# How many reads of the same run, unchanged, before a target's clock is consulted about it.
STATIC_POLLS = 4
# A live run expires 600 s after its creation; an active run older than that by the target's own
# clock will never move.
LIVE_EXPIRY_SECONDS = 600

SCENARIO_KEY = "runcancel_scenario"
FUNCTION_NAME = "get_weather"
ARRANGEABLE = (
    "queued",
    "in_progress",
    "requires_action",
    "cancelling",
    "cancelled",
    "completed",
    "failed",
    "incomplete",
    "expired",
)
_WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": FUNCTION_NAME,
        "description": "Current weather for a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


class NotArranged(Exception):
    """The target did not reach the wanted status; the clause is not verified on this target."""


class ArrangeError(Exception):
    """The target refused the public API calls arranging needs (create assistant, thread, run)."""


@dataclass(frozen=True)
class ArrangedRun:
    thread_id: str
    run_id: str
    run: dict[str, Any]

    @property
    def status(self) -> Any:
        return self.run.get("status")


@dataclass
class Arranger:
    """Creates runs in a wanted status on one target and deletes what it created."""

    client: TargetClient
    wait: float = 30.0
    # First pause between two reads of a run (doubling up to 0.5 s); 0 when answers come from cassettes.
    poll_pause: float = 0.005
    assistant_id: str | None = None
    created_threads: list[str] = field(default_factory=list)
    owns_assistant: bool = False
    # Where runs in hard-to-reach statuses come from, if the target's owner gives them.
    provider_state: ProviderState | None = None
    # Seconds a run may stay exactly as it was (same status, same timestamps) before the target is
    # taken for one whose runs never move; None: wait the whole `wait`.
    static_after: float | None = 10.0

    # -- public API --------------------------------------------------------------------------------

    def thread(self) -> str:
        answer = self._expect_ok(self.client.send("POST", "/threads", json_body={}), "create a thread")
        thread_id = str(answer["id"])
        self.created_threads.append(thread_id)
        return thread_id

    def run(self, status: str, thread_id: str | None = None) -> ArrangedRun:
        """A fresh run in `status`, read back from the target."""
        if status not in ARRANGEABLE:
            raise ValueError(f"cannot arrange status {status!r}; choose one of {', '.join(ARRANGEABLE)}")
        if status in ("cancelling", "cancelled"):
            return self._cancelled_run(status, thread_id)
        provided = self._provided(status) if thread_id is None else None
        if provided is not None:
            return provided
        thread_id = thread_id or self.thread()
        body: dict[str, Any] = {"assistant_id": self.assistant(), "metadata": {SCENARIO_KEY: status}}
        if status == "requires_action":
            body["tools"] = [_WEATHER_TOOL]
            body["tool_choice"] = {"type": "function", "function": {"name": FUNCTION_NAME}}
        created = self._expect_ok(
            self.client.send("POST", f"/threads/{thread_id}/runs", json_body=body), "create a run"
        )
        run_id = str(created["id"])
        if status == "queued":
            if created.get("status") != "queued":
                raise NotArranged(
                    f"the run was created with status {preview(created.get('status'))}, not queued"
                )
            return ArrangedRun(thread_id, run_id, created)
        return ArrangedRun(thread_id, run_id, self.wait_for(thread_id, run_id, status))

    def read(self, thread_id: str, run_id: str) -> Exchange:
        return self.client.send("GET", f"/threads/{thread_id}/runs/{run_id}")

    def wait_for(self, thread_id: str, run_id: str, status: str) -> dict[str, Any]:
        """Poll the run until it has `status`; NotArranged if it settles elsewhere, time runs out, or
        the target's runs plainly never move."""
        started = time.monotonic()
        deadline = started + self.wait
        pause = self.poll_pause
        last: Any = None
        unchanged = _Unchanged()
        while True:
            try:
                exchange = self.read(thread_id, run_id)
            except Exception as exc:
                if last is None or not _recording_ended(exc):
                    raise
                # Replay polls without pausing: the recorded session gave up on this run before
                # replay's clock says it would, and its last read is behind us.
                raise NotArranged(
                    f"the recording stops reading the run while it reads {preview(last)}: when it was "
                    f"recorded, the run did not reach {status} (record again to see why)"
                ) from None
            run = self._expect_ok(exchange, "read the run back")
            last = run.get("status")
            if last == status:
                return run
            if last in TERMINAL_STATUSES:
                raise NotArranged(f"the run ended {preview(last)} instead of reaching {status}")
            still = unchanged.seen(run, exchange, time.monotonic() - started)
            why = _static(run, run_id, still, self.static_after)
            if why is not None:
                raise NotArranged(
                    f"the target's runs do not move: {why}, so it will not reach {status}; waiting "
                    "longer will not help. Give runs in that status through a provider state "
                    '(see the README, "Provider states"), or use a server that runs them'
                )
            if time.monotonic() + pause > deadline:
                provided = (
                    "; or give runs in that status through a provider state (--provider-state, see the "
                    'README, "Provider states")'
                    if status in PROVIDED_STATUSES and self.provider_state is None
                    else ""
                )
                raise NotArranged(
                    f"the run did not reach {status} within {self.wait:g} s (last status {preview(last)}); "
                    f"raise --arrange-timeout if the target is slow{provided}"
                )
            time.sleep(pause)
            pause = min(pause * 2, 0.5)

    def cleanup(self) -> list[str]:
        """Delete every thread (and the assistant) this arranger created; the problems, if any."""
        problems = []
        for thread_id in self.created_threads:
            problems += self._delete(f"/threads/{thread_id}")
        self.created_threads.clear()
        if self.owns_assistant and self.assistant_id:
            problems += self._delete(f"/assistants/{self.assistant_id}")
            self.assistant_id = None
        return problems

    # -- helpers -----------------------------------------------------------------------------------

    def _cancelled_run(self, status: str, thread_id: str | None) -> ArrangedRun:
        arranged = self.run("in_progress", thread_id)
        answer = self._expect_ok(
            self.client.cancel(arranged.thread_id, arranged.run_id), "cancel the run (arranging)"
        )
        if status == "cancelling":
            if answer.get("status") != "cancelling":
                raise NotArranged(
                    f"the cancel answered status {preview(answer.get('status'))}, not cancelling"
                )
            return ArrangedRun(arranged.thread_id, arranged.run_id, answer)
        return ArrangedRun(
            arranged.thread_id, arranged.run_id, self.wait_for(arranged.thread_id, arranged.run_id, status)
        )

    def assistant(self) -> str:
        """The id of the assistant runs are created with (created on first use)."""
        if self.assistant_id is None:
            body = {
                "model": "gpt-4o-mini",
                "name": "runcancel contract suite",
                "instructions": "Answer briefly.",
                "tools": [{"type": "code_interpreter"}, _WEATHER_TOOL],
            }
            answer = self._expect_ok(
                self.client.send("POST", "/assistants", json_body=body), "create an assistant"
            )
            self.assistant_id = str(answer["id"])
            self.owns_assistant = True
        return self.assistant_id

    def _expect_ok(self, exchange: Exchange, what: str) -> dict[str, Any]:
        try:
            data = exchange.json()
        except ValueError:
            data = None
        if 200 <= exchange.status < 300 and isinstance(data, dict) and isinstance(data.get("id"), str):
            return data
        detail = data.get("error", {}).get("message") if isinstance(data, dict) else None
        shown = preview(detail) if isinstance(detail, str) else preview(exchange.content, 80)
        raise ArrangeError(
            f"could not {what}: {exchange.method} {exchange.url} answered {exchange.status} ({shown}). "
            "Arranging runs needs the target's assistants, threads and runs endpoints."
        )

    def _provided(self, status: str) -> ArrangedRun | None:
        """A run in `status` from the provider state, read back through the public API; None when no
        provider state is set or it has none to give."""
        if self.provider_state is None:
            return None
        ids = self.provider_state(status)
        if ids is None:
            return None
        thread_id, run_id = ids
        read = self._expect_ok(self.read(thread_id, run_id), "read back the run the provider state gave")
        if read.get("status") == status:
            return ArrangedRun(thread_id, run_id, read)
        if read.get("status") in TERMINAL_STATUSES:
            raise NotArranged(
                f"the provider state gave run {run_id} for status {status}, but it reads "
                f"{preview(read.get('status'))}"
            )
        return ArrangedRun(thread_id, run_id, self.wait_for(thread_id, run_id, status))

    def _delete(self, path: str) -> list[str]:
        try:
            exchange = self.client.send("DELETE", path)
        except TargetError as exc:
            return [str(exc)]
        if exchange.status not in (200, 404):
            return [f"DELETE {path} answered {exchange.status}"]
        return []


@dataclass
class _Unchanged:
    """How long a run has read exactly the same (status and every timestamp), by polls and seconds,
    and what the target's clock (its `Date` header) said meanwhile."""

    polls: int = 0
    since: float = 0.0
    last: tuple[Any, ...] | None = None
    server_now: float | None = None
    seconds: float = 0.0

    def seen(self, run: dict[str, Any], exchange: Exchange, elapsed: float) -> _Unchanged:
        state = tuple(run.get(k) for k in ("status", *_TIMESTAMPS))
        if state != self.last:
            self.polls, self.since, self.last = 0, elapsed, state
        self.polls += 1
        self.seconds = elapsed - self.since
        self.server_now = _server_clock(exchange)
        return self


_TIMESTAMPS = ("created_at", "started_at", "expires_at", "cancelled_at", "completed_at", "failed_at")


def _recording_ended(error: BaseException) -> bool:
    """Whether replay has played every recording of this request (runcancel.recording says)."""
    if type(error).__module__.split(".")[0] != "vcr":
        return False
    from runcancel.recording import recording_ended

    return recording_ended(error)


def _server_clock(exchange: Exchange) -> float | None:
    try:
        return parsedate_to_datetime(str(exchange.headers.get("date"))).timestamp()
    except (TypeError, ValueError, IndexError):
        return None


def _static(run: dict[str, Any], run_id: str, still: _Unchanged, static_after: float | None) -> str | None:
    """Why the target's runs never move, when its answers say so; None while they might."""
    if run.get("id") != run_id:
        return f"reading run {run_id} answers a run with id {preview(run.get('id'))} (a canned run)"
    if still.polls < STATIC_POLLS:
        return None
    created, now = run.get("created_at"), still.server_now
    status = preview(run.get("status"))
    if isinstance(created, int) and now is not None and now - created > LIVE_EXPIRY_SECONDS:
        return (
            f"the run reads {status} {still.polls} times unchanged, and its created_at ({created}) is "
            f"{now - created:.0f} s before the target's own clock, past the {LIVE_EXPIRY_SECONDS} s after "
            "which a live run expires"
        )
    if static_after is not None and still.seconds >= static_after:
        return (
            f"the run reads {status} {still.polls} times over {still.seconds:.1f} s with the same "
            "created_at and started_at: nothing happens to it"
        )
    return None


def create_status_outcome(answers: Iterable[Any]) -> Outcome:
    """The creates a session saw (assistants, threads, runs: anything with `method`, `url`, `status`):
    not verified when none succeeded, else an info finding for each create answered another 2xx than
    the live API's 200 (a 201 is accepted, and reported)."""
    creates = [a for a in answers if a.method == "POST" and _is_create(a.url) and 200 <= a.status < 300]
    if not creates:
        return NotVerified(CREATE_CLAUSE, "nothing was created on the target")
    findings: dict[tuple[str, int], Finding] = {}
    for a in creates:
        if a.status != 200:
            what = "/" + a.url.rstrip("/").rsplit("/", 1)[-1]
            findings.setdefault(
                (what, a.status),
                Finding(
                    CREATE_CLAUSE,
                    "status",
                    "200, as the live API answers a create",
                    f"{a.status} (accepted: any 2xx creates)",
                    Severity.INFO,
                    Evidence(a.method, a.url, a.status),
                ),
            )
    return list(findings.values())


def _is_create(url: str) -> bool:
    path = url.split("?", 1)[0].rstrip("/")
    return path.endswith(("/assistants", "/threads", "/runs")) and "/cancel" not in path


def provider_state_from_url(
    url: str, *, timeout: float = 10.0, headers: dict[str, str] | None = None, verify: bool | str = True
) -> ProviderState:
    """A provider state served over HTTP by the target's owner, in the spirit of Pact's provider-state
    URL: `POST url` with `{"action": "setup", "state": "a run in status <s>", "params": {"status": <s>}}`
    answers 2xx `{"thread_id": ..., "run_id": ...}`; 404, 422 or 501 (or no ids) mean it has none to
    give. Anything else is NotArranged, in one paragraph."""

    import ssl

    tls: bool | ssl.SSLContext = (
        verify if isinstance(verify, bool) else ssl.create_default_context(cafile=verify)
    )

    def provide(status: str) -> tuple[str, str] | None:
        body = {"action": "setup", "state": f"a run in status {status}", "params": {"status": status}}
        try:
            answer = httpx.post(url, json=body, headers=headers, timeout=timeout, verify=tls)
        except httpx.HTTPError as exc:
            raise NotArranged(
                f"the provider state at {url} could not be asked for a run in status {status} "
                f"({type(exc).__name__}: {str(exc)[:120]}). Start it, or leave the provider state out "
                "to arrange runs through the target's public API only"
            ) from None
        if answer.status_code in (404, 422, 501):
            return None
        try:
            data = answer.json()
        except ValueError:
            data = None
        ids = (data.get("thread_id"), data.get("run_id")) if isinstance(data, dict) else (None, None)
        if 200 <= answer.status_code < 300 and all(isinstance(i, str) and i for i in ids):
            return str(ids[0]), str(ids[1])
        if 200 <= answer.status_code < 300 and data == {}:
            return None
        raise NotArranged(
            f"the provider state at {url} answered {answer.status_code} "
            f"{preview(answer.content, 80)} when asked for a run in status {status}; it must answer 2xx "
            '{"thread_id": "...", "run_id": "..."}, or 404/422/501 when it has no such run'
        )

    return provide
