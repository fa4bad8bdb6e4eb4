"""Benchmark of the probe's generated phase side by side with `st run` on the same inputs, in one run.

    python bench/bench_probe.py                  # default seed and budget, 5 rounds
    python bench/bench_probe.py --examples 500 --rounds 3

The built-in mock runs once, in this process (uvicorn in a thread, as the suites run it); each round
then runs, as subprocesses against that same mock:
- `st run` on the contract's operation `cancelRun`, with the probe's own schemathesis configuration
  (`runcancel.probe.config_document`: seed, budget, phases, modes, written as a `schemathesis.toml`),
  the suites' headers (key, `OpenAI-Beta`) and the probe's seven schemathesis checks;
- the probe's generated phase (`runcancel.probe.run_generated`: the anchor, every generated case, the
  same seven checks and the project's three), as `python bench/bench_probe.py --once URL`.
Each side's generated phase is its own figure of the time it spent generating, sending and judging
(schemathesis's engine time, `in N s`; the probe's `GeneratedRun.seconds`), schema loading left out
of both; process wall times (start-up and imports included) are printed too. Ratios are taken round
by round, the probe against the `st run` of its round, and the medians printed. Target: the probe's
generated phase at most 1.2x `st run`'s. Corpus cases per second are measured once, in process.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bench_contracts import ROOT, environment, load, machine

from runcancel.arrange import Arranger
from runcancel.mock import DEFAULT_API_KEY, MockConfig, MockServer
from runcancel.probe import GENERATED_CHECKS, Ids, ProbeSettings, config_document, run_corpus, run_generated
from runcancel.settings import DEFAULT_PROBE_EXAMPLES, DEFAULT_PROBE_SEED
from runcancel.targets import Target

TARGET_RATIO = 1.2
_ST_SECONDS = re.compile(r"=+ .* in (\d+(?:\.\d+)?)s =+")
_ST_CASES = re.compile(r"(\d+) generated")
# The probe's checks that schemathesis ships (the others are the project's own).
ST_CHECKS = [c.check for c in GENERATED_CHECKS if not c.check.startswith("runcancel_")]


def once(base_url: str, settings: ProbeSettings) -> dict[str, Any]:
    """One generated phase against `base_url`, as the suites run it: arrange a run, anchor it, generate."""
    with Target(base_url, DEFAULT_API_KEY).client() as client:
        arranger = Arranger(client)
        anchor = arranger.run("in_progress")
        started = time.perf_counter()
        run = run_generated(client, settings, anchor=(anchor.thread_id, anchor.run_id))
        loaded = time.perf_counter() - started
        arranger.cleanup()
    failing = {c: r.failing_cases for c, r in run.results.items() if r.failing_cases}
    return {"cases": run.cases, "seconds": run.seconds, "with_loading": loaded, "failing": failing}


def toml(document: Mapping[str, Any], prefix: str = "") -> str:
    """A `schemathesis.toml` from `config_document`'s keys (strings, numbers, booleans, lists, tables)."""

    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        return json.dumps(v)

    lines = [f"{k} = {value(v)}" for k, v in document.items() if not isinstance(v, Mapping)]
    for k, v in document.items():
        if isinstance(v, Mapping):
            table = f"{prefix}{k}"
            scalars = {key: item for key, item in v.items() if not isinstance(item, Mapping)}
            if scalars:
                lines += ["", f"[{table}]", toml(scalars)]
            nested = {key: item for key, item in v.items() if isinstance(item, Mapping)}
            if nested:
                lines.append(toml(nested, prefix=f"{table}."))
    return "\n".join(lines)


def st_run(config: Path, base_url: str) -> dict[str, Any]:
    """`st run` on operation cancelRun with the probe's configuration; its engine time and wall time."""
    st = Path(sys.executable).with_name("st")
    contract = ROOT / "contracts" / "cancel_run.openapi.yaml"
    command = [
        str(st), "--config-file", str(config), "--no-color", "run", str(contract),
        "--url", base_url, "--include-operation-id", "cancelRun", "--checks", ",".join(ST_CHECKS),
        "-H", f"Authorization: Bearer {DEFAULT_API_KEY}", "-H", "OpenAI-Beta: assistants=v2",
    ]  # fmt: skip
    started = time.perf_counter()
    done = subprocess.run(
        command, cwd=config.parent, env=environment(), capture_output=True, text=True, check=False
    )
    wall = time.perf_counter() - started
    seconds, cases = _ST_SECONDS.findall(done.stdout), _ST_CASES.findall(done.stdout)
    if done.returncode != 0 or not seconds or not cases:
        raise SystemExit(f"bench_probe: st run failed (exit {done.returncode}):\n{done.stdout[-2000:]}")
    return {"cases": int(cases[-1]), "seconds": float(seconds[-1]), "wall": wall}


def probe_run(base_url: str, settings: ProbeSettings) -> dict[str, Any]:
    command = [sys.executable, str(Path(__file__)), "--once", base_url, "--seed", str(settings.seed),
               "--examples", str(settings.examples)]  # fmt: skip
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=environment(), capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"bench_probe: the probe failed (exit {done.returncode}):\n{done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    if result["failing"]:
        raise SystemExit(f"bench_probe: probe checks failed on the reference mock: {result['failing']}")
    return {**result, "wall": wall}


def corpus_rate(base_url: str) -> tuple[int, float]:
    with Target(base_url, DEFAULT_API_KEY).client() as client:
        arranger = Arranger(client)
        held = arranger.run("in_progress")
        ids = Ids(held.thread_id, held.run_id, arranger.thread())
        started = time.perf_counter()
        answers = run_corpus(client, ids)
        seconds = time.perf_counter() - started
        arranger.cleanup()
    return len(answers), len(answers) / seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--examples", type=int, default=DEFAULT_PROBE_EXAMPLES)
    parser.add_argument("--seed", type=int, default=DEFAULT_PROBE_SEED)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--once", metavar="URL", help=argparse.SUPPRESS)  # one probe run, as JSON
    args = parser.parse_args()
    settings = ProbeSettings(seed=args.seed, examples=args.examples)
    if args.once:
        print(json.dumps(once(args.once, settings)))
        return 0
    about, load_before = machine(), load()
    rounds = []
    with (
        MockServer(MockConfig(step=0.005, cancel_delay=0.005)) as server,
        tempfile.TemporaryDirectory() as tmp,
    ):
        config = Path(tmp) / "schemathesis.toml"
        config.write_text(toml(config_document(settings, server.base_url)) + "\n")
        st_run(config, server.base_url), probe_run(server.base_url, settings)  # warm-up: bytecode caches
        for _ in range(args.rounds):
            rounds.append((st_run(config, server.base_url), probe_run(server.base_url, settings)))
        corpus_cases, corpus_per_second = corpus_rate(server.base_url)
    load_after = load()
    median = statistics.median

    def row(label: str, key: str) -> str:
        st = [s[key] for s, _p in rounds]
        ours = [p[key] for _s, p in rounds]
        each = [p[key] / s[key] for s, p in rounds]
        return (
            f"| {label} | {median(st):.2f} s (min {min(st):.2f}) "
            f"| {median(ours):.2f} s (min {min(ours):.2f}) "
            f"| {median(each):.2f} ({', '.join(f'{r:.2f}' for r in each)}) |"
        )

    st_cases, probe_cases = rounds[-1][0]["cases"], rounds[-1][1]["cases"]
    print(f"probe vs st run: seed {settings.seed}, {settings.examples} examples, {args.rounds} rounds")
    print(f"cases: st run {st_cases}, probe {probe_cases} (the anchor and the generated cases)")
    print()
    print("| measure | `st run` | probe | probe / st run, by round |")
    print("|---|---|---|---|")
    print(row("generated phase (generate, send, judge)", "seconds"))
    print(row("process wall time (start-up and imports included)", "wall"))
    each = [p["seconds"] / s["seconds"] for s, p in rounds]
    ratio = median(each)
    print()
    print(
        f"generated phase, probe / st run: median {ratio:.2f}x, target <= {TARGET_RATIO:g}x: "
        f"{'within' if ratio <= TARGET_RATIO else 'over'}; "
        f"{median(p['cases'] / p['seconds'] for _s, p in rounds):.0f} cases/s against st run's "
        f"{median(s['cases'] / s['seconds'] for s, _p in rounds):.0f}"
    )
    print(f"corpus: {corpus_cases} cases, {corpus_per_second:.0f} cases/s (in process)")
    print()
    print("machine:")
    for line in [*about, f"load average before: {load_before}; after: {load_after}"]:
        print(f"- {line}")
    return 0


if __name__ == "__main__":
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    sys.exit(main())
