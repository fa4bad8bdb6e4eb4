"""Benchmark of replay: `pytest contracts --target replay` from the shipped cassettes, against the floor.

    python bench/bench_replay.py             # 5 rounds after one warm-up
    python bench/bench_replay.py --rounds 9
    python bench/bench_replay.py --instructions   # also the floor and the replay under callgrind

Each round runs the pytest floor (a one-test run with the same plugins and configuration, see
`bench_contracts.py`), the whole replay, the replay without the probe suite, and collection alone;
subprocesses from the repository root, runcancel settings taken out of the environment, bytecode
caches allowed (the warm-up run writes them). Ratios are taken round by round against that round's
floor, and the medians printed: a shared machine slows the floor and the replay alike.
Target: the whole replay at most 1.3x the floor. A failing replay exits 1.

`--instructions` also runs the floor and the whole replay once each under valgrind's callgrind and
prints the instructions each executed: a count that other jobs on the machine do not change, for
comparing two versions on a shared machine (each run takes minutes under valgrind).
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench_contracts import (
    ROOT,
    Floor,
    Run,
    environment,
    load,
    machine,
    needed_imports,
    print_needed_imports,
    pytest_run,
    ratios,
)

TARGET_RATIO = 1.3
REPLAY = ["contracts", "--target", "replay", "-p", "no:cacheprovider", "-q"]
COMMANDS = {
    "`pytest contracts --target replay` (every suite)": REPLAY,
    "the same without the probe suite (`--ignore contracts/test_probe.py`)": [
        *REPLAY,
        "--ignore",
        "contracts/test_probe.py",
    ],
    "collection only (`--collect-only`)": [*REPLAY, "--collect-only"],
}


def instructions(args: list[str]) -> int:
    """Instructions executed by `python -m pytest ARGS` under callgrind (its `Collected` count)."""
    with tempfile.TemporaryDirectory(prefix="runcancel-callgrind-") as folder:
        done = subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={Path(folder) / 'out'}",
                sys.executable,
                "-m",
                "pytest",
                *args,
            ],
            cwd=ROOT,
            env=environment(),
            capture_output=True,
            text=True,
            check=False,
        )
    found = re.search(r"Collected : (\d+)", done.stderr)
    if found is None:
        raise SystemExit(f"callgrind gave no count: {done.stderr[-300:]}")
    return int(found[1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds (default: 5)")
    parser.add_argument(
        "--instructions", action="store_true", help="also count instructions under valgrind's callgrind"
    )
    args = parser.parse_args(argv)
    about, load_before = machine(), load()
    floor = Floor()
    rounds: list[tuple[Run, dict[str, Run]]] = []
    imports: list[dict[str, float]] = []
    try:
        floor.run(), pytest_run(REPLAY)  # warm-up: bytecode and assertion-rewrite caches
        for _ in range(args.rounds):
            rounds.append((floor.run(), {label: pytest_run(command) for label, command in COMMANDS.items()}))
            imports.append(needed_imports())
    finally:
        floor.close()
    load_after = load()

    print(f"| command ({args.rounds} rounds) | min wall | median wall | median / floor |")
    print("|---|---|---|---|")
    floors = [f.seconds for f, _runs in rounds]
    print(f"| floor: `{floor.command}` | {min(floors):.2f} s | {statistics.median(floors):.2f} s | 1.00 |")
    for label in COMMANDS:
        pairs = [(f, runs[label]) for f, runs in rounds]
        seconds = [run.seconds for _f, run in pairs]
        print(
            f"| {label} | {min(seconds):.2f} s | {statistics.median(seconds):.2f} s "
            f"| {statistics.median(ratios(pairs)):.2f} |"
        )
    whole = ratios([(f, runs[next(iter(COMMANDS))]) for f, runs in rounds])
    ratio = statistics.median(whole)
    print(
        f"\nwhole replay / floor, round by round: {', '.join(f'{r:.2f}' for r in whole)}; median "
        f"{ratio:.2f}x, target <= {TARGET_RATIO:g}x: {'within' if ratio <= TARGET_RATIO else 'over'}"
    )
    print()
    print_needed_imports(imports, statistics.median(floors), TARGET_RATIO)
    if args.instructions:
        floor = Floor()
        try:
            floor_count, replay_count = instructions(floor.args), instructions(REPLAY)
        finally:
            floor.close()
        print(
            f"\ninstructions (callgrind): floor {floor_count / 1e9:.2f} G, whole replay "
            f"{replay_count / 1e9:.2f} G ({replay_count / floor_count:.2f}x the floor)"
        )
    print("\nmachine:")
    for line in [*about, f"load average before: {load_before}; after: {load_after}"]:
        print(f"- {line}")
    failed = [run.summary for _f, runs in rounds for run in runs.values() if run.failed]
    if failed:
        print(f"\nFAILED: {failed[0]}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
