"""What one run of the suites saw: each clause's outcomes across tests, and every answer the target
gave. Written by the plugin's fixtures, read by the terminal summary, drift and the report writers."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from runcancel.findings import Evidence, Finding, NotVerified, Severity
from runcancel.rules import Outcome
from runcancel.scrub import ACCOUNT_HEADERS, AUTH_LIKE, DROPPED_HEADERS, KEY_HEADERS, REDACTED, Scrubber
from runcancel.settings import Settings
from runcancel.targets import Exchange

__all__ = ["Seen", "SessionRecord", "Verdict", "shown_headers"]

MAX_SEEN = 20_000
MAX_BODY = 64 * 1024
# The longest header value kept (scrubbed) for a report's evidence of a failure.
MAX_HEADER_VALUE = 200


def shown_headers(headers: Any, clean: Any = str) -> tuple[tuple[str, str], ...]:
    """An answer's headers as a report may show them: names lower-cased, in the order sent; the values
    of cookies, key and other auth-like headers masked, account headers replaced by their placeholder,
    every other value passed through `clean` (the session's scrubber) and cut at MAX_HEADER_VALUE."""
    items = headers.multi_items() if hasattr(headers, "multi_items") else list(dict(headers).items())
    shown: list[tuple[str, str]] = []
    for name, value in items:
        key = str(name).lower()
        if key in DROPPED_HEADERS or key in KEY_HEADERS or AUTH_LIKE.search(key):
            shown.append((key, REDACTED))
        elif key in ACCOUNT_HEADERS:
            shown.append((key, ACCOUNT_HEADERS[key]))
        else:
            shown.append((key, clean(str(value))[:MAX_HEADER_VALUE]))
    return tuple(shown)


@dataclass(frozen=True)
class Seen:
    """One answer of the target, kept for whole-target verdicts, drift and the evidence of failures.

    `headers` holds the values as a report may show them (`shown_headers`: scrubbed, credentials and
    cookies masked); `header_names` every name, for drift."""

    method: str
    url: str
    auth: str
    beta: str | None
    status: int
    content_type: str
    header_names: tuple[str, ...]
    head: str
    body: Any
    complete: bool = True  # False: the body was too large to keep, its shape is unknown
    headers: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(cls, exchange: Exchange, scrubber: Scrubber | None = None) -> Seen:
        clean = scrubber.text if scrubber else (lambda text: text)
        body: Any = None
        if len(exchange.content) <= MAX_BODY:
            try:
                body = json.loads(clean(exchange.content.decode("utf-8", "surrogateescape")))
            except ValueError:
                body = None
        return cls(
            method=exchange.method,
            url=clean(exchange.url),
            auth=exchange.auth,
            beta=exchange.beta,
            status=exchange.status,
            content_type=exchange.content_type,
            header_names=tuple(sorted({k.lower() for k in exchange.headers})),
            head=clean(exchange.content[:300].decode("utf-8", errors="replace")),
            body=body,
            complete=len(exchange.content) <= MAX_BODY,
            headers=shown_headers(exchange.headers, clean),
        )


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
    seen: list[Seen] = field(default_factory=list)
    unseen: int = 0
    # Everything kept here is shown or written later: findings and answers pass through it first.
    scrubber: Scrubber | None = None

    def observe(self, exchange: Exchange) -> None:
        """Keep the answer (the first MAX_SEEN of them; the rest are counted)."""
        if self.scrubber is not None:
            for name, placeholder in ACCOUNT_HEADERS.items():
                self.scrubber.learn(exchange.headers.get(name), placeholder)
        if len(self.seen) < MAX_SEEN:
            self.seen.append(Seen.of(exchange, self.scrubber))
        else:
            self.unseen += 1

    def clean(self, text: str) -> str:
        return self.scrubber.text(text) if self.scrubber is not None else text

    def record(self, clause: str, outcome: Outcome, nodeid: str) -> Verdict:
        if isinstance(outcome, NotVerified):
            verdict = Verdict(clause, nodeid, not_verified=self.clean(outcome.reason))
        else:
            verdict = Verdict(clause, nodeid, findings=[self.clean_finding(f) for f in outcome])
        self.verdicts.append(verdict)
        return verdict

    def clean_finding(self, f: Finding) -> Finding:
        if self.scrubber is None:
            return f
        evidence = f.evidence
        if evidence is not None:
            evidence = Evidence(evidence.method, self.clean(evidence.url), evidence.status)
        return Finding(
            f.clause, self.clean(f.path), self.clean(f.expected), self.clean(f.observed), f.severity, evidence
        )

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
