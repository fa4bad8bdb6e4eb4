"""A short soak of 1 MiB bodies: the store stays under its byte cap (bench/ has the long soak)."""

from __future__ import annotations

from mock_support import HEADERS, client_for

from runcancel.mock import MockConfig, create_app

TEXT = "x" * 256_000
CAP = 8 * 1024 * 1024


def test_a_stream_of_large_bodies_stays_under_the_byte_cap() -> None:
    """Forty rounds of near-1 MiB threads, assistants and runs: stored bytes <= cap, the newest kept, 200s."""
    app = create_app(MockConfig(max_bytes=CAP))
    properties = {f"p{i}": {"type": "string", "description": "d" * 40} for i in range(200)}
    tool = {
        "type": "function",
        "function": {"name": "f", "parameters": {"type": "object", "properties": properties}},
    }
    highest = 0
    with client_for(app, HEADERS) as client:
        for _ in range(40):
            messages = [{"role": "user", "content": TEXT} for _ in range(3)]
            thread = client.post("/v1/threads", json={"messages": messages})
            assistant = client.post(
                "/v1/assistants", json={"model": "m", "instructions": TEXT, "tools": [tool] * 40}
            )
            run = client.post(
                f"/v1/threads/{thread.json()['id']}/runs",
                json={"assistant_id": assistant.json()["id"], "tools": [tool] * 60},
            )
            assert [thread.status_code, assistant.status_code, run.status_code] == [200, 200, 200]
            highest = max(highest, app.state.store.stored_bytes())
        assert highest <= CAP
        assert client.get(f"/v1/threads/{thread.json()['id']}/runs/{run.json()['id']}").status_code == 200
    assert sum(app.state.store.sizes().values()) < 3 * 40
