"""Authentication, routing, the beta header and the headers every answer carries."""

from __future__ import annotations

import re

import httpx
import pytest
from mock_support import AUTH, BETA, HEADERS, assert_error

from runcancel.mock.errors import MISSING_BETA_MESSAGE, MISSING_KEY_MESSAGE, V1_BETA_MESSAGE

CANCEL = "/v1/threads/thread_x/runs/run_x/cancel"


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="no-header"),
        pytest.param({"Authorization": "Bearer "}, id="empty-bearer"),
        pytest.param({"Authorization": "Bearer"}, id="scheme-only"),
        pytest.param({"Authorization": "Basic c2stcnVuY2FuY2VsLW1vY2s6"}, id="basic-scheme"),
    ],
)
def test_request_without_a_bearer_key_is_401_with_null_code(
    raw_client: httpx.Client, headers: dict[str, str]
) -> None:
    """No usable Bearer key: 401, code null, the live 'You didn't provide an API key.' message."""
    response = raw_client.post(CANCEL, headers={**headers, **BETA})
    assert_error(response, 401, MISSING_KEY_MESSAGE)
    assert response.json()["error"]["message"].startswith("You didn't provide an API key.")


def test_wrong_key_is_401_invalid_api_key_with_the_key_masked(raw_client: httpx.Client) -> None:
    """A wrong key: 401 invalid_api_key echoing only its first 3 and last 4 characters."""
    response = raw_client.post(CANCEL, headers={"Authorization": "Bearer sk-wrong-secret-abcd", **BETA})
    assert_error(
        response,
        401,
        "Incorrect API key provided: sk-...abcd. You can find your API key at "
        "https://platform.openai.com/account/api-keys.",
        code="invalid_api_key",
    )
    assert "secret" not in response.text


def test_short_wrong_key_is_fully_masked(raw_client: httpx.Client) -> None:
    """A short wrong key is echoed as '***' so that no part of it shows."""
    response = raw_client.post(CANCEL, headers={"Authorization": "Bearer short", **BETA})
    assert response.status_code == 401
    assert response.json()["error"]["message"].startswith("Incorrect API key provided: ***.")


def test_bearer_scheme_is_case_insensitive(api: httpx.Client, raw_client: httpx.Client) -> None:
    """'bearer KEY' authenticates like 'Bearer KEY'."""
    key = AUTH["Authorization"].split()[1]
    response = raw_client.post("/v1/threads", headers={"Authorization": f"bearer {key}", **BETA})
    assert response.status_code == 200


def test_authentication_comes_before_routing(raw_client: httpx.Client) -> None:
    """An unknown path without a key is a 401, not a 404."""
    assert raw_client.get("/v1/nothing-here").status_code == 401


@pytest.mark.parametrize(
    ("method", "path"),
    [
        pytest.param("GET", "/v1/nothing", id="unknown-path"),
        pytest.param("GET", CANCEL, id="get-on-cancel"),
        pytest.param("PUT", CANCEL, id="put-on-cancel"),
        pytest.param("DELETE", "/v1/threads/thread_x/runs/run_x", id="delete-run"),
        pytest.param("POST", "/v2/threads", id="other-version"),
        pytest.param("POST", "/v1/threads/thread_x/runs/run_x/cancel/", id="trailing-slash"),
        pytest.param("POST", "/v1/threads//runs/run_x/cancel", id="empty-thread-id"),
        pytest.param("GET", "/", id="root"),
    ],
)
def test_unknown_route_or_method_is_404_unknown_url(raw_client: httpx.Client, method: str, path: str) -> None:
    """Unknown path or wrong method: 404 unknown_url 'Invalid URL (<METHOD> <path>)', never 405."""
    response = raw_client.request(method, path, headers=AUTH)
    assert_error(response, 404, f"Invalid URL ({method} {path})", code="unknown_url")


def test_routing_comes_before_the_beta_header(raw_client: httpx.Client) -> None:
    """A wrong method without the beta header is still a 404."""
    assert raw_client.get(CANCEL, headers=AUTH).status_code == 404


@pytest.mark.parametrize(
    "beta",
    [
        pytest.param(None, id="missing"),
        pytest.param("", id="empty"),
        pytest.param("assistants=v3", id="unknown-version"),
        pytest.param("assistants", id="no-version"),
    ],
)
def test_missing_beta_header_is_400_invalid_beta(raw_client: httpx.Client, beta: str | None) -> None:
    """Without 'OpenAI-Beta: assistants=v2' every Assistants route answers 400 invalid_beta."""
    headers = dict(AUTH) if beta is None else {**AUTH, "OpenAI-Beta": beta}
    for method, path in [("POST", CANCEL), ("POST", "/v1/threads"), ("GET", "/v1/assistants/asst_x")]:
        response = raw_client.request(method, path, headers=headers)
        assert_error(response, 400, MISSING_BETA_MESSAGE, code="invalid_beta")


def test_v1_beta_header_is_400_deprecated(raw_client: httpx.Client) -> None:
    """'OpenAI-Beta: assistants=v1' answers 400 invalid_beta saying v1 is deprecated."""
    response = raw_client.post(CANCEL, headers={**AUTH, "OpenAI-Beta": "assistants=v1"})
    assert_error(response, 400, V1_BETA_MESSAGE, code="invalid_beta")
    assert "deprecated" in V1_BETA_MESSAGE


def test_beta_header_may_list_several_features(raw_client: httpx.Client) -> None:
    """A comma-separated OpenAI-Beta value that includes assistants=v2 is accepted."""
    response = raw_client.post("/v1/threads", headers={**AUTH, "OpenAI-Beta": "realtime=v1, assistants=v2"})
    assert response.status_code == 200


def test_beta_header_comes_before_the_body(raw_client: httpx.Client) -> None:
    """Invalid JSON without the beta header is reported as the missing header."""
    response = raw_client.post("/v1/threads", headers=AUTH, content=b"{nope")
    assert response.json()["error"]["code"] == "invalid_beta"


@pytest.mark.parametrize(
    ("method", "path", "headers", "status"),
    [
        pytest.param("POST", "/v1/threads", HEADERS, 200, id="success"),
        pytest.param("POST", CANCEL, {}, 401, id="unauthorised"),
        pytest.param("GET", "/v1/nothing", HEADERS, 404, id="unknown-url"),
        pytest.param("POST", CANCEL, AUTH, 400, id="missing-beta"),
        pytest.param("POST", CANCEL, HEADERS, 404, id="not-found"),
    ],
)
def test_every_answer_carries_the_openai_headers(
    raw_client: httpx.Client, method: str, path: str, headers: dict[str, str], status: int
) -> None:
    """Every answer, errors included, has JSON content type, a req_ id, openai-version, processing ms."""
    response = raw_client.request(method, path, headers=headers)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    assert re.fullmatch(r"req_[0-9a-f]{32}", response.headers["x-request-id"])
    assert response.headers["openai-version"] == "2020-10-01"
    assert response.headers["openai-processing-ms"].isdigit()


def test_request_ids_are_unique(api: httpx.Client) -> None:
    """Each answer has its own x-request-id."""
    ids = {api.post("/v1/threads").headers["x-request-id"] for _ in range(20)}
    assert len(ids) == 20
