"""Installed as a user installs it: the wheel in a fresh virtualenv, next to pytest-recording,
pytest-xdist and the newest pytest, used from a folder outside the repository.

Slow (it builds a wheel and installs from the package index), so it runs when RUNCANCEL_INSTALL_TESTS
is set, as `.ci/run` does.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(
    not os.environ.get("RUNCANCEL_INSTALL_TESTS"),
    reason="set RUNCANCEL_INSTALL_TESTS=1 (slow: builds and installs)",
)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv holding the built wheel, pytest-recording, pytest-xdist and the newest pytest."""
    where = tmp_path_factory.mktemp("install")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", str(ROOT), "-w", str(where / "dist")],
        check=True,
        timeout=600,
    )
    wheel = next((where / "dist").glob("runcancel-*.whl"))
    venv.create(where / "venv", with_pip=True)
    python = where / "venv" / "bin" / "python"
    subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "-q",
            "--upgrade",
            f"{wheel}[sdk]",  # the official SDK, which the consumer clause reads answers with
            "pytest-recording",
            "pytest-xdist",
            "pytest",
            "hypothesis",
        ],
        check=True,
        timeout=900,
    )
    return where / "venv" / "bin"


def run(bin_dir: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OPENAI_", "RUNCANCEL_", "HYPOTHESIS_", "PYTEST_"))
    }
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run(list(args), cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def test_an_unrelated_project_sees_nothing(installed: Path, tmp_path: Path) -> None:
    """Another project's two tests pass with no runcancel output, no warning, no folder left."""
    (tmp_path / "test_other.py").write_text("def test_a():\n    assert 1\n\ndef test_b():\n    assert 2\n")
    done = run(installed, "pytest", "-p", "no:cacheprovider", cwd=tmp_path)
    assert done.returncode == 0, done.stdout
    assert "runcancel:" not in done.stdout
    assert "warning" not in done.stdout.lower()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["test_other.py"]


def test_pyargs_record_then_replay_from_any_folder(installed: Path, tmp_path: Path) -> None:
    """`pytest --pyargs runcancel.contracts` runs the shipped suites, records cassettes, replays them."""
    few = ["-k", "error_answer or wrong_method", "--probe-examples", "5", "-p", "no:cacheprovider"]
    recorded = run(
        installed, "pytest", "--pyargs", "runcancel.contracts", "--record-mode", "once", *few, cwd=tmp_path
    )
    assert recorded.returncode == 0, recorded.stdout[-3000:]
    assert (tmp_path / "cassettes" / "test_errors").is_dir()
    replayed = run(
        installed, "pytest", "--pyargs", "runcancel.contracts", "--target", "replay", *few, cwd=tmp_path
    )
    assert replayed.returncode == 0, replayed.stdout[-3000:]
    assert "network blocked" in replayed.stdout
    for done in (recorded, replayed):
        assert "PytestAssertRewriteWarning" not in done.stdout + done.stderr
        assert "partial run:" in done.stdout


def test_certify_in_parallel_from_any_folder(installed: Path, tmp_path: Path) -> None:
    """`runcancel certify -- -n 2 --junitxml=...` certifies the built-in mock, JUnit and no .hypothesis/."""
    done = run(
        installed,
        "runcancel",
        "certify",
        "--probe-examples",
        "5",
        "--",
        "-n",
        "2",
        "--junitxml=reports/junit.xml",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout[-3000:]
    assert "CERTIFIED: " in done.stdout, done.stdout[-3000:]
    assert "PytestAssertRewriteWarning" not in done.stdout + done.stderr
    assert (tmp_path / "reports" / "junit.xml").is_file()
    assert not (tmp_path / ".hypothesis").exists()
    assert run(installed, "runcancel", "--version", cwd=tmp_path).stdout.startswith("runcancel ")
