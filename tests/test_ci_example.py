"""The GitHub Actions example users copy (docs/ci/github-actions.yml): it parses, and its run steps,
run in order as one job, certify the built-in mock and leave the reports, JUnit and step summary."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

WORKFLOW = Path(__file__).resolve().parents[1] / "docs" / "ci" / "github-actions.yml"


def steps() -> list[dict[str, Any]]:
    document = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    found: list[dict[str, Any]] = document["jobs"]["certify"]["steps"]
    return found


def job_env() -> dict[str, str]:
    document = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    return {str(k): str(v) for k, v in (document["jobs"]["certify"].get("env") or {}).items()}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_the_workflow_installs_certifies_and_keeps_the_reports() -> None:
    """The workflow has the install, server, certify, summary and upload steps, reports kept always."""
    ids = [s.get("id") for s in steps() if "run" in s]
    assert ids == ["install", "server", "certify", "summary"]
    upload = next(s for s in steps() if str(s.get("uses", "")).startswith("actions/upload-artifact"))
    assert (upload["with"]["path"], upload["if"]) == ("reports/", "always()")
    assert "--junitxml=reports/junit.xml" in next(s["run"] for s in steps() if s.get("id") == "certify")


def test_the_run_steps_certify_the_built_in_mock(tmp_path: Path) -> None:
    """Run as one job (the install step left out: the package under test is installed here)."""
    script = ["set -euo pipefail", "trap 'kill $(jobs -p) 2>/dev/null || true' EXIT"]
    script += [s["run"] for s in steps() if "run" in s and s.get("id") != "install"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "RUNCANCEL_", "HYPOTHESIS_"))}
    env.update(job_env())  # the job's environment (the key), as the runner sets it
    env.update(
        SERVER_PORT=str(free_port()),
        GITHUB_STEP_SUMMARY=str(tmp_path / "summary.md"),
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        RUNCANCEL_PROBE_EXAMPLES="10",
    )
    done = subprocess.run(
        ["bash", "-c", "\n".join(script)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert (tmp_path / "reports" / "junit.xml").is_file()
    assert "CERTIFIED" in (tmp_path / "summary.md").read_text()
