"""Benchmark of the contract suites on the built-in mock, against the pytest floor, in one run.

    python bench/bench_contracts.py                  # 5 rounds: the floor, then the suites
    python bench/bench_contracts.py --rounds 9 --ci-runs 1

The floor is a one-test pytest run (a test that does nothing) with the same interpreter, the same
installed plugins and the project's configuration: what any pytest run in this environment costs.
Each round runs the floor, then `pytest contracts -p no:cacheprovider -q` (the suites start their
built-in mock); both are subprocesses from the repository root, with every runcancel setting taken
out of the environment and bytecode caches allowed (a warm-up run of each writes them, as the second
run on a user's machine finds them). The ratio is taken round by round, each suite run against the
floor run just before it, so a machine shared with other jobs slows both alike; the median ratio is
the figure. Target: the suites at most 2.0x the floor.

`--ci-runs N` also times the README's test command as CI runs it (`pytest`, tests/ and contracts/).
A failing run exits 1: the time of a failing suite says nothing. The floor helpers here are shared
with `bench_replay.py`.
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
import tempfile
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_RATIO = 2.0
SUITES = ["contracts", "-p", "no:cacheprovider", "-q"]
CI_RUN = ["-p", "no:cacheprovider", "-q"]
FLOOR_TEST = '''def test_floor():
    """The floor: one test that does nothing."""
'''
_COUNT = re.compile(r"(\d+) (passed|failed|skipped|xfailed|xpassed|errors?)\b")


@dataclass(frozen=True)
class Run:
    """One subprocess: its wall seconds, the last line it printed, whether it failed."""

    seconds: float
    summary: str
    failed: bool
    stdout: str

    @property
    def tests(self) -> int:
        return sum(int(n) for n, _kind in _COUNT.findall(self.summary))


def environment() -> dict[str, str]:
    """No runcancel setting from the caller (the suites use the built-in mock); bytecode caches may be
    written, as on a user's machine."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "RUNCANCEL_"))}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def pytest_run(args: list[str]) -> Run:
    """`python -m pytest ARGS` from the repository root, timed."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", *args],
        cwd=ROOT,
        env=environment(),
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    summary = lines[-1].strip("= ") if lines else done.stderr.strip()[-300:]
    return Run(seconds, summary, done.returncode not in (0, 5), done.stdout)


class Floor:
    """The one-test pytest run every ratio is taken against (a file in a temporary folder)."""

    def __init__(self) -> None:
        self._folder = tempfile.TemporaryDirectory(prefix="runcancel-floor-")
        self.path = Path(self._folder.name) / "test_floor.py"
        self.path.write_text(FLOOR_TEST)

    @property
    def args(self) -> list[str]:
        # The project's configuration (pyproject.toml: addopts, plugins), as the suites run with it.
        return [str(self.path), "-c", str(ROOT / "pyproject.toml"), "--rootdir", str(ROOT), *CI_RUN]

    @property
    def command(self) -> str:
        return "pytest <tmp>/test_floor.py -c pyproject.toml --rootdir . -p no:cacheprovider -q"

    def run(self) -> Run:
        return pytest_run(self.args)

    def close(self) -> None:
        self._folder.cleanup()


# Libraries the clauses need that the floor's run never imports: the openai SDK's types and client
# (clause consumer.openai_sdk) and schemathesis's OpenAPI layer (the probe's checks, generated or
# replayed). The floor has already imported pytest and schemathesis's pytest plugin.
NEEDED_IMPORTS = {
    "the openai SDK (`openai`, `openai.types.beta.threads`)": "import openai, openai.types.beta.threads",
    "schemathesis's OpenAPI layer (`schemathesis.specs.openapi.schemas`)": (
        "import schemathesis.specs.openapi.schemas"
    ),
}
_IMPORT_TIMER = """
import sys, time
import pytest, schemathesis.pytest.plugin
started = time.perf_counter()
exec(sys.argv[1])
print(time.perf_counter() - started)
"""


def needed_imports() -> dict[str, float]:
    """Seconds each of NEEDED_IMPORTS takes in a fresh interpreter, and all of them together."""
    statements = {**NEEDED_IMPORTS, "both together": "; ".join(NEEDED_IMPORTS.values())}
    seconds = {}
    for label, statement in statements.items():
        done = subprocess.run(
            [sys.executable, "-c", _IMPORT_TIMER, statement],
            cwd=ROOT,
            env=environment(),
            capture_output=True,
            text=True,
            check=True,
        )
        seconds[label] = float(done.stdout.split()[-1])
    return seconds


def print_needed_imports(rounds: list[dict[str, float]], floor_seconds: float, target: float) -> None:
    """The imports' medians as a table, and the share of the target's headroom they take alone."""
    print("| import the suites need that the floor does not (fresh interpreter) | median | / floor |")
    print("|---|---|---|")
    for label in rounds[0]:
        median = statistics.median(r[label] for r in rounds)
        print(f"| {label} | {median:.2f} s | {median / floor_seconds:.2f} |")
    both = statistics.median(r["both together"] for r in rounds)
    print(
        f"\nthose imports alone are {both / floor_seconds:.2f}x the floor's median; the target of "
        f"{target:g}x leaves {target - 1:.2f}x the floor for everything the suites do"
    )


def ratios(pairs: list[tuple[Run, Run]]) -> list[float]:
    """Each measured run's seconds over the floor run of its round."""
    return [run.seconds / floor.seconds for floor, run in pairs]


def machine() -> list[str]:
    """nproc, CPU model, memory, Python and the tools' versions, system, load and date, one a line."""
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
    versions = ", ".join(
        f"{name} {metadata.version(name)}"
        for name in ("pytest", "schemathesis", "hypothesis", "httpx", "vcrpy", "uvicorn")
    )
    nproc = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return [
        f"nproc: {nproc}",
        f"CPU: {cpu}",
        f"memory: {memory}",
        f"Python: {platform.python_version()}; {versions}",
        f"system: {platform.system()} {platform.release()}",
        f"date: {datetime.datetime.now(datetime.UTC).strftime('%Y-%m-%d %H:%M UTC')}",
    ]


def load() -> str:
    return ", ".join(f"{v:.2f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "unknown"


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="rounds of floor + suites (default 5)")
    parser.add_argument("--ci-runs", type=int, default=0, help="runs of the whole CI test run (default 0)")
    args = parser.parse_args()
    if args.rounds < 1 or args.ci_runs < 0:
        parser.error("--rounds must be at least 1, --ci-runs at least 0")
    about, load_before = machine(), load()
    floor = Floor()
    try:
        floor.run(), pytest_run(SUITES)  # warm-up: bytecode and assertion-rewrite caches
        pairs, imports = [], []
        for _ in range(args.rounds):
            pairs.append((floor.run(), pytest_run(SUITES)))
            imports.append(needed_imports())
    finally:
        floor.close()
    ci = [pytest_run(CI_RUN) for _ in range(args.ci_runs)]
    load_after = load()
    suite_runs = [run for _floor, run in pairs]
    floor_runs = [f for f, _run in pairs]

    print(f"contract suites on the built-in mock against the pytest floor: {args.rounds} rounds")
    print()
    print("| command | runs | tests | min | median |")
    print("|---|---|---|---|---|")
    for label, runs in (("floor: " + floor.command, floor_runs), ("pytest contracts", suite_runs)):
        seconds = [r.seconds for r in runs]
        print(
            f"| `{label}` | {len(runs)} | {runs[-1].tests} | {min(seconds):.2f} s "
            f"| {statistics.median(seconds):.2f} s |"
        )
    if ci:
        seconds = [r.seconds for r in ci]
        print(f"| `pytest` (CI: tests/ and contracts/) | {len(ci)} | {ci[-1].tests} | {min(seconds):.2f} s "
              f"| {statistics.median(seconds):.2f} s |")  # fmt: skip
    each = ratios(pairs)
    ratio = statistics.median(each)
    print()
    print(
        f"`pytest contracts` / floor, round by round: {', '.join(f'{r:.2f}' for r in each)}; "
        f"median {ratio:.2f}x, target <= {TARGET_RATIO:g}x: {'within' if ratio <= TARGET_RATIO else 'over'}"
    )
    print()
    print_needed_imports(imports, statistics.median(r.seconds for r in floor_runs), TARGET_RATIO)
    print()
    print("machine:")
    for line in [*about, f"load average before: {load_before}; after: {load_after}"]:
        print(f"- {line}")
    failing = [r.summary for r in (*suite_runs, *ci) if r.failed]
    if failing:
        print(f"\nFAILED: {failing[0]}; the times above are not those of a passing run")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
