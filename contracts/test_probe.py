"""Probing path parameters and error answers: schemathesis-generated cases, then a corpus of edge-case ids.

Everything is sent once, in the module's set-up (one cassette when recording): a thread with a run for
the corpus, a second run to cancel (the anchor: a 404 proves nothing on a server that cannot cancel a
run it has just created), another thread, then the generated cases and the corpus. When recording,
the generated cases are also kept as sent beside the cassette; replay sends those again and generates
nothing. Each generated
check is one test (`test_generated[probe.<check>]`), each corpus case one test
(`test_edge_case[probe.<case>]`); the case's expected class of answer is in `runcancel.probe.CORPUS`.
Generation depends on --probe-seed and --probe-examples only; a failure says how to reproduce it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from runcancel.findings import Finding, NotVerified
from runcancel.probe import (
    ANSWERED,
    CORPUS,
    GENERATED_CHECKS,
    EdgeCase,
    GeneratedRun,
    Ids,
    ProbeRecord,
    judge_edge_case,
    run_corpus,
)
from runcancel.targets import Exchange, TargetClient


@dataclass(frozen=True)
class Probed:
    generated: GeneratedRun
    ids: Ids
    corpus: dict[str, Exchange | Finding | NotVerified]


@pytest.fixture(scope="module")
def probed(
    runcancel_client: TargetClient, runcancel_arrangers: Callable[[], Any], runcancel_probe: ProbeRecord
) -> Probed:
    """Arrange, send the anchor, the generated cases and the corpus, clean up: all before the first test."""
    arrange = runcancel_arrangers()
    try:
        corpus_run = arrange.run("in_progress")
        anchor = arrange.run("in_progress", thread_id=corpus_run.thread_id)
        ids = Ids(corpus_run.thread_id, corpus_run.run_id, arrange.thread())
        generated = runcancel_probe.send_generated(runcancel_client, anchor=(anchor.thread_id, anchor.run_id))
        corpus = {} if generated.not_verified else run_corpus(runcancel_client, ids, runcancel_probe)
    finally:
        arrange.cleanup()
    return Probed(generated, ids, corpus)


@pytest.mark.parametrize("clause", [c.clause for c in (*GENERATED_CHECKS, ANSWERED)])
def test_generated(
    clause: str,
    probed: Probed,
    verdict: Any,
    runcancel_probe: ProbeRecord,
    runcancel_target: Any,
    request: pytest.FixtureRequest,
) -> None:
    """Every generated answer holds the check (schemathesis's built-in ones and the project's own)."""
    run = probed.generated
    if run.not_verified:
        verdict(clause, NotVerified(clause, run.not_verified))
    result = run.results[clause]
    if not result.applied and not result.failures:
        applies = next((c.applies for c in GENERATED_CHECKS if c.clause == clause), "every answer")
        verdict(
            clause, NotVerified(clause, f"it applies to {applies}; none of the {run.cases} answers was one")
        )
    findings = run.findings(clause)
    if findings:
        request.node.add_report_section(
            "call",
            "runcancel probe",
            f"{result.failing_cases} of {result.applied} answers broke {clause}. Reproduce the same "
            f"cases with: pytest contracts/test_probe.py {runcancel_probe.settings.reproduce}",
        )
    verdict(clause, findings)


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in CORPUS])
def test_edge_case(case: EdgeCase, probed: Probed, verdict: Any) -> None:
    """The id, sent exactly as written, gets its class of answer: a JSON envelope, never 2xx or 5xx."""
    if probed.generated.not_verified:
        verdict(case.id, NotVerified(case.id, probed.generated.not_verified))
    answer = probed.corpus[case.id]
    if isinstance(answer, NotVerified | Finding):
        verdict(case.id, answer if isinstance(answer, NotVerified) else [answer])
    else:
        verdict(case.id, judge_edge_case(case, probed.ids, answer))
