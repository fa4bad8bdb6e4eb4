"""Benchmark of the probe: cases per second against the built-in mock, and the probe suite's wall time.

    python bench/bench_probe.py                 # default budget, 5 rounds
    python bench/bench_probe.py --examples 500 --rounds 3

Measured, each as the median of the rounds:
- generated cases per second against the built-in mock on 127.0.0.1 (uvicorn in a thread, as the
  suites run it): schemathesis generation, one request each, every check;
- the same with answers from an in-process transport, no server: what generation and the checks
  alone cost;
- corpus cases per second against the mock;
- wall time of `pytest contracts/test_probe.py` at that budget, interpreter start-up included.
Prints a Markdown table and the machine it ran on.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

import httpx

from runcancel.arrange import Arranger
from runcancel.mock import DEFAULT_API_KEY, MockConfig, MockServer
from runcancel.probe import Ids, ProbeSettings, run_corpus, run_generated
from runcancel.settings import DEFAULT_PROBE_EXAMPLES, DEFAULT_PROBE_SEED
from runcancel.targets import Target

ROOT = Path(__file__).resolve().parents[1]


def against_mock(settings: ProbeSettings, rounds: int) -> tuple[list[float], list[float], int, int]:
    """Generated and corpus cases per second against the mock, per round; and the case counts."""
    generated, corpus = [], []
    cases = corpus_cases = 0
    config = MockConfig(step=0.005, cancel_delay=0.005)
    with MockServer(config) as server, Target(server.base_url, DEFAULT_API_KEY).client() as client:
        arranger = Arranger(client)
        for _ in range(rounds):
            held = arranger.run("in_progress")
            anchor = arranger.run("in_progress", thread_id=held.thread_id)
            run = run_generated(client, settings, anchor=(anchor.thread_id, anchor.run_id))
            cases = run.cases
            generated.append(run.cases / run.seconds)
            ids = Ids(held.thread_id, held.run_id, arranger.thread())
            started = time.perf_counter()
            answers = run_corpus(client, ids)
            corpus_cases = len(answers)
            corpus.append(corpus_cases / (time.perf_counter() - started))
        arranger.cleanup()
    return generated, corpus, cases, corpus_cases


def in_process(settings: ProbeSettings, rounds: int) -> list[float]:
    """Generated cases per second when every answer is an instant 404 (plus the anchor's 200)."""

    def answer(request: httpx.Request) -> httpx.Response:
        if request.extensions["target"].endswith(b"/runs/run_anchor/cancel"):
            # Not a whole Run: the anchor's own checks fail, which costs the same as passing.
            return httpx.Response(200, json={"id": "run_anchor", "object": "thread.run"})
        error = {
            "message": "No thread found with id 'x'.",
            "type": "invalid_request_error",
            "param": None,
            "code": None,
        }
        return httpx.Response(404, json={"error": error})

    rates = []
    # Port 9 refuses at once, should a check re-send through its own transport.
    target = Target("http://127.0.0.1:9/v1", DEFAULT_API_KEY, transport=httpx.MockTransport(answer))
    with target.client() as client:
        for _ in range(rounds):
            run = run_generated(client, settings, anchor=("thread_anchor", "run_anchor"))
            rates.append(run.cases / run.seconds)
    return rates


def suite_wall_time(settings: ProbeSettings, rounds: int) -> list[float]:
    """Seconds `pytest contracts/test_probe.py` takes, start-up included."""
    command = [
        sys.executable, "-m", "pytest", "contracts/test_probe.py", "-q", "-p", "no:cacheprovider",
        "--probe-seed", str(settings.seed), "--probe-examples", str(settings.examples),
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "RUNCANCEL_"))}
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
        times.append(time.perf_counter() - started)
        if done.returncode != 0:
            raise SystemExit(f"the probe suite failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return times


def machine() -> str:
    model = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    versions = ", ".join(
        f"{p} {metadata.version(p)}" for p in ("schemathesis", "hypothesis", "httpx", "uvicorn")
    )
    return (
        f"{model}, {os.cpu_count()} logical CPUs, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}; {versions}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=DEFAULT_PROBE_EXAMPLES)
    parser.add_argument("--seed", type=int, default=DEFAULT_PROBE_SEED)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    settings = ProbeSettings(seed=args.seed, examples=args.examples)
    generated, corpus, cases, corpus_cases = against_mock(settings, args.rounds)
    local = in_process(settings, args.rounds)
    wall = suite_wall_time(settings, args.rounds)
    median = statistics.median
    print(
        f"probe benchmark: seed {settings.seed}, {settings.examples} examples, median of {args.rounds} rounds"
    )
    print()
    print("| measure | value |")
    print("|---|---|")
    print(f"| generated cases a run | {cases} |")
    print(f"| generated cases/s against the built-in mock | {median(generated):.0f} |")
    print(f"| generated cases/s, in-process answers (generation and checks alone) | {median(local):.0f} |")
    print(f"| corpus cases/s against the built-in mock ({corpus_cases} cases) | {median(corpus):.0f} |")
    print(f"| `pytest contracts/test_probe.py` wall time | {median(wall):.1f} s (min {min(wall):.1f} s) |")
    print()
    print(f"machine: {machine()}")


if __name__ == "__main__":
    main()
