"""What can go wrong on the way to a target, as errors a person can act on.

`TargetError` is the base: a target URL or setting that cannot be used (exit 2 material), or a target
that cannot be used at all. Its two kinds of failure during a run are told apart:

- `TargetUnreachable`: the target never accepted a connection (refused, unknown host, TLS refused).
  Every later request would fail the same way, so a run may stop on it.
- `TransportFault`: the target accepted the connection and then reset or closed it, or gave no
  answer within the request's time-out. It carries a finding (with the request) for the test that saw
  it; the run goes on.
"""

from __future__ import annotations

from runcancel.findings import Finding

__all__ = ["TargetError", "TargetUnreachable", "TransportFault"]


class TargetError(Exception):
    """The target could not be used: unreachable, too slow, or a URL or setting that is not one."""


class TargetUnreachable(TargetError):
    """The target never accepted a connection."""


class TransportFault(TargetError):
    """The target accepted a connection, then gave no complete answer: the finding says what it did."""

    def __init__(self, message: str, finding: Finding) -> None:
        super().__init__(message)
        self.finding = finding
