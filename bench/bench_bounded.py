"""Benchmark of bounded answers: peak memory of a client against targets whose answers never end.

    python bench/bench_bounded.py                   # 20 requests against each target
    python bench/bench_bounded.py --requests 50 --timeout 5

Each target is a small local server (threads of this process, on 127.0.0.1):
- `small`: a 60-byte JSON answer (the baseline: what a client costs at all);
- `endless`: 200, chunked, 64 KiB chunks for as long as the client reads;
- `10GiB-length`: 200 with `Content-Length: 10737418240`, then zeros for as long as the client reads;
- `10GiB-until-close`: 200 without a length, 10 GiB of zeros until the connection closes.
For each, a fresh interpreter (its own process, so the servers' memory is not counted) sends the
requests through `runcancel.targets.TargetClient` with the default bound (8 MiB) and the given
time-out, and reports its peak RSS (`ru_maxrss`), the wall time a request and the findings made.
Prints a Markdown table and the machine it ran on. Target: every peak RSS under 300 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from importlib import metadata

CHILD = r"""
import json, resource, sys, time
from runcancel.targets import Target
url, requests, timeout = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
findings, started = [], time.perf_counter()
with Target(url + "/v1", "sk-bench-key", timeout=timeout).client() as client:
    for _ in range(requests):
        exchange = client.send("GET", "/threads/t")
        findings += [f.observed for f in exchange.findings]
seconds = (time.perf_counter() - started) / requests
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"peak_mb": peak, "seconds": seconds, "findings": len(findings),
                  "example": findings[0] if findings else ""}))
"""


def _read_request(conn: socket.socket) -> bool:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return False
        data += chunk
    return True


def small(conn: socket.socket) -> None:
    body = b'{"object": "thread", "id": "thread_bench", "created_at": 1}'
    conn.sendall(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
        % (len(body), body)
    )


def endless(conn: socket.socket) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
    chunk = b"%x\r\n%s\r\n" % (65536, b" " * 65536)
    while True:
        conn.sendall(chunk)


def ten_gib_length(conn: socket.socket) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 10737418240\r\n\r\n")
    block = b"0" * 65536
    while True:
        conn.sendall(block)


def ten_gib_until_close(conn: socket.socket) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n")
    block = b"0" * 65536
    for _ in range(10 * 1024 * 1024 // 64):
        conn.sendall(block)
    raise OSError("done")


def serve(answer: Callable[[socket.socket], None]) -> tuple[str, Callable[[], None]]:
    """Serve `answer` on a free port of 127.0.0.1 until the function returned is called."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def one(conn: socket.socket) -> None:
        try:
            while _read_request(conn):
                answer(conn)
        except OSError:
            pass
        finally:
            conn.close()

    def loop() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=one, args=(conn,), daemon=True).start()

    threading.Thread(target=loop, daemon=True).start()

    def close() -> None:
        stop.set()
        listener.close()

    return f"http://127.0.0.1:{listener.getsockname()[1]}", close


TARGETS = {
    "small": small,
    "endless": endless,
    "10GiB-length": ten_gib_length,
    "10GiB-until-close": ten_gib_until_close,
}


def measure(answer: Callable[[socket.socket], None], requests: int, timeout: float) -> dict[str, object]:
    url, close = serve(answer)
    try:
        done = subprocess.run(
            [sys.executable, "-c", CHILD, url, str(requests), str(timeout)],
            capture_output=True,
            text=True,
            check=True,
            timeout=requests * (timeout + 5) + 30,
        )
    finally:
        close()
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--timeout", type=float, default=10.0)
    args = parser.parse_args()
    head = f"target ({args.requests} requests, time-out {args.timeout:g} s)"
    print(f"| {head} | peak RSS | s/request | findings |")
    print("|---|---|---|---|")
    worst = 0.0
    for name, answer in TARGETS.items():
        r = measure(answer, args.requests, args.timeout)
        worst = max(worst, float(r["peak_mb"]))  # type: ignore[arg-type]
        print(f"| `{name}` | {r['peak_mb']:.0f} MB | {r['seconds']:.3f} | {r['findings']} |")
        if r["example"]:
            print(f"|  | | | e.g. {r['example']} |")
    print()
    cpus = os.cpu_count()
    print(
        f"Machine: {platform.processor() or platform.machine()}, {cpus} logical CPUs, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}, httpx {metadata.version('httpx')}, "
        f"httpcore {metadata.version('httpcore')}; load average {os.getloadavg()[0]:.1f}."
    )
    print(f"Worst peak RSS {worst:.0f} MB: {'under' if worst < 300 else 'OVER'} the 300 MB target.")


if __name__ == "__main__":
    main()
