"""Cassette files: read with line numbers, written with provenance, and their cancel answers checked.

A cassette is vcrpy's YAML format (version 1) with one more top-level mapping, written first:

    provenance: {recorded_from, target, recorded_at, suite, record_mode, recorder}
    version: 1
    interactions:
    - request: {method, uri, body, headers}
      response: {status: {code, message}, headers, body: {string}}

`read_cassette` is the one reader, for replay and for `runcancel cassettes check` alike: a file that
exists but cannot be used raises `CassetteError` naming the file and the line, never a YAML or
KeyError traceback. `check_cassettes` re-applies the suites' own checks to every recorded answer of
the cancel path and returns findings; `render_check` writes them, by clause.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx
import yaml

from runcancel.findings import Finding, NotVerified, Severity
from runcancel.targets import SHORTENED_SEGMENT, Exchange

__all__ = [
    "CANCEL_PATH",
    "CassetteError",
    "CassetteFile",
    "CheckReport",
    "Interaction",
    "check_cassettes",
    "dump_cassette",
    "find_cassettes",
    "read_cassette",
    "render_check",
]

CANCEL_PATH = re.compile(r"/threads/(?P<thread>[^/]+)/runs/(?P<run>[^/]+)/cancel/?$")
# What the suites talk to: assistants and threads (runs and their cancel live below threads).
ASSISTANTS_API = re.compile(r"/(?:assistants|threads)(?:/|$)")
FORMAT_VERSION = 1
RECORD_HINT = "pytest contracts --target mock --record-mode rewrite"

# libyaml when PyYAML has it: the same safe loading and dumping, several times faster.
_SafeLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_SafeDumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class CassetteError(Exception):
    """A cassette file that exists but cannot be used; says which file, which line and what to do."""

    def __init__(self, path: Path, problem: str, line: int | None = None, hint: str | None = None) -> None:
        self.path = path
        self.problem = problem
        self.line = line
        self.hint = (
            hint if hint is not None else f"Record it again: {RECORD_HINT} (see README, Record and replay)."
        )
        super().__init__(str(self))

    @property
    def location(self) -> str:
        return f"{display_path(self.path)}:{self.line}" if self.line else display_path(self.path)

    def __str__(self) -> str:
        return f"{self.location}: {self.problem}" + (f"\n  {self.hint}" if self.hint else "")


def display_path(path: Path) -> str:
    """The path relative to the working directory when it lies below it, else as given."""
    try:
        return os.path.relpath(path) if Path(path).resolve().is_relative_to(Path.cwd()) else str(path)
    except (OSError, ValueError):
        return str(path)


# -- reading -----------------------------------------------------------------------------------------


class _Located(dict[Any, Any]):
    """A mapping read from YAML that remembers the line it starts on."""

    line: int = 0


class _LineLoader(_SafeLoader):  # type: ignore[misc]
    """The safe loader, with the line of every mapping kept: errors can point at an interaction."""


def _construct_located(loader: yaml.SafeLoader, node: yaml.MappingNode) -> Iterator[_Located]:
    data = _Located()
    data.line = node.start_mark.line + 1
    yield data
    data.update(loader.construct_mapping(node))


_LineLoader.add_constructor("tag:yaml.org,2002:map", _construct_located)


@dataclass(frozen=True)
class Interaction:
    """One recorded request and its answer, as the checks need them."""

    index: int
    line: int
    method: str
    uri: str
    request_headers: Mapping[str, str]
    status: int
    headers: httpx.Headers
    body: bytes

    @property
    def path(self) -> str:
        return urlsplit(self.uri).path

    @property
    def on_cancel_path(self) -> bool:
        return CANCEL_PATH.search(self.path) is not None

    @property
    def is_cancel(self) -> bool:
        return self.method == "POST" and self.on_cancel_path

    def exchange(self) -> Exchange:
        return Exchange(self.method, self.uri, self.status, self.headers, self.body, elapsed=0.0)


@dataclass(frozen=True)
class CassetteFile:
    """A cassette as read from disk: its provenance, its interactions, and the document for vcrpy."""

    path: Path
    provenance: Mapping[str, Any] | None
    interactions: list[Interaction]
    document: dict[str, Any] = field(repr=False)


def read_cassette(path: Path) -> CassetteFile:
    """Read and validate one cassette. FileNotFoundError if it does not exist; CassetteError if unusable."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise
    except UnicodeDecodeError as exc:
        raise CassetteError(path, f"is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise CassetteError(path, f"cannot be read ({exc.strerror or exc})", hint="") from None
    if not text.strip():
        raise CassetteError(path, "is empty: it holds no recorded interactions")
    try:
        document = yaml.load(text, Loader=_LineLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = ": ".join(p for p in (exc.context, exc.problem) if p)
        raise CassetteError(path, f"is not valid YAML: {problem}", line) from None
    except yaml.YAMLError as exc:
        raise CassetteError(path, f"is not valid YAML: {exc}") from None
    if not isinstance(document, dict):
        raise CassetteError(
            path,
            f"is not a cassette: its top level is {_kind(document)}, not a mapping with `interactions`",
            1,
        )
    return _validated(path, document)


def _validated(path: Path, document: dict[str, Any]) -> CassetteFile:
    if document.get("version") != FORMAT_VERSION:
        raise CassetteError(
            path,
            f"has cassette format version {document.get('version')!r}; "
            f"vcrpy's format {FORMAT_VERSION} is needed",
            _line(document, 1),
        )
    raw = document.get("interactions")
    if not isinstance(raw, list):
        raise CassetteError(path, f"`interactions` is {_kind(raw)}, not a list", _line(document, 1))
    if not raw:
        raise CassetteError(path, "is empty: `interactions` is an empty list", _line(document, 1))
    interactions = [_interaction(path, index, item, _line(document, 1)) for index, item in enumerate(raw)]
    if not any(ASSISTANTS_API.search(i.path) for i in interactions):
        seen = sorted({f"{i.method} {i.path}" for i in interactions})
        shown = ", ".join(seen[:3]) + (f" and {len(seen) - 3} more" if len(seen) > 3 else "")
        raise CassetteError(
            path,
            "was recorded from another endpoint: none of its requests goes to the Assistants API's "
            f"threads, runs and cancel (it has {shown})",
            interactions[0].line,
            hint="Move it out of the cassettes folder, or record this test's cassette: " + RECORD_HINT + ".",
        )
    provenance = document.get("provenance")
    return CassetteFile(
        path=path,
        provenance=provenance if isinstance(provenance, dict) else None,
        interactions=interactions,
        document=document,
    )


def _interaction(path: Path, index: int, item: Any, parent_line: int) -> Interaction:
    where = f"interaction {index + 1}"
    if not isinstance(item, dict):
        raise CassetteError(path, f"{where} is {_kind(item)}, not a mapping", parent_line)
    line = _line(item, parent_line)
    request, response = item.get("request"), item.get("response")
    if not isinstance(request, dict) or not isinstance(response, dict):
        missing = "request" if not isinstance(request, dict) else "response"
        raise CassetteError(path, f"{where} has no `{missing}` mapping", line)
    method, uri = request.get("method"), request.get("uri")
    if not isinstance(method, str) or not isinstance(uri, str):
        raise CassetteError(path, f"{where}: the request needs a `method` and a `uri`", _line(request, line))
    status = response.get("status")
    code = status.get("code") if isinstance(status, dict) else None
    if not isinstance(code, int) or isinstance(code, bool):
        raise CassetteError(path, f"{where}: the response has no `status.code` number", _line(response, line))
    body = response.get("body")
    content = body.get("string") if isinstance(body, dict) else None
    if content is None:
        content = b""
    if not isinstance(content, str | bytes):
        raise CassetteError(path, f"{where}: `body.string` is {_kind(content)}", _line(response, line))
    return Interaction(
        index=index,
        line=line,
        method=method.upper(),
        uri=uri,
        request_headers=_first_values(request.get("headers"), path, where, _line(request, line)),
        status=code,
        headers=httpx.Headers(_pairs(response.get("headers"), path, where, _line(response, line))),
        body=content.encode("utf-8") if isinstance(content, str) else content,
    )


def _pairs(headers: Any, path: Path, where: str, line: int) -> list[tuple[str, str]]:
    if headers is None:
        return []
    if not isinstance(headers, dict):
        raise CassetteError(path, f"{where}: `headers` is {_kind(headers)}, not a mapping", line)
    pairs = []
    for name, values in headers.items():
        for value in values if isinstance(values, list) else [values]:
            pairs.append((str(name), str(value)))
    return pairs


def _first_values(headers: Any, path: Path, where: str, line: int) -> dict[str, str]:
    found: dict[str, str] = {}
    for name, value in _pairs(headers, path, where, line):
        found.setdefault(name.lower(), value)
    return found


def _line(node: Any, default: int) -> int:
    return node.line if isinstance(node, _Located) and node.line else default


def _kind(value: Any) -> str:
    if value is None:
        return "empty"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return "a string" if isinstance(value, str) else f"a {type(value).__name__}"


def find_cassettes(root: Path) -> list[Path]:
    """The cassette files at `root`: a file, or a folder searched recursively; FileNotFoundError if absent."""
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise FileNotFoundError(str(root))
    return sorted(p for p in root.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())


# -- writing -----------------------------------------------------------------------------------------


def dump_cassette(document: Mapping[str, Any], provenance: Mapping[str, Any]) -> str:
    """The YAML text of a cassette: provenance first, then vcrpy's document, lines never folded.

    Long lines stay whole so that a search for a string finds it (a folded line would hide a secret
    from the very search that proves it absent).
    """
    data = {"provenance": dict(provenance), **{k: _plain(v) for k, v in document.items()}}
    text: str = yaml.dump(
        data,
        Dumper=_SafeDumper,
        sort_keys=False,
        allow_unicode=True,
        width=2**31 - 1,
        default_flow_style=False,
    )
    return text


def _plain(value: Any) -> Any:
    """Plain dicts, lists, strings and bytes, which the safe dumper writes without Python tags."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


# -- checking ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Located:
    """A finding and the cassette line of the answer it is about."""

    where: str
    finding: Finding


@dataclass
class CheckReport:
    """What `check_cassettes` found: findings by clause, the clauses that held, the unreadable files."""

    root: Path
    cassettes: int = 0
    answers: int = 0
    ok_answers: int = 0
    findings: dict[str, list[Located]] = field(default_factory=dict)
    held: set[str] = field(default_factory=set)
    not_verified: set[str] = field(default_factory=set)
    errors: list[CassetteError] = field(default_factory=list)
    without_provenance: list[Path] = field(default_factory=list)

    @property
    def broken(self) -> dict[str, list[Located]]:
        return {
            clause: found
            for clause, found in self.findings.items()
            if any(x.finding.severity is Severity.BREAKING for x in found)
        }

    @property
    def ok(self) -> bool:
        return not self.errors and not self.broken


def check_cassettes(paths: Iterable[Path], root: Path) -> CheckReport:
    """Check every recorded answer on the cancel path against the contract; keep going past bad files."""
    report = CheckReport(root=root)
    for path in paths:
        report.cassettes += 1
        try:
            cassette = read_cassette(path)
        except CassetteError as exc:
            report.errors.append(exc)
            continue
        if cassette.provenance is None:
            report.without_provenance.append(path)
        for interaction in cassette.interactions:
            if not interaction.on_cancel_path:
                continue
            report.answers += 1
            report.ok_answers += int(interaction.status == 200)
            where = f"{display_path(path)}:{interaction.line}"
            for clause, outcome in check_interaction(interaction).items():
                if isinstance(outcome, NotVerified):
                    report.not_verified.add(clause)
                elif outcome:
                    report.findings.setdefault(clause, []).extend(Located(where, f) for f in outcome)
                else:
                    report.held.add(clause)
    report.held -= set(report.findings)
    report.not_verified -= report.held | set(report.findings)
    return report


def check_interaction(interaction: Interaction) -> dict[str, NotVerified | list[Finding]]:
    """The suites' own checks, applied to one recorded answer; the expectation follows from the request.

    A 200 to a cancel is checked clause by clause like the shape suite's answer. An error answer is
    checked like the errors and lifecycle suites check it: a request without a key must get the
    no-key answer, one with another key the wrong-key answer, one without the beta header the
    invalid-beta answer, another method the unknown-URL answer; otherwise the refusal must be one of
    the documented ones (400 cannot cancel, 404 not found, 429), in the error envelope.
    """
    from runcancel.checks import check_cancel_answer, check_error_answer
    from runcancel.rules import CancelContext

    exchange = interaction.exchange()
    match = CANCEL_PATH.search(interaction.path)
    assert match is not None
    thread_id, run_id = unquote(match["thread"]), unquote(match["run"])
    refused = _refusal(interaction)
    if refused is None and interaction.status == 200:
        return dict(check_cancel_answer(exchange, CancelContext(thread_id, run_id)))
    clause, expectation = refused or _error_expectation(interaction, thread_id, run_id)
    if SHORTENED_SEGMENT.search(match["thread"]) or SHORTENED_SEGMENT.search(match["run"]):
        reason = (
            "the recorded URI shortens an id too long for a URL (targets.send_raw), so it cannot be compared"
        )
        return {clause: NotVerified(clause, reason)}
    return {clause: check_error_answer(exchange, clause, expectation)}


def _refusal(interaction: Interaction) -> tuple[str, Any] | None:
    """The answer a request must get whatever the run: no key, another key, no or old beta, wrong method."""
    from runcancel.checks import ErrorExpectation

    headers = interaction.request_headers
    auth = headers.get("authorization") or headers.get("api-key")
    beta = headers.get("openai-beta")
    if interaction.method != "POST":
        message = f"Invalid URL ({interaction.method} {interaction.path})"
        return "error.wrong_method", ErrorExpectation(404, code="unknown_url", message=message)
    if auth is None:
        return "error.no_key", ErrorExpectation(401, message_prefix="You didn't provide an API key.")
    if "<other-key>" in auth:
        return "error.wrong_key", ErrorExpectation(
            401, code="invalid_api_key", message_prefix="Incorrect API key provided"
        )
    if beta is None:
        return "error.no_beta", ErrorExpectation(
            400, code="invalid_beta", message_prefix="You must provide the 'OpenAI-Beta' header"
        )
    if beta != "assistants=v2":
        return "error.beta_v1", ErrorExpectation(400, code="invalid_beta")
    return None


def _error_expectation(interaction: Interaction, thread_id: str, run_id: str) -> tuple[str, Any]:
    """The refusal a well-formed cancel may get: 404 not found, 400 cannot cancel, or 429."""
    from runcancel.checks import ErrorExpectation

    message = _error_message(interaction)
    if interaction.status == 404 and message.startswith("No thread found"):
        return "error.unknown_thread", ErrorExpectation(
            404, message=f"No thread found with id '{thread_id}'."
        )
    if interaction.status == 404:
        return "error.unknown_run", ErrorExpectation(404, message=f"No run found with id '{run_id}'.")
    if interaction.status == 429:
        return "error.envelope", ErrorExpectation(429, type=_error_type(interaction))
    refused = re.fullmatch(r"Cannot cancel run with status '(\w+)'\.", message)
    status = refused[1] if refused else None
    clause = (
        "lifecycle.cancel_twice" if status in ("cancelling", "cancelled") else "lifecycle.cancel_finished"
    )
    known = ("cancelling", "cancelled", "completed", "failed", "expired", "incomplete")
    expected = f"Cannot cancel run with status '{status if status in known else '<status>'}'."
    return clause, ErrorExpectation(400, message=expected)


def _error_body(interaction: Interaction) -> dict[str, Any]:
    try:
        data = interaction.exchange().json()
    except ValueError:
        return {}
    error = data.get("error") if isinstance(data, dict) else None
    return error if isinstance(error, dict) else {}


def _error_message(interaction: Interaction) -> str:
    message = _error_body(interaction).get("message")
    return message if isinstance(message, str) else ""


def _error_type(interaction: Interaction) -> str:
    kind = _error_body(interaction).get("type")
    return kind if isinstance(kind, str) else "requests"


def render_check(report: CheckReport) -> str:
    """The check's findings by clause, then the files that could not be read; one line per fact."""
    from runcancel.clauses import all_clauses

    titles = {c.id: c.title for c in all_clauses().values()}
    readable = report.cassettes - len(report.errors)
    lines = [
        f"runcancel cassettes check: {display_path(report.root)}: {report.cassettes} cassettes, "
        f"{report.answers} recorded answers on the cancel path ({report.ok_answers} answered 200)"
    ]
    for clause in sorted(report.findings):
        found = report.findings[clause]
        title = titles.get(clause)
        lines.append("")
        lines.append(f"{clause}" + (f" ({title})" if title else "") + f": {len(found)} finding(s)")
        for item in found:
            f = item.finding
            note = "" if f.severity is Severity.BREAKING else f" ({f.severity.value})"
            lines.append(f"  {item.where}: {f.path}: expected {f.expected}; observed {f.observed}{note}")
            if f.evidence is not None:
                lines.append(f"    request: {f.evidence}")
    if report.errors:
        lines.append("")
        lines.append(f"{len(report.errors)} cassette(s) could not be checked:")
        for error in report.errors:
            lines.append(f"  {error.location}: {error.problem}")
            if error.hint:
                lines.append(f"    {error.hint}")
    if report.without_provenance:
        lines.append("")
        lines.append("without provenance (recorded outside runcancel?):")
        lines.extend(f"  {display_path(p)}" for p in report.without_provenance)
    broken = report.broken
    lines.append("")
    lines.append(
        f"{len(report.held)} clauses held, {len(broken)} broken, "
        f"{len(report.findings) - len(broken)} with additive findings only, "
        f"{len(report.not_verified)} not verified by recorded answers alone; "
        f"{readable} of {report.cassettes} cassettes readable"
    )
    return "\n".join(lines)
