"""Throughput of the mock's cancel answers against a fixed-answer route, and Prism, in one run.

    python bench/bench_mock.py                          # 3 rounds of 5 s each, wrk -t1 -c16
    python bench/bench_mock.py --seconds 10 --rounds 5 --no-prism

Each server runs in this process's own thread on 127.0.0.1 with the same uvicorn settings
(`runcancel.mock.server.server_config`: the same protocol class, uvloop where installed) and is driven
by the same load generator, wrk (Debian's `wrk` package), one after the other, alternating by round:
- the mock: `POST /v1/threads/T/runs/R/cancel`, each request a different run held `in_progress`
  (created in the store beforehand), so every answer is a real 200 `cancelling`;
- a fixed-answer Starlette route on the same path, answering the same bytes every time;
- Prism (`npx prism mock contracts/cancel_run.openapi.yaml`, npm `@stoplight/prism-cli`), if found,
  on `POST /threads/T/runs/R/cancel` (Prism serves the document's paths without `/v1`).
Prints requests/s (median of the rounds), the CPU time the benchmark's process (the servers) spent per
answer, the ratios, the machine and the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shutil
import socket
import statistics
import subprocess
import tempfile
import threading
import time
from importlib import metadata
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from runcancel.mock import DEFAULT_API_KEY, SCENARIO_KEY, MockConfig, MockServer
from runcancel.mock.server import bind_socket, server_config
from runcancel.mock.validation import assistant_request, run_request, thread_request

ROOT = Path(__file__).resolve().parents[1]
HEADERS = {"Authorization": f"Bearer {DEFAULT_API_KEY}", "OpenAI-Beta": "assistants=v2"}
SCRIPT = """
local paths = {}
for line in io.lines("%s") do paths[#paths + 1] = line end
local i = 0
wrk.method = "POST"
%s
request = function()
  i = i + 1
  return wrk.format(nil, paths[((i - 1) %% #paths) + 1])
end
"""


def wrk(url: str, paths: list[str], seconds: float, connections: int) -> tuple[float, int, float]:
    """Requests/s, the count of non-2xx answers of one wrk run over the given paths, and this process's
    CPU time per answer in µs (the servers run in it; wrk does not)."""
    with tempfile.TemporaryDirectory() as folder:
        listing = Path(folder, "paths.txt")
        listing.write_text("\n".join(paths) + "\n")
        headers = "\n".join(f'wrk.headers["{k}"] = "{v}"' for k, v in HEADERS.items())
        script = Path(folder, "script.lua")
        script.write_text(SCRIPT % (listing, headers))
        before = _cpu()
        done = subprocess.run(
            ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "-s", str(script), url],
            capture_output=True,
            text=True,
            check=True,
        )
        used = _cpu() - before
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", done.stdout).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", done.stdout)
    total = re.search(r"(\d+) requests in", done.stdout)
    answers = int(total.group(1)) if total else max(1, int(rate * seconds))
    return rate, int(bad.group(1)) if bad else 0, used / max(1, answers) * 1e6


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Baseline:
    """The fixed-answer Starlette route, served like the mock."""

    def __init__(self, body: bytes, protocol: type) -> None:
        async def cancel(request: Request) -> Response:
            return Response(body, media_type="application/json")

        app = Starlette(
            routes=[Route("/v1/threads/{thread_id}/runs/{run_id}/cancel", cancel, methods=["POST"])]
        )
        sock = bind_socket("127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        self.server = uvicorn.Server(server_config(app, "127.0.0.1", sock.getsockname()[1], protocol, 5))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]}, daemon=True)
        self.thread.start()
        while not self.server.started:
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(5)


def active_runs(server: MockServer, count: int) -> list[str]:
    """Paths of ``count`` runs held in progress, created straight in the store."""
    store = server.app.store
    assistant = store.create_assistant(assistant_request({"model": "gpt-4o-mini"}))["id"]
    thread = store.create_thread(thread_request({}))["id"]
    body = {"assistant_id": assistant, "metadata": {SCENARIO_KEY: "in_progress"}}
    return [
        f"/v1/threads/{thread}/runs/{store.create_run(thread, run_request(body))['id']}/cancel"
        for _ in range(count)
    ]


def prism(seconds: float, rounds: int, connections: int) -> tuple[list[float], str] | None:
    """Prism's rate on the contract, if npx and the package are there."""
    installed = shutil.which("prism")
    npx = shutil.which("npx")
    if installed is None and npx is None:
        return None
    launcher = [installed] if installed else [str(npx), "--no-install", "prism"]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    document = ROOT / "contracts" / "cancel_run.openapi.yaml"
    command = [*launcher, "mock", str(document), "-h", "127.0.0.1", "-p", str(port)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=os.getcwd())
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    return None
                time.sleep(0.2)
        paths = ["/threads/thread_a/runs/run_a/cancel"]
        rates = [wrk(f"http://127.0.0.1:{port}", paths, seconds, connections)[0] for _ in range(rounds)]
        shown = ["prism", *command[len(launcher) :]]
        return rates, " ".join(shown).replace(str(ROOT) + "/", "")
    finally:
        process.terminate()
        process.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--http", choices=["auto", "h11"], default="auto")
    parser.add_argument("--no-prism", action="store_true")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    budget = int(args.seconds * 40_000) + 10_000  # more runs than any round can cancel
    mock_rates: list[float] = []
    base_rates: list[float] = []
    mock_cpu: list[float] = []
    base_cpu: list[float] = []
    refused = 0
    with MockServer(
        MockConfig(cancel_delay=3600, max_objects=10**7, max_bytes=2**40), http=args.http
    ) as mock:
        sample = active_runs(mock, 1)[0]
        thread_id, run_id = sample.split("/")[3], sample.split("/")[5]
        body = json.dumps(mock.app.store.cancel_run(thread_id, run_id)).encode()
        baseline = Baseline(body, mock.protocol)
        try:
            for _ in range(args.rounds):
                paths = active_runs(mock, budget)
                rate, bad, cpu = wrk(mock.url, paths, args.seconds, args.connections)
                mock_rates.append(rate)
                mock_cpu.append(cpu)
                refused += bad
                rate, _, cpu = wrk(baseline.url, paths, args.seconds, args.connections)
                base_rates.append(rate)
                base_cpu.append(cpu)
        finally:
            baseline.stop()
        http = mock.http
    prism_result = None if args.no_prism else prism(args.seconds, args.rounds, args.connections)
    mock_rate, base_rate = statistics.median(mock_rates), statistics.median(base_rates)
    print(
        f"| server ({http}, uvloop: {_has('uvloop')}) | cancel answers/s (median of {args.rounds}) "
        "| server CPU per answer (median) |"
    )
    print("|---|---|---|")
    print(
        f"| the mock, 200 `cancelling` each | {mock_rate:,.0f} (rounds: {_rounds(mock_rates)}) "
        f"| {statistics.median(mock_cpu):.0f} µs |"
    )
    print(
        f"| fixed-answer Starlette route | {base_rate:,.0f} (rounds: {_rounds(base_rates)}) "
        f"| {statistics.median(base_cpu):.0f} µs |"
    )
    if prism_result is not None:
        rates, how = prism_result
        print(f"| Prism (`{how}`) | {statistics.median(rates):,.0f} (rounds: {_rounds(rates)}) | |")
    print()
    ratio = mock_rate / base_rate
    print(f"mock / fixed route: {ratio:.2f} (target >= 0.60); non-2xx answers of the mock: {refused}")
    if prism_result is not None:
        print(f"mock / Prism: {mock_rate / statistics.median(prism_result[0]):.1f}x (target >= 10x)")
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Linux "
        f"{platform.release()}, Python {platform.python_version()}, uvicorn {metadata.version('uvicorn')}, "
        f"starlette {metadata.version('starlette')}; wrk -t1 -c{args.connections} -d{args.seconds:g}s; "
        f"load average before {load_before:.1f}, after {os.getloadavg()[0]:.1f}"
    )


def _rounds(rates: list[float]) -> str:
    return ", ".join(f"{rate:,.0f}" for rate in rates)


def _has(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "no"


if __name__ == "__main__":
    main()
