"""The provider state: a server whose runs never leave `queued` through its public API, whose owner
hands out runs in the statuses a test cannot wait for. With `--provider-state URL` (the HTTP protocol
of the README) or a conftest's `runcancel_provider_state` (in process) the status-dependent clauses
are verified; without either they are not verified, with the advice to give a provider state."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from broken_servers import API_KEY, Served, mock_config
from foreign_servers import IN_PROCESS, PROVIDER_STATE_PATH, ProvidedRuns
from test_broken_servers import (
    ARRANGE_TIMEOUT,
    ROOT,
    carries,
    clean_environment,
    reports,
    skip_reason,
)

LIFECYCLE = ROOT / "contracts" / "test_lifecycle.py"
# The tests of the clauses that need a run in a status the public API of this server never reaches.
SELECTED = "cancel_requires_action or cancel_finished"
PROVIDED = ("requires_action", "failed", "incomplete", "expired")


_clean_environment = pytest.fixture(autouse=True, name="_clean_environment")(clean_environment)


@pytest.fixture
def provided() -> Iterator[tuple[ProvidedRuns, str]]:
    """A fresh `ProvidedRuns` served on 127.0.0.1: the server and its base URL."""
    server = ProvidedRuns(mock_config())
    with Served(server) as served:
        IN_PROCESS[served.url] = server
        try:
            yield server, served.url
        finally:
            del IN_PROCESS[served.url]


def _run(pytester: pytest.Pytester, url: str, *options: str, suite: Path = LIFECYCLE) -> pytest.RunResult:
    return pytester.runpytest_inprocess(
        str(suite),
        "-p",
        "no:cacheprovider",
        "--import-mode=importlib",
        "-k",
        SELECTED,
        "--target",
        url,
        "--api-key",
        API_KEY,
        "--arrange-timeout",
        ARRANGE_TIMEOUT,
        "--reports-dir",
        str(pytester.path / "reports"),
        *options,
    )


def _outcomes(result: pytest.RunResult) -> dict[str, str]:
    """Each selected test's outcome in its call (or the skip of its setup), by the status it needs."""
    found: dict[str, str] = {}
    for report in reports(result):
        if report.when == "call" or report.skipped:
            status = next((s for s in (*PROVIDED, "completed", "cancelled") if s in report.nodeid), "?")
            found[status] = report.outcome
    return found


def test_with_a_provider_state_url_the_status_clauses_are_verified(
    pytester: pytest.Pytester, provided: tuple[ProvidedRuns, str]
) -> None:
    """`--runcancel-provider-state URL`: the suites POST each status they need there, get a run's ids,
    and judge the clauses on it; statuses the owner does not give stay not verified."""
    server, url = provided
    result = _run(pytester, url, "--runcancel-provider-state", url + PROVIDER_STATE_PATH)
    outcomes = _outcomes(result)
    assert {s: outcomes[s] for s in PROVIDED} == dict.fromkeys(PROVIDED, "passed"), outcomes
    assert outcomes["completed"] == "skipped"
    assert set(PROVIDED) <= set(server.asked)
    assert server.asked.count("completed") == 1  # refused once, not asked again
    # Runs handed out by the owner exist: read back under their ids, they make no stateless mock.
    findings = json.loads((pytester.path / "reports" / "findings.json").read_text(encoding="utf-8"))
    assert findings["target_verdicts"] == []
    assert result.ret == 0


def test_without_a_provider_state_they_are_not_verified_with_the_advice(
    pytester: pytest.Pytester, provided: tuple[ProvidedRuns, str]
) -> None:
    """Without a provider state, the runs never get there: not verified, saying how to give them."""
    server, url = provided
    result = _run(pytester, url)
    assert result.ret == 0
    assert server.asked == []
    skipped = [r for r in reports(result) if r.skipped and any(carries(r.nodeid, c) for c in _clauses())]
    needing = [r for r in skipped if any(s in r.nodeid for s in PROVIDED)]
    assert len(needing) == len(PROVIDED), [r.nodeid for r in skipped]
    for report in needing:
        assert "provider state" in skip_reason(report), skip_reason(report)


CONFTEST = """
import os

import pytest

from foreign_servers import IN_PROCESS


@pytest.fixture(scope="session")
def runcancel_provider_state():
    return IN_PROCESS[os.environ["PROVIDED_RUNS_URL"]].provide
"""


def test_a_conftest_override_provides_runs_in_process(
    pytester: pytest.Pytester, provided: tuple[ProvidedRuns, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """In the user's own repository, a conftest's `runcancel_provider_state` hands the arrangers a
    callable that makes the runs behind the public API: the same clauses are verified, no URL needed."""
    server, url = provided
    monkeypatch.setenv("PROVIDED_RUNS_URL", url)
    pytester.makeconftest(CONFTEST)
    suite = pytester.path / "test_lifecycle.py"
    shutil.copy(LIFECYCLE, suite)
    result = _run(pytester, url, suite=suite)
    outcomes = _outcomes(result)
    assert {s: outcomes[s] for s in PROVIDED} == dict.fromkeys(PROVIDED, "passed"), outcomes
    assert set(PROVIDED) <= set(server.asked)


def _clauses() -> tuple[str, ...]:
    return ("lifecycle.cancel_requires_action", "lifecycle.cancel_finished")


def test_recorded_with_a_provider_state_it_replays_offline_to_the_same_outcomes(
    pytester: pytest.Pytester, provided: tuple[ProvidedRuns, str]
) -> None:
    """Recorded with `--runcancel-provider-state`, the cassettes hold its answers and name it in their
    provenance; `--target replay` then asks them, with no provider state given and nothing sent to the
    server, and every test ends as it did when recorded (a run the recording gave up waiting for
    included)."""
    server, url = provided
    cassettes = pytester.path / "cassettes"
    recorded = _run(
        pytester,
        url,
        "--runcancel-provider-state",
        url + PROVIDER_STATE_PATH,
        "--record-mode",
        "once",
        "--cassette-dir",
        str(cassettes),
    )
    assert recorded.ret == 0
    asked = list(server.asked)
    provenances = [p.read_text(encoding="utf-8") for p in cassettes.rglob("*.yaml")]
    assert provenances
    assert all(f"provider_state: {url}{PROVIDER_STATE_PATH}" in text for text in provenances)

    replayed = _run(pytester, "replay", "--cassette-dir", str(cassettes))

    assert _outcomes(replayed) == _outcomes(recorded)
    assert _outcomes(replayed)["completed"] == "skipped"
    assert server.asked == asked  # nothing went to the server
    assert replayed.ret == 0
