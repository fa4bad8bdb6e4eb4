"""The pytest plugin, tried the way users meet it: through pytest runs (pytester)."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from runcancel.mock import DEFAULT_API_KEY, MockConfig, MockServer

pytest_plugins = ["pytester"]


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "OPENAI_BASE_URL",
        "OPENAI_API_KEY",
        "RUNCANCEL_REQUEST_TIMEOUT",
        "RUNCANCEL_ARRANGE_TIMEOUT",
        "RUNCANCEL_PROBE_EXAMPLES",
        "RUNCANCEL_PROBE_SEED",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def mock() -> Iterator[MockServer]:
    with MockServer(MockConfig(step=0.005, cancel_delay=0.005)) as server:
        yield server


def test_unreachable_target_is_one_line_and_exit_4(pytester: pytest.Pytester) -> None:
    """An unreachable --target stops the run with one line naming the URL and the cause, exit 4."""
    pytester.makepyfile("def test_x(runcancel_client):\n    pass\n")
    result = pytester.runpytest_subprocess("--target", "http://127.0.0.1:9", "-p", "no:cacheprovider")
    assert result.ret == 4
    result.stdout.fnmatch_lines(
        ["runcancel: cannot reach target http://127.0.0.1:9/v1 (connection refused). Start a server*"]
    )
    assert "Traceback" not in result.stdout.str() + result.stderr.str()


def test_no_target_check_when_no_test_needs_one(pytester: pytest.Pytester) -> None:
    """Runs that use no runcancel fixture never contact the target (pytest --help stays fast too)."""
    pytester.makepyfile("def test_x():\n    pass\n")
    result = pytester.runpytest_inprocess("--target", "http://127.0.0.1:9", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["--target", "ftp://x"], "*'ftp://x' is not a target URL*", id="not-http"),
        pytest.param(
            ["--request-timeout", "0"], "*--request-timeout takes a number of seconds above 0*", id="zero"
        ),
        pytest.param(
            ["--arrange-timeout", "soon"], "*--arrange-timeout takes a number of seconds*'soon'*", id="word"
        ),
        pytest.param(
            ["--probe-seed", "lucky"],
            "*--probe-seed takes a whole number or 'random', got 'lucky'*",
            id="seed",
        ),
        pytest.param(
            ["--runcancel-request-timeout", "inf"],
            "*--runcancel-request-timeout takes a number of seconds above 0, got 'inf'*",
            id="infinite",
        ),
        pytest.param(
            ["--runcancel-probe-examples", "\u00b2"],
            "*--runcancel-probe-examples takes a whole number above 0, got '\u00b2'*",
            id="superscript-two",
        ),
        pytest.param(
            ["--runcancel-header", "X-Tenant"],
            "*--runcancel-header takes a header as NAME:VALUE*",
            id="header",
        ),
        pytest.param(
            ["--runcancel-profile", "gcp"], "*--runcancel-profile takes one of openai, azure*", id="profile"
        ),
    ],
)
def test_bad_option_is_a_usage_error(pytester: pytest.Pytester, args: list[str], message: str) -> None:
    """A bad option value stops the run with exit 2 and one paragraph: what was given, what is allowed."""
    pytester.makepyfile("def test_x(runcancel_client):\n    pass\n")
    result = pytester.runpytest_subprocess(*args, "-p", "no:cacheprovider")
    assert result.ret == 2
    (result.stdout if "ftp" in args[-1] else result.stderr).fnmatch_lines([message])
    assert "Traceback" not in result.stdout.str() + result.stderr.str()


def test_the_header_names_the_probe_seed_and_budget(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The report header shows the probe's seed and budget and where each came from, before any failure."""
    pytester.makepyfile("def test_x(verdict):\n    pass\n")
    monkeypatch.setenv("RUNCANCEL_PROBE_EXAMPLES", "12")
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "--probe-seed", "42")
    result.stdout.fnmatch_lines(
        ["runcancel probe: seed 42 (from --probe-seed), 12 examples (from RUNCANCEL_PROBE_EXAMPLES)"]
    )


def test_target_comes_from_the_option_then_openai_base_url(
    pytester: pytest.Pytester, mock: MockServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--target wins over OPENAI_BASE_URL, which wins over the default built-in mock."""
    pytester.makepyfile("def test_x(runcancel_target):\n    print('BASE', runcancel_target.base_url)\n")
    monkeypatch.setenv("OPENAI_BASE_URL", mock.url)
    result = pytester.runpytest_inprocess("-s", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(
        [f"runcancel: target {mock.url} (from OPENAI_BASE_URL)*", f"*BASE {mock.base_url}*"]
    )
    result = pytester.runpytest_inprocess("-s", "-p", "no:cacheprovider", "--target", "mock")
    result.stdout.fnmatch_lines(["runcancel: target the built-in reference mock (from --target)*"])


def test_api_key_comes_from_openai_api_key(
    pytester: pytest.Pytester, mock: MockServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without --api-key the suites send OPENAI_API_KEY; a key the server rejects is visible as 401."""
    pytester.makepyfile(
        "def test_x(runcancel_client):\n"
        "    assert runcancel_client.send('POST', '/threads', json_body={}).status == 401\n"
    )
    monkeypatch.setenv("OPENAI_API_KEY", "sk-not-the-mock-key")
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "--target", mock.url)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*API key from OPENAI_API_KEY*"])


VERDICT_TESTS = """
from runcancel.findings import Finding, NotVerified, Severity

def test_not_verified(verdict):
    verdict("cancel.cancelled_at", NotVerified("cancel.cancelled_at", "the run never started"))

def test_broken(verdict):
    verdict("cancel.status", [Finding("cancel.status", "$.status", '"cancelling"', '"queued"')])

def test_additive(verdict):
    extra = Finding("schema.undocumented_field", "$.tool_resources", "none", "{}", Severity.ADDITIVE)
    verdict("schema.undocumented_field", [extra])
"""


def test_verdict_passes_fails_or_skips_never_silently(pytester: pytest.Pytester, mock: MockServer) -> None:
    """Not verified is a skip with its reason, breaking fails with the clause, additive passes but shows."""
    pytester.makepyfile(VERDICT_TESTS)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-rs", "--target", mock.url)
    result.assert_outcomes(passed=1, failed=1, skipped=1)
    result.stdout.fnmatch_lines(
        [
            "*contract clause cancel.status broken: status is `cancelling`*",
            '*[[]cancel.status[]] $.status: expected "cancelling"; observed "queued"*',
            f"*target {mock.url}: 1 clauses held, 1 broken, 102 not verified*",
            "*additive: [[]schema.undocumented_field[]] $.tool_resources*",
            "*SKIPPED*not verified: the run never started*",
        ]
    )


def test_arrange_cleans_up_even_when_the_test_fails(pytester: pytest.Pytester, mock: MockServer) -> None:
    """Threads and the assistant the suite created are deleted at teardown, pass or fail."""
    before = mock.app.state.store.sizes()
    pytester.makepyfile(
        "def test_x(arrange):\n"
        "    arrange.run('in_progress')\n"
        "    arrange.run('completed')\n"
        "    assert False, 'the test fails after arranging'\n"
    )
    result = pytester.runpytest_inprocess(
        "-p", "no:cacheprovider", "--target", mock.url, "--api-key", DEFAULT_API_KEY
    )
    result.assert_outcomes(failed=1)
    after = mock.app.state.store.sizes()
    assert after["threads"] == before["threads"]
    assert after["assistants"] == before["assistants"]


def test_a_status_the_target_cannot_reach_is_not_verified(pytester: pytest.Pytester) -> None:
    """When a run settles elsewhere than the wanted status, the test is skipped with the reason."""
    pytester.makepyfile("def test_x(arrange):\n    arrange.run('failed')\n")
    # A mock whose runs all complete: metadata scenarios are the only way to fail a run, and the
    # wait is too short to see anything but the first stages.
    with MockServer(MockConfig(step=5)) as slow:
        result = pytester.runpytest_inprocess(
            "-p",
            "no:cacheprovider",
            "-rs",
            "--target",
            slow.url,
            "--api-key",
            DEFAULT_API_KEY,
            "--arrange-timeout",
            "0.2",
        )
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(
        ["*not verified: could not arrange a failed run: the run did not reach failed*"]
    )


class _Slow(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # the reachability probe: answer at once
        self.send_response(404)
        self.end_headers()

    def do_POST(self) -> None:
        threading.Event().wait(2)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_a_slow_target_fails_with_the_timeout_stated(pytester: pytest.Pytester) -> None:
    """A target slower than --request-timeout fails the test in one paragraph naming URL and time-out."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Slow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    pytester.makepyfile("def test_x(runcancel_client):\n    runcancel_client.cancel('thread_a', 'run_b')\n")
    try:
        result = pytester.runpytest_inprocess(
            "-p", "no:cacheprovider", "--target", url, "--request-timeout", "0.3"
        )
    finally:
        server.shutdown()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            f"runcancel: target {url}/v1 did not answer POST {url}/v1/threads/thread_a/runs/run_b/cancel "
            "within 0.3 s*"
        ]
    )
    assert "Traceback" not in result.stdout.str()


@pytest.mark.parametrize("given", [pytest.param(False, id="no-key"), pytest.param(True, id="mock-key-given")])
def test_the_mock_key_goes_to_a_url_only_when_given(
    pytester: pytest.Pytester, mock: MockServer, given: bool
) -> None:
    """With no key anywhere, a URL target (a hand-started mock too) is sent no key; given, it is sent."""
    expected, status = (f"'Bearer {DEFAULT_API_KEY}'", 200) if given else ("None", 401)
    pytester.makepyfile(
        "def test_x(runcancel_client):\n"
        f"    assert runcancel_client.default_headers().get('Authorization') == {expected}\n"
        f"    assert runcancel_client.send('POST', '/threads', json_body={{}}).status == {status}\n"
    )
    key = ["--api-key", DEFAULT_API_KEY] if given else []
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "--target", mock.url, *key)
    result.assert_outcomes(passed=1)


def test_a_clause_test_that_ends_before_its_verdict_is_recorded_not_verified(
    pytester: pytest.Pytester,
) -> None:
    """A clause test skipped while arranging counts as not verified with its reason, not as unchecked."""
    pytester.makepyfile(
        "import pytest\n"
        "@pytest.mark.parametrize('clause', ['lifecycle.cancel_finished'])\n"
        "def test_x(clause, arrange, verdict):\n"
        "    arrange.run('failed')\n"
    )
    with MockServer(MockConfig(step=5)) as slow:
        result = pytester.runpytest_inprocess(
            "-p",
            "no:cacheprovider",
            "--target",
            slow.url,
            "--api-key",
            DEFAULT_API_KEY,
            "--arrange-timeout",
            "0.1",
        )
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(
        # Held: schema.undocumented_field (the live fields of the runs read while arranging) and
        # arrange.create_status (the creates answered 200).
        ["*2 clauses held, 0 broken, 102 not verified*", "not verified: lifecycle.cancel_finished"]
    )


def test_runs_read_while_arranging_are_checked_too(pytester: pytest.Pytester) -> None:
    """A Run read back during arranging that breaks a rule fails the run, though no test judged it."""
    from broken_servers import Served, mock_config, on_read_run

    def wrong_totals(run: dict[str, object]) -> None:
        if isinstance(run.get("usage"), dict):
            run["usage"] = {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 3}

    pytester.makepyfile("def test_x(arrange):\n    arrange.run('completed')\n")
    with Served(on_read_run(wrong_totals)(mock_config())) as served:
        result = pytester.runpytest_inprocess(
            "-p", "no:cacheprovider", "--target", served.url, "--api-key", DEFAULT_API_KEY
        )
    result.assert_outcomes(passed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    document = json.loads((pytester.path / "reports" / "findings.json").read_text())
    totals = next(c for c in document["clauses"] if c["id"] == "usage.totals")
    assert totals["state"] == "failed"
    assert totals["tests"] == ["(runs created and read while arranging)"]
    assert totals["findings"][0]["request"]["method"] == "GET"


def test_other_projects_get_no_reports_folder(pytester: pytest.Pytester) -> None:
    """A pytest run that uses none of the suites' fixtures writes nothing and checks no folder."""
    pytester.makepyfile("def test_x():\n    pass\n")
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "--reports-dir", "/proc/not-writable")
    result.assert_outcomes(passed=1)
    assert not (pytester.path / "reports").exists()


UNRELATED = "def test_one():\n    assert 1\n\ndef test_two():\n    assert 2\n"


def test_an_unrelated_run_sees_nothing_of_runcancel(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run that uses no suite gets no header, no output, no folder, and no setting is even read."""
    pytester.makepyfile(UNRELATED)
    monkeypatch.setenv("OPENAI_BASE_URL", "http://user:pw@example.test:1/v1")
    monkeypatch.setenv("RUNCANCEL_REQUEST_TIMEOUT", "not a number")  # read only once a suite runs
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    lines = [line for line in result.outlines if not line.startswith(("rootdir:", "plugins:"))]
    assert not [line for line in lines if "runcancel" in line and "test_an_unrelated_run" not in line]
    assert "example.test" not in result.stdout.str()
    pytester_own = {"runpytest-0", "runpytest-current", "stdout", "stderr"}
    left = {p.name for p in pytester.path.iterdir()} - pytester_own
    assert left == {"test_an_unrelated_run_sees_nothing_of_runcancel.py"}  # no reports/, no .hypothesis/


def test_loading_the_plugin_imports_nothing_heavy(pytester: pytest.Pytester) -> None:
    """A run that uses no suite loads only the plugin, its state module and the settings table: no
    httpx, models, mock, vcrpy, schemathesis glue or YAML."""
    pytester.makepyfile(UNRELATED)
    code = (
        "import sys, pytest\n"
        "heavy = ('httpx', 'pydantic', 'vcr', 'yaml', 'starlette', 'uvicorn')\n"
        "import runcancel.plugin\n"
        "print(sorted({m.split('.')[0] for m in sys.modules if m.split('.')[0] in heavy}))\n"
        "pytest.main(['-q', '-p', 'no:cacheprovider', '-p', 'no:schemathesis', '-p', 'no:anyio'])\n"
        "print(sorted(m for m in sys.modules if m.startswith('runcancel')))\n"
    )
    result = pytester.run(sys.executable, "-c", code)
    assert result.outlines[0] == "[]"
    assert (
        result.outlines[-1]
        == "['runcancel', 'runcancel.plugin', 'runcancel.pytest_state', 'runcancel.settings']"
    )


RECORDING_TEST = """
def test_suite_client(runcancel_client):
    assert runcancel_client.send("POST", "/threads", json_body={}).status == 200

import pytest

@pytest.mark.vcr
def test_users_own_cassette(vcr):
    assert vcr is not None  # pytest-recording's own fixture still works
"""


@pytest.mark.parametrize(
    "order",
    [
        pytest.param(["-p", "pytest_recording.plugin", "-p", "runcancel.plugin"], id="recording-first"),
        pytest.param(["-p", "runcancel.plugin", "-p", "pytest_recording.plugin"], id="runcancel-first"),
    ],
)
def test_pytest_recording_owns_record_mode_in_either_order(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, order: list[str]
) -> None:
    """With pytest-recording loaded before or after us, its --record-mode is its own, and we read it."""
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    pytester.makepyfile(RECORDING_TEST)
    result = pytester.runpytest_subprocess(*order, "-p", "no:cacheprovider", "--record-mode", "once", "-v")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        ["runcancel: target the built-in reference mock*recording into*(record mode once)"]
    )
    assert (pytester.path / "cassettes" / "test_pytest_recording_owns_record_mode_in_either_order").is_dir()
    assert "conflicting option" not in result.stdout.str() + result.stderr.str()


def test_without_pytest_recording_record_mode_is_ours(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Blocked or absent, pytest-recording leaves --record-mode free, and runcancel's alias takes it."""
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    pytester.makepyfile("def test_x(runcancel_client):\n    pass\n")
    result = pytester.runpytest_subprocess(
        "-p",
        "runcancel.plugin",
        "-p",
        "no:recording",
        "-p",
        "no:cacheprovider",
        "--runcancel-record-mode",
        "once",
    )
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*recording into*(record mode once)"])
