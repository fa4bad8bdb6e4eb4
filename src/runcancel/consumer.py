"""The consumer's view: does the official `openai` package read the target's answers as it must?

An adapter at the door, like the cassette readers: the answer (an `Exchange`) goes into the SDK's
own types and error mapping, and what comes out is the project's own `Finding`. A Run answer is
validated with `openai.types.beta.threads.Run`, strictly (no coercion: `"1"` is not an integer); an
error answer (status, headers and body as recorded) goes through the SDK client's own error mapping,
the call its request loop makes on an error status, and must give the exception class its status
maps to, with the `type`, `code` and `param` the contract says. Nothing is sent anywhere.
Without the package the clause is not verified.
"""

from __future__ import annotations

import functools
import importlib.util
import warnings
from typing import Any

from runcancel.findings import Finding, NotVerified, json_path, preview
from runcancel.rules import Outcome
from runcancel.targets import Exchange

__all__ = ["CLAUSE", "EXCEPTIONS", "consume_error", "consume_run", "missing_reason"]

CLAUSE = "consumer.openai_sdk"
# The SDK's exception class for each status the contract documents.
EXCEPTIONS = {400: "BadRequestError", 401: "AuthenticationError", 404: "NotFoundError", 429: "RateLimitError"}


def missing_reason() -> str | None:
    """Why the clause cannot be judged here (the `openai` package is not installed), or None."""
    if importlib.util.find_spec("openai") is None:
        return (
            "the official openai package is not installed (pip install openai): the answers could not "
            "be read with its types"
        )
    return None


def consume_run(exchange: Exchange) -> Outcome:
    """A 2xx Run answer read with `openai.types.beta.threads.Run`, strictly."""
    reason = missing_reason()
    if reason is not None:
        return NotVerified(CLAUSE, reason)
    from openai.types.beta.threads import Run
    from pydantic import ValidationError

    try:
        data = exchange.json()
    except ValueError:
        return [_finding("$", "a JSON Run the SDK can read", preview(exchange.content, 80), exchange)]
    try:
        Run.model_validate(data, strict=True)
    except ValidationError as exc:
        found: dict[str, Finding] = {}
        for error in exc.errors(include_url=False):
            path = json_path([p for p in error["loc"] if isinstance(p, int) or not p[:1].isupper()])
            found.setdefault(
                path,
                _finding(
                    path, f"what openai's Run accepts ({error['msg']})", preview(error["input"]), exchange
                ),
            )
        return list(found.values())
    return []


def consume_error(exchange: Exchange, status: int, type_: str, code: str | None) -> Outcome:
    """An error answer through the SDK's client: the exception its status maps to, with `type`,
    `code` and `param` read from the envelope as the contract says."""
    reason = missing_reason()
    if reason is not None:
        return NotVerified(CLAUSE, reason)
    wanted = EXCEPTIONS.get(status, "APIStatusError")
    if exchange.status < 400:
        return [
            _finding(
                "status", f"openai.{wanted} raised", f"{exchange.status}: the SDK reads a success", exchange
            )
        ]
    client, httpx2 = _sdk()
    headers = {"content-type": exchange.content_type} if exchange.content_type else {}
    response = httpx2.Response(
        exchange.status,
        headers=headers,
        content=exchange.content,
        request=httpx2.Request(exchange.method, "http://consumer.invalid/v1/threads/t/runs/r/cancel"),
    )
    # What the SDK's client raises for an error answer: the same call its request loop makes.
    raised: Any = client._make_status_error_from_response(response)
    findings = []
    if type(raised).__name__ != wanted:
        findings.append(_finding("status", f"openai.{wanted}", f"openai.{type(raised).__name__}", exchange))
    for name, expected in (("type", type_), ("code", code)):
        if getattr(raised, name) != expected:
            findings.append(
                _finding(
                    f"$.error.{name}",
                    f"exc.{name} == {preview(expected)}",
                    preview(getattr(raised, name)),
                    exchange,
                )
            )
    body = raised.body
    if not (isinstance(body, dict) and "param" in body):
        findings.append(
            _finding("$.error.param", "exc.param read from the envelope", "no `param` key", exchange)
        )
    return findings


def _finding(path: str, expected: str, observed: str, exchange: Exchange) -> Finding:
    return Finding(CLAUSE, path, expected, observed, evidence=exchange.evidence)


@functools.cache
def _sdk() -> tuple[Any, Any]:
    """One SDK client (it never sends: its error mapping is all that is used), and httpx2."""
    import httpx2
    import openai

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        client = openai.OpenAI(
            api_key="sk-consumer-view",
            base_url="http://consumer.invalid/v1",
            http_client=httpx2.Client(transport=httpx2.MockTransport(_never_sent)),
            max_retries=0,
        )
    return client, httpx2


def _never_sent(request: Any) -> Any:
    raise AssertionError("the consumer view sends no request")
