"""One small adapter per outside format: a recorded interaction in, the project's `Recorded` out.

vcrpy (YAML or JSON serializer): `request: {method, uri, body, headers: {name: [values]}}`,
`response: {status: {code, message}, headers, body: {string}}`; a body is text, or bytes (`!!binary`)
still compressed as its `Content-Encoding` says. Ruby VCR: the same roles under `http_interactions`,
methods in lower case, bodies `{encoding, string}` or `{base64_string}`. HAR 1.2: `log.entries[]`
with `request: {method, url, headers: [{name, value}]}` and `response: {status, headers, content:
{text, encoding}}`, the text already decoded (base64 when `encoding` says so).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from runcancel.recordings.bodies import BodyError, as_bytes, decode_body
from runcancel.recordings.model import Recorded
from runcancel.recordings.yaml_stream import Located

__all__ = ["ADAPTERS", "AdapterError"]


class AdapterError(Exception):
    """An interaction that lacks what the format requires: the problem and the line."""

    def __init__(self, problem: str, line: int) -> None:
        self.problem = problem
        self.line = line
        super().__init__(problem)


def _line(node: Any, default: int) -> int:
    return node.line if isinstance(node, Located) and node.line else default


def _kind(value: Any) -> str:
    if value is None:
        return "empty"
    kinds: dict[type, str] = {dict: "a mapping", list: "a list", str: "a string"}
    return kinds.get(type(value), f"a {type(value).__name__}")


def _mapping_pairs(headers: Any, where: str, line: int) -> list[tuple[str, str]]:
    if headers is None:
        return []
    if not isinstance(headers, dict):
        raise AdapterError(f"{where}: `headers` is {_kind(headers)}, not a mapping", line)
    pairs = []
    for name, values in headers.items():
        for value in values if isinstance(values, list) else [values]:
            pairs.append((str(name), str(value)))
    return pairs


def _list_pairs(headers: Any, where: str, line: int) -> list[tuple[str, str]]:
    if headers is None:
        return []
    if not isinstance(headers, list):
        raise AdapterError(f"{where}: `headers` is {_kind(headers)}, not a list", line)
    return [
        (str(h.get("name", "")), str(h.get("value", "")))
        for h in headers
        if isinstance(h, dict) and h.get("name")
    ]


def _first(pairs: list[tuple[str, str]]) -> dict[str, str]:
    found: dict[str, str] = {}
    for name, value in pairs:
        found.setdefault(name.lower(), value)
    return found


def _parts(item: Any, where: str, line: int) -> tuple[dict[str, Any], dict[str, Any], int]:
    if not isinstance(item, dict):
        raise AdapterError(f"{where} is {_kind(item)}, not a mapping", line)
    line = _line(item, line)
    request, response = item.get("request"), item.get("response")
    if not isinstance(request, dict) or not isinstance(response, dict):
        missing = "request" if not isinstance(request, dict) else "response"
        raise AdapterError(f"{where} has no `{missing}` mapping", line)
    return request, response, line


def _recorded(
    file: Path,
    index: int,
    line: int,
    method: Any,
    url: Any,
    request_pairs: list[tuple[str, str]],
    status: Any,
    response_pairs: list[tuple[str, str]],
    raw: bytes,
    decode: bool = True,
) -> Recorded:
    where = f"interaction {index + 1}"
    if not isinstance(method, str) or not isinstance(url, str) or not method or not url:
        raise AdapterError(f"{where}: the request needs a method and a URL", line)
    if not isinstance(status, int) or isinstance(status, bool):
        raise AdapterError(f"{where}: the response has no status code number", line)
    # as bytes: a recorded header may hold any text (httpx takes str headers as ASCII only)
    headers = httpx.Headers(
        [(k.encode("utf-8", "replace"), v.encode("utf-8", "replace")) for k, v in response_pairs]
    )
    undecoded = None
    body = raw
    if decode:
        try:
            body = decode_body(raw, headers.get("content-encoding"))
        except BodyError as exc:
            undecoded = str(exc)
    return Recorded(
        file=file,
        line=line,
        index=index,
        method=method.upper(),
        url=url,
        request_headers=_first(request_pairs),
        status=status,
        headers=headers,
        body=body,
        undecoded=undecoded,
    )


def vcrpy(file: Path, index: int, line: int, item: Any) -> Recorded:
    where = f"interaction {index + 1}"
    request, response, line = _parts(item, where, line)
    status = response.get("status")
    code = status.get("code") if isinstance(status, dict) else status
    body = response.get("body")
    content = body.get("string") if isinstance(body, dict) else body
    if content is not None and not isinstance(content, str | bytes):
        raise AdapterError(f"{where}: `body.string` is {_kind(content)}", _line(response, line))
    return _recorded(
        file,
        index,
        line,
        request.get("method"),
        request.get("uri"),
        _mapping_pairs(request.get("headers"), where, _line(request, line)),
        code,
        _mapping_pairs(response.get("headers"), where, _line(response, line)),
        as_bytes(content),
    )


def _ruby_body(body: Any, where: str, line: int) -> bytes:
    if body is None:
        return b""
    if not isinstance(body, dict):
        raise AdapterError(f"{where}: `body` is {_kind(body)}, not a mapping", line)
    if body.get("base64_string") is not None:
        try:
            return base64.b64decode(str(body["base64_string"]))
        except (binascii.Error, ValueError):
            raise AdapterError(f"{where}: `body.base64_string` is not base64", line) from None
    return as_bytes(body.get("string"))


def ruby_vcr(file: Path, index: int, line: int, item: Any) -> Recorded:
    where = f"interaction {index + 1}"
    request, response, line = _parts(item, where, line)
    status = response.get("status")
    code = status.get("code") if isinstance(status, dict) else status
    return _recorded(
        file,
        index,
        line,
        request.get("method"),
        request.get("uri"),
        _mapping_pairs(request.get("headers"), where, _line(request, line)),
        code,
        _mapping_pairs(response.get("headers"), where, _line(response, line)),
        _ruby_body(response.get("body"), where, _line(response, line)),
    )


def har(file: Path, index: int, line: int, item: Any) -> Recorded:
    where = f"entry {index + 1}"
    request, response, line = _parts(item, where, line)
    content = response.get("content")
    content = content if isinstance(content, dict) else {}
    text = content.get("text")
    if isinstance(text, str) and content.get("encoding") == "base64":
        try:
            raw = base64.b64decode(text)
        except (binascii.Error, ValueError):
            raise AdapterError(f"{where}: `response.content.text` is not base64", line) from None
    else:
        raw = as_bytes(text)
    # HAR keeps the decoded body (the Content-Encoding header describes the wire, not the text).
    return _recorded(
        file,
        index,
        line,
        request.get("method"),
        request.get("url"),
        _list_pairs(request.get("headers"), where, line),
        response.get("status"),
        _list_pairs(response.get("headers"), where, line),
        raw,
        decode=False,
    )


ADAPTERS: dict[str, Callable[[Path, int, int, Any], Recorded]] = {
    "runcancel": vcrpy,
    "vcrpy-yaml": vcrpy,
    "vcrpy-json": vcrpy,
    "ruby-vcr-yaml": ruby_vcr,
    "ruby-vcr-json": ruby_vcr,
    "har": har,
}
