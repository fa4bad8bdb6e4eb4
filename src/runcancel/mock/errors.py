"""The OpenAI error envelope and the errors the mock answers with."""

from __future__ import annotations

from typing import Any

INVALID_REQUEST = "invalid_request_error"

MISSING_KEY_MESSAGE = (
    "You didn't provide an API key. You need to provide your API key in an Authorization header "
    "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank "
    "username) if you're accessing the API from your browser and are prompted for a username and "
    "password. You can obtain an API key from https://platform.openai.com/account/api-keys."
)
MISSING_BETA_MESSAGE = (
    "You must provide the 'OpenAI-Beta' header to access the Assistants API. Please try again by "
    "setting the header 'OpenAI-Beta: assistants=v2'."
)
V1_BETA_MESSAGE = (
    "The v1 Assistants API has been deprecated. Please try again by setting the header "
    "'OpenAI-Beta: assistants=v2'. See the migration guide for more information: "
    "https://platform.openai.com/docs/assistants/migration."
)
INVALID_JSON_MESSAGE = (
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't using "
    "your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not "
    "valid JSON. If you have trouble figuring out how to fix this, please contact us through our "
    "help center at help.openai.com.)"
)
SERVER_ERROR_MESSAGE = (
    "The server had an error while processing your request. Sorry about that! "
    "You can retry your request, or contact us through our help center at help.openai.com."
)

# Keys shorter than this are masked completely: showing 3 + 4 characters would reveal most of them.
_SHORTEST_PARTLY_SHOWN_KEY = 12


class ApiError(Exception):
    """An error answer: HTTP status plus the four fields of the OpenAI error envelope."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = INVALID_REQUEST,
        param: str | None = None,
        code: str | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.retry_after = retry_after  # seconds, sent as the Retry-After header

    def envelope(self) -> dict[str, Any]:
        """The JSON body: ``{"error": {"message", "type", "param", "code"}}``."""
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


def mask_key(key: str) -> str:
    """The key as the live API echoes it: first 3 characters, ``...``, last 4; short keys as ``***``."""
    if len(key) < _SHORTEST_PARTLY_SHOWN_KEY:
        return "***"
    return f"{key[:3]}...{key[-4:]}"


def missing_key() -> ApiError:
    """401 for a request without a usable ``Authorization: Bearer`` header."""
    return ApiError(401, MISSING_KEY_MESSAGE)


def wrong_key(key: str) -> ApiError:
    """401 for a key other than the configured one; the key is echoed masked."""
    return ApiError(
        401,
        f"Incorrect API key provided: {mask_key(key)}. "
        "You can find your API key at https://platform.openai.com/account/api-keys.",
        code="invalid_api_key",
    )


def unknown_url(method: str, path: str) -> ApiError:
    """404 for an unknown path, or a known path with a method it does not serve."""
    return ApiError(404, f"Invalid URL ({method} {path})", code="unknown_url")


def missing_beta() -> ApiError:
    """400 for an Assistants request without ``OpenAI-Beta: assistants=v2``."""
    return ApiError(400, MISSING_BETA_MESSAGE, code="invalid_beta")


def deprecated_beta() -> ApiError:
    """400 for ``OpenAI-Beta: assistants=v1``."""
    return ApiError(400, V1_BETA_MESSAGE, code="invalid_beta")


def invalid_json() -> ApiError:
    """400 for a body that is not valid JSON."""
    return ApiError(400, INVALID_JSON_MESSAGE)


def not_found(kind: str, object_id: str) -> ApiError:
    """404 for an id that names no stored object of this kind (``thread``, ``run``, ``message`` ...)."""
    return ApiError(404, f"No {kind} found with id '{object_id}'.")


def cannot_cancel(status: str) -> ApiError:
    """400 for a cancel of a run that is no longer queued, in progress or waiting for tool outputs."""
    return ApiError(400, f"Cannot cancel run with status '{status}'.")


def server_error() -> ApiError:
    """500, only ever sent when the mock itself has a bug."""
    return ApiError(500, SERVER_ERROR_MESSAGE, type="server_error")
