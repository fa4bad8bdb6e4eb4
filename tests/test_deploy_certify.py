"""`runcancel certify` on every deployment shape, as a user runs it: the command, its exit code, its
verdict line and findings.json; recorded from each shape and replayed offline to the same states.

The built-in mock's app is served on 127.0.0.1 as each shape (`test_deploy_shapes.SHAPES`: mounted at
the root, below `/api/v1`, as Azure below `/openai?api-version=...` with `api-key`), and in this
process through `--target asgi:MODULE:ATTR`. Each shape is certified once, recording its cassettes
(a module fixture); the tests read that run.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from broken_servers import API_KEY, Served, mock_config
from runcancel.mock import create_app
from runcancel.targets import get_profile
from test_deploy_shapes import SHAPES

TESTS = Path(__file__).resolve().parent
EXAMPLES = "5"  # the probe's budget: every check still applies, at a fraction of the default's time
VERDICT_LINE = re.compile(r"^(CERTIFIED|INCOMPLETE|NOT CERTIFIED): \d+ passed, (\d+) failed", re.MULTILINE)
AZURE_BETA_CLAUSES = set(get_profile("azure").not_applicable)


def mock_app() -> Any:
    """The built-in mock's app, as `asgi:test_deploy_certify:mock_app` names it (base path /v1)."""
    return create_app(mock_config())


def runcancel(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The command line in a fresh process, without the caller's OPENAI_/RUNCANCEL_ settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "RUNCANCEL_", "HYPOTHESIS_"))}
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS), env.get("PYTHONPATH", "")])  # asgi:MODULE below tests/
    return subprocess.run(
        [sys.executable, "-m", "runcancel.cli", "certify", *args, "--probe-examples", EXAMPLES],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@dataclass(frozen=True)
class Certified:
    """One certify run of a shape: what it printed, its findings.json, the cassettes it recorded."""

    done: subprocess.CompletedProcess[str]
    folder: Path
    profile: str
    findings: dict[str, Any]

    @property
    def cassettes(self) -> Path:
        return self.folder / "cassettes"


def findings_in(folder: Path) -> dict[str, Any]:
    report = folder / "reports" / "findings.json"
    document: dict[str, Any] = json.loads(report.read_text()) if report.is_file() else {"clauses": []}
    return document


def states(findings: dict[str, Any]) -> dict[str, str]:
    return {c["id"]: c["state"] for c in findings["clauses"]}


WHERE = ["root", "api-v1", "azure", "in-process"]


@pytest.fixture(scope="module")
def certified(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Certified]:
    """Each shape certified once with its matching settings, recording its cassettes."""
    runs: dict[str, Certified] = {}

    def certify(name: str, target: str, profile: str) -> None:
        folder = tmp_path_factory.mktemp(name)
        done = runcancel(
            target,
            "--api-key",
            API_KEY,
            "--profile",
            profile,
            "--record-mode",
            "once",
            "--cassette-dir",
            "cassettes",
            cwd=folder,
        )
        runs[name] = Certified(done, folder, profile, findings_in(folder))

    for name, shape in SHAPES.items():
        with Served(shape.app()) as served:
            certify(name, served.url + shape.path, shape.profile)
    certify("in-process", "asgi:test_deploy_certify:mock_app", "openai")
    return runs


@pytest.mark.parametrize("where", [pytest.param(w, id=w) for w in WHERE])
def test_certify_passes_on_each_deployment_shape(where: str, certified: dict[str, Certified]) -> None:
    """With the matching settings (base URL, profile, key), certify passes: exit 0, the verdict line,
    findings.json saying the run passes, nothing broken."""
    run = certified[where]
    assert run.done.returncode == 0, run.done.stdout[-3000:] + run.done.stderr[-2000:]
    line = VERDICT_LINE.search(run.done.stdout)
    assert line is not None, run.done.stdout[-2000:]
    assert line.group(2) == "0"
    findings = run.findings
    assert findings["policy"]["fail"] is False
    assert findings["verdict"] == line.group(1)
    assert "failed" not in states(findings).values()
    # What is not verified is only what the profile cannot hold, with the profile's reason.
    left = {c: s for c, s in states(findings).items() if s == "not verified"}
    assert set(left) == (AZURE_BETA_CLAUSES if where == "azure" else set())
    for clause in findings["clauses"]:
        if clause["id"] in left:
            reasons = clause["not_verified_reasons"]
            assert any("not applicable under --profile azure" in r for r in reasons), clause


def test_azure_reaches_every_clause_but_the_beta_ones(certified: dict[str, Certified]) -> None:
    """Under azure (api-key, api-version, no OpenAI-Beta) nothing breaks and only the clauses that need
    the beta header are not held; the key and the query reached every request."""
    run = certified["azure"]
    assert {c for c, s in states(run.findings).items() if s == "failed"} == set()
    cassette = yaml.safe_load(next(iter(sorted((run.cassettes / "test_shape").glob("*.yaml")))).read_text())
    requests = [i["request"] for i in cassette["interactions"]]
    assert requests
    for request in requests:
        headers = {k.lower(): v for k, v in request["headers"].items()}
        assert headers["api-key"] == ["<valid-key>"]
        assert "authorization" not in headers
        assert "openai-beta" not in headers
        assert "api-version=2024-05-01-preview" in request["uri"]


@pytest.mark.parametrize("where", [pytest.param(w, id=w) for w in WHERE])
def test_a_recording_from_each_shape_replays_offline_to_the_same_states(
    where: str, certified: dict[str, Certified]
) -> None:
    """`certify replay` sends to the recorded base path and query (the profile's key header too), so
    every cassette matches and each clause reaches the state it had live; an in-process app's
    exchanges are recorded like a server's."""
    run = certified[where]
    assert len(list(run.cassettes.rglob("*.yaml"))) > 10
    assert states(run.findings), run.done.stdout[-3000:]
    replayed = runcancel("replay", "--profile", run.profile, "--cassette-dir", "cassettes", cwd=run.folder)
    assert "no recording in cassette" not in replayed.stdout, replayed.stdout[-3000:]
    assert replayed.returncode == run.done.returncode, replayed.stdout[-3000:]
    assert "replaying" in replayed.stdout
    live, replay = states(run.findings), states(findings_in(run.folder))
    assert replay == live
