"""The era of what a session or a recording saw: the key set most of its Runs show."""

from __future__ import annotations

import pytest

from recordings_data import era_run
from runcancel.eras import eras_seen, session_era


def test_the_era_of_a_session_is_that_of_most_of_its_runs() -> None:
    """Three 2025-03 Runs and one 2023-11 Run: the session's era is 2025-03, both are listed."""
    runs = [era_run("2025-03")] * 3 + [era_run("2023-11")]
    era = session_era(runs)
    assert era is not None
    assert era.era.name == "2025-03"
    assert [(match.era.name, count) for match, count in eras_seen(runs)] == [("2025-03", 3), ("2023-11", 1)]


def test_a_session_without_runs_has_no_era() -> None:
    """No Run seen: no era, rather than a guess."""
    assert session_era([]) is None


def test_a_run_between_eras_names_its_difference() -> None:
    """The 2024-06 keys plus one unknown key: closest to 2024-06, with the extra key named."""
    run = {k: v for k, v in era_run("2025-03").items() if k != "reasoning_effort"}
    run["service_tier"] = "default"
    era = session_era([run])
    assert era is not None
    assert era.describe() == "29 keys: closest to 2024-06..2025-02; also `service_tier`"


def test_a_session_names_the_era_of_its_runs(pytester: pytest.Pytester) -> None:
    """The built-in mock answers like the live API of 2025-03 on: the terminal and findings.json say so."""
    import json

    from runcancel.cli import suites_path

    reports = pytester.path / "reports"
    result = pytester.runpytest_subprocess(
        str(suites_path() / "test_shape.py"),
        "-p",
        "no:cacheprovider",
        "--runcancel-reports-dir",
        str(reports),
    )
    result.stdout.fnmatch_lines(["era: 29 keys: like 2025-03..*"])
    document = json.loads((reports / "findings.json").read_text())
    assert document["era"]["era"] == "2025-03"
    assert document["era"]["exact"] is True
