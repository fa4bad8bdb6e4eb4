"""What a run was, apart from what it found: when, how it was started, what it selected, how it ended.

The session (the pytest plugin and the command line alike) fills one `RunInfo`; every report writer
shows it, so the HTML, the Markdown, `findings.json` and the terminal agree on it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

__all__ = ["RunInfo", "ShownSetting"]


@dataclass(frozen=True)
class ShownSetting:
    """A setting as the reports show it: its value (secrets masked) and where it came from."""

    value: str
    source: str


@dataclass(frozen=True)
class RunInfo:
    started: datetime  # aware, UTC: when the session started
    finished: datetime  # aware, UTC: when the reports were written
    command: str  # the command that reproduces the run, scrubbed, with the --target it ran against
    seed: int | None = None  # the probe's seed
    budget: int | None = None  # the probe's generated-case budget (--probe-examples)
    settings: Mapping[str, ShownSetting] = field(default_factory=dict)  # name -> shown value, source
    # "full" when every suite's every test was selected; "partial" for -k, --lf, a single file, ...
    selection: str = "full"
    not_selected: tuple[str, ...] = ()  # clause ids no selected test could verify
    interrupted: str | None = None  # why the run stopped early (Ctrl-C, -x, unreachable), else None
    workers: int = 0  # pytest-xdist workers whose outcomes were merged (0: a serial run)

    @property
    def duration(self) -> float:
        """Seconds from start to finish."""
        return (self.finished - self.started).total_seconds()

    @property
    def full(self) -> bool:
        """A complete certificate: every test selected and the run not interrupted."""
        return self.selection == "full" and self.interrupted is None
