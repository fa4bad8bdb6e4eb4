"""Overlay honesty: which answers the contract adds to the upstream OpenAPI document, and who relies on them.

The upstream document lists only 200 and 429 for cancelRun; the contract adds 400, 401 and 404 from
the live API (`x-source`). `overlay_lines` says how many answers had an added status and which
checks accept them only because of the addition.
"""

from __future__ import annotations

from collections.abc import Mapping

from runcancel.contract import OPERATION_PATH, load_contract
from runcancel.probe.checks import GENERATED_CHECKS

__all__ = ["overlay_lines", "overlay_statuses"]


def overlay_statuses() -> dict[int, str]:
    """Statuses of cancelRun's answers that the contract adds to the upstream document, with their source.

    An answer is added when its `x-source` does not name the official OpenAPI document.
    """
    responses = load_contract()["paths"][OPERATION_PATH]["post"]["responses"]
    added = {}
    for status, response in responses.items():
        source = str(response.get("x-source", ""))
        if source and "official OpenAPI document" not in source:
            added[int(status)] = source
    return added


def overlay_lines(statuses: Mapping[int, int]) -> list[str]:
    """Which checks rely on the answers the contract adds, and how many answers had such a status."""
    added = overlay_statuses()
    if not added:
        return []
    codes = ", ".join(str(s) for s in sorted(added))
    judged = sum(n for status, n in statuses.items() if status in added)
    total = sum(statuses.values())
    by_status = ", ".join(f"{s}: {statuses[s]}" for s in sorted(added) if statuses.get(s))
    lines = [
        f"probe overlay: {codes} are not in the upstream OpenAPI document; the contract adds them from "
        f"the live API. {judged} of {total} answers had one of them"
        + (f" ({by_status})" if by_status else "")
    ]
    for check in GENERATED_CHECKS:
        if check.overlay:
            lines.append(f"  {check.clause}: {check.overlay}")
    lines.append("  the corpus (probe.<case>): every expected class (404, 400, 414/431) is an added answer")
    return lines
