"""schemathesis on every route of the mock: whatever it sends, no 5xx, JSON, errors in the envelope."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings

from runcancel.mock import DEFAULT_API_KEY, MockConfig, MockServer

DOCUMENT = yaml.safe_load((Path(__file__).parent / "mock_routes.openapi.yaml").read_text())
OPERATIONS = [
    op["operationId"] for path in DOCUMENT["paths"].values() for op in path.values() if "operationId" in op
]
HEADERS = {"Authorization": f"Bearer {DEFAULT_API_KEY}", "OpenAI-Beta": "assistants=v2"}


@pytest.fixture(scope="module")
def server() -> Iterator[MockServer]:
    with MockServer(MockConfig()) as running:
        yield running


@pytest.fixture(scope="module")
def schema(server: MockServer) -> Any:
    import schemathesis
    from schemathesis.config import SchemathesisConfig

    # The whole configuration is given, so that no schemathesis.toml in the tree changes it.
    config = SchemathesisConfig.from_dict(
        {
            "base-url": server.base_url,
            "seed": 12,
            "suppress-health-check": ["all"],
            "generation": {"max-examples": 15, "database": "none", "mode": "all"},
        }
    )
    return schemathesis.openapi.from_dict(DOCUMENT, config=config)


@pytest.mark.parametrize("operation_id", [pytest.param(op, id=op) for op in OPERATIONS])
def test_no_generated_request_gets_a_5xx_or_an_answer_outside_the_envelope(
    schema: Any, server: MockServer, operation_id: str
) -> None:
    """Generated requests (valid or not) on each route: below 500, JSON, errors with the envelope's keys."""
    operation = schema.find_operation_by_id(operation_id)

    @settings(max_examples=15, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy())
    def check(case: Any) -> None:
        response = case.call(headers=HEADERS, timeout=10)
        assert response.status_code < 500, response.text[:200]
        content_type = response.headers["content-type"]
        content_type = content_type[0] if isinstance(content_type, list) else content_type
        assert content_type == "application/json", response.headers
        body = json.loads(response.content)
        if response.status_code >= 400:
            assert set(body) == {"error"}
            assert set(body["error"]) == {"message", "type", "param", "code"}

    check()
