"""--era: each era's Run keys in that era's live order, as the recordings of the live API show them."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from mock_support import HEADERS, STEP, FakeClock, client_for

from runcancel.mock import MockConfig, create_app

# Written from the key-set table of the live Run (2023-11 to 2026-03), not from runcancel.eras.
CORE = [
    "id",
    "object",
    "created_at",
    "assistant_id",
    "thread_id",
    "status",
    "started_at",
    "expires_at",
    "cancelled_at",
    "failed_at",
    "completed_at",
]
TAIL = [
    "temperature",
    "top_p",
    "max_completion_tokens",
    "max_prompt_tokens",
    "truncation_strategy",
    "incomplete_details",
    "usage",
    "response_format",
    "tool_choice",
]
V1 = ["model", "instructions", "tools", "file_ids", "metadata"]
V2 = ["model", "instructions", "tools", "tool_resources", "metadata"]
EXPECTED = {
    "2023-11": [*CORE, "last_error", *V1],
    "2024-02": [*CORE, "required_action", "last_error", *V1, "usage"],
    "2024-04-v1": [*CORE, "required_action", "last_error", *V1, *TAIL],
    "2024-04": [*CORE, "required_action", "last_error", *V2, *TAIL],
    "2024-06": [*CORE, "required_action", "last_error", *V2, *TAIL, "parallel_tool_calls"],
    "2025-03": [
        *CORE,
        "required_action",
        "last_error",
        *V2,
        "temperature",
        "top_p",
        "reasoning_effort",
        *TAIL[2:],
        "parallel_tool_calls",
    ],
}
COUNTS = {"2023-11": 17, "2024-02": 19, "2024-04-v1": 27, "2024-04": 27, "2024-06": 28, "2025-03": 29}


def _client(era: str | None, clock: FakeClock) -> httpx.Client:
    config = MockConfig(step=STEP, cancel_delay=STEP, clock=clock, **({} if era is None else {"era": era}))
    return client_for(create_app(config), HEADERS)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def _run(client: httpx.Client) -> Iterator[dict[str, object]]:
    assistant = client.post("/v1/assistants", json={"model": "gpt-4o-mini"}).json()
    thread = client.post("/v1/threads", json={}).json()
    created = client.post(f"/v1/threads/{thread['id']}/runs", json={"assistant_id": assistant["id"]}).json()
    yield created
    path = f"/v1/threads/{thread['id']}/runs/{created['id']}"
    yield client.post(f"{path}/cancel").json()
    yield client.get(path).json()


@pytest.mark.parametrize("era", [pytest.param(name, id=name) for name in EXPECTED])
def test_each_era_serves_its_keys_in_its_order(era: str, clock: FakeClock) -> None:
    """A run created, cancelled and read back under --era carries exactly that era's keys, in order."""
    with _client(era, clock) as client:
        for answer in _run(client):
            assert list(answer) == EXPECTED[era]
            assert len(answer) == COUNTS[era]
            if "file_ids" in answer:
                assert answer["file_ids"] == []


def test_the_default_era_is_the_newest(clock: FakeClock) -> None:
    """Without --era, runs have the 29 keys of 2025-03 on, with usage details once finished."""
    with _client(None, clock) as client:
        answers = list(_run(client))
        assert list(answers[0]) == EXPECTED["2025-03"]
        clock.advance(10 * STEP)
        path = f"/v1/threads/{answers[0]['thread_id']}/runs/{answers[0]['id']}"
        usage = client.get(path).json()["usage"]
        assert set(usage) >= {"prompt_token_details", "completion_tokens_details"}


@pytest.mark.parametrize("era", ["2024-02", "2024-06"])
def test_older_eras_have_the_plain_usage(era: str, clock: FakeClock) -> None:
    """Before 2025, a finished run's usage is {prompt_tokens, completion_tokens, total_tokens} only."""
    with _client(era, clock) as client:
        answers = list(_run(client))
        clock.advance(10 * STEP)
        path = f"/v1/threads/{answers[0]['thread_id']}/runs/{answers[0]['id']}"
        assert list(client.get(path).json()["usage"]) == [
            "prompt_tokens",
            "completion_tokens",
            "total_tokens",
        ]


def test_an_unknown_era_is_refused_naming_the_eras() -> None:
    """MockConfig(era=...) with a name no era has: ValueError listing the eras."""
    with pytest.raises(ValueError, match="2024-06"):
        MockConfig(era="2019-01")
