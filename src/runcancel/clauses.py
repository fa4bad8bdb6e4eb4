"""Every clause runcancel checks, with a stable id, the rule in one line and where it comes from.

Test ids in the contract suites are these ids, and reports list them all: passed, failed or not
verified. Schema clauses are derived from the contract document, rule clauses from `rules.RULES`,
probe clauses from the probe's data (`runcancel.probe.corpus.probe_clauses`). The catalogue depends
on its parts, never the other way round.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from runcancel.contract import run_fields
from runcancel.probe.corpus import probe_clauses
from runcancel.rules import RULES

__all__ = ["TRANSPORT_CLAUSES", "Clause", "all_clauses", "clause", "schema_clauses"]


@dataclass(frozen=True)
class Clause:
    id: str
    title: str
    source: str
    suite: str


_SUITE_CLAUSES = (
    # the 200 answer's transport and headers
    Clause("answer.status", "a cancel of a cancellable run answers 200", "docs", "shape"),
    Clause("answer.json", "the answer is a JSON document (content-type application/json)", "docs", "shape"),
    Clause(
        "headers.x-request-id", "`x-request-id` is present, `req_` and 32 hex digits", "live API", "shape"
    ),
    Clause("headers.openai-version", "`openai-version` is `2020-10-01`", "live API", "shape"),
    Clause("headers.openai-processing-ms", "`openai-processing-ms` is a whole number", "live API", "shape"),
    # lifecycle
    Clause("lifecycle.cancel_queued", "a queued run can be cancelled", "docs", "lifecycle"),
    Clause("lifecycle.cancel_in_progress", "an in-progress run can be cancelled", "docs", "lifecycle"),
    Clause(
        "lifecycle.cancel_requires_action",
        "a run that requires action can be cancelled, and its required_action clears",
        "live API",
        "lifecycle",
    ),
    Clause(
        "lifecycle.read_back_cancelled",
        "a cancelled run reads back `cancelled` with cancelled_at set",
        "docs",
        "lifecycle",
    ),
    Clause(
        "lifecycle.cancel_twice",
        "a second cancel is refused: 400 `Cannot cancel run with status 'cancelling'.`",
        "live API",
        "lifecycle",
    ),
    Clause(
        "lifecycle.cancel_finished",
        "a completed, failed, expired or incomplete run cannot be cancelled: 400, run unchanged",
        "live API",
        "lifecycle",
    ),
    Clause(
        "lifecycle.wrong_thread",
        "a run cannot be cancelled through another thread's path: 404, run unchanged",
        "live API",
        "lifecycle",
    ),
    Clause(
        "lifecycle.concurrent_cancel",
        "of concurrent cancels of one run exactly one succeeds, the others get 400",
        "live API",
        "lifecycle",
    ),
    # judged at the session's end on every create the suites sent (runcancel.arrange)
    Clause(
        "arrange.create_status",
        "creates answer 200, as the live API does (another 2xx: info)",
        "live API",
        "lifecycle",
    ),
    # errors
    Clause(
        "error.unknown_thread", "unknown thread: 404 `No thread found with id '<id>'.`", "live API", "errors"
    ),
    Clause("error.unknown_run", "unknown run: 404 `No run found with id '<id>'.`", "live API", "errors"),
    Clause("error.no_key", "no API key: 401 `You didn't provide an API key. ...`", "live API", "errors"),
    Clause("error.wrong_key", "a wrong API key: 401 code `invalid_api_key`", "live API", "errors"),
    Clause("error.no_beta", "no `OpenAI-Beta` header: 400 code `invalid_beta`", "live API", "errors"),
    Clause("error.beta_v1", "`OpenAI-Beta: assistants=v1`: 400 code `invalid_beta`", "live API", "errors"),
    Clause(
        "error.wrong_method",
        "another method on the cancel path: 404 code `unknown_url`",
        "live API",
        "errors",
    ),
    Clause(
        "error.envelope",
        "every error answer is the OpenAI envelope: message, type, param, code",
        "official OpenAPI document; live API",
        "errors",
    ),
    # how the official SDK reads the answers (runcancel.consumer)
    Clause(
        "consumer.openai_sdk",
        "the official `openai` package reads every Run (its `Run` type, strict) and error answer "
        "(exception class, `type`, `code`, `param`)",
        "openai SDK",
        "shape",
    ),
)


# Judged by the client on every answer (runcancel.targets.client); a finding of one is recorded under
# the clause of the test that saw it (`Finding.under`), so they have no results of their own.
TRANSPORT_CLAUSES = (
    Clause(
        "transport.bounded_answer",
        "each answer is complete within --max-answer-bytes and --request-timeout",
        "runcancel",
        "transport",
    ),
    Clause(
        "transport.complete_answer",
        "a connection the target accepted carries a complete answer (no reset, no early close)",
        "runcancel",
        "transport",
    ),
)


def schema_clauses() -> list[Clause]:
    """One clause a documented Run field, plus undocumented fields (additive drift)."""
    fields = [
        Clause(f"schema.{name}", f"`{name}` has its documented type", "docs", "shape")
        for name in run_fields()
    ]
    return [
        *fields,
        Clause(
            "schema.undocumented_field", "no field beyond the documented ones (additive)", "docs", "shape"
        ),
    ]


@functools.cache
def all_clauses() -> dict[str, Clause]:
    rules = [Clause(r.clause, r.title, r.source, "shape") for r in RULES.values()]
    probes = [Clause(id, title, source, "probe") for id, title, source in probe_clauses()]
    found = [*schema_clauses(), *rules, *_SUITE_CLAUSES, *probes]
    return {c.id: c for c in found}


def clause(clause_id: str) -> Clause:
    try:
        return {**all_clauses(), **{c.id: c for c in TRANSPORT_CLAUSES}}[clause_id]
    except KeyError:
        raise KeyError(f"unknown clause {clause_id!r}") from None
