"""Memory of the mock in a soak of 1 MiB bodies: flat once the store's byte cap is reached.

    python bench/bench_mock_soak.py                      # 10 minutes
    python bench/bench_mock_soak.py --seconds 60 --max-stored-bytes 33554432

The mock serves on 127.0.0.1 in this process's thread (as the suites run it). A client sends, round
after round, bodies of just under 1 MiB (the most the live API takes): an assistant with 256,000
characters of instructions and a large function schema, a thread with three 256,000-character
messages, and a run with a large tool list; plus cancels. Every 5 s it samples the process's resident
memory (VmRSS) and the store's counted bytes. Prints the samples, the first and last minute's
average and the peak. `soak(...)` is the same loop for a bounded test.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from dataclasses import dataclass, field

import httpx

from runcancel.mock import DEFAULT_API_KEY, SCENARIO_KEY, MockConfig, MockServer
from runcancel.mock.validation import MAX_BODY_BYTES

HEADERS = {"Authorization": f"Bearer {DEFAULT_API_KEY}", "OpenAI-Beta": "assistants=v2"}
TEXT = "x" * 256_000


def rss_bytes() -> int:
    """This process's resident memory, from /proc."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def big_tools(target: int) -> list[dict[str, object]]:
    """Function tools whose JSON comes to about ``target`` bytes (nested schemas, the costly kind)."""
    properties = {f"p{i}": {"type": "string", "description": "d" * 40} for i in range(200)}
    tool: dict[str, object] = {
        "type": "function",
        "function": {"name": "f", "parameters": {"type": "object", "properties": properties}},
    }
    size = len(httpx.Request("POST", "http://x", json=tool).content)
    return [tool] * max(1, min(128, target // size))


@dataclass
class Soak:
    """What a soak saw: requests sent, the statuses, and (time, rss, stored bytes) samples."""

    requests: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    samples: list[tuple[float, int, int]] = field(default_factory=list)


def soak(seconds: float, max_bytes: int, sample_every: float = 5.0, rounds: int | None = None) -> Soak:
    """Send 1 MiB bodies for ``seconds`` (or ``rounds`` rounds) and sample memory."""
    result = Soak()
    tools = big_tools(MAX_BODY_BYTES - 64 * 1024)
    assistant_tools = big_tools(MAX_BODY_BYTES - 320 * 1024)  # next to 256,000 characters of instructions
    config = MockConfig(max_bytes=max_bytes, step=0.01, cancel_delay=0.01)
    with (
        MockServer(config) as server,
        httpx.Client(base_url=server.url, headers=HEADERS, timeout=30) as client,
    ):
        store = server.app.store
        started = time.monotonic()
        next_sample = started
        done = 0
        while (rounds is None and time.monotonic() - started < seconds) or (
            rounds is not None and done < rounds
        ):
            answers = [
                client.post(
                    "/v1/assistants", json={"model": "m", "instructions": TEXT, "tools": assistant_tools}
                )
            ]
            assistant = answers[0].json().get("id", "asst_none")
            messages = [{"role": "user", "content": TEXT} for _ in range(3)]
            answers.append(client.post("/v1/threads", json={"messages": messages}))
            thread = answers[-1].json().get("id", "thread_none")
            body = {"assistant_id": assistant, "tools": tools, "metadata": {SCENARIO_KEY: "in_progress"}}
            answers.append(client.post(f"/v1/threads/{thread}/runs", json=body))
            run = answers[-1].json().get("id", "run_none")
            answers.append(client.post(f"/v1/threads/{thread}/runs/{run}/cancel"))
            for answer in answers:
                result.statuses[answer.status_code] = result.statuses.get(answer.status_code, 0) + 1
            result.requests += len(answers)
            done += 1
            now = time.monotonic()
            if now >= next_sample:
                result.samples.append((now - started, rss_bytes(), store.stored_bytes()))
                next_sample = now + sample_every
        result.samples.append((time.monotonic() - started, rss_bytes(), store.stored_bytes()))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=600.0)
    parser.add_argument("--max-stored-bytes", type=int, default=MockConfig().max_bytes)
    args = parser.parse_args()
    load = os.getloadavg()[0]
    result = soak(args.seconds, args.max_stored_bytes)
    mib = 1024 * 1024
    for at, rss, stored in result.samples:
        print(f"{at:7.1f} s  rss {rss / mib:7.1f} MiB  stored {stored / mib:6.1f} MiB")
    first = [rss for at, rss, _ in result.samples if at <= 60]
    last = [rss for at, rss, _ in result.samples if at >= result.samples[-1][0] - 60]
    print(
        f"{result.requests} requests ({result.statuses}) in {result.samples[-1][0]:.0f} s; rss first minute "
        f"{sum(first) / len(first) / mib:.1f} MiB, last minute {sum(last) / len(last) / mib:.1f} MiB, peak "
        f"{max(r for _, r, _ in result.samples) / mib:.1f} MiB; cap {args.max_stored_bytes / mib:.0f} MiB"
    )
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Linux {platform.release()}, Python "
        f"{platform.python_version()}; load average before {load:.1f}, after {os.getloadavg()[0]:.1f}"
    )


if __name__ == "__main__":
    main()
