"""The consumer's view: does the official `openai` package read the target's answers as it must?

An adapter at the door, like the cassette readers: the answer (an `Exchange`) goes into the SDK's
own types and error mapping, and what comes out is the project's own `Finding`. A Run answer is
validated with `openai.types.beta.threads.Run`, strictly (no coercion: `"1"` is not an integer); an
error answer is handed to the SDK's own client (through an in-memory transport that answers with the
recorded status, headers and body) and must raise the exception class its status maps to, with the
`type`, `code` and `param` the contract says. Without the package the clause is not verified.
"""

from __future__ import annotations

import functools
import importlib.util
import threading
import warnings
from typing import Any

from runcancel.findings import Finding, NotVerified, json_path, preview
from runcancel.rules import Outcome
from runcancel.targets import Exchange

__all__ = ["CLAUSE", "EXCEPTIONS", "consume_error", "consume_run", "missing_reason"]

CLAUSE = "consumer.openai_sdk"
# The SDK's exception class for each status the contract documents.
EXCEPTIONS = {400: "BadRequestError", 401: "AuthenticationError", 404: "NotFoundError", 429: "RateLimitError"}
_LOCK = threading.Lock()


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
    # The exception classes of the very module the cached client raises from (an in-process pytest
    # run may import the package afresh).
    client, openai = _sdk()
    wanted = EXCEPTIONS.get(status, "APIStatusError")
    with _LOCK:
        _answering.exchange = exchange
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                client.beta.threads.runs.cancel("run_consumer", thread_id="thread_consumer")
        except openai.APIStatusError as exc:
            raised: Any = exc
        except openai.APIError as exc:  # an answer it could not read at all
            return [_finding("$", f"openai.{wanted}", f"{type(exc).__name__}: {exc}", exchange)]
        else:
            return [_finding("status", f"openai.{wanted} raised", "the SDK read a success", exchange)]
        finally:
            _answering.exchange = None
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


class _Answering(threading.local):
    exchange: Exchange | None = None


_answering = _Answering()


@functools.cache
def _sdk() -> tuple[Any, Any]:
    """One SDK client whose transport answers with the exchange being judged (no network, no
    retries), and the `openai` module it comes from."""
    import httpx2
    import openai

    def answer(request: Any) -> Any:
        exchange = _answering.exchange
        assert exchange is not None, "the SDK sent a request outside consume_error"
        headers = {"content-type": exchange.content_type} if exchange.content_type else {}
        return httpx2.Response(exchange.status, headers=headers, content=exchange.content)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        client = openai.OpenAI(
            api_key="sk-consumer-view",
            base_url="http://consumer.invalid/v1",
            http_client=httpx2.Client(transport=httpx2.MockTransport(answer)),
            max_retries=0,
        )
        # Touch the deprecated resource once here, so that its warning is not raised during a test.
        _ = client.beta.threads.runs
    return client, openai
