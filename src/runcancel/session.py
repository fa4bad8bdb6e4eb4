"""What one run of the suites saw: each clause's outcomes, across tests. Written by the plugin's
`verdict` fixture, read by the terminal summary (and the report writers)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from runcancel.findings import Finding, NotVerified, Severity
from runcancel.rules import Outcome
from runcancel.settings import Settings

__all__ = ["SessionRecord", "Verdict"]


@dataclass
class Verdict:
    clause: str
    nodeid: str
    findings: list[Finding] = field(default_factory=list)
    not_verified: str | None = None

    @property
    def state(self) -> str:
        if self.not_verified is not None:
            return "not verified"
        if any(f.severity is Severity.BREAKING for f in self.findings):
            return "failed"
        return "passed"


@dataclass
class SessionRecord:
    settings: Settings
    target_label: str = ""
    verdicts: list[Verdict] = field(default_factory=list)

    def record(self, clause: str, outcome: Outcome, nodeid: str) -> Verdict:
        if isinstance(outcome, NotVerified):
            verdict = Verdict(clause, nodeid, not_verified=outcome.reason)
        else:
            verdict = Verdict(clause, nodeid, findings=list(outcome))
        self.verdicts.append(verdict)
        return verdict

    def clause_states(self) -> dict[str, str]:
        """One state a clause: failed if any test found it broken, else passed if any verified it."""
        rank = {"failed": 2, "passed": 1, "not verified": 0}
        states: dict[str, str] = {}
        for v in self.verdicts:
            if rank[v.state] >= rank.get(states.get(v.clause, "not verified"), 0):
                states[v.clause] = v.state
        return states

    def counts(self) -> Counter[str]:
        return Counter(self.clause_states().values())

    def additive(self) -> list[Finding]:
        seen: dict[tuple[str, str], Finding] = {}
        for v in self.verdicts:
            for f in v.findings:
                if f.severity is Severity.ADDITIVE:
                    seen.setdefault((f.clause, f.path), f)
        return list(seen.values())
