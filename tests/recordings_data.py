"""Recordings the tests write themselves, in every format runcancel reads, from the facts of the live API.

The Runs follow the key-set eras (`runcancel.eras.ERAS`): each era's keys in the live order, with
values as the live API gives them (ids `run_<24>`, `expires_at` = created + 600 while active, the
default truncation strategy, `usage` null until the run finished).
"""

from __future__ import annotations

import base64
import gzip
import json
import zlib
from pathlib import Path
from typing import Any

import yaml

from runcancel.eras import era_named

BASE = "https://api.openai.com/v1"
THREAD = "thread_abcdefghijklmnopqrstuvwx"
RUN = "run_abcdefghijklmnopqrstuvwx"
ASSISTANT = "asst_abcdefghijklmnopqrstuvwx"
CREATED = 1_717_612_430

USAGE = {
    "2024-02": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
    "2025-01": {
        "prompt_tokens": 10,
        "completion_tokens": 5,
        "total_tokens": 15,
        "prompt_token_details": {"cached_tokens": 0},
    },
    "2025-09": {
        "prompt_tokens": 10,
        "completion_tokens": 5,
        "total_tokens": 15,
        "prompt_token_details": {"cached_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0},
    },
}


def era_run(era: str, status: str = "in_progress", usage: str = "2025-09", **changes: Any) -> dict[str, Any]:
    """A Run of the given era, its keys in the era's live order."""
    finished = status in ("completed", "cancelled", "failed", "expired", "incomplete")
    values: dict[str, Any] = {
        "id": RUN,
        "object": "thread.run",
        "created_at": CREATED,
        "assistant_id": ASSISTANT,
        "thread_id": THREAD,
        "status": status,
        "started_at": CREATED + 1 if status != "queued" else None,
        "expires_at": None if finished else CREATED + 600,
        "cancelled_at": CREATED + 3 if status == "cancelled" else None,
        "failed_at": None,
        "completed_at": CREATED + 4 if status == "completed" else None,
        "required_action": None,
        "last_error": None,
        "model": "gpt-4o",
        "instructions": "You are a math tutor.",
        "tools": [{"type": "code_interpreter"}],
        "file_ids": [],
        "tool_resources": {},
        "metadata": {},
        "temperature": 1.0,
        "top_p": 1.0,
        "reasoning_effort": None,
        "max_completion_tokens": None,
        "max_prompt_tokens": None,
        "truncation_strategy": {"type": "auto", "last_messages": None},
        "incomplete_details": None,
        "usage": dict(USAGE[usage]) if finished else None,
        "response_format": "auto",
        "tool_choice": "auto",
        "parallel_tool_calls": True,
    }
    values.update(changes)
    return {key: values[key] for key in era_named(era).keys}


def error(message: str, code: str | None = None, param: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": "invalid_request_error", "param": param, "code": code}}


def sse(*events: tuple[str, Any]) -> str:
    """A server-sent event stream as the live API streams a run."""
    out = [f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in events]
    return "".join(out) + "event: done\ndata: [DONE]\n\n"


def answer_headers(content_type: str = "application/json") -> dict[str, list[str]]:
    return {
        "content-type": [content_type],
        "x-request-id": ["req_0123456789abcdef0123456789abcdef"],
        "openai-version": ["2020-10-01"],
        "openai-processing-ms": ["42"],
    }


def exchange(method: str, path: str, status: int, body: Any, **kw: Any) -> dict[str, Any]:
    """One exchange, format-neutral: the writers below turn it into each format."""
    text = body if isinstance(body, str) else json.dumps(body)
    content_type = "text/event-stream" if isinstance(body, str) else "application/json"
    return {
        "method": method,
        "url": BASE + path,
        "request_headers": kw.get("request_headers", {"openai-beta": ["assistants=v2"]}),
        "status": status,
        "headers": kw.get("headers", answer_headers(content_type)),
        "body": text,
        "encoding": kw.get("encoding"),
    }


def _encoded(text: str, encoding: str | None) -> bytes:
    data = text.encode("utf-8")
    if encoding == "gzip":
        return gzip.compress(data)
    if encoding == "deflate":
        return zlib.compress(data)
    if encoding == "br":
        raise ValueError("the tests write no brotli bodies unless brotli is installed")
    return data


def _headers(ex: dict[str, Any]) -> dict[str, list[str]]:
    headers = dict(ex["headers"])
    if ex["encoding"]:
        headers["Content-Encoding"] = [ex["encoding"]]
    return headers


def vcrpy_document(exchanges: list[dict[str, Any]]) -> dict[str, Any]:
    """vcrpy's cassette dict: compressed bodies kept as bytes (`!!binary` in YAML)."""
    interactions = []
    for ex in exchanges:
        raw = _encoded(ex["body"], ex["encoding"])
        interactions.append(
            {
                "request": {
                    "body": None,
                    "headers": ex["request_headers"],
                    "method": ex["method"],
                    "uri": ex["url"],
                },
                "response": {
                    "body": {"string": raw if ex["encoding"] else ex["body"]},
                    "headers": _headers(ex),
                    "status": {"code": ex["status"], "message": "OK"},
                },
            }
        )
    return {"interactions": interactions, "version": 1}


def write_vcrpy_yaml(path: Path, exchanges: list[dict[str, Any]]) -> Path:
    """As vcrpy's YAML serializer writes it (keys sorted: `interactions`, then `version`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(vcrpy_document(exchanges)), encoding="utf-8")
    return path


def write_vcrpy_json(path: Path, exchanges: list[dict[str, Any]]) -> Path:
    """As vcrpy's JSON serializer writes it (bytes bodies as text, as it does)."""
    document = vcrpy_document([{**ex, "encoding": None} for ex in exchanges])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=4) + "\n", encoding="utf-8")
    return path


def ruby_document(exchanges: list[dict[str, Any]], base64_bodies: bool = False) -> dict[str, Any]:
    interactions = []
    for ex in exchanges:
        raw = _encoded(ex["body"], ex["encoding"])
        body: dict[str, Any] = {"encoding": "ASCII-8BIT"}
        if base64_bodies or ex["encoding"]:
            body["base64_string"] = base64.b64encode(raw).decode()
        else:
            body["string"] = ex["body"]
        interactions.append(
            {
                "request": {
                    "method": ex["method"].lower(),
                    "uri": ex["url"],
                    "body": {"encoding": "UTF-8", "string": ""},
                    "headers": {k.title(): v for k, v in ex["request_headers"].items()},
                },
                "response": {
                    "status": {"code": ex["status"], "message": "OK"},
                    "headers": {k.title(): v for k, v in _headers(ex).items()},
                    "body": body,
                },
                "recorded_at": "Mon, 29 Apr 2024 23:35:35 GMT",
            }
        )
    return {"http_interactions": interactions, "recorded_with": "VCR 6.1.0"}


def write_ruby_vcr(path: Path, exchanges: list[dict[str, Any]], base64_bodies: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "---\n" + yaml.safe_dump(ruby_document(exchanges, base64_bodies), sort_keys=False)
    path.write_text(text, encoding="utf-8")
    return path


def write_har(path: Path, exchanges: list[dict[str, Any]], base64_bodies: bool = False) -> Path:
    """HAR 1.2 as a browser exports it: decoded text (base64 when asked), headers as name/value lists."""
    entries = []
    for ex in exchanges:
        content: dict[str, Any] = {"size": len(ex["body"]), "mimeType": ex["headers"]["content-type"][0]}
        if base64_bodies:
            content.update(text=base64.b64encode(ex["body"].encode()).decode(), encoding="base64")
        else:
            content["text"] = ex["body"]
        entries.append(
            {
                "startedDateTime": "2025-03-20T10:00:00.000Z",
                "time": 120,
                "request": {
                    "method": ex["method"],
                    "url": ex["url"],
                    "httpVersion": "HTTP/1.1",
                    "headers": [{"name": k, "value": v[0]} for k, v in ex["request_headers"].items()],
                    "queryString": [],
                    "cookies": [],
                    "headersSize": -1,
                    "bodySize": 0,
                },
                "response": {
                    "status": ex["status"],
                    "statusText": "OK",
                    "httpVersion": "HTTP/1.1",
                    "headers": [{"name": k, "value": v[0]} for k, v in _headers(ex).items()],
                    "cookies": [],
                    "content": content,
                    "redirectURL": "",
                    "headersSize": -1,
                    "bodySize": -1,
                },
                "cache": {},
                "timings": {"send": 0, "wait": 100, "receive": 20},
            }
        )
    document = {
        "log": {"version": "1.2", "creator": {"name": "a browser", "version": "1"}, "entries": entries}
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2), encoding="utf-8")
    return path


def run_traffic(era: str = "2025-03") -> list[dict[str, Any]]:
    """A run created, read, listed, streamed, refused and cancelled, as a client sees it."""
    threads = f"/threads/{THREAD}/runs"
    one = f"{threads}/{RUN}"
    return [
        exchange("POST", threads, 200, era_run(era, "queued")),
        exchange("GET", one, 200, era_run(era, "in_progress")),
        exchange(
            "GET", threads, 200, {"object": "list", "data": [era_run(era, "completed")], "has_more": False}
        ),
        exchange(
            "POST",
            threads,
            200,
            sse(
                ("thread.run.created", era_run(era, "queued")),
                ("thread.run.completed", era_run(era, "completed")),
            ),
        ),
        exchange(
            "POST",
            f"{one}/submit_tool_outputs",
            400,
            error('Runs in status "in_progress" do not accept tool outputs.'),
        ),
        exchange("POST", f"{one}/cancel", 200, era_run(era, "cancelling")),
    ]
