"""`runcancel certify` and `runcancel drift`, and the policy, tried as a user runs them: as commands."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from broken_servers import API_KEY, NO_ROUTE, UNDOCUMENTED_FIELDS, Served, Server, mock_config

CASSETTES = Path(__file__).resolve().parents[1] / "cassettes"


def runcancel(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "RUNCANCEL_", "HYPOTHESIS_"))}
    at = args.index("--") if "--" in args else len(args)
    budget = [] if "--probe-examples" in args else ["--probe-examples", "10"]
    return subprocess.run(
        [sys.executable, "-m", "runcancel.cli", *args[:at], *budget, *args[at:]],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def served(request: pytest.FixtureRequest) -> Iterator[str]:
    server: Server = request.param
    with Served(server.app_factory(mock_config())) as running:
        yield running.url


def findings(folder: Path) -> dict[str, object]:
    document: dict[str, object] = json.loads((folder / "reports" / "findings.json").read_text())
    return document


def test_certify_without_a_url_certifies_the_built_in_mock(tmp_path: Path) -> None:
    """The README's main-job example: every clause passed, the four reports written, exit 0."""
    done = runcancel("certify", cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-2000:]
    assert sorted(p.name for p in (tmp_path / "reports").iterdir()) == [
        "badge.json",
        "cancel_run.openapi.yaml",
        "certification.html",
        "certification.md",
        "drift.md",
        "findings.json",
    ]
    document = findings(tmp_path)
    assert document["verdict"] == "CERTIFIED"
    assert "CERTIFIED: " in done.stdout
    assert " passed, 0 failed, 0 not verified" in done.stdout
    assert not (tmp_path / ".hypothesis").exists()
    assert document["run"]["selection"] == "full"  # type: ignore[index]
    assert document["run"]["command"] == (  # type: ignore[index]
        "runcancel certify --target mock --probe-examples 10 --probe-seed 20231106"
    )


@pytest.mark.parametrize("served", [UNDOCUMENTED_FIELDS], indirect=True, ids=["undocumented-fields"])
@pytest.mark.parametrize(("policy", "code"), [("breaking", 0), ("additive", 1), ("never", 0)])
def test_undocumented_fields_are_additive_drift(served: str, policy: str, code: int, tmp_path: Path) -> None:
    """tool_resources and reasoning_effort are additive: they fail the run only under --fail-on additive."""
    done = runcancel("certify", served, "--api-key", API_KEY, "--fail-on", policy, cwd=tmp_path)
    assert done.returncode == code, done.stdout[-2000:]
    extra = [f for f in findings(tmp_path)["findings"] if f["clause"] == "schema.undocumented_field"]  # type: ignore[attr-defined]
    live = {"$.usage.prompt_token_details", "$.usage.completion_tokens_details"}  # the mock's own
    assert {f["path"] for f in extra} == {"$.tool_resources", "$.reasoning_effort"} | live
    assert {f["severity"] for f in extra} == {"additive"}


@pytest.mark.parametrize("served", [NO_ROUTE], indirect=True, ids=["no-route"])
def test_a_server_that_answers_404_everywhere_is_one_verdict(served: str, tmp_path: Path) -> None:
    """Every request 404 unknown URL: one top verdict, endpoint retired or not implemented, exit 1."""
    done = runcancel("certify", served, "--api-key", API_KEY, cwd=tmp_path)
    assert done.returncode == 1
    document = findings(tmp_path)
    assert [v["kind"] for v in document["target_verdicts"]] == ["endpoint-retired"]  # type: ignore[index]
    assert document["verdict"] == "NOT CERTIFIED"
    assert "FAILED" not in done.stdout
    assert done.stdout.count("endpoint retired or not implemented: all") == 1
    # The header names the settings as they were typed to runcancel, not as it hands them to pytest.
    assert f"runcancel: target {served} (from --target), API key from --api-key" in done.stdout
    certificate = (tmp_path / "reports" / "certification.md").read_text()
    assert certificate.index("endpoint retired") < certificate.index("schema.status")


def test_drift_against_the_shipped_cassettes_finds_nothing_on_the_mock(tmp_path: Path) -> None:
    """The reference mock against the cassettes recorded from it: only its live fields are new, exit 0."""
    done = runcancel("drift", "mock", "--baseline", str(CASSETTES), cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-2000:]
    assert " 0 breaking, " in (tmp_path / "reports" / "drift.md").read_text()


@pytest.mark.parametrize("served", [UNDOCUMENTED_FIELDS], indirect=True, ids=["undocumented-fields"])
def test_drift_names_new_fields_and_exits_by_policy(served: str, tmp_path: Path) -> None:
    """New fields against the recorded baseline are additive drift: exit 0, or 1 under additive."""
    done = runcancel("drift", served, "--baseline", str(CASSETTES), "--api-key", API_KEY, cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-2000:]
    drift = (tmp_path / "reports" / "drift.md").read_text()
    assert "drift.field_added" in drift
    assert "$.tool_resources" in drift
    strict = runcancel(
        "drift",
        served,
        "--baseline",
        str(CASSETTES),
        "--api-key",
        API_KEY,
        "--fail-on",
        "additive",
        cwd=tmp_path,
    )
    assert strict.returncode == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(
            ["certify", "--fail-on", "sometimes"],
            "--fail-on takes one of breaking, additive, never",
            id="policy",
        ),
        pytest.param(
            ["drift", "mock", "--baseline", "nowhere"],
            "/nowhere is not a folder. Give the folder of recorded cassettes",
            id="baseline",
        ),
        pytest.param(
            ["certify", "--reports-dir", "taken"], "cannot create the reports folder", id="reports-dir"
        ),
        pytest.param(
            ["certify", "--request-timeout", "inf"],
            "runcancel: --request-timeout takes a number of seconds above 0, got 'inf'",
            id="infinite-timeout",
        ),
        pytest.param(
            ["certify", "--probe-examples", "\u00b2"],
            "runcancel: --probe-examples takes a whole number above 0, got '\u00b2'",
            id="superscript-budget",
        ),
        pytest.param(["certify", "ftp://x"], "'ftp://x' is not a target URL", id="not-a-url"),
        pytest.param(["certify", "-H", "nocolon"], "--header takes a header as NAME:VALUE", id="header"),
        pytest.param(["certify", "--bogus"], "unrecognized arguments: --bogus", id="unknown-flag"),
        pytest.param(
            ["certify", "--", "--bogus"], "unrecognized arguments: --bogus", id="unknown-pytest-flag"
        ),
    ],
)
def test_bad_input_is_one_clear_message(args: list[str], message: str, tmp_path: Path) -> None:
    """A bad value, folder or flag: exit 2 and a clear message, no traceback, nothing checked."""
    (tmp_path / "taken").write_text("a file where the folder should be")
    done = runcancel(*args, cwd=tmp_path)
    assert done.returncode == 2
    assert message in done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr


def test_version_names_the_package_version() -> None:
    """`runcancel --version` prints the installed version and exits 0."""
    from runcancel import __version__

    done = subprocess.run(
        [sys.executable, "-m", "runcancel.cli", "--version"], capture_output=True, text=True, timeout=60
    )
    assert (done.returncode, done.stdout.strip()) == (0, f"runcancel {__version__}")


def test_an_unreachable_target_exits_4(tmp_path: Path) -> None:
    """Nothing listens at the URL: one paragraph naming it, exit 4, no report replaced."""
    done = runcancel("certify", "http://127.0.0.1:9", cwd=tmp_path)
    assert done.returncode == 4, done.stdout[-2000:]
    assert "runcancel: cannot reach target http://127.0.0.1:9/v1 (connection refused)" in done.stdout
    assert not (tmp_path / "reports" / "findings.json").exists()


def test_arguments_after_the_separator_go_to_pytest(tmp_path: Path) -> None:
    """`-- -k EXPR --junitxml FILE -v` reach pytest: JUnit written, the partial selection said everywhere."""
    done = runcancel(
        "certify", "--", "-k", "error_answer", "--junitxml=reports/junit.xml", "-v", cwd=tmp_path
    )
    assert done.returncode == 0, done.stdout[-3000:]
    assert "PASSED" in done.stdout  # -v reached pytest
    assert (tmp_path / "reports" / "junit.xml").is_file()
    document = findings(tmp_path)
    run = document["run"]
    assert run["selection"] == "partial"  # type: ignore[index]
    assert "schema.status" in run["not_selected"]  # type: ignore[index]
    assert "error.unknown_run" not in run["not_selected"]  # type: ignore[index]
    assert document["verdict"] == "INCOMPLETE"
    assert run["command"].endswith("-- -k error_answer --junitxml=reports/junit.xml -v")  # type: ignore[index]
    assert "partial run:" in done.stdout


@pytest.mark.parametrize(
    ("target", "shown"),
    [
        pytest.param(
            "https://res.openai.azure.com/openai?api-version=2024-05-01-preview",
            "https://res.openai.azure.com/openai?api-version=2024-05-01-preview",
            id="azure-api-version-kept",
        ),
        pytest.param(
            "http://127.0.0.1:4010/v1?api_key=abc123&region=eu",
            "http://127.0.0.1:4010/v1?api_key=<redacted>&region=eu",
            id="credential-in-query-redacted",
        ),
        pytest.param("mock", "mock", id="mock"),
    ],
)
def test_the_reproducing_command_keeps_the_targets_query_without_credentials(target: str, shown: str) -> None:
    """The command a report shows reaches the same target: its query is kept (a replay of an Azure run
    needs its api-version), credential values in it redacted."""
    from runcancel.certify import reproduce_command
    from runcancel.settings import resolve_settings

    command = reproduce_command(resolve_settings({"target": target}, {}), cli=[])
    assert f"--target {shlex.quote(shown)}" in command
    assert "abc123" not in command
