"""Benchmark of replay: `pytest contracts --target replay` from the shipped cassettes, against the floor.

    python bench/bench_replay.py             # 5 rounds after one warm-up
    python bench/bench_replay.py --rounds 9

Each round runs the pytest floor (a one-test run with the same plugins and configuration, see
`bench_contracts.py`), the whole replay, the replay without the probe suite, and collection alone;
subprocesses from the repository root, runcancel settings taken out of the environment, bytecode
caches allowed (the warm-up run writes them). Ratios are taken round by round against that round's
floor, and the medians printed: a shared machine slows the floor and the replay alike.
Target: the whole replay at most 1.3x the floor. A failing replay exits 1.
"""

from __future__ import annotations

import argparse
import statistics
import sys

from bench_contracts import Floor, Run, load, machine, pytest_run, ratios

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds (default: 5)")
    args = parser.parse_args(argv)
    about, load_before = machine(), load()
    floor = Floor()
    rounds: list[tuple[Run, dict[str, Run]]] = []
    try:
        floor.run(), pytest_run(REPLAY)  # warm-up: bytecode and assertion-rewrite caches
        for _ in range(args.rounds):
            rounds.append((floor.run(), {label: pytest_run(command) for label, command in COMMANDS.items()}))
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
