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

__all__ = ["SuiteArranger", "blocking"]


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
        """A target whose answers so far draw a blocking verdict (auth refused, endpoint retired, cannot
        arrange) skips, the verdict on top of the summary; any other refusal fails."""
        kind = blocking(self.record) if self.record is not None else None
        if kind is not None:
            pytest.skip(f"not verified: target verdict {kind} (see the runcancel summary)")
        pytest.fail(self.clean(f"runcancel: {exc}"), pytrace=False)


def blocking(record: SessionRecord) -> str | None:
    """The kind of the verdict that makes arranging pointless, drawn from the answers seen so far."""
    from runcancel.certify import key_source
    from runcancel.verdicts import blocking_verdict, target_verdicts

    verdict = blocking_verdict(target_verdicts(record.seen, key_source=key_source(record.settings)))
    return verdict.kind if verdict is not None else None
