"""Probing the cancel operation's path parameters and error answers.

Two sources of requests, both sent through the project's client (`TargetClient.send_raw`, so
recording and replay see them like any other) and both judged into findings under `probe.<name>`
clause ids:

- Generated (`generated`; each case sent and judged by `judge`): schemathesis's examples, coverage
  and fuzzing phases on operation `cancelRun` of the contract, judged by schemathesis's own checks
  and by the project's (`checks`: the OpenAI error envelope, the echoed id, no 2xx for ids never
  created). One more case, the anchor, cancels a run the target has just created: a 404 proves
  nothing on a server without the route. When recording, every case is kept as sent beside the
  cassette (`cases`); replay re-sends those and generates nothing.
- The corpus (`corpus`): edge-case ids schemathesis never sends, each sent exactly as written, with
  the class of answer it must get.

`overlay` says which checks rely on the answers the contract adds to the upstream document; `record`
holds what one session sent, for the terminal summary. schemathesis and Hypothesis are imported only
by the functions that use them.
"""

from runcancel.probe.cases import CasesFile, SentCase, read_cases, write_cases
from runcancel.probe.checks import (
    ANSWERED,
    GENERATED_CHECKS,
    NOT_FOUND_MESSAGE,
    GeneratedCheck,
    echo_problem,
    envelope_problem,
    path_ids,
)
from runcancel.probe.corpus import (
    CORPUS,
    NOT_FOUND,
    NOT_FOUND_OR_BAD_REQUEST,
    NOT_FOUND_OR_TOO_LONG,
    RUN_NOT_FOUND,
    THREAD_NOT_FOUND,
    EdgeCase,
    Expect,
    Ids,
    judge_edge_case,
    probe_clauses,
    run_corpus,
    send_edge_case,
)
from runcancel.probe.generated import (
    PHASES,
    CheckResult,
    GeneratedRun,
    ProbeError,
    ProbeSettings,
    build_config,
    config_document,
    isolated_generation,
    load_operation,
    replay_generated,
    resolve_checks,
    run_generated,
)
from runcancel.probe.overlay import overlay_lines, overlay_statuses
from runcancel.probe.record import ProbeRecord

__all__ = [
    "ANSWERED",
    "CORPUS",
    "GENERATED_CHECKS",
    "NOT_FOUND",
    "NOT_FOUND_MESSAGE",
    "NOT_FOUND_OR_BAD_REQUEST",
    "NOT_FOUND_OR_TOO_LONG",
    "PHASES",
    "RUN_NOT_FOUND",
    "THREAD_NOT_FOUND",
    "CasesFile",
    "CheckResult",
    "EdgeCase",
    "Expect",
    "GeneratedCheck",
    "GeneratedRun",
    "Ids",
    "ProbeError",
    "ProbeRecord",
    "ProbeSettings",
    "SentCase",
    "build_config",
    "config_document",
    "echo_problem",
    "envelope_problem",
    "isolated_generation",
    "judge_edge_case",
    "load_operation",
    "overlay_lines",
    "overlay_statuses",
    "path_ids",
    "probe_clauses",
    "read_cases",
    "replay_generated",
    "resolve_checks",
    "run_corpus",
    "run_generated",
    "send_edge_case",
    "write_cases",
]
