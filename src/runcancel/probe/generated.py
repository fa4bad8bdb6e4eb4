"""The generated half of the probe: schemathesis's cases on operation `cancelRun`, sent and judged.

Live (`run_generated`): schemathesis's examples, coverage and fuzzing phases draw the cases from the
seed and the budget, and each is sent through the project's client (`TargetClient.send_raw`, so
recording sees it like any other request). Replay (`replay_generated`): the cases recorded beside the
cassette are sent again as they went out; nothing is generated. Either way every answer is judged by
schemathesis's own checks, on the case (generated, or rebuilt from the recording), and by the
project's (`runcancel.probe.checks`), all in one `validate_response` call a case (`judge`).

The schemathesis configuration is given in full here: a `schemathesis.toml` anywhere, a
`SCHEMATHESIS_HOOKS` module and Hypothesis's habit of mixing literals of local source files into
generation are kept out, so a seed and a budget name the same cases on every run. schemathesis and
Hypothesis are imported only by the functions that use them.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

from runcancel.contract import OPERATION_ID
from runcancel.probe.cases import CasesFile, ProbeSettings, rebuild_case
from runcancel.probe.checks import ANSWERED, GENERATED_CHECKS, OWN_CHECKS
from runcancel.probe.judge import CheckFunction, CheckResult, GeneratedRun, Judge, overrides_of, target_of
from runcancel.targets import TargetClient

__all__ = [
    "PHASES",
    "CheckResult",
    "GeneratedRun",
    "ProbeError",
    "ProbeSettings",
    "build_config",
    "config_document",
    "isolated_generation",
    "load_operation",
    "replay_generated",
    "resolve_checks",
    "run_generated",
]

PHASES = ("examples", "coverage", "fuzzing")


class ProbeError(Exception):
    """The probe itself cannot run as configured (an unknown check name, a contract without cancelRun)."""


# -- configuration -------------------------------------------------------------------------------------


@contextlib.contextmanager
def _without_hooks_module() -> Iterator[None]:
    """`SCHEMATHESIS_HOOKS` is not read while the configuration is built (a hooks module registered by
    other code in this process still applies: schemathesis keeps one global registry)."""
    hooks = os.environ.pop("SCHEMATHESIS_HOOKS", None)
    try:
        yield
    finally:
        if hooks is not None:
            os.environ["SCHEMATHESIS_HOOKS"] = hooks


@contextlib.contextmanager
def isolated_generation() -> Iterator[None]:
    """Generation that depends on the seed, the budget and the contract only.

    - `SCHEMATHESIS_HOOKS` is not read (see `_without_hooks_module`).
    - Hypothesis (6.131 and later) draws about 5% of its strings and numbers from literals of the
      local, non-test modules loaded at that moment. Which modules are loaded differs from one
      process to another, and any edited literal in `src/` would change what a seed generates. The
      local pool is replaced by an empty one for the run (a private function: tests pin that it still
      exists). Replay does not generate and does not need this.
    """
    from hypothesis.internal.conjecture import providers

    original = getattr(providers, "_get_local_constants", None)
    if original is not None:
        from hypothesis.internal.constants_ast import Constants

        empty = Constants()
        providers._get_local_constants = lambda: empty
    try:
        with _without_hooks_module():
            yield
    finally:
        if original is not None:
            providers._get_local_constants = original


def config_document(settings: ProbeSettings, base_url: str) -> dict[str, Any]:
    """schemathesis's configuration of the probe, as the keys of a `schemathesis.toml`."""
    return {
        "seed": settings.seed,
        "base-url": base_url,
        # Health checks judge how the strategies generate, not the target: never fail on them.
        "suppress-health-check": ["all"],
        "generation": {
            "max-examples": settings.examples,
            "database": "none",
            "mode": "all",
            # Else the bearer scheme becomes a generated header: half the cases would drop the key.
            "with-security-parameters": False,
        },
        "phases": {name: {"enabled": name in PHASES} for name in (*PHASES, "stateful")},
    }


def build_config(settings: ProbeSettings, base_url: str) -> Any:
    """schemathesis's configuration, all of it given here (`config_document`)."""
    from schemathesis.config import SchemathesisConfig

    with _without_hooks_module():
        return SchemathesisConfig.from_dict(config_document(settings, base_url))


def load_operation(settings: ProbeSettings, base_url: str) -> Any:
    """Operation `cancelRun` of the contract, loaded with `build_config`."""
    import schemathesis

    from runcancel.contract import contract_path

    schema = schemathesis.openapi.from_path(contract_path(), config=build_config(settings, base_url))
    try:
        return schema.find_operation_by_id(OPERATION_ID)
    except Exception as exc:
        raise ProbeError(f"runcancel: the contract has no operation {OPERATION_ID} ({exc})") from None


def resolve_checks() -> dict[str, CheckFunction]:
    """Check functions by clause. An unknown name raises: schemathesis would silently skip it."""
    from schemathesis.checks import CHECKS, load_all_checks

    load_all_checks()
    known: dict[str, Any] = {name: CHECKS.get_one(name) for name in CHECKS.get_all_names()}
    known.update(OWN_CHECKS)
    unknown = sorted({c.check for c in GENERATED_CHECKS} - set(known))
    if unknown:
        raise ProbeError(
            f"runcancel: unknown schemathesis checks {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    return {c.clause: known[c.check] for c in GENERATED_CHECKS}


# -- the two ways to run -------------------------------------------------------------------------------


def run_generated(
    client: TargetClient, settings: ProbeSettings, anchor: tuple[str, str] | None = None
) -> GeneratedRun:
    """Cancel `anchor` (thread id, run id of a run that can be cancelled), then send every generated case.

    When the anchor is not answered 200 with its run, nothing is generated: the run is not verified.
    A request the target does not answer stops the run (recorded under `probe.answered`).
    """
    from hypothesis.errors import HypothesisException
    from schemathesis.generation.feedback import FeedbackSources
    from schemathesis.pytest._test_builder import build_operation_test

    judge = _start(client, settings)
    if not judge.send_anchor(anchor):
        return judge.finish()

    def test(case: Any) -> None:
        if not judge.stopped:
            judge.send(case, target_of(case), overrides_of(case), record=True)

    # schemathesis's own per-operation test, the one `@schema.parametrize()` builds at collection and
    # `from_fixture` at run time: every phase, the seed and the budget of `config`. Built here, at run
    # time, so the settings come from the session (config.stash), never from a module-level global.
    # The function is private; replay does not use it.
    hypothesis_test = build_operation_test(
        config=judge.operation.schema.config,
        operation=judge.operation,
        test_func=test,
        given_kwargs={},
        feedback=FeedbackSources(),
    )
    with isolated_generation():
        try:
            hypothesis_test()
        except HypothesisException as exc:  # pragma: no cover - generation itself failed
            raise ProbeError(f"runcancel: schemathesis could not generate cases: {exc}") from None
    return judge.finish()


def replay_generated(
    client: TargetClient, settings: ProbeSettings, recorded: CasesFile, anchor: tuple[str, str] | None = None
) -> GeneratedRun:
    """Cancel `anchor`, then send the recorded cases again, in order, and judge each answer.

    Nothing is generated: each case is rebuilt from the recording for schemathesis's checks. Cases
    recorded from another seed or budget than `settings` are not sent: the run is not verified.
    """
    judge = _start(client, settings)
    judge.run.replayed = recorded
    if (recorded.seed, recorded.examples) != (settings.seed, settings.examples):
        judge.run.not_verified = (
            f"the recorded cases ({recorded.path.name}) were generated with --probe-seed {recorded.seed} "
            f"--probe-examples {recorded.examples}, not with the {settings.reproduce} asked for: replay "
            "with those options, or record the probe's cassette again with these"
        )
        return judge.finish()
    if not judge.send_anchor(anchor):
        return judge.finish()
    for sent in recorded.cases:
        if judge.stopped:
            break
        judge.send(
            rebuild_case(judge.operation, sent),
            sent.target,
            sent.headers_to_send(client.target.api_key or ""),
        )
    return judge.finish()


def _start(client: TargetClient, settings: ProbeSettings) -> Judge:
    """A judge for one run: the operation loaded, the checks resolved, the clock started."""
    operation = load_operation(settings, client.target.base_url)
    run = GeneratedRun(settings, {c.clause: CheckResult(c) for c in (*GENERATED_CHECKS, ANSWERED)})
    return Judge(client, operation, resolve_checks(), run)
