"""What the suites' fixtures need beyond the library: an arranger whose failures speak pytest.

Imported by the plugin's fixtures when a suite runs, never when the plugin is loaded.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, NoReturn

import pytest

from runcancel.arrange import ArrangedRun, ArrangeError, Arranger, NotArranged, ProviderState
from runcancel.session import SessionRecord

if TYPE_CHECKING:
    from runcancel.accept import Entry
    from runcancel.findings import Finding
    from runcancel.recording import Recorder
    from runcancel.settings import Settings

__all__ = ["SuiteArranger", "accepted_reasons", "blocking", "provider_state"]


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

    source, sent = key_source(record.settings)
    verdict = blocking_verdict(target_verdicts(record.seen, key_source=source, key_sent=sent))
    return verdict.kind if verdict is not None else None


def provider_state(settings: Settings, recorder: Recorder | None = None) -> ProviderState | None:
    """The provider state of `--provider-state URL` (asked with the request time-out and the target's
    TLS settings), or None. A status it once had no run for (404, 422, 501) is not asked again in
    this session.

    Recording, its URL goes into the cassettes' provenance (scrubbed) and its answers into the
    cassettes. Replaying, the cassettes answer it at the path they recorded it at (a given URL is used
    only when they name none); a status the recording never asked for is one it had no run for: a
    session asks for a status only until it is refused.
    """
    replaying = recorder is not None and recorder.replaying
    url = settings.provider_state.value
    if replaying and recorder is not None:
        from runcancel.recording import replay_provider_state

        url = replay_provider_state(recorder.cassette_dir) or url
    if not url:
        return None
    from runcancel.arrange import provider_state_from_url

    if recorder is not None and not replaying:
        recorder.asking_provider_state(url)
    verify = False if settings.insecure.value else (settings.ca_bundle.value or True)
    ask = provider_state_from_url(url, timeout=settings.request_timeout.value, verify=verify)
    refused: set[str] = set()

    def provide(status: str) -> tuple[str, str] | None:
        if status in refused:
            return None
        try:
            ids = ask(status)
        except Exception as exc:
            from runcancel.recording import not_recorded

            if not (replaying and not_recorded(exc)):
                raise
            ids = None
        if ids is None:
            refused.add(status)
        return ids

    return provide


def accepted_reasons(broken: Sequence[Finding], entries: Sequence[Entry]) -> str | None:
    """The reasons, joined, when every breaking finding of a test is named by an accepted deviation
    (the test then reads as an expected failure, its clause as accepted); None otherwise."""
    if not broken or not entries:
        return None
    reasons: dict[str, None] = {}
    for f in broken:
        entry = next((e for e in entries if e.names(f)), None)
        if entry is None:
            return None
        reasons[entry.reason] = None
    return "; ".join(reasons)
