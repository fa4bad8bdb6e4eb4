"""Parallel and partial runs: pytest-xdist's workers hand their outcomes to the controller, which
alone writes; a partial or interrupted run says so and never replaces a complete report."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("xdist")


def certify(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "RUNCANCEL_", "HYPOTHESIS_"))}
    return subprocess.run(
        [sys.executable, "-m", "runcancel.cli", "certify", "--probe-examples", "10", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def document(folder: Path) -> dict[str, object]:
    found: dict[str, object] = json.loads((folder / "findings.json").read_text())
    return found


def states(found: dict[str, object]) -> dict[str, str]:
    return {c["id"]: c["state"] for c in found["clauses"]}  # type: ignore[attr-defined]


def test_four_workers_certify_like_a_serial_run(tmp_path: Path) -> None:
    """`-n 4` gives the serial run's certificate: every clause in the same state, CERTIFIED, 4 workers."""
    serial_dir, parallel_dir = tmp_path / "serial", tmp_path / "parallel"
    serial_dir.mkdir()
    parallel_dir.mkdir()
    serial = certify(cwd=serial_dir)
    parallel = certify("--", "-n", "4", "--junitxml=reports/junit.xml", cwd=parallel_dir)
    assert (serial.returncode, parallel.returncode) == (0, 0), parallel.stdout[-3000:]
    one, four = document(serial_dir / "reports"), document(parallel_dir / "reports")
    assert states(four) == states(one)
    assert set(states(four).values()) == {"passed"}
    assert (four["verdict"], one["verdict"]) == ("CERTIFIED", "CERTIFIED")
    assert four["run"]["workers"] == 4  # type: ignore[index]
    assert one["run"]["workers"] == 0  # type: ignore[index]
    assert "CERTIFIED: " in parallel.stdout  # the summary is the controller's
    assert (parallel_dir / "reports" / "junit.xml").is_file()


def test_a_partial_run_keeps_the_complete_report(tmp_path: Path) -> None:
    """After a full run, a `-k` run writes to reports/partial/, says so, and leaves the full one alone."""
    assert certify(cwd=tmp_path).returncode == 0
    complete = (tmp_path / "reports" / "findings.json").read_bytes()
    partial = certify("--", "-k", "wrong_method", cwd=tmp_path)
    assert partial.returncode == 0, partial.stdout[-3000:]
    assert (tmp_path / "reports" / "findings.json").read_bytes() == complete
    found = document(tmp_path / "reports" / "partial")
    assert found["verdict"] == "INCOMPLETE"
    assert found["run"]["selection"] == "partial"  # type: ignore[index]
    assert "partial run:" in partial.stdout
    assert "is kept" in partial.stdout
    # The clauses counted "not selected" are exactly those the report leaves unverified for that reason:
    # one judged on the session's own answers (the Runs seen while arranging) is not among them.
    not_selected = found["run"]["not_selected"]  # type: ignore[index]
    unselected = [
        c["id"] for c in found["clauses"] if c["not_verified_reasons"] == ["not selected in this run"]
    ]  # type: ignore[attr-defined]
    assert sorted(not_selected) == sorted(unselected)
    assert states(found)["schema.undocumented_field"] == "passed"
    assert f"partial run: {len(unselected)} clauses not selected" in partial.stdout


@pytest.mark.parametrize(
    "workers", [pytest.param([], id="serial"), pytest.param(["-n", "2"], id="two-workers")]
)
def test_a_run_stopped_by_x_says_it_was_interrupted(tmp_path: Path, workers: list[str]) -> None:
    """`-x` on a failing server stops the run: the report says interrupted, the exit is the failure's."""
    from broken_servers import API_KEY, BROKEN_SERVERS, Served, mock_config

    queued = next(s for s in BROKEN_SERVERS if s.name == "status-queued")
    with Served(queued.app_factory(mock_config())) as served:
        done = certify(served.url, "--api-key", API_KEY, "--", "-x", *workers, cwd=tmp_path)
    found = document(tmp_path / "reports")
    assert "stopping after 1 failures" in found["run"]["interrupted"], done.stdout[-3000:]  # type: ignore[index]
    assert found["run"]["selection"] == "full"  # type: ignore[index]
    assert found["verdict"] == "NOT CERTIFIED"
    assert done.returncode == 1
    assert "interrupted: stopping after 1 failures; not a full certificate" in done.stdout
