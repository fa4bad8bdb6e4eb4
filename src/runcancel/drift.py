"""Drift: how a target's answers differ from a baseline, and what the target as a whole is.

A baseline is a folder or a file of recorded traffic in any format `runcancel.recordings` reads
(runcancel's cassettes, other projects' vcrpy and Ruby VCR cassettes, HAR files). Answers are compared
by request signature (method, path with ids replaced, how the request authenticated, its beta header)
and by shape, not value: ids, timestamps and request ids differ on every recording, so a field is
compared by its JSON types and presence, a message by its text with the ids taken out. The Run is one
object across routes: every Run of the baseline (created, read, listed, cancelled, streamed) is
compared with every Run of the target, its fields by presence across all of them and its types status
by status, and each difference names when the field came or went upstream (`eras`).

Severities: a removed field, a changed type, a field newly null, a status code no longer given or a
new one, an error message changed, a contract header gone: breaking. A new field, a new header:
additive. A header gone that the contract does not name, a field no longer null: info.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from runcancel.eras import era_of, field_note
from runcancel.findings import Evidence, Finding, Severity, TargetVerdict, preview
from runcancel.recordings.runs import looks_like_sse, runs_in, sse_runs
from runcancel.scrub import scrub_url
from runcancel.session import MAX_BODY

__all__ = [
    "SKIP_BROKEN_ENV",
    "Answer",
    "BaselineError",
    "TargetVerdict",
    "compare",
    "load_baseline",
    "shape",
    "signature_path",
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
    streamed: tuple[Any, ...] = ()  # the Runs of a streamed answer's `thread.run.*` events

    @property
    def runs(self) -> list[Any]:
        """The Runs this answer carries (a Run, a list's `data[]`, a stream's events)."""
        return [*runs_in(self.body), *self.streamed] if self.complete else []

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

SKIP_BROKEN_ENV = "RUNCANCEL_DRIFT_SKIP_BROKEN"


def load_baseline(where: Path, skip_broken: bool | None = None) -> tuple[list[Answer], list[str]]:
    """Every answer recorded under `where` (a folder or one file, any format), and notes about them.

    A file that cannot be read, or that was cut short, fails the baseline with its name unless
    `skip_broken` (default: the environment variable RUNCANCEL_DRIFT_SKIP_BROKEN=1): then it is left
    out with a note. A baseline holding no Run and no error answer of the Assistants API is refused.
    """
    from runcancel.recordings.model import display_path
    from runcancel.recordings.pool import map_files
    from runcancel.recordings.reader import SUFFIXES, find_recordings

    if skip_broken is None:
        skip_broken = os.environ.get(SKIP_BROKEN_ENV, "") not in ("", "0")
    try:
        files = find_recordings(where)
    except FileNotFoundError:
        raise BaselineError(
            f"runcancel: the drift baseline {where} is not a folder. Give the folder of recorded cassettes "
            "(runcancel's or other projects' vcrpy or Ruby VCR cassettes, HAR files) or one such file, e.g. "
            "--drift-baseline cassettes/, or record one first with --record-mode once."
        ) from None
    answers: list[Answer] = []
    broken: list[str] = []
    formats: Counter[str] = Counter()
    for found, format_name, problem in map_files(_file_answers, files):
        if problem is not None:
            broken.append(problem)
            continue
        formats[format_name] += 1
        answers += found
    if broken and not skip_broken:
        shown = "\n  ".join(broken[:10]) + (
            f"\n  ... and {len(broken) - 10} more" if len(broken) > 10 else ""
        )
        raise BaselineError(
            f"runcancel: the drift baseline {where} has {len(broken)} file(s) that cannot be used:"
            f"\n  {shown}\n"
            "Fix or remove them, or give --skip-broken to compare with the other files and name these in "
            "the report."
        )
    runs = [run for a in answers for run in a.runs]
    errors = [a for a in answers if 400 <= a.status < 500 and _message(a.body) is not None]
    if not runs and not errors:
        kinds = ", ".join(f"*{s}" for s in SUFFIXES)
        raise BaselineError(
            f"runcancel: the drift baseline {where} holds no recorded Run and no error answer of the "
            f"Assistants API ({len(files)} files read: {kinds}; {len(answers)} answers). Give recordings of "
            "the threads and runs routes, or record some against a known-good target with "
            "`pytest contracts --target URL --record-mode once`."
        )
    notes = [f"{line}: left out (--skip-broken)" for line in broken]
    read = ", ".join(f"{count} {name}" for name, count in formats.most_common())
    notes.append(
        f"drift baseline {display_path(where)}: {len(files) - len(broken)} files read ({read}), "
        f"{len(answers)} answers, {len(runs)} Runs, {len(errors)} error answers"
    )
    keysets = Counter(tuple(run) for run in runs)
    if keysets:
        notes.append(f"drift baseline era: {era_of(keysets.most_common(1)[0][0]).describe()}")
    return answers, notes


def _file_answers(file: Path) -> tuple[list[Answer], str, str | None]:
    """The answers of one baseline file, its format's name, or what makes it unusable."""
    from runcancel.recordings.model import RecordingError
    from runcancel.recordings.reader import read_recording

    try:
        recording = read_recording(file)
        return [_answer(rec, recording.ours) for rec in recording.exchanges], recording.format_name, None
    except RecordingError as exc:
        return [], "", f"{exc.location}: {exc.problem}"


def _answer(rec: Any, ours: bool) -> Answer:
    """A recorded exchange as drift compares it; how the request authenticated, as far as it is known."""
    headers = rec.request_headers
    key = headers.get("authorization") or headers.get("api-key")
    if key is not None and "<other-key>" in key:
        auth = "other"
    elif key is not None and "<valid-key>" in key:
        auth = "valid"
    elif ours:
        auth = "absent" if key is None else "other"
    else:
        # Another project's recorder may have filtered the key: only the answer says how it went.
        auth = ("absent" if key is None else "other") if rec.status == 401 else "valid"
    complete = len(rec.body) <= MAX_BODY and rec.undecoded is None
    body: Any = None
    streamed: tuple[Any, ...] = ()
    if complete and looks_like_sse(rec.content_type, rec.body):
        streamed = tuple(data for _event, data in sse_runs(rec.body.decode("utf-8", "replace")) if data)
    elif complete:
        try:
            body = json.loads(rec.body)
        except ValueError:
            body = None
    return Answer(
        method=rec.method,
        path=rec.path,
        auth=auth,
        beta=headers.get("openai-beta"),
        status=rec.status,
        header_names=frozenset(k.lower() for k in rec.headers),
        body=body,
        url=scrub_url(rec.url),
        complete=complete,
        streamed=streamed,
    )


# -- comparing ---------------------------------------------------------------------------------------


def compare(baseline: Iterable[Answer], current: Iterable[Answer]) -> list[Finding]:
    """Drift findings of the current answers against the baseline: request signature by signature,
    and the Run across routes. When nothing could be paired, one breaking finding says so."""
    old_answers, new_answers = list(baseline), list(current)
    before = _by_signature(a for a in old_answers if a.route)
    now = _by_signature(a for a in new_answers if a.route)
    findings: list[Finding] = []
    paired = sorted(set(before) & set(now), key=str)
    for signature in paired:
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
    old_runs = [run for a in old_answers for run in a.runs if isinstance(run, dict)]
    new_run_answers = [a for a in new_answers if a.runs]
    if old_runs and new_run_answers:
        findings += compare_runs(old_runs, new_run_answers)
    elif not paired:
        findings.append(_nothing_compared(old_answers, new_answers))
    return findings


def _routes(answers: list[Answer]) -> str:
    routes = Counter(f"{a.method} {signature_path(a.path)}" for a in answers)
    shown = ", ".join(route for route, _ in routes.most_common(4))
    return shown + (f" and {len(routes) - 4} more" if len(routes) > 4 else "") if routes else "none"


def _nothing_compared(old: list[Answer], new: list[Answer]) -> Finding:
    old_runs = sum(len(a.runs) for a in old)
    new_runs = sum(len(a.runs) for a in new)
    return Finding(
        "drift.nothing_compared",
        "the baseline",
        "at least one answer paired with a recorded one (same method, route, key and beta header), "
        "or Runs on both sides",
        f"nothing compared: the baseline has {len(old)} answers ({old_runs} Runs; {_routes(old)}), the "
        f"target gave {len(new)} ({new_runs} Runs; {_routes(new)})",
        Severity.BREAKING,
    )


RUN_WHERE = "Run (every route)"


def compare_runs(old_runs: list[dict[str, Any]], new: list[Answer]) -> list[Finding]:
    """The Run as one object: fields by presence over every Run of every route, types status by
    status; each field that came or went upstream says when (`eras.FIELD_HISTORY`)."""
    new_runs = [run for a in new for run in a.runs if isinstance(run, dict)]
    example = new[0].evidence
    findings: list[Finding] = []

    def add(clause: str, path: str, expected: str, observed: str, severity: Severity) -> None:
        note = field_note(path)
        observed = f"{observed} ({path.removeprefix('$.')}: {note})" if note else observed
        findings.append(Finding(clause, f"{RUN_WHERE} {path}", expected, observed, severity, example))

    old_seen, old_parents, _ = _presence(old_runs)
    new_seen, new_parents, new_types = _presence(new_runs)
    for path in sorted(old_seen):
        parent = _parent(path)
        always = old_seen[path] == old_parents.get(parent, 0) > 0
        if always and new_parents.get(parent, 0) > new_seen.get(path, 0):
            missing = new_parents[parent] - new_seen.get(path, 0)
            add(
                "drift.field_removed",
                path,
                f"present (in all {old_seen[path]} recorded Runs)",
                f"absent from {missing} of {new_parents[parent]} Runs",
                Severity.BREAKING,
            )
    for path in sorted(set(new_seen) - set(old_seen)):
        parent = _parent(path)
        if old_parents.get(parent, 0) == 0:
            continue  # the parent is new, or never an object in the baseline: reported at its top
        types = "|".join(sorted(new_types[path]))
        add(
            "drift.field_added",
            path,
            "absent (in every recorded Run)",
            f"present: {types}",
            Severity.ADDITIVE,
        )
    by_status_old = _by_status(old_runs)
    by_status_new = _by_status(new_runs)
    for status in sorted(set(by_status_old) & set(by_status_new)):
        was_shape, _ = _merged_runs(by_status_old[status])
        is_shape, _ = _merged_runs(by_status_new[status])
        for path in sorted(set(was_shape) & set(is_shape)):
            was, is_ = was_shape[path] - {"null"}, is_shape[path] - {"null"}
            if is_ - was and was and not (is_ - was) <= _documented_types(path):
                add(
                    "drift.type",
                    path,
                    "|".join(sorted(was)) + f" (status {status})",
                    "|".join(sorted(is_)),
                    Severity.BREAKING,
                )
            if "null" in is_shape[path] and "null" not in was_shape[path] and was:
                add("drift.nullability", path, f"never null (status {status})", "null", Severity.BREAKING)
    old_era = era_of(Counter(tuple(r) for r in old_runs).most_common(1)[0][0])
    new_era = era_of(Counter(tuple(r) for r in new_runs).most_common(1)[0][0])
    if old_era.era != new_era.era or old_era.count != new_era.count:
        findings.append(
            Finding(
                "drift.era",
                RUN_WHERE,
                f"recorded Runs: {old_era.describe()}",
                f"the target's Runs: {new_era.describe()}",
                Severity.INFO,
                example,
            )
        )
    return findings


def _documented_types(path: str) -> set[str]:
    """The JSON types the contract allows for a top-level Run field (`$.tool_choice`: string and
    object, the members of its union): another member than the baseline showed is not drift."""
    from runcancel.contract import run_fields

    name = path.removeprefix("$.")
    schema = run_fields().get(name) if "." not in name and "[" not in name else None
    found: set[str] = set()

    def walk(node: Any) -> None:
        if not isinstance(node, dict):
            return
        kinds = node.get("type")
        found.update([kinds] if isinstance(kinds, str) else kinds if isinstance(kinds, list) else [])
        if "$ref" in node or "properties" in node:
            found.add("object")
        for value in node.get("enum", []) if isinstance(node.get("enum"), list) else []:
            found.add(_json_type(value))
        for key in ("anyOf", "oneOf", "allOf"):
            for member in node.get(key, []) if isinstance(node.get(key), list) else []:
                walk(member)

    walk(schema)
    if "number" in found:
        found.add("integer")
    return found


def _parent(path: str) -> str:
    return re.sub(r"(\.[^.\[\]]+|\[\])$", "", path)


def _presence(runs: list[dict[str, Any]]) -> tuple[Counter[str], Counter[str], dict[str, set[str]]]:
    """Per JSON path: in how many Runs it is present, in how many it is an object (a parent), its types."""
    seen: Counter[str] = Counter()
    parents: Counter[str] = Counter()
    types: dict[str, set[str]] = defaultdict(set)
    for run in runs:
        found = shape(run)
        for path, kinds in found.items():
            if ".*" in path:
                continue  # the user's own maps (metadata): their keys are values, not shape
            if path != "$":
                seen[path] += 1
            if "object" in kinds or "array" in kinds:
                parents[path] += 1
            types[path] |= kinds
    return seen, parents, types


def _by_status(runs: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for run in runs:
        grouped[str(run.get("status"))].append(run)
    return grouped


def _merged_runs(runs: list[dict[str, Any]]) -> tuple[dict[str, set[str]], set[str]]:
    merged: dict[str, set[str]] = defaultdict(set)
    for run in runs:
        for path, types in shape(run).items():
            merged[path] |= types
    return dict(merged), set(merged)


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

    # Runs are compared once, across routes (`compare_runs`); here only the other bodies.
    old_shape, old_always = _merged_shape([a for a in old if not a.runs])
    new_shape, new_always = _merged_shape([a for a in new if not a.runs])
    if not any(not a.runs for a in old) or not any(not a.runs for a in new):
        old_shape, old_always, new_shape, new_always = {}, set(), {}, set()
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
