"""Record and replay: the recorder used directly, then the plugin through pytest runs (pytester)."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from vcr.errors import CannotOverwriteExistingCassetteException

from runcancel.mock import MockConfig, MockServer
from runcancel.mock.errors import mask_key
from runcancel.recording import (
    KEY_OTHER,
    KEY_VALID,
    NetworkBlocked,
    Recorder,
    Scrubber,
    block_network,
    cassette_name,
    classify_key,
    scrub_url,
)

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "cassettes"
KEY = "sk-rc-test-key-0001"
BETA = {"OpenAI-Beta": "assistants=v2"}
ENVIRONMENT = (
    "OPENAI_BASE_URL",
    "OPENAI_API_KEY",
    "OPENAI_ORG_ID",
    "OPENAI_PROJECT_ID",
    "RUNCANCEL_REQUEST_TIMEOUT",
    "RUNCANCEL_ARRANGE_TIMEOUT",
    "RUNCANCEL_RECORD_MODE",
    "RUNCANCEL_CASSETTE_DIR",
)


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def mock() -> Iterator[MockServer]:
    with MockServer(MockConfig(api_key=KEY, step=0.005, cancel_delay=0.005)) as server:
        yield server


def headers(key: str | None = KEY, beta: str | None = "assistants=v2") -> dict[str, str]:
    sent = {"OpenAI-Beta": beta} if beta else {}
    return {**sent, **({"Authorization": f"Bearer {key}"} if key else {})}


def new_run(client: httpx.Client) -> tuple[str, str]:
    """Create an assistant, a thread and a run; the thread and run ids (from the answers)."""
    assistant = client.post("/assistants", json={"model": "gpt-4o-mini"}, headers=headers()).json()["id"]
    thread = client.post("/threads", json={}, headers=headers()).json()["id"]
    run = client.post(f"/threads/{thread}/runs", json={"assistant_id": assistant}, headers=headers()).json()
    return thread, run["id"]


def cancel_scenario(client: httpx.Client) -> tuple[str, str]:
    """Create a run and cancel it; the thread and run ids."""
    thread, run = new_run(client)
    client.post(f"/threads/{thread}/runs/{run}/cancel", headers=headers())
    return thread, run


def record(mock: MockServer, path: Path, scenario: Callable[[httpx.Client], Any] = cancel_scenario) -> Any:
    recorder = Recorder(path.parent, "once", KEY)
    recorder.recording_from(mock.base_url, "the built-in reference mock")
    with httpx.Client(base_url=mock.base_url) as client, recorder.cassette(path):
        return scenario(client)


# -- the library ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "value", "expected"),
    [
        pytest.param("authorization", None, None, id="absent"),
        pytest.param("authorization", f"Bearer {KEY}", f"Bearer {KEY_VALID}", id="session-key"),
        pytest.param("authorization", "Bearer sk-someone-else", f"Bearer {KEY_OTHER}", id="other-key"),
        pytest.param("authorization", KEY, f"Bearer {KEY_OTHER}", id="not-bearer"),
        pytest.param("authorization", f"Bearer {KEY_VALID}", f"Bearer {KEY_VALID}", id="idempotent"),
        pytest.param("api-key", KEY, KEY_VALID, id="azure-key"),
        pytest.param("api-key", "0123456789abcdef", KEY_OTHER, id="azure-other"),
    ],
)
def test_a_key_header_is_classified_never_kept(header: str, value: str | None, expected: str | None) -> None:
    """A key header becomes the session's key, another key, or absent; placeholders stay as they are."""
    assert classify_key(header, value, KEY) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(f"key {KEY} here", "key <api-key> here", id="exact-key"),
        pytest.param(
            "Incorrect API key provided: sk-...abcd.",
            "Incorrect API key provided: sk-<redacted>.",
            id="masked",
        ),
        pytest.param("provided: sk-proj-********abcd. You", "provided: sk-<redacted>. You", id="masked-proj"),
        pytest.param("org org-Secret123 in proj_Secret456", "org <org-id> in <project-id>", id="account-ids"),
        pytest.param("task-force sk-", "task-force sk-", id="no-key-no-change"),
    ],
)
def test_secrets_are_replaced_in_any_text(text: str, expected: str) -> None:
    """The key, the account ids and masked key echoes become placeholders; the full stop stays."""
    scrubber = Scrubber(KEY, organization="org-Secret123", project="proj_Secret456")
    assert scrubber.text(text) == expected
    assert scrubber.data(text.encode()) == expected.encode()


def test_account_ids_are_learnt_from_answer_headers() -> None:
    """An org id seen in `openai-organization` is scrubbed from that body and every later one."""
    scrubber = Scrubber(KEY)
    answer = {
        "status": {"code": 200, "message": "OK"},
        "headers": {
            "openai-organization": ["org-Learnt999"],
            "openai-project": ["proj_Learnt888"],
            "set-cookie": ["__cf_bm=cookie-value"],
            "content-length": ["44"],
            "x-echo": [f"Bearer {KEY}"],
        },
        "body": {"string": b'{"org": "org-Learnt999", "p": "proj_Learnt888"}'},
    }
    scrubbed = scrubber.response(answer)
    assert scrubbed["headers"] == {
        "openai-organization": ["<redacted>"],
        "openai-project": ["<redacted>"],
        "content-length": [str(len(scrubbed["body"]["string"]))],
        "x-echo": ["Bearer <api-key>"],
    }
    assert scrubbed["body"]["string"] == b'{"org": "<org-id>", "p": "<project-id>"}'
    assert scrubber.text("later: org-Learnt999") == "later: <org-id>"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        pytest.param(
            "https://user:pw@api.example.com/v1?key=1#x", "https://api.example.com/v1", id="userinfo"
        ),
        pytest.param("http://127.0.0.1:4010/v1", "http://127.0.0.1:4010/v1", id="plain"),
    ],
)
def test_provenance_urls_lose_credentials(url: str, expected: str) -> None:
    """A target URL is written without user, password, query or fragment."""
    assert scrub_url(url) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        pytest.param("test_error_answer[error.no_key]", "test_error_answer[error.no_key]", id="param"),
        pytest.param("TestX::test_y", "TestX.test_y", id="class"),
        pytest.param("test_a[x/y z]", "test_a[x-y-z]", id="unsafe"),
    ],
)
def test_cassettes_are_named_after_the_test(name: str, expected: str) -> None:
    """A cassette's file name is the test's name, with path separators and blanks replaced."""
    assert cassette_name(name) == expected


def test_a_recording_replays_from_any_base_url_with_any_key(mock: MockServer, tmp_path: Path) -> None:
    """Replay answers from the cassette with the recording's ids, whatever the base URL and key."""
    path = tmp_path / "suite" / "case.yaml"
    thread, run = record(mock, path)
    text = path.read_text()
    assert KEY not in text
    assert yaml.safe_load(text)["provenance"]["recorded_from"] == "the built-in reference mock"
    replayer = Recorder(tmp_path, "none", "sk-another-session-key")
    with (
        block_network(),
        httpx.Client(base_url="http://replay.invalid/v1") as client,
        replayer.cassette(path) as cassette,
    ):
        key = "sk-another-session-key"
        client.post("/assistants", json={}, headers=headers(key))
        assert client.post("/threads", json={}, headers=headers(key)).json()["id"] == thread
        client.post(f"/threads/{thread}/runs", json={}, headers=headers(key))
        answer = client.post(f"/threads/{thread}/runs/{run}/cancel", headers=headers(key))
        assert (answer.status_code, answer.json()["status"]) == (200, "cancelling")
        assert cassette.all_played


@pytest.mark.parametrize(
    ("sent", "difference"),
    [
        pytest.param(headers(key=None), "Authorization absent != Bearer <valid-key>", id="no-key"),
        pytest.param(
            headers(key="sk-wrong-0000"),
            "Authorization Bearer <other-key> != Bearer <valid-key>",
            id="wrong-key",
        ),
        pytest.param(headers(beta=None), "OpenAI-Beta absent != assistants=v2", id="no-beta"),
        pytest.param(
            headers(beta="assistants=v1"), "OpenAI-Beta assistants=v1 != assistants=v2", id="beta-v1"
        ),
    ],
)
def test_a_request_replays_only_an_answer_recorded_with_the_same_credentials(
    mock: MockServer, tmp_path: Path, sent: dict[str, str], difference: str
) -> None:
    """A request without the key (or with another key, or another beta) never gets the keyed answer."""
    path = tmp_path / "threads.yaml"
    record(mock, path, lambda c: c.post("/threads", json={}, headers=headers()))
    with (
        httpx.Client(base_url="http://replay.invalid/v1") as client,
        Recorder(tmp_path, "none", KEY).cassette(path),
        pytest.raises(CannotOverwriteExistingCassetteException) as caught,
    ):
        client.post("/threads", json={}, headers=sent)
    message = Recorder(tmp_path, "none", KEY).explain(caught.value, "tests/x.py::test_y")
    assert message is not None
    assert difference in message
    assert "pytest tests/x.py -k test_y --target mock --record-mode rewrite --cassette-dir" in message


FOREIGN_CASSETTE = """\
interactions:
- request:
    body: '{{}}'
    headers:
      Authorization:
      - Bearer {key}
      OpenAI-Beta:
      - assistants=v2
    method: POST
    uri: http://elsewhere.example/v1/threads
  response:
    body:
      string: '{{"id": "thread_foreign", "object": "thread"}}'
    headers:
      Content-Type:
      - application/json
      Openai-Organization:
      - org-foreignorg0001
    status:
      code: 200
      message: OK
version: 1
"""


@pytest.mark.parametrize(
    ("sent", "answered"),
    [
        pytest.param(KEY, True, id="the-recorded-key"),
        pytest.param("sk-wrong-0000", False, id="another-key"),
    ],
)
def test_a_cassette_of_another_recorder_is_scrubbed_as_it_is_loaded(
    tmp_path: Path, sent: str, answered: bool
) -> None:
    """A cassette without runcancel's provenance holds raw keys: loading it classifies them, so only
    the key it was recorded with gets its answer, and its account headers never reach the answer."""
    path = tmp_path / "foreign.yaml"
    path.write_text(FOREIGN_CASSETTE.format(key=KEY))
    with (
        block_network(),
        httpx.Client(base_url="http://replay.invalid/v1") as client,
        Recorder(tmp_path, "none", KEY).cassette(path),
    ):
        if not answered:
            with pytest.raises(CannotOverwriteExistingCassetteException):
                client.post("/threads", json={}, headers=headers(sent))
            return
        answer = client.post("/threads", json={}, headers=headers(sent))
    assert answer.json()["id"] == "thread_foreign"
    assert "org-foreignorg0001" not in str(answer.headers)


def test_a_miss_names_cassette_request_and_how_to_record(mock: MockServer, tmp_path: Path) -> None:
    """The message names the cassette, the request (key class only, never the key) and the command."""
    path = tmp_path / "test_errors" / "test_error_answer[error.no_key].yaml"
    record(mock, path, lambda c: c.post("/threads", json={}, headers=headers()))
    recorder = Recorder(tmp_path, "none", KEY)
    with httpx.Client(base_url="http://replay.invalid/v1") as client, recorder.cassette(path):
        client.post("/threads", json={}, headers=headers())
        with pytest.raises(CannotOverwriteExistingCassetteException) as caught:
            client.post("/threads/thread_x/runs/run_y/cancel", headers=headers())
    message = recorder.explain(caught.value, "contracts/test_errors.py::test_error_answer[error.no_key]")
    assert message is not None
    assert str(path) in message or os.path.relpath(path) in message
    assert "POST /v1/threads/thread_x/runs/run_y/cancel (Authorization: Bearer <valid-key>" in message
    assert "--record-mode rewrite" in message
    assert KEY not in message


def test_polling_replays_in_recorded_order_and_runs_out(mock: MockServer, tmp_path: Path) -> None:
    """Repeated identical reads replay in order; one read more than recorded is a miss that says so."""
    path = tmp_path / "poll.yaml"

    def poll(client: httpx.Client) -> list[str]:
        thread, run = new_run(client)
        return [
            client.get(f"/threads/{thread}/runs/{run}", headers=headers()).json()["status"] for _ in range(3)
        ]

    statuses = record(mock, path, poll)
    recorder = Recorder(tmp_path, "none", KEY)
    with httpx.Client(base_url="http://replay.invalid/v1") as client, recorder.cassette(path):
        thread, run = new_run(client)
        read = f"/threads/{thread}/runs/{run}"
        replayed = [client.get(read, headers=headers()).json()["status"] for _ in range(3)]
        with pytest.raises(CannotOverwriteExistingCassetteException) as caught:
            client.get(read, headers=headers())
    assert replayed == statuses
    assert "played already" in str(recorder.explain(caught.value, "t"))


def test_concurrent_identical_requests_each_get_their_own_answer(mock: MockServer, tmp_path: Path) -> None:
    """Eight simultaneous cancels of one run replay the eight recorded answers, none twice."""
    path = tmp_path / "concurrent.yaml"

    def race(client: httpx.Client) -> list[int]:
        thread, run = new_run(client)
        cancel = f"/threads/{thread}/runs/{run}/cancel"
        with ThreadPoolExecutor(8) as pool:
            return sorted(pool.map(lambda _: client.post(cancel, headers=headers()).status_code, range(8)))

    recorded = record(mock, path, race)
    assert recorded == [200] + [400] * 7
    for _ in range(5):
        with (
            httpx.Client(base_url="http://replay.invalid/v1") as client,
            Recorder(tmp_path, "none", KEY).cassette(path) as cassette,
        ):
            assert race(client) == recorded
            assert cassette.all_played


def test_rewrite_starts_the_cassette_afresh(mock: MockServer, tmp_path: Path) -> None:
    """`rewrite` records afresh: nothing of the stale recording survives."""
    path = tmp_path / "rewrite.yaml"
    record(mock, path, lambda c: c.post("/assistants", json={"model": "m"}, headers=headers()))
    recorder = Recorder(tmp_path, "rewrite", KEY)
    with httpx.Client(base_url=mock.base_url) as client, recorder.cassette(path):
        client.post("/threads", json={}, headers=headers())
    uris = [i["request"]["uri"] for i in yaml.safe_load(path.read_text())["interactions"]]
    assert [u.rsplit("/", 1)[1] for u in uris] == ["threads"]
    assert yaml.safe_load(path.read_text())["provenance"]["record_mode"] == "rewrite"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rewrite.yaml"]


@pytest.mark.parametrize(
    "stop",
    [
        pytest.param(KeyboardInterrupt, id="ctrl-c"),
        pytest.param(RuntimeError, id="error"),
    ],
)
def test_an_interrupted_rewrite_keeps_the_old_cassette(
    mock: MockServer, tmp_path: Path, stop: type[BaseException]
) -> None:
    """A rewrite stopped half-way leaves the old cassette byte for byte, and no half-written file."""
    path = tmp_path / "kept.yaml"
    record(mock, path)
    old = path.read_bytes()
    recorder = Recorder(tmp_path, "rewrite", KEY)

    def rewrite_half_way() -> None:
        with httpx.Client(base_url=mock.base_url) as client, recorder.cassette(path):
            client.post("/threads", json={}, headers=headers())
            raise stop("stopped while rewriting")

    with pytest.raises(stop):
        rewrite_half_way()
    assert path.read_bytes() == old
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept.yaml"]


def test_a_rewrite_marked_interrupted_keeps_the_old_cassette(mock: MockServer, tmp_path: Path) -> None:
    """A cassette left normally after the run was interrupted (pytest's teardown) is not replaced."""
    path = tmp_path / "kept.yaml"
    record(mock, path)
    old = path.read_bytes()
    recorder = Recorder(tmp_path, "rewrite", KEY)
    with httpx.Client(base_url=mock.base_url) as client, recorder.cassette(path):
        client.post("/threads", json={}, headers=headers())
        recorder.interrupted = True
    assert path.read_bytes() == old
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept.yaml"]


def test_a_rewrite_that_sends_nothing_leaves_no_stale_cassette(mock: MockServer, tmp_path: Path) -> None:
    """`rewrite` starts from nothing: a block that sends no request leaves no cassette behind."""
    path = tmp_path / "stale.yaml"
    record(mock, path)
    with Recorder(tmp_path, "rewrite", KEY).cassette(path):
        pass
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "attempt",
    [
        pytest.param(lambda: socket.create_connection(("127.0.0.1", 9), timeout=1), id="connect"),
        pytest.param(lambda: socket.getaddrinfo("example.com", 443), id="dns"),
        pytest.param(lambda: httpx.get("http://127.0.0.1:9/"), id="httpx"),
    ],
)
def test_the_network_is_blocked_while_replaying(attempt: Callable[[], Any]) -> None:
    """Inside the block no connection or name lookup happens, and the error says why."""
    with block_network(), pytest.raises(NetworkBlocked, match="network is blocked while replaying cassettes"):
        attempt()


def test_the_block_spares_unix_sockets_and_ends() -> None:
    """Unix sockets still work inside the block, and every patched function is restored after it."""
    before = (socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo)
    with block_network():
        left, right = socket.socketpair()
        left.sendall(b"x")
        assert right.recv(1) == b"x"
        left.close()
        right.close()
    assert (socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo) == before


def test_the_recorder_refuses_an_unknown_mode(tmp_path: Path) -> None:
    """Only pytest-recording's modes exist."""
    with pytest.raises(ValueError, match="none, once, new_episodes, all, rewrite"):
        Recorder(tmp_path, "sometimes", KEY)


# -- the plugin ----------------------------------------------------------------------------------------


def add_suites(pytester: pytest.Pytester) -> None:
    """The project's contract suites, copied into a package of the pytester folder (its rootdir).

    The package gives the copies module names of their own (`replayed_suites.test_probe`): this
    process may hold a module `test_probe` already, and the files keep the suites' names, which
    name the cassettes' folders.
    """
    pytester.makeini("[pytest]\n")
    package = pytester.mkpydir("replayed_suites")
    for suite in sorted((ROOT / "contracts").glob("test_*.py")):
        (package / suite.name).write_text(suite.read_text())


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_inprocess("-p", "no:cacheprovider", *args)


def outcomes(result: pytest.RunResult) -> dict[str, str]:
    """Each test's outcome, by test id."""
    found: dict[str, str] = {}
    for report in result.reprec.getreports("pytest_runtest_logreport"):  # type: ignore[attr-defined]
        if report.when == "call" or report.outcome != "passed":
            found.setdefault(report.nodeid.removeprefix("replayed_suites/"), report.outcome)
    return found


def copy_cassettes(folder: Path) -> Path:
    for source in SHIPPED.rglob("*.yaml"):
        target = folder / source.relative_to(SHIPPED)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(source.read_text())
    return folder


def test_the_shipped_cassettes_replay_every_suite_offline(pytester: pytest.Pytester) -> None:
    """`--target replay` passes every contract suite from cassettes/, with no server and no network."""
    add_suites(pytester)
    result = run(pytester, "--target", "replay", f"--cassette-dir={SHIPPED}")
    found = outcomes(result)
    assert len(found) > 60
    assert {test for test, outcome in found.items() if outcome != "passed"} == set()
    result.stdout.fnmatch_lines([f"runcancel: replaying {SHIPPED}, network blocked (from --target)"])


def test_one_test_replays_on_its_own(pytester: pytest.Pytester) -> None:
    """A test that needs a module-scoped fixture replays alone (`-k`): the fixture has its own cassette."""
    add_suites(pytester)
    result = run(pytester, "--target", "replay", f"--cassette-dir={SHIPPED}", "-k", "error.no_key")
    assert outcomes(result) == {"test_errors.py::test_error_answer[error.no_key]": "passed"}


def test_replay_starts_no_server_and_blocks_the_network(pytester: pytest.Pytester) -> None:
    """While replaying the mock is never started, and a connection attempt fails saying why."""
    pytester.makeini("[pytest]\n")
    pytester.makeconftest(
        """
        import pytest
        from runcancel.mock import MockServer

        @pytest.fixture(scope="session", autouse=True)
        def _no_mock_server():
            with pytest.MonkeyPatch.context() as patch:
                patch.setattr(MockServer, "start", lambda self: pytest.fail("the mock was started"))
                yield
        """
    )
    pytester.makepyfile(
        """
        import socket

        def test_offline(runcancel_client):
            socket.create_connection(("127.0.0.1", 9), timeout=1)
        """
    )
    (pytester.path / "cassettes").mkdir()
    result = run(pytester, "--target", "replay")
    result.assert_outcomes(failed=1)
    blocked = "runcancel: the network is blocked while replaying cassettes, and something tried to reach"
    result.stdout.fnmatch_lines([f"{blocked} '127.0.0.1:9'*"])
    assert "Traceback" not in result.stdout.str()


def test_a_no_key_request_never_replays_the_keyed_answer(pytester: pytest.Pytester) -> None:
    """A keyless cancel whose cassette holds only a keyed answer fails naming cassette, request and fix."""
    add_suites(pytester)
    folder = copy_cassettes(pytester.path / "cassettes")
    doctored = folder / "test_errors" / "test_error_answer[error.no_key].yaml"
    document = yaml.safe_load(doctored.read_text())
    for interaction in document["interactions"]:
        sent = interaction["request"]["headers"]
        if "authorization" not in {name.lower() for name in sent}:
            sent["authorization"] = ["Bearer <valid-key>"]
    doctored.write_text(yaml.safe_dump(document, sort_keys=False))
    result = run(pytester, "--target", "replay", "-k", "error.no_key")
    assert outcomes(result) == {"test_errors.py::test_error_answer[error.no_key]": "failed"}
    cassette = "cassettes/test_errors/test_error_answer[error.no_key].yaml"
    result.stdout.fnmatch_lines(
        [
            f"runcancel: no recording in cassette {cassette} answers",
            "  POST /v1/threads/*/runs/*/cancel (Authorization: absent, OpenAI-Beta: assistants=v2)",
            "  The closest recording differs: Authorization absent != Bearer <valid-key> (recorded).",
            "  Record it: pytest replayed_suites/test_errors.py -k 'test_error_answer?error.no_key?' "
            "--target mock --record-mode rewrite --cassette-dir * (or --target <URL>)",
        ]
    )


def test_the_record_command_of_an_in_process_app_shows_its_spec_without_credentials(tmp_path: Path) -> None:
    """The `asgi:` spec the advice names is shown as a target URL is: credential values in its query
    redacted, the key scrubbed wherever it stands."""
    recorder = Recorder(tmp_path, "once", KEY)
    recorder.recording_from(
        "http://in-process.invalid/v1?token=abc",
        "the in-process app m:app",
        again=f"asgi:m:app?token=abc&k={KEY}",
    )
    command = recorder.record_command("tests/test_x.py::test_a")
    assert "--target 'asgi:m:app?token=<redacted>&k=<api-key>'" in command, command
    assert KEY not in command


def test_the_record_command_names_a_suite_file_outside_the_rootdir(pytester: pytest.Pytester) -> None:
    """pytest gives a test file outside the rootdir a node id without the file; the command that
    records the missing cassette names the file all the same."""
    root = pytester.mkdir("project")
    (root / "pytest.ini").write_text("[pytest]\n")
    suite = pytester.mkdir("elsewhere") / "test_outside.py"
    suite.write_text(
        "def test_sends(runcancel_client):\n    runcancel_client.send('GET', '/threads/t/runs/r')\n"
    )
    cassettes = pytester.mkdir("cassettes")
    result = run(
        pytester, str(suite), "--rootdir", str(root), "-c", str(root / "pytest.ini"), "--target", "replay",
        "--cassette-dir", str(cassettes),
    )  # fmt: skip
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"  Record it: pytest {suite} -k test_sends --target mock *"])


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        pytest.param("", "is empty: it holds no recorded interactions", id="empty"),
        pytest.param("version: 1\ninteractions: [\n", "is not valid YAML*", id="yaml-error"),
        pytest.param(
            "version: 1\ninteractions:\n- request: {method: POST, uri: 'http://x/v1/chat/completions'}\n"
            "  response: {status: {code: 200}, body: {string: '{}'}}\n",
            "was recorded from another endpoint*POST /v1/chat/completions*",
            id="other-endpoint",
        ),
    ],
)
def test_an_unusable_cassette_is_one_clear_paragraph(
    pytester: pytest.Pytester, content: str, problem: str
) -> None:
    """An empty, malformed or foreign cassette fails its test with the file, the problem and the fix."""
    pytester.makeini("[pytest]\n")
    pytester.makepyfile(
        test_one="def test_it(runcancel_client):\n    runcancel_client.send('GET', '/models')\n"
    )
    (pytester.path / "cassettes" / "test_one").mkdir(parents=True)
    (pytester.path / "cassettes" / "test_one" / "test_it.yaml").write_text(content)
    result = run(pytester, "--target", "replay")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            f"runcancel: cannot use cassette cassettes/test_one/test_it.yaml*: {problem}",
            "  Record it again: pytest*",
        ]
    )
    assert "Traceback" not in result.stdout.str()


def test_a_missing_cassettes_folder_is_a_usage_error(pytester: pytest.Pytester) -> None:
    """Replay without a cassettes folder stops at once and says how to record one."""
    pytester.makeini("[pytest]\n")
    pytester.makepyfile("def test_it(runcancel_client):\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--target", "replay")
    assert result.ret == 2
    looked = pytester.path / "cassettes"
    result.stdout.fnmatch_lines(
        [
            f"runcancel: --target replay: cassettes: no such folder (looked for {looked})",
            "*--record-mode once*",
        ]
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(
            ["--runcancel-record-mode", "sometimes"],
            "*--runcancel-record-mode takes one of none, once, new_episodes, all, rewrite*",
            id="bad-mode",
        ),
        pytest.param(
            ["--target", "replay", "--record-mode", "once"],
            "*--record-mode once records from a server, but the target is 'replay'*",
            id="replay-and-record",
        ),
    ],
)
def test_record_mode_mistakes_are_usage_errors(
    pytester: pytest.Pytester, args: list[str], message: str
) -> None:
    """A record mode outside pytest-recording's, or recording from replay, is refused with the fix."""
    pytester.makepyfile("def test_it(runcancel_client):\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", *args)
    assert result.ret == 2
    result.stderr.fnmatch_lines([message])


def test_record_mode_none_replays(pytester: pytest.Pytester) -> None:
    """pytest-recording's `--record-mode none` is replay: no server, answers from the cassettes."""
    add_suites(pytester)
    result = run(pytester, "--record-mode", "none", f"--cassette-dir={SHIPPED}", "-k", "error.wrong_key")
    assert outcomes(result) == {"test_errors.py::test_error_answer[error.wrong_key]": "passed"}
    result.stdout.fnmatch_lines(
        [f"runcancel: replaying {SHIPPED}, network blocked (from --record-mode none)"]
    )


INTERRUPTIBLE = """
import os


def test_sends(arrange):
    \"\"\"Creates a thread; raises KeyboardInterrupt (Ctrl-C) after it when asked to.\"\"\"
    arrange.thread()
    if os.environ.get("RUNCANCEL_TEST_INTERRUPT"):
        raise KeyboardInterrupt
"""


def test_ctrl_c_during_a_rewrite_keeps_the_old_cassette(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C in a test while `--record-mode rewrite` runs leaves its old cassette intact."""
    pytester.makeini("[pytest]\n")
    pytester.makepyfile(test_rewritten=INTERRUPTIBLE)
    recorded = run(pytester, "--target", "mock", "--record-mode", "once")
    assert recorded.ret == 0
    folder = pytester.path / "cassettes" / "test_rewritten"
    old = (folder / "test_sends.yaml").read_bytes()
    monkeypatch.setenv("RUNCANCEL_TEST_INTERRUPT", "1")
    interrupted = run(pytester, "--target", "mock", "--record-mode", "rewrite")
    assert interrupted.ret == 3  # runcancel's exit code of an interrupted run
    assert (folder / "test_sends.yaml").read_bytes() == old
    assert sorted(p.name for p in folder.iterdir()) == ["test_sends.yaml"]
    monkeypatch.delenv("RUNCANCEL_TEST_INTERRUPT")
    rewritten = run(pytester, "--target", "mock", "--record-mode", "rewrite")
    assert rewritten.ret == 0
    assert (folder / "test_sends.yaml").read_bytes() != old
    assert yaml.safe_load((folder / "test_sends.yaml").read_text())["provenance"]["record_mode"] == "rewrite"


def test_record_from_a_mock_started_by_hand_then_replay_same_verdicts(pytester: pytest.Pytester) -> None:
    """Cassettes recorded from `runcancel mock` replay to the same outcome for every test."""
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "runcancel.cli",
            "mock",
            "--port",
            "0",
            "--step",
            "0.005",
            "--cancel-delay",
            "0.005",
        ],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "OPENAI_API_KEY": KEY},
    )
    try:
        assert server.stdout is not None
        url = re.search(r"listening on (\S+)", server.stdout.readline())
        assert url is not None
        add_suites(pytester)
        few = ("--probe-examples", "5")  # the same (small) generation for both runs: same requests
        recorded = run(pytester, "--target", url[1], "--api-key", KEY, "--record-mode", "once", *few)
    finally:
        server.terminate()
        server.wait(10)
    replayed = run(pytester, "--target", "replay", *few)
    assert outcomes(replayed) == outcomes(recorded)
    assert set(outcomes(recorded).values()) == {"passed"}
    provenance = yaml.safe_load(
        (pytester.path / "cassettes" / "test_shape" / "cancel_outcomes.yaml").read_text()
    )
    assert provenance["provenance"]["target"] == url[1]
    assert provenance["provenance"]["recorded_from"] == url[1]


# -- the canary: no secret reaches any written file ------------------------------------------------------

CANARY_KEY = "sk-canary-Key7Xq2Wv9ZQZXW"
CANARY_ORG = "org-CanaryOrg4d1e2f"
CANARY_PROJECT = "proj_CanaryProject5b7c"
CANARY_COOKIE = "canarycookie-93ab71"


class LeakyAccount:
    """ASGI middleware making the mock leak like a live account: account and cookie headers, and the
    key, org and project echoed in every JSON body and in a header."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent_key = dict(scope["headers"]).get(b"authorization", b"").decode()

        async def leaky_send(message: Any) -> None:
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message["headers"] if k.lower() != b"content-length"]
                extra = [
                    (b"openai-organization", CANARY_ORG.encode()),
                    (b"openai-project", CANARY_PROJECT.encode()),
                    (b"set-cookie", f"__cf_bm={CANARY_COOKIE}; path=/; HttpOnly".encode()),
                    (b"x-echo-authorization", sent_key.encode()),
                ]
                message = {**message, "headers": kept + extra}
            elif message["type"] == "http.response.body" and message.get("body", b"").startswith(b"{"):
                data = json.loads(message["body"])
                data["echo"] = (
                    f"{sent_key} org {CANARY_ORG} project {CANARY_PROJECT} masked {mask_key(CANARY_KEY)} "
                    f"sk-proj-****{CANARY_KEY[-4:]}."
                )
                message = {**message, "body": json.dumps(data).encode()}
            await send(message)

        await self.app(scope, receive, leaky_send)


def test_no_secret_reaches_any_written_file(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Recording with a canary key and account ids writes none of them, masked or not, to any file."""
    server = MockServer(MockConfig(api_key=CANARY_KEY, step=0.005, cancel_delay=0.005))
    server.app = LeakyAccount(server.app)  # type: ignore[assignment]
    monkeypatch.setenv("OPENAI_ORG_ID", CANARY_ORG)
    monkeypatch.setenv("OPENAI_PROJECT_ID", CANARY_PROJECT)
    add_suites(pytester)
    with server:
        result = run(
            pytester,
            "--target",
            server.base_url,
            "--api-key",
            CANARY_KEY,
            "--record-mode",
            "once",
            "--cassette-dir=cassettes",
            "--junitxml",
            "reports/junit.xml",
            "--log-file",
            "logs/run.log",
            "--log-file-level",
            "DEBUG",
            "-k",
            "test_errors or test_shape",
        )
    written = [p for p in pytester.path.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    assert {p.parent.name for p in written} >= {"test_errors", "test_shape", "reports", "logs"}
    canaries = [
        CANARY_KEY,
        CANARY_ORG,
        CANARY_PROJECT,
        CANARY_COOKIE,
        "..." + CANARY_KEY[-4:],
        "****" + CANARY_KEY[-4:],
    ]
    leaks = {
        str(p.relative_to(pytester.path)): [c for c in canaries if c in p.read_text(errors="replace")]
        for p in written
        if p.suffix != ".py"
    }
    assert {name: found for name, found in leaks.items() if found} == {}
    assert (pytester.path / "reports" / "findings.json").is_file()
    shown = result.stdout.str() + result.stderr.str()
    assert [c for c in canaries if c in shown] == [], "the terminal showed a secret"
    assert result.ret == pytest.ExitCode.OK
    cassette = (
        pytester.path / "cassettes" / "test_errors" / "test_error_answer[error.wrong_key].yaml"
    ).read_text()
    for placeholder in (
        "<org-id>",
        "<project-id>",
        "sk-<redacted>",
        "Bearer <api-key>",
        "Bearer <valid-key>",
    ):
        assert placeholder in cassette
