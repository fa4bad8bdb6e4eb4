"""Benchmark of replay: wall time of `pytest contracts --target replay` from the shipped cassettes.

    python bench/bench_replay.py                 # 7 runs of each command after one warm-up run
    python bench/bench_replay.py --runs 15

Each command runs as a subprocess from the repository root, interpreter start-up included, with every
runcancel setting taken out of the environment and bytecode caching allowed (the warm-up run writes
the caches a second run of a fresh clone would find):
- the whole replay, `pytest contracts --target replay`, against the target of 3 s on a 2-core machine;
- the same without the probe suite, whose schemathesis generation runs on replay too;
- collection only, `--collect-only`: interpreter, plugins and imports, no test run.
Prints a Markdown table (min and median wall seconds) and the machine. A failing replay exits 1.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_SECONDS = 3.0
REPLAY = ["contracts", "--target", "replay", "-p", "no:cacheprovider", "-q"]
COMMANDS = {
    "`pytest contracts --target replay` (every suite)": REPLAY,
    "the same without the probe suite (`--ignore contracts/test_probe.py`)": [
        *REPLAY,
        "--ignore",
        "contracts/test_probe.py",
    ],
    "collection only (`--collect-only`): start-up and imports": [*REPLAY, "--collect-only"],
}


def environment() -> dict[str, str]:
    """No runcancel setting from the caller; bytecode caches may be written, as on a user's machine."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "RUNCANCEL_"))}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def time_runs(args: list[str], runs: int) -> list[float]:
    command = [sys.executable, "-m", "pytest", *args]
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        done = subprocess.run(
            command, cwd=ROOT, env=environment(), capture_output=True, text=True, check=False
        )
        seconds.append(time.perf_counter() - started)
        if done.returncode not in (0, 5):
            tail = "\n".join(done.stdout.splitlines()[-15:])
            sys.exit(f"bench_replay: {' '.join(args)} failed (exit {done.returncode}):\n{tail}")
    return seconds


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        load = f" load average {os.getloadavg()[0]:.1f} at the start,"
    except OSError:
        load = ""
    return (
        f"{cpu}, {os.cpu_count()} logical CPUs, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()};{load} {datetime.date.today().isoformat()}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="timed runs of each command (default: 7)")
    args = parser.parse_args(argv)
    about = machine()
    time_runs(REPLAY, 1)  # warm-up: bytecode and assertion-rewrite caches
    rows = []
    for label, command in COMMANDS.items():
        seconds = time_runs(command, args.runs)
        rows.append((label, min(seconds), statistics.median(seconds)))
    print(f"| command ({args.runs} runs) | min wall | median wall |")
    print("|---|---|---|")
    for label, fastest, median in rows:
        print(f"| {label} | {fastest:.2f} s | {median:.2f} s |")
    whole = rows[0][2]
    verdict = "within" if whole < TARGET_SECONDS else "over"
    print(f"\nmedian of the whole replay: {whole:.2f} s, {verdict} the {TARGET_SECONDS:g} s target")
    print(f"Machine: {about}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
