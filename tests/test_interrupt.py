"""Ctrl-C during `runcancel certify`: a complete earlier certificate is never replaced by the partial
one; the partial one says it was interrupted, and the exit code is 3.

Each test starts the real command line in a process of its own, waits until the suites have judged
a few tests (pytest's `-v` lines), then sends SIGINT as a terminal's Ctrl-C would.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RUNCANCEL = shutil.which("runcancel", path=str(Path(sys.executable).parent)) or "runcancel"
ENVIRONMENT = {
    name: value
    for name, value in os.environ.items()
    if not name.startswith(("RUNCANCEL_", "OPENAI_", "PYTEST_")) and name != "COV_CORE_SOURCE"
}
# Enough judged tests that the session is well under way, few enough to stop long before its end.
JUDGED_BEFORE_CTRL_C = 12

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGINT as Ctrl-C is a POSIX signal")


def certify(reports: Path, *pytest_args: str) -> list[str]:
    return [RUNCANCEL, "certify", "--reports-dir", str(reports), "--", "-p", "no:cacheprovider", *pytest_args]


def run_complete(reports: Path) -> dict[str, object]:
    done = subprocess.run(certify(reports, "-q"), cwd=ROOT, env=ENVIRONMENT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    document: dict[str, object] = json.loads((reports / "findings.json").read_text(encoding="utf-8"))
    return document


def interrupt(reports: Path) -> tuple[int, str]:
    """Start certify with `-v`, send SIGINT once JUDGED_BEFORE_CTRL_C tests have a result line, and
    return its exit code and everything it printed."""
    process = subprocess.Popen(
        certify(reports, "-v"),
        cwd=ROOT,
        env=ENVIRONMENT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    lines: list[str] = []
    judged = 0
    deadline = threading.Timer(240, process.kill)  # a hung run fails this test instead of CI
    deadline.start()
    try:
        for line in process.stdout:
            lines.append(line)
            if " PASSED" in line or " FAILED" in line or " SKIPPED" in line:
                judged += 1
                if judged == JUDGED_BEFORE_CTRL_C:
                    time.sleep(0.05)
                    process.send_signal(signal.SIGINT)
        code = process.wait()
    finally:
        deadline.cancel()
    assert judged >= JUDGED_BEFORE_CTRL_C, "".join(lines)[-3000:]
    return code, "".join(lines)


def test_ctrl_c_after_a_complete_run_keeps_the_complete_certificate(tmp_path: Path) -> None:
    """Ctrl-C mid-run leaves the complete findings.json in place, writes the interrupted one beside it
    (saying so), tells where both are, and exits 3."""
    reports = tmp_path / "reports"
    complete = run_complete(reports)
    before = {p.name: p.read_bytes() for p in reports.iterdir() if p.is_file()}

    code, printed = interrupt(reports)

    assert code == 3, printed[-3000:]
    assert {p.name: p.read_bytes() for p in reports.iterdir() if p.is_file()} == before
    assert json.loads((reports / "findings.json").read_text(encoding="utf-8")) == complete
    partial = json.loads((reports / "partial" / "findings.json").read_text(encoding="utf-8"))
    assert partial["run"]["interrupted"] == "Ctrl-C"
    assert partial["verdict"] != "CERTIFIED"
    markdown = (reports / "partial" / "certification.md").read_text(encoding="utf-8")
    assert "interrupted" in markdown
    assert "the run passes" not in markdown
    assert f"the complete report in {reports} is kept" in printed
    assert "Traceback" not in printed


def test_ctrl_c_on_a_first_run_writes_a_report_that_says_interrupted(tmp_path: Path) -> None:
    """With no earlier certificate, the interrupted run's reports are written where asked, and every
    one of them says the run was interrupted and is no certificate."""
    reports = tmp_path / "reports"

    code, printed = interrupt(reports)

    assert code == 3, printed[-3000:]
    document = json.loads((reports / "findings.json").read_text(encoding="utf-8"))
    assert document["run"]["interrupted"] == "Ctrl-C"
    assert document["verdict"] != "CERTIFIED"
    for name in ("certification.md", "certification.html"):
        text = (reports / name).read_text(encoding="utf-8")
        assert "interrupted" in text, name
        assert "the run passes" not in text, name
    assert not (reports / "partial").exists()


DROPPED_CTRL_C = """
import os
import signal


class Finalized:
    def __del__(self):
        # The KeyboardInterrupt is raised inside this finalizer, where Python can only drop it.
        os.kill(os.getpid(), signal.SIGINT)


def test_drops_a_ctrl_c():
    Finalized()


def test_after():
    pass
"""


def test_a_ctrl_c_dropped_in_a_finalizer_still_stops_the_run(pytester: pytest.Pytester) -> None:
    """Python drops a KeyboardInterrupt raised inside a finalizer; the run still stops before the next
    test, as pytest stops on Ctrl-C."""
    pytester.makepyfile(test_dropped=DROPPED_CTRL_C)

    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-v")

    assert result.ret == pytest.ExitCode.INTERRUPTED, result.stdout.str()
    result.stdout.fnmatch_lines(["*KeyboardInterrupt*"])
    assert "test_after" not in result.stdout.str().split("test_drops_a_ctrl_c", 1)[1]
