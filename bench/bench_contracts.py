"""Benchmark of the contract suites: wall time of `pytest contracts` on the built-in mock, and of the CI run.

    python bench/bench_contracts.py                  # 5 runs of the suites, 1 of the CI test run
    python bench/bench_contracts.py --runs 10 --ci-runs 3

Each command runs as a subprocess from the repository root, interpreter start-up included, with every
runcancel setting taken out of the environment (OPENAI_BASE_URL, OPENAI_API_KEY, RUNCANCEL_*) so the
suites start their built-in mock:
- `pytest contracts -p no:cacheprovider -q`: min and median wall seconds over the runs, the number of
  tests, and the ratio of the median to the target (10 s on a 2-core machine);
- `pytest -p no:cacheprovider -q`: the README's test command as CI runs it (tests/ and contracts/).
Prints a Markdown table and the machine it ran on. A run that fails is reported and the script exits 1:
the time of a failing suite says nothing.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_SECONDS = 10.0
SUITES = ["contracts", "-p", "no:cacheprovider", "-q"]
CI_RUN = ["-p", "no:cacheprovider", "-q"]
_COUNT = re.compile(r"(\d+) (passed|failed|skipped|xfailed|xpassed|errors?)\b")


@dataclass(frozen=True)
class Timing:
    """Wall seconds of each run of one command, and what its last run reported."""

    command: str
    seconds: list[float]
    tests: int
    summary: str
    failed: bool

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


def clean_environment() -> dict[str, str]:
    """This process's environment without any runcancel setting: the suites use the built-in mock."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "RUNCANCEL_"))}


def time_pytest(args: list[str], runs: int) -> Timing:
    """Run `python -m pytest ARGS` `runs` times from the repository root; wall seconds of each run."""
    command = [sys.executable, "-m", "pytest", *args]
    seconds: list[float] = []
    summary, failed = "", False
    for _ in range(runs):
        started = time.perf_counter()
        done = subprocess.run(
            command, cwd=ROOT, env=clean_environment(), capture_output=True, text=True, check=False
        )
        seconds.append(time.perf_counter() - started)
        lines = [line for line in done.stdout.splitlines() if line.strip()]
        summary = lines[-1].strip("= ") if lines else done.stderr.strip()[-300:]
        failed = failed or done.returncode != 0
    tests = sum(int(n) for n, _kind in _COUNT.findall(summary))
    return Timing("pytest " + " ".join(args), seconds, tests, summary, failed)


def machine() -> list[str]:
    """nproc, CPU model, memory, Python, system and date, one `name: value` a line."""
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [
            line.split(":", 1)[1].strip()
            for line in cpuinfo.read_text().splitlines()
            if line.startswith("model name")
        ]
        cpu = names[0] if names else cpu
    memory = "unknown"
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        total = next(
            (line.split()[1] for line in meminfo.read_text().splitlines() if line.startswith("MemTotal")),
            None,
        )
        memory = f"{int(total) / 1024**2:.1f} GiB" if total else memory
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "unknown"
    return [
        f"nproc: {len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count()}",
        f"CPU: {cpu}",
        f"memory: {memory}",
        f"Python: {platform.python_version()} ({sys.executable})",
        f"system: {platform.system()} {platform.release()}",
        f"load average before the runs: {load}",
        f"date: {datetime.datetime.now(datetime.UTC).strftime('%Y-%m-%d %H:%M UTC')}",
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs of `pytest contracts` (default 5)")
    parser.add_argument("--ci-runs", type=int, default=1, help="runs of the whole CI test run (default 1)")
    args = parser.parse_args()
    if args.runs < 1 or args.ci_runs < 0:
        parser.error("--runs must be at least 1, --ci-runs at least 0")
    about = machine()
    suites = time_pytest(SUITES, args.runs)
    timings = [suites, *([time_pytest(CI_RUN, args.ci_runs)] if args.ci_runs else [])]

    print(f"contract suites benchmark: {args.runs} runs of the suites, {args.ci_runs} of the CI test run")
    print()
    print("| command | runs | tests | min | median | last summary |")
    print("|---|---|---|---|---|---|")
    for t in timings:
        print(
            f"| `{t.command}` | {len(t.seconds)} | {t.tests} | {min(t.seconds):.2f} s | {t.median:.2f} s "
            f"| {t.summary} |"
        )
    print()
    ratio = suites.median / TARGET_SECONDS
    print(
        f"`pytest contracts`: median {suites.median:.2f} s against a target of {TARGET_SECONDS:g} s "
        f"(2-core machine): ratio {ratio:.2f}, {'within' if ratio <= 1 else 'over'} the target"
    )
    print()
    print("machine:")
    for line in about:
        print(f"- {line}")
    failing = [t.command for t in timings if t.failed]
    if failing:
        print(
            f"\nFAILED: {', '.join(failing)} exited non-zero; the times above are not those of a passing run"
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
