"""Drift: how a target's answers differ from a baseline, and what the target as a whole is.

A baseline is a folder of cassettes (recorded answers). Answers are compared by request signature
(method, path with ids replaced, how the request authenticated, its beta header) and by shape, not
value: ids, timestamps and request ids differ on every recording, so a field is compared by its
JSON types and presence, a message by its text with the ids taken out.

Severities: a removed field, a changed type, a field newly null, a status code no longer given or a
new one, an error message changed, a contract header gone: breaking. A new field, a new header:
additive. A header gone that the contract does not name, a field no longer null: info.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import yaml

from runcancel.findings import Evidence, Finding, Severity, TargetVerdict, preview
from runcancel.session import MAX_BODY

__all__ = [
    "Answer",
    "BaselineError",
    "TargetVerdict",
    "compare",
    "load_baseline",
    "shape",
    "signature_path",
    "target_verdicts",
]

CONTRACT_HEADERS = frozenset({"content-type", "x-request-id", "openai-version", "openai-processing-ms"})
# Keys below these are the user's own data (metadata) or JSON schemas: compared as opaque maps.
OPAQUE = frozenset({"metadata", "parameters", "schema"})
# The routes drift compares, with their methods (empty: any method, the cancel path's wrong methods
# included). Paths the probe bends out of shape (`?`, `#`, extra `/` in an id) are left out: a
# recording keeps them as the client normalised them, so they cannot be paired reliably.
ROUTES: dict[str, frozenset[str]] = {
    "/threads": frozenset({"POST"}),
    "/threads/{id}": frozenset({"GET", "DELETE"}),
    "/threads/{id}/runs": frozenset({"GET", "POST"}),
    "/threads/{id}/runs/{id}": frozenset({"GET"}),
    "/threads/{id}/runs/{id}/cancel": frozenset(),
    "/assistants": frozenset({"POST"}),
    "/assistants/{id}": frozenset({"GET", "DELETE"}),
}
_ID_SEGMENT_AFTER = frozenset({"threads", "runs", "assistants", "steps", "messages"})
_QUOTED = re.compile(r"'[^']*'")
_ID_TOKEN = re.compile(r"\b(?:asst|thread|run|call|req|msg|step)_[A-Za-z0-9]+\b")


class BaselineError(Exception):
    """The baseline folder cannot serve as a baseline (missing, empty, not this endpoint)."""


@dataclass(frozen=True)
class Answer:
    """The part of one answer that drift compares."""

    method: str
    path: str  # the URL path, ids included
    auth: str  # valid | other | absent
    beta: str | None
    status: int
    header_names: frozenset[str]
    body: Any
    url: str
    complete: bool = True  # False: the body was not kept (too large); its shape is not compared

    @property
    def route(self) -> bool:
        """Whether the request names one of the API's routes (the probe's odd paths do not)."""
        path = signature_path(urlsplit(self.url).path)
        methods = ROUTES.get(path)
        return methods is not None and (not methods or self.method in methods)

    @property
    def signature(self) -> tuple[str, str, str, str | None]:
        return (self.method, signature_path(self.path), self.auth, self.beta)

    @property
    def evidence(self) -> Evidence:
        return Evidence(self.method, self.url, self.status)

    @classmethod
    def of_seen(cls, seen: Any) -> Answer:
        """From a `session.Seen` record."""
        return cls(
            method=seen.method,
            path=urlsplit(seen.url).path,
            auth=seen.auth,
            beta=seen.beta,
            status=seen.status,
            header_names=frozenset(seen.header_names),
            body=seen.body,
            url=seen.url,
            complete=seen.complete,
        )


def signature_path(path: str) -> str:
    """`/v1/threads/thread_a/runs/run_b/cancel` -> `/threads/{id}/runs/{id}/cancel` (base path dropped)."""
    segments = [unquote(s) for s in path.split("/")]
    for start, segment in enumerate(segments):
        if segment in ("threads", "assistants"):
            segments = segments[start:]
            break
    out = []
    for i, segment in enumerate(segments):
        out.append("{id}" if i > 0 and segments[i - 1] in _ID_SEGMENT_AFTER else segment)
    return "/" + "/".join(out)


def shape(body: Any, path: str = "$") -> dict[str, set[str]]:
    """JSON path -> the JSON types seen there (arrays as `[]`, the user's own maps as `*`)."""
    found: dict[str, set[str]] = defaultdict(set)

    def walk(value: Any, where: str, opaque: bool) -> None:
        found[where].add(_json_type(value))
        if isinstance(value, dict):
            for key, item in value.items():
                child = f"{where}.*" if opaque else f"{where}.{key}"
                walk(item, child, opaque or key in OPAQUE)
        elif isinstance(value, list):
            for item in value:
                walk(item, f"{where}[]", opaque)

    walk(body, path, False)
    return dict(found)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def message_template(message: str) -> str:
    """An error message with the ids it quotes taken out, so messages compare across recordings."""
    return _ID_TOKEN.sub("<id>", _QUOTED.sub("'<value>'", message))


def _message(body: Any) -> str | None:
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        message = body["error"].get("message")
        return message_template(message) if isinstance(message, str) else None
    return None


# -- the baseline ------------------------------------------------------------------------------------


def load_baseline(folder: Path) -> tuple[list[Answer], list[str]]:
    """Every answer recorded in the cassettes under `folder`, and a note for each file left out."""
    if not folder.is_dir():
        raise BaselineError(
            f"runcancel: the drift baseline {folder} is not a folder. Give the folder of recorded "
            "cassettes (e.g. --drift-baseline cassettes/), or record one first with --record-mode once."
        )
    files = sorted(p for p in folder.rglob("*.yaml") if p.is_file())
    answers: list[Answer] = []
    notes: list[str] = []
    for file in files:
        try:
            answers += _cassette_answers(file)
        except (yaml.YAMLError, BaselineError, ValueError, TypeError, KeyError) as exc:
            notes.append(f"{file}: left out ({_first_line(exc)})")
    if not any(signature_path(a.path).endswith("/runs/{id}/cancel") for a in answers):
        raise BaselineError(
            f"runcancel: the drift baseline {folder} holds no recorded cancel answer ({len(files)} YAML "
            "files read). Record one against a known-good target with "
            "`pytest contracts --target URL --record-mode once`, then compare against that folder."
        )
    return answers, notes


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]


def _cassette_answers(file: Path) -> list[Answer]:
    data = yaml.safe_load(file.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("interactions"), list):
        raise BaselineError("not a cassette: no `interactions` list")
    answers = []
    for interaction in data["interactions"]:
        request, response = interaction["request"], interaction["response"]
        headers = {k.lower(): v for k, v in (request.get("headers") or {}).items()}
        auth_values = headers.get("authorization")
        auth = "absent" if not auth_values else ("valid" if "<valid" in str(auth_values[0]) else "other")
        beta_values = headers.get("openai-beta")
        raw = (response.get("body") or {}).get("string", "")
        text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else str(raw)
        complete = len(text) <= MAX_BODY
        try:
            body = json.loads(text)
        except ValueError:
            body = None
        answers.append(
            Answer(
                method=str(request["method"]).upper(),
                path=urlsplit(str(request["uri"])).path,
                auth=auth,
                beta=str(beta_values[0]) if beta_values else None,
                status=int(response["status"]["code"]),
                header_names=frozenset(k.lower() for k in (response.get("headers") or {})),
                body=body if complete else None,
                url=str(request["uri"]),
                complete=complete,
            )
        )
    return answers


# -- comparing ---------------------------------------------------------------------------------------


def compare(baseline: Iterable[Answer], current: Iterable[Answer]) -> list[Finding]:
    """Drift findings of the current answers against the baseline, request signature by signature."""
    before = _by_signature(a for a in baseline if a.route)
    now = _by_signature(a for a in current if a.route)
    findings: list[Finding] = []
    for signature in sorted(set(before) & set(now), key=str):
        old, new = before[signature], now[signature]
        where = f"{signature[0]} {signature[1]}"
        example = new[0].evidence
        old_statuses, new_statuses = {a.status for a in old}, {a.status for a in new}
        if old_statuses != new_statuses:
            findings.append(
                Finding(
                    "drift.status",
                    where,
                    "status " + "/".join(map(str, sorted(old_statuses))),
                    "status " + "/".join(map(str, sorted(new_statuses))),
                    Severity.BREAKING,
                    example,
                )
            )
        for status in sorted(old_statuses & new_statuses):
            was = [a for a in old if a.status == status and a.complete]
            is_ = [a for a in new if a.status == status and a.complete]
            if was and is_:
                findings += _compare_answers(f"{where} -> {status}", was, is_)
    return findings


def _by_signature(answers: Iterable[Answer]) -> dict[tuple[str, str, str, str | None], list[Answer]]:
    grouped: dict[tuple[str, str, str, str | None], list[Answer]] = defaultdict(list)
    for answer in answers:
        grouped[answer.signature].append(answer)
    return grouped


def _merged_shape(answers: list[Answer]) -> tuple[dict[str, set[str]], set[str]]:
    """Types at each path over all answers, and the paths present in every answer."""
    merged: dict[str, set[str]] = defaultdict(set)
    always: set[str] | None = None
    for answer in answers:
        found = shape(answer.body)
        for path, types in found.items():
            merged[path] |= types
        always = set(found) if always is None else always & set(found)
    return dict(merged), always or set()


def _compare_answers(where: str, old: list[Answer], new: list[Answer]) -> list[Finding]:
    example = new[0].evidence
    findings: list[Finding] = []

    def add(clause: str, path: str, expected: str, observed: str, severity: Severity) -> None:
        findings.append(Finding(clause, f"{where} {path}", expected, observed, severity, example))

    old_shape, old_always = _merged_shape(old)
    new_shape, new_always = _merged_shape(new)
    for path in sorted(old_always - new_always):
        add("drift.field_removed", path, "present", "absent", Severity.BREAKING)
    for path in sorted(set(new_shape) - set(old_shape)):
        if _parent_is_new(path, old_shape):
            continue
        add(
            "drift.field_added",
            path,
            "absent",
            "present: " + "|".join(sorted(new_shape[path])),
            Severity.ADDITIVE,
        )
    for path in sorted(set(old_shape) & set(new_shape)):
        was, is_ = old_shape[path] - {"null"}, new_shape[path] - {"null"}
        if is_ - was and was:
            add("drift.type", path, "|".join(sorted(was)), "|".join(sorted(is_)), Severity.BREAKING)
        if "null" in new_shape[path] and "null" not in old_shape[path]:
            add("drift.nullability", path, "never null", "null", Severity.BREAKING)
    old_messages = {m for a in old if (m := _message(a.body))}
    new_messages = {m for a in new if (m := _message(a.body))}
    for message in sorted(new_messages - old_messages):
        expected = " | ".join(sorted(old_messages)) or "no error message"
        add(
            "drift.message",
            "$.error.message",
            preview(expected, 160),
            preview(message, 160),
            Severity.BREAKING,
        )
    old_headers = frozenset.intersection(*(a.header_names for a in old))
    new_headers = frozenset.union(*(a.header_names for a in new))
    for name in sorted(old_headers - new_headers):
        severity = Severity.BREAKING if name in CONTRACT_HEADERS else Severity.INFO
        add("drift.header_removed", f"header {name}", "present", "absent", severity)
    all_old_headers = frozenset.union(*(a.header_names for a in old))
    for name in sorted(frozenset.intersection(*(a.header_names for a in new)) - all_old_headers):
        add("drift.header_added", f"header {name}", "absent", "present", Severity.ADDITIVE)
    return findings


def _parent_is_new(path: str, old_shape: Mapping[str, set[str]]) -> bool:
    """Report a new object once, at its top, not once per field inside it."""
    parent = re.sub(r"(\.[^.\[\]]+|\[\])$", "", path)
    return parent != path and parent not in old_shape


# -- the target as a whole ---------------------------------------------------------------------------


def target_verdicts(answers: list[Answer]) -> list[TargetVerdict]:
    """What the target is, when its answers say it plainly: retired, no cancel route, stateless."""
    if not answers:
        return []
    verdicts: list[TargetVerdict] = []
    if not any(200 <= a.status < 300 for a in answers) and all(
        a.status in (404, 405, 410, 501) or _code(a) == "unknown_url" for a in answers if a.auth == "valid"
    ):
        valid = [a for a in answers if a.auth == "valid"] or answers
        statuses = "/".join(str(s) for s in sorted({a.status for a in valid}))
        verdicts.append(
            TargetVerdict(
                "endpoint-retired",
                f"endpoint retired or not implemented: all {len(valid)} authenticated requests were answered "
                f"{statuses}, none succeeded; every clause is not verified",
                tuple(str(a.evidence) for a in valid[:3]),
            )
        )
        return verdicts
    created = {
        str(a.body["id"])
        for a in answers
        if a.method == "POST"
        and signature_path(a.path) == "/threads/{id}/runs"
        and a.status == 200
        and isinstance(a.body, dict)
        and "id" in a.body
    }
    cancels = [
        a for a in answers if a.method == "POST" and signature_path(a.path).endswith("/runs/{id}/cancel")
    ]
    missing = [a for a in cancels if a.status == 404 and a.auth == "valid" and _path_run_id(a) in created]
    if (
        created
        and cancels
        and all(a.status == 404 for a in cancels if _path_run_id(a) in created)
        and missing
    ):
        verdicts.append(
            TargetVerdict(
                "route-not-implemented",
                "cancel route not implemented: the target created runs but answered 404 to cancelling them",
                tuple(str(a.evidence) for a in missing[:3]),
            )
        )
    ok = [a for a in cancels if a.status == 200 and isinstance(a.body, dict)]
    stateless = [
        a
        for a in ok
        if a.body.get("status") not in ("cancelling", "cancelled") or a.body.get("id") != _path_run_id(a)
    ]
    if ok and len(stateless) == len(ok):
        verdicts.append(
            TargetVerdict(
                "stateless-mock",
                "stateless mock: no cancel answer reflected the run it named (status not cancelling or "
                "cancelled, or ids not echoed), as a mock that answers schema examples does",
                tuple(
                    f"{a.evidence}: status {preview(a.body.get('status'))}, id {preview(a.body.get('id'))}"
                    for a in stateless[:3]
                ),
            )
        )
    return verdicts


def _code(answer: Answer) -> Any:
    body = answer.body
    return (
        body["error"].get("code") if isinstance(body, dict) and isinstance(body.get("error"), dict) else None
    )


def _path_run_id(answer: Answer) -> str | None:
    segments = [unquote(s) for s in answer.path.split("/")]
    for i, segment in enumerate(segments[:-1]):
        if segment == "runs":
            return segments[i + 1]
    return None
