"""`runcancel drift --baseline` on other projects' recordings, tried as a user runs it: as a command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from recordings_data import THREAD, era_run, exchange, write_vcrpy_yaml

RUNS = f"/threads/{THREAD}/runs"


def runcancel(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RUNCANCEL_", "OPENAI_"))}
    return subprocess.run(
        [sys.executable, "-m", "runcancel.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_drift_against_foreign_create_and_retrieve_recordings_names_the_differences(tmp_path: Path) -> None:
    """Only foreign vcrpy recordings of run create/retrieve (2024-04 Runs, gzip): the Run is compared
    across routes, each difference with its era note; a broken file stops it unless --skip-broken."""
    baseline = tmp_path / "baseline"
    write_vcrpy_yaml(
        baseline / "create_and_poll.yaml",
        [
            exchange("POST", RUNS, 200, era_run("2024-04", "queued"), encoding="gzip", request_headers={}),
            exchange("GET", f"{RUNS}/run_x", 200, era_run("2024-04", "in_progress"), encoding="gzip"),
            exchange("GET", f"{RUNS}/run_x", 200, era_run("2024-04", "completed", usage="2024-02")),
        ],
    )
    (baseline / "interrupted.yaml").write_text("interactions:\n- request: {method: GET")
    refused = runcancel("drift", "mock", "--baseline", str(baseline), cwd=tmp_path)
    assert refused.returncode != 0
    assert "interrupted.yaml" in refused.stdout + refused.stderr
    assert "--skip-broken" in refused.stdout + refused.stderr
    assert not (tmp_path / "reports").exists() or not (tmp_path / "reports" / "drift.md").exists()

    done = runcancel("drift", "mock", "--baseline", str(baseline), "--skip-broken", cwd=tmp_path)
    drift = (tmp_path / "reports" / "drift.md").read_text()
    assert "Run (every route) $.parallel_tool_calls" in drift
    assert "parallel_tool_calls: added upstream 2024-06" in drift
    assert "drift.era" in drift
    assert "drift baseline era: 27 keys: like 2024-04..2024-05" in done.stdout
    assert "interrupted.yaml" in done.stdout  # named as left out
    assert "drift.nothing_compared" not in drift
