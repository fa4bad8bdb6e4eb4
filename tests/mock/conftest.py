"""Fixtures for the mock's tests: a fake clock, the app on it, clients and a driver."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from mock_support import CANCEL_DELAY, HEADERS, STEP, Driver, FakeClock, client_for
from starlette.applications import Starlette

from runcancel.mock import MockConfig, create_app


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def app(clock: FakeClock) -> Starlette:
    return create_app(MockConfig(step=STEP, cancel_delay=CANCEL_DELAY, clock=clock))


@pytest.fixture
def raw_client(app: Starlette) -> Iterator[httpx.Client]:
    """A client with no default headers."""
    with client_for(app) as client:
        yield client


@pytest.fixture
def api(app: Starlette) -> Iterator[httpx.Client]:
    """A client that sends the right key and beta header."""
    with client_for(app, HEADERS) as client:
        yield client


@pytest.fixture
def driver(api: httpx.Client, clock: FakeClock) -> Driver:
    return Driver(api, clock)
