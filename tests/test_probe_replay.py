"""Replay of the probe's generated cases: the cases as sent, written beside the cassette, sent again
and judged again with the same checks, without generating anything."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import venv
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from runcancel.cassettes import CassetteError
from runcancel.probe import (
    ProbeRecord,
    ProbeSettings,
    SentCase,
    read_cases,
    replay_generated,
    run_generated,
    write_cases,
)
from runcancel.probe.cases import describe_meta, rebuild_case
from runcancel.probe.generated import GeneratedRun, load_operation
from runcancel.targets import Target
from test_probe_library import ANCHOR, FAKE, SMALL, Handler, not_found, reference_like

ROOT = Path(__file__).resolve().parents[1]
Sent = list[tuple[str, bytes, str | None]]


@pytest.fixture
def sent() -> Sent:
    return []


@pytest.fixture
def client_for(sent: Sent) -> Iterator[Callable[[Handler], Any]]:
    clients = []

    def make(handler: Handler) -> Any:
        def recording(request: httpx.Request) -> httpx.Response:
            sent.append((request.method, request.extensions["target"], request.headers.get("openai-beta")))
            return handler(request)

        client = Target(FAKE, "sk-test", transport=httpx.MockTransport(recording)).client()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def outcome(run: GeneratedRun) -> dict[str, tuple[int, int, list[str]]]:
    """Per clause: how often the check applied, how many cases failed it, and what the findings say."""
    return {
        clause: (r.applied, r.failing_cases, [f.observed for f in r.failures])
        for clause, r in run.results.items()
    }


@pytest.fixture
def no_generation(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hypothesis's engine and schemathesis's test builder refuse to run: nothing may be generated."""
    from hypothesis.internal.conjecture import engine
    from schemathesis.pytest import _test_builder

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("replay generated cases")

    monkeypatch.setattr(engine.ConjectureRunner, "__init__", refuse)
    monkeypatch.setattr(_test_builder, "build_operation_test", refuse)


def recorded(tmp_path: Path, run: GeneratedRun, settings: ProbeSettings = SMALL) -> Path:
    path = tmp_path / "probed.cases.json"
    write_cases(path, settings.seed, settings.examples, run.sent)
    return path


def test_replay_sends_the_recorded_cases_again_without_generating(
    client_for: Callable[[Handler], Any], sent: Sent, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Replay sends exactly the requests the live run sent, in order, and judges them alike; draws nothing."""
    live = run_generated(client_for(reference_like), SMALL, anchor=ANCHOR)
    live_requests = list(sent)
    path = recorded(tmp_path, live)
    assert len(live.sent) == live.cases - 1  # every generated case; the anchor is not one of them
    request.getfixturevalue("no_generation")
    sent.clear()
    again = replay_generated(client_for(reference_like), SMALL, read_cases(path), anchor=ANCHOR)
    assert sent == live_requests
    assert again.not_verified is None
    assert again.replayed is not None
    assert outcome(again) == outcome(live)
    assert again.statuses == live.statuses


def test_replay_judges_the_answers_again(
    client_for: Callable[[Handler], Any], tmp_path: Path, no_generation: None
) -> None:
    """A replayed answer is judged afresh: a fault in the answers fails its checks on replay too."""
    path = tmp_path / "probed.cases.json"
    cases = [
        SentCase("POST", b"/threads/a%20b/runs/r/cancel", {"Authorization": "Bearer <valid-key>"}),
        SentCase("GET", b"/threads/t/runs/r/cancel", {"Authorization": "Bearer <valid-key>"}),
    ]
    write_cases(path, SMALL.seed, SMALL.examples, cases)

    def broken(request: httpx.Request) -> httpx.Response:
        answer = reference_like(request)
        if answer.status_code == 200:
            return answer
        if request.method == "GET":
            return httpx.Response(500, text="boom")
        return httpx.Response(404, content=not_found("thread", "a%20b"))

    run = replay_generated(client_for(broken), SMALL, read_cases(path), anchor=ANCHOR)
    assert run.cases == 3
    assert run.results["probe.echoed_id"].failing_cases == 1
    assert run.results["probe.not_a_server_error"].failing_cases == 1
    assert run.results["probe.error_envelope"].failing_cases == 1
    [finding] = run.findings("probe.echoed_id")
    assert finding.evidence is not None
    assert "/threads/a%20b/runs/r/cancel" in finding.evidence.url


def test_replay_of_another_seed_is_not_verified(
    client_for: Callable[[Handler], Any], sent: Sent, tmp_path: Path, no_generation: None
) -> None:
    """Cases recorded from another seed or budget are not sent: the run says how to replay or re-record."""
    path = tmp_path / "probed.cases.json"
    write_cases(path, 1, 2, [SentCase("POST", b"/threads/t/runs/r/cancel", {})])
    run = replay_generated(client_for(reference_like), SMALL, read_cases(path), anchor=ANCHOR)
    assert sent == []
    assert run.not_verified is not None
    assert "--probe-seed 1 --probe-examples 2" in run.not_verified


def test_rebuilt_cases_carry_how_they_were_generated(client_for: Callable[[Handler], Any]) -> None:
    """A recorded case is rebuilt with its phase, coverage scenario and modes, as the checks read them."""
    live = run_generated(client_for(reference_like), SMALL, anchor=ANCHOR)
    operation = load_operation(SMALL, FAKE)
    scenarios = set()
    for case in live.sent:
        rebuilt = rebuild_case(operation, SentCase.from_json(json.loads(json.dumps(case.to_json()))))
        assert describe_meta(rebuilt._meta) == case.meta
        assert rebuilt.method == case.method
        assert rebuilt.formatted_path.encode() == case.target.split(b"?")[0]
        scenarios.add((case.meta or {}).get("scenario"))
    assert "unspecified_http_method" in scenarios


@given(
    method=st.sampled_from(["POST", "GET", "QUERY"]),
    target=st.binary(max_size=40),
    headers=st.dictionaries(st.sampled_from(["OpenAI-Beta", "Authorization", "X-Y"]), st.text(max_size=10)),
    parameters=st.dictionaries(st.sampled_from(["thread_id", "run_id"]), st.text(max_size=10)),
)
def test_a_sent_case_survives_its_file(
    method: str, target: bytes, headers: dict[str, str], parameters: dict[str, str]
) -> None:
    """Any request-target (bytes) and headers read back from the cases file exactly as written."""
    case = SentCase(method, target, headers, path_parameters=parameters)
    assert SentCase.from_json(json.loads(json.dumps(case.to_json(), ensure_ascii=True))) == case


def test_the_key_is_written_as_its_class(client_for: Callable[[Handler], Any], tmp_path: Path) -> None:
    """The cases file names the key only by its class; replay sends the session's key in its place."""
    live = run_generated(client_for(reference_like), SMALL, anchor=ANCHOR)
    path = recorded(tmp_path, live)
    text = path.read_text()
    assert "sk-test" not in text
    assert "Bearer <valid-key>" in text
    assert live.sent[0].headers_to_send("sk-live")["Authorization"] == "Bearer sk-live"


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        pytest.param(None, "were not recorded", id="missing"),
        pytest.param("{not json", "not JSON", id="not-json"),
        pytest.param('{"format": "other"}', "not a probe cases file", id="other-format"),
        pytest.param('{"format": "runcancel probe cases 1", "cases": [{"x": 1}]}', "case 1", id="bad-case"),
        pytest.param(
            '{"format": "runcancel probe cases 1", "cases": []}', "no seed and budget", id="no-seed"
        ),
    ],
)
def test_an_unusable_cases_file_says_what_to_do(tmp_path: Path, content: str | None, problem: str) -> None:
    """A missing or malformed cases file is a cassette error naming the file and how to record it."""
    path = tmp_path / "probed.cases.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(CassetteError, match=problem) as caught:
        read_cases(path)
    assert "probed.cases.json" in str(caught.value)
    assert "record" in str(caught.value).lower()


def recorder(mode: str, cassette: Path) -> SimpleNamespace:
    return SimpleNamespace(mode=mode, active=cassette, scrubber=SimpleNamespace(text=str))


@pytest.mark.parametrize(
    ("mode", "exists", "replays"),
    [
        pytest.param("none", True, True, id="none"),
        pytest.param("once", True, True, id="once-recorded"),
        pytest.param("once", False, False, id="once-new"),
        pytest.param("rewrite", True, False, id="rewrite"),
        pytest.param("all", True, False, id="all"),
        pytest.param("new_episodes", True, False, id="new-episodes"),
    ],
)
def test_the_record_mode_decides_between_generating_and_replaying(
    client_for: Callable[[Handler], Any], tmp_path: Path, mode: str, exists: bool, replays: bool
) -> None:
    """Replay (`none`, or `once` with cases recorded) re-sends; other modes generate and write the cases."""
    cassette = tmp_path / "test_probe" / "probed.yaml"
    cases = cassette.with_name("probed.cases.json")
    if exists:
        write_cases(cases, SMALL.seed, SMALL.examples, [SentCase("POST", b"/threads/t/runs/r/cancel", {})])
    record = ProbeRecord(SMALL, recorder=recorder(mode, cassette))
    run = record.send_generated(client_for(reference_like), anchor=ANCHOR)
    assert (run.replayed is not None) is replays
    assert record.generated is run
    if replays:
        assert run.cases == 2
    else:
        assert len(read_cases(cases).cases) == len(run.sent) == run.cases - 1
        assert record.summary_lines()[0].startswith("probe: ")


def test_without_cassettes_the_probe_generates(client_for: Callable[[Handler], Any]) -> None:
    """No recorder (or no active cassette): the cases are generated and nothing is written."""
    record = ProbeRecord(SMALL, recorder=recorder("none", None))  # type: ignore[arg-type]
    run = record.send_generated(client_for(reference_like), anchor=ANCHOR)
    assert run.replayed is None
    assert run.cases > 15


# -- the newest schemathesis and Hypothesis ----------------------------------------------------------------


def _registry_reachable() -> str | None:
    """None when pip can reach its package index, else why not."""
    done = subprocess.run(
        [sys.executable, "-m", "pip", "index", "versions", "schemathesis"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    return None if done.returncode == 0 else (done.stderr.strip().splitlines() or ["pip index failed"])[-1]


@pytest.mark.skipif(
    not os.environ.get("CI"),
    reason="slow (a throwaway virtualenv with the newest schemathesis and Hypothesis): runs in CI (CI=1)",
)
def test_replay_passes_with_the_newest_schemathesis_and_hypothesis(tmp_path: Path) -> None:
    """`pytest contracts --target replay` passes offline with the newest releases, nothing re-recorded."""
    problem = _registry_reachable()
    if problem is not None:
        pytest.skip(f"the package registry cannot be reached: {problem}")
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    install = [str(python), "-m", "pip", "install", "-q", "--upgrade", "--upgrade-strategy", "eager"]
    subprocess.run([*install, str(ROOT), "schemathesis<5", "hypothesis"], check=True, timeout=900)
    versions = subprocess.run(
        [str(python), "-c", "from importlib.metadata import version as v; "
         "print(v('schemathesis'), v('hypothesis'))"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    # The project's tree as the suites read it (contracts, cassettes, configuration), no bytecode caches.
    tree = tmp_path / "tree"
    shutil.copytree(ROOT, tree, ignore=shutil.ignore_patterns(".venv", ".git", "__pycache__", "reports"))
    done = subprocess.run(
        [str(python), "-m", "pytest", "contracts", "--target", "replay", "-q", "-p", "no:cacheprovider",
         "--reports-dir", str(tmp_path / "reports")],
        cwd=tree, capture_output=True, text=True, check=False, timeout=600,
        env={k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "RUNCANCEL_"))},
    )  # fmt: skip
    tail = "\n".join(done.stdout.splitlines()[-25:])
    assert done.returncode == 0, f"schemathesis {versions[0]}, hypothesis {versions[1]}:\n{tail}"
    assert "recorded cases sent again, nothing generated" in done.stdout
    print(f"replayed with schemathesis {versions[0]}, hypothesis {versions[1]}")
