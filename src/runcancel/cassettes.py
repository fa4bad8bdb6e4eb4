"""runcancel's own cassettes: read with line numbers for replay, written with provenance.

A cassette is vcrpy's YAML format (version 1) with one more top-level mapping, written first:

    provenance: {recorded_from, target, recorded_at, suite, record_mode, recorder, interactions}
                (and provider_state, when the suites asked one)
    version: 1
    interactions:
    - request: {method, uri, body, headers}
      response: {status: {code, message}, headers, body: {string}}

`read_cassette` is replay's reader: a file that exists but cannot be used raises `CassetteError`
naming the file and the line, never a YAML or KeyError traceback. `provenance.interactions` is the
number of interactions written, so that a file cut short is known as such; a cassette written while
the recording was being interrupted (Ctrl-C) says so in `provenance.interrupted`. Checking recorded
traffic of any format (these cassettes, other projects' vcrpy and Ruby VCR cassettes, HAR files) is
`runcancel.recordings`.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import yaml

from runcancel.targets import Exchange

__all__ = [
    "CANCEL_PATH",
    "CassetteError",
    "CassetteFile",
    "Interaction",
    "dump_cassette",
    "find_cassettes",
    "read_cassette",
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


def read_cassette(path: Path, *, lines: bool = True) -> CassetteFile:
    """Read and validate one cassette. FileNotFoundError if it does not exist; CassetteError if unusable.

    With `lines=False` (replay's reader) the interactions' lines are not kept, which reads faster;
    an error still names its line.
    """
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
    if lines:
        return _validated(path, _document(path, text, _LineLoader))
    # Without line numbers; a cassette that turns out to be unusable is read again with them, so
    # that its error names the line.
    try:
        return _validated(path, _document(path, text, _SafeLoader))
    except CassetteError:
        return _validated(path, _document(path, text, _LineLoader))


def _document(path: Path, text: str, loader: Any) -> dict[str, Any]:
    try:
        document = yaml.load(text, Loader=loader)
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
    return document


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
    from the very search that proves it absent). The provenance gets the number of interactions, and
    `interrupted` when the cassette is written while a KeyboardInterrupt unwinds the recording (vcrpy
    saves what it has on the way out): either lets a reader tell a cassette cut short.
    """
    provenance = dict(provenance)
    interactions = document.get("interactions")
    if isinstance(interactions, list):
        provenance["interactions"] = len(interactions)
    in_flight = sys.exc_info()[1]
    if isinstance(in_flight, KeyboardInterrupt):
        provenance["interrupted"] = "KeyboardInterrupt (Ctrl-C)"
    data = {"provenance": provenance, **{k: _plain(v) for k, v in document.items()}}
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
