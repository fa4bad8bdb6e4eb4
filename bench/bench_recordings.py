"""Benchmark of reading recorded traffic: many files, one huge file, and a large drift baseline.

    python bench/bench_recordings.py                    # 5,000 cassettes, 100 MB, 5,026-file baseline
    python bench/bench_recordings.py --files 1000 --megabytes 20 --rounds 1

It writes its own recordings into a temporary folder (foreign vcrpy YAML with gzip `!!binary` bodies
and no provenance, like other projects' cassettes, plus HAR), then times, each in a subprocess from
the repository root with the peak RSS of that subprocess:
- `runcancel cassettes check DIR --format json` over N cassettes of 4 interactions (create a run,
  read it twice, cancel it: 4 Runs judged each), against the target of 10 s for 5,000;
- `runcancel cassettes check FILE` of one vcrpy cassette of about M MB, and of one HAR file of the
  same size, against the target of 500 MB peak RSS for 100 MB;
- `drift.load_baseline` over a 5,026-file baseline (the same cassettes), against 10 s.
Prints a Markdown table and the machine. A run that fails or misses a target exits 1.
"""

from __future__ import annotations

import argparse
import base64
import datetime
import gzip
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable


def run_json(index: int, status: str) -> dict[str, object]:
    """A 2025-03 Run (29 keys, the live order)."""
    finished = status in ("completed", "cancelled")
    created = 1_742_000_000 + index
    return {
        "id": f"run_{index:024d}",
        "object": "thread.run",
        "created_at": created,
        "assistant_id": "asst_abcdefghijklmnopqrstuvwx",
        "thread_id": f"thread_{index:021d}abc",
        "status": status,
        "started_at": created + 1,
        "expires_at": None if finished else created + 600,
        "cancelled_at": None,
        "failed_at": None,
        "completed_at": created + 5 if status == "completed" else None,
        "required_action": None,
        "last_error": None,
        "model": "gpt-4o",
        "instructions": "You are a personal math tutor. Write and run code to answer math questions.",
        "tools": [{"type": "code_interpreter"}],
        "tool_resources": {},
        "metadata": {},
        "temperature": 1.0,
        "top_p": 1.0,
        "reasoning_effort": None,
        "max_completion_tokens": None,
        "max_prompt_tokens": None,
        "truncation_strategy": {"type": "auto", "last_messages": None},
        "incomplete_details": None,
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15} if finished else None,
        "response_format": "auto",
        "tool_choice": "auto",
        "parallel_tool_calls": True,
    }


def _binary(data: bytes) -> str:
    text = base64.b64encode(gzip.compress(data, 6)).decode()
    return "\n".join("        " + text[i : i + 76] for i in range(0, len(text), 76))


def interaction(method: str, path: str, body: dict[str, object], padding: int = 0) -> str:
    """One vcrpy interaction as its YAML serializer writes it, the body gzip-compressed (`!!binary`)."""
    if padding:
        body = {**body, "metadata": {"note": "x" * min(padding, 512)}}
        body["instructions"] = "y" * padding
    raw = json.dumps(body, indent=2).encode()
    return (
        "- request:\n"
        "    body: null\n"
        "    headers:\n      accept:\n      - application/json\n      openai-beta:\n      - assistants=v2\n"
        f"    method: {method}\n"
        f"    uri: https://api.openai.com/v1{path}\n"
        "  response:\n"
        "    body:\n      string: !!binary |\n"
        f"{_binary(raw)}\n"
        "    headers:\n      Content-Encoding:\n      - gzip\n      Content-Type:\n      - application/json\n"
        "      openai-version:\n      - '2020-10-01'\n      x-request-id:\n"
        "      - req_0123456789abcdef0123456789abcdef\n      openai-processing-ms:\n      - '42'\n"
        "    status:\n      code: 200\n      message: OK\n"
    )


def cassette(index: int, padding: int = 0) -> str:
    run = run_json(index, "queued")
    thread, run_id = run["thread_id"], run["id"]
    parts = [
        interaction("POST", f"/threads/{thread}/runs", run, padding),
        interaction("GET", f"/threads/{thread}/runs/{run_id}", run_json(index, "in_progress"), padding),
        interaction("GET", f"/threads/{thread}/runs/{run_id}", run_json(index, "completed"), padding),
        interaction(
            "POST",
            f"/threads/{thread}/runs/{run_id}/cancel",
            {**run_json(index, "in_progress"), "status": "cancelling"},
        ),
    ]
    return "interactions:\n" + "".join(parts) + "version: 1\n"


def write_many(folder: Path, count: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        (folder / f"test_{i:05d}.yaml").write_text(cassette(i), encoding="utf-8")


def write_big_yaml(path: Path, megabytes: int) -> int:
    """One vcrpy cassette of about `megabytes` MB: many interactions, some with 64 KB bodies."""
    written, items = 0, 0
    with path.open("w", encoding="utf-8") as fh:
        fh.write("interactions:\n")
        i = 0
        while written < megabytes * 1_000_000:
            for text in cassette(i, padding=65_536 if i % 10 == 0 else 0).splitlines(keepends=True)[1:-1]:
                fh.write(text)
                written += len(text)
            items += 4
            i += 1
        fh.write("version: 1\n")
    return items


def write_big_har(path: Path, megabytes: int) -> int:
    entries = 0
    with path.open("w", encoding="utf-8") as fh:
        fh.write('{"log": {"version": "1.2", "creator": {"name": "bench", "version": "1"}, "entries": [\n')
        written, i = 0, 0
        while written < megabytes * 1_000_000:
            run = run_json(i, "in_progress")
            if i % 10 == 0:
                run["instructions"] = "y" * 65_536
            entry = {
                "startedDateTime": "2025-03-20T10:00:00.000Z",
                "request": {
                    "method": "GET",
                    "url": f"https://api.openai.com/v1/threads/{run['thread_id']}/runs/{run['id']}",
                    "headers": [{"name": "OpenAI-Beta", "value": "assistants=v2"}],
                },
                "response": {
                    "status": 200,
                    "headers": [{"name": "Content-Type", "value": "application/json"}],
                    "content": {"mimeType": "application/json", "text": json.dumps(run)},
                },
            }
            text = ("," if i else "") + json.dumps(entry) + "\n"
            fh.write(text)
            written += len(text)
            entries += 1
            i += 1
        fh.write("]}}\n")
    return entries


def measure(code: list[str], expect: tuple[int, ...]) -> tuple[float, float, float, str]:
    """Wall seconds, peak RSS (MB) and CPU seconds (all its processes) of one subprocess, and its
    output's last line."""
    script = (
        "import resource, subprocess, sys, time\n"
        "t = time.perf_counter()\n"
        "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "wall = time.perf_counter() - t\n"
        "u = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
        "print(wall, u.ru_maxrss / 1024, u.ru_utime + u.ru_stime, p.returncode)\n"
        "sys.stderr.write(p.stdout[-3000:] + p.stderr[-3000:])\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "RUNCANCEL_"))}
    done = subprocess.run(
        [PYTHON, "-c", script, *code], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    wall, rss, cpu, returncode = done.stdout.split()
    if int(returncode) not in expect:
        sys.exit(f"bench_recordings: {' '.join(code)} exited {returncode}:\n{done.stderr}")
    tail = (done.stderr.strip().splitlines() or [""])[-1]
    return float(wall), float(rss), float(cpu), tail


def best(code: list[str], rounds: int, expect: tuple[int, ...] = (0,)) -> tuple[float, float, float, str]:
    """Min wall, min CPU seconds, max peak RSS over the rounds, and the last output line."""
    results = [measure(code, expect) for _ in range(rounds)]
    return (
        min(w for w, _, _, _ in results),
        min(c for _, _, c, _ in results),
        max(r for _, r, _, _ in results),
        results[-1][3],
    )


BASELINE = (
    "import sys, time\nfrom pathlib import Path\nfrom runcancel.drift import load_baseline\n"
    "t = time.perf_counter()\nanswers, notes = load_baseline(Path(sys.argv[1]))\n"
    "print(f'{len(answers)} answers in {time.perf_counter() - t:.2f} s; ' + notes[-1])\n"
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--baseline-files", type=int, default=5026)
    parser.add_argument("--megabytes", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    runcancel = [PYTHON, "-m", "runcancel.cli", "cassettes", "check"]
    rows: list[tuple[str, float, float, float, str, bool]] = []
    with tempfile.TemporaryDirectory(prefix="bench-recordings-") as tmp:
        base = Path(tmp)
        write_many(base / "many", args.files)
        write_many(base / "baseline", args.baseline_files)
        items = write_big_yaml(base / "big.yaml", args.megabytes)
        entries = write_big_har(base / "big.har", args.megabytes)
        size = (base / "big.yaml").stat().st_size / 1e6
        har_size = (base / "big.har").stat().st_size / 1e6
        lo, cpu, rss, _ = best([*runcancel, str(base / "many"), "--format", "json"], args.rounds)
        rows.append(
            (
                f"`cassettes check` of {args.files} cassettes ({args.files * 4} Runs)",
                lo,
                cpu,
                rss,
                "10 s",
                lo < 10,
            )
        )
        lo, cpu, rss, _ = best([*runcancel, str(base / "big.yaml")], args.rounds)
        rows.append(
            (
                f"`cassettes check` of one {size:.0f} MB vcrpy cassette ({items} interactions)",
                lo,
                cpu,
                rss,
                "500 MB peak RSS",
                rss < 500,
            )
        )
        lo, cpu, rss, _ = best([*runcancel, str(base / "big.har")], args.rounds)
        rows.append(
            (
                f"`cassettes check` of one {har_size:.0f} MB HAR file ({entries} entries)",
                lo,
                cpu,
                rss,
                "500 MB peak RSS",
                rss < 500,
            )
        )
        lo, cpu, rss, tail = best([PYTHON, "-c", BASELINE, str(base / "baseline")], args.rounds)
        rows.append((f"`drift.load_baseline` of {args.baseline_files} files", lo, cpu, rss, "10 s", lo < 10))
    print("| what | min wall | CPU (all processes) | peak RSS | target | met |")
    print("|---|---|---|---|---|---|")
    for what, lo, cpu, rss, target, met in rows:
        print(f"| {what} | {lo:.2f} s | {cpu:.2f} s | {rss:.0f} MB | {target} | {'yes' if met else 'NO'} |")
    print()
    print(f"baseline: {tail}")
    print(
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} logical CPUs, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}; "
        f"load average {os.getloadavg()[0]:.1f}; {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC"
    )
    return 0 if all(met for *_, met in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
