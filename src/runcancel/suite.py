"""What the suites' fixtures need beyond the library: an arranger whose failures speak pytest.

Imported by the plugin's fixtures when a suite runs, never when the plugin is loaded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NoReturn

import pytest

from runcancel.arrange import ArrangedRun, ArrangeError, Arranger, NotArranged
from runcancel.session import SessionRecord

__all__ = ["SuiteArranger", "retired"]


@dataclass
class SuiteArranger(Arranger):
    """An Arranger whose failures speak pytest: not reachable -> skip (not verified), refused -> fail.

    Its messages quote the target's answers, which may echo a key: `clean` scrubs them first.
    """

    clean: Callable[[str], str] = str
    record: SessionRecord | None = None

    def run(self, status: str, thread_id: str | None = None) -> ArrangedRun:
        try:
            return super().run(status, thread_id)
        except NotArranged as exc:
            pytest.skip(self.clean(f"not verified: could not arrange a {status} run: {exc}"))
        except ArrangeError as exc:
            self.refused(exc)

    def thread(self) -> str:
        try:
            return super().thread()
        except ArrangeError as exc:
            self.refused(exc)

    def refused(self, exc: ArrangeError) -> NoReturn:
        """A target whose every answer says it is retired skips (one verdict on top), else fails."""
        if self.record is not None and retired(self.record):
            pytest.skip("not verified: endpoint retired or not implemented (see the runcancel summary)")
        pytest.fail(self.clean(f"runcancel: {exc}"), pytrace=False)


def retired(record: SessionRecord) -> bool:
    """Whether the answers seen so far say the endpoint is retired or not implemented."""
    from runcancel.drift import Answer, target_verdicts

    verdicts = target_verdicts([Answer.of_seen(seen) for seen in record.seen])
    return any(v.kind == "endpoint-retired" for v in verdicts)
