"""Faults as switches (retired, cancel race, rate limit), the request log, and the bounds of the store."""

from __future__ import annotations

import pytest
from mock_support import CANCEL_DELAY, HEADERS, STEP, Driver, FakeClock, client_for

from runcancel.mock import ApiError, MockConfig, create_app
from runcancel.mock.faults import RateLimiter
from runcancel.mock.validation import MAX_BODY_BYTES


def _driver(clock: FakeClock, **config: object) -> Driver:
    app = create_app(MockConfig(step=STEP, cancel_delay=CANCEL_DELAY, clock=clock, **config))  # type: ignore[arg-type]
    return Driver(client_for(app, HEADERS), clock)


def test_a_retired_mock_answers_every_authenticated_request_unknown_url() -> None:
    """--retired: 404 unknown_url 'Invalid URL (METHOD path)' for every route; no key is still 401."""
    app = create_app(MockConfig(retired=True))
    with client_for(app, HEADERS) as client:
        for method, path in (("POST", "/v1/threads"), ("POST", "/v1/threads/t/runs/r/cancel")):
            error = client.request(method, path).json()["error"]
            assert (error["code"], error["message"]) == ("unknown_url", f"Invalid URL ({method} {path})")
    with client_for(app, {"OpenAI-Beta": "assistants=v2"}) as anonymous:
        assert anonymous.post("/v1/threads").status_code == 401


def test_a_cancel_that_loses_the_race_says_cancelling_and_the_run_completes() -> None:
    """--cancel-race 1: the cancel is accepted (cancelling), then the run reads completed, not cancelled."""
    clock = FakeClock()
    driver = _driver(clock, cancel_race=1.0)
    run = driver.after(driver.run(), STEP)
    assert driver.ok(driver.cancel(run))["status"] == "cancelling"
    finished = driver.after(run, CANCEL_DELAY)
    assert finished["status"] == "completed"
    assert (finished["cancelled_at"], finished["completed_at"] is not None) == (None, True)


@pytest.mark.parametrize("race", [pytest.param(0.0, id="never"), pytest.param(0.5, id="half")])
def test_the_cancel_race_share_is_the_share_of_runs_that_complete(race: float) -> None:
    """Of 200 accepted cancels, the share that completes is about --cancel-race (exactly 0 for 0)."""
    clock = FakeClock()
    driver = _driver(clock, cancel_race=race, seed=7)
    runs = [driver.run(driver.thread()) for _ in range(200)]
    for run in runs:
        driver.ok(driver.cancel(run))
    clock.advance(CANCEL_DELAY)
    completed = sum(driver.read(run)["status"] == "completed" for run in runs)
    assert abs(completed / 200 - race) < 0.1


def test_the_rate_limiter_refuses_beyond_the_rate_with_retry_after() -> None:
    """2/s: two requests pass, the third is 429 with Retry-After 1; half a second later one more passes."""
    clock = FakeClock()
    limiter = RateLimiter(2, clock)
    limiter.take()
    limiter.take()
    with pytest.raises(ApiError) as caught:
        limiter.take()
    assert (caught.value.status, caught.value.retry_after, caught.value.code) == (
        429,
        1,
        "rate_limit_exceeded",
    )
    clock.advance(0.5)
    limiter.take()


def test_a_429_carries_retry_after_and_the_envelope() -> None:
    """Over the HTTP layer: 429, Retry-After an integer >= 1, the four-key envelope."""
    with client_for(create_app(MockConfig(rate_limit=1)), HEADERS) as client:
        statuses = [client.post("/v1/threads") for _ in range(3)]
    refused = [r for r in statuses if r.status_code == 429]
    assert refused
    assert int(refused[0].headers["retry-after"]) >= 1
    assert set(refused[0].json()["error"]) == {"message", "type", "param", "code"}


def test_the_request_log_has_one_line_per_request_with_the_status_change() -> None:
    """--log: method, path, status and ms per request, and a cancel's 'in_progress -> cancelling'."""
    clock = FakeClock()
    lines: list[str] = []
    driver = _driver(clock, log=lines.append)
    run = driver.after(driver.run(), STEP)
    driver.cancel(run)
    assert len(lines) == 5  # thread, assistant, run, read, cancel
    cancel = lines[-1]
    assert cancel.startswith(f"POST /v1/threads/{run['thread_id']}/runs/{run['id']}/cancel 200 ")
    assert cancel.endswith(f"{run['id']} in_progress -> cancelling")


def test_a_list_limit_in_non_ascii_digits_is_400_not_500(driver: Driver) -> None:
    """limit=² (a digit to str.isdigit, not to int): 400 invalid_value naming 'limit'."""
    response = driver.client.get(f"/v1/threads/{driver.thread()}/runs", params={"limit": "²"})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "limit"


def test_the_store_keeps_at_most_max_bytes_evicting_the_oldest() -> None:
    """With a cap of 200 KiB, thirty 60 KiB assistants leave the newest few, and the first is not found."""
    clock = FakeClock()
    cap = 200 * 1024
    app = create_app(MockConfig(max_bytes=cap, clock=clock))
    with client_for(app, HEADERS) as client:
        ids = [
            client.post("/v1/assistants", json={"model": "m", "instructions": "x" * 60_000}).json()["id"]
            for _ in range(30)
        ]
        assert app.state.store.stored_bytes() <= cap
        assert client.get(f"/v1/assistants/{ids[0]}").status_code == 404
        assert client.get(f"/v1/assistants/{ids[-1]}").status_code == 200


def test_a_body_larger_than_the_live_api_takes_is_413() -> None:
    """A body over 1 MiB: 413 request_too_large in the envelope, nothing stored."""
    app = create_app(MockConfig())
    with client_for(app, HEADERS) as client:
        response = client.post("/v1/threads", content=b" " * (MAX_BODY_BYTES + 1))
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"
    assert app.state.store.sizes()["threads"] == 0
