"""What the probe sent in one session, and where its generated cases come from: generation or a recording.

`ProbeRecord.send_generated` is the one place that decides. With cassettes in use (`recorder`, the
session's `runcancel.recording.Recorder`) the generated cases live beside the active cassette
(`runcancel.probe.cases`): replay (`--record-mode none`, or `once` with the cases already recorded)
re-sends them and generates nothing; any other recording mode generates and writes them. Without
cassettes the probe generates.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from runcancel.probe.cases import cases_path, read_cases, write_cases
from runcancel.probe.generated import PHASES, GeneratedRun, ProbeSettings, replay_generated, run_generated
from runcancel.probe.overlay import overlay_lines
from runcancel.targets import Exchange, TargetClient

__all__ = ["ProbeRecord"]


@dataclass
class ProbeRecord:
    """What the probe sent in one session, for the terminal summary."""

    settings: ProbeSettings
    generated: GeneratedRun | None = None
    corpus_sent: int = 0
    corpus_seconds: float = 0.0
    corpus_statuses: Counter[int] = field(default_factory=Counter)
    # The session's recorder when cassettes are in use (its mode, active cassette and scrubber).
    recorder: Any = None

    def send_generated(self, client: TargetClient, anchor: tuple[str, str] | None = None) -> GeneratedRun:
        """The generated half: the recorded cases on replay, else generated (and written when recording)."""
        recorder = self.recorder
        cassette = getattr(recorder, "active", None) if recorder is not None else None
        if cassette is None:
            run = run_generated(client, self.settings, anchor)
        else:
            path = cases_path(cassette)
            if recorder.mode == "none" or (recorder.mode == "once" and path.exists()):
                run = replay_generated(client, self.settings, read_cases(path), anchor)
            else:
                run = run_generated(client, self.settings, anchor)
                write_cases(
                    path, self.settings.seed, self.settings.examples, run.sent, recorder.scrubber.text
                )
        self.generated = run
        return run

    def corpus_answer(self, exchange: Exchange) -> None:
        self.corpus_sent += 1
        self.corpus_seconds += exchange.elapsed
        self.corpus_statuses[exchange.status] += 1

    @property
    def sent(self) -> int:
        return self.corpus_sent + (self.generated.cases if self.generated else 0)

    def summary_lines(self) -> list[str]:
        """The probe's lines of the terminal summary: what was sent, from which seed, and the overlay."""
        if not self.sent:
            return []
        s = self.settings
        lines = []
        if self.generated is not None:
            g = self.generated
            rate = f", {g.cases / g.seconds:.0f} cases/s" if g.seconds > 0 else ""
            if g.replayed is not None:
                by = ", ".join(f"{k} {v}" for k, v in sorted(g.replayed.generated_by.items()))
                lines.append(
                    f"probe: {g.cases} recorded cases sent again, nothing generated (recorded from seed "
                    f"{g.replayed.seed}, {g.replayed.examples} examples by {by or 'unknown versions'}; "
                    f"{g.replayed.path.name}) in {g.seconds:.2f} s{rate}"
                )
            else:
                lines.append(
                    f"probe: {g.cases} generated cases sent (seed {s.seed}, {s.examples} examples; "
                    f"{', '.join(PHASES)}) in {g.seconds:.2f} s{rate}"
                )
        if self.corpus_sent:
            lines.append(f"probe: {self.corpus_sent} corpus cases sent")
        statuses = Counter[int]()
        statuses.update(self.corpus_statuses)
        if self.generated is not None:
            statuses.update(self.generated.statuses)
        lines += overlay_lines(statuses)
        lines.append(f"probe: reproduce with {s.reproduce}")
        return lines
