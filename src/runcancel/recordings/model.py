"""The project's own record of one recorded request and its answer, whatever format it came from.

Every reader (vcrpy, Ruby VCR, HAR) turns its outside shape into `Recorded` exchanges at the door;
nothing past the door knows which format a file was in, only its name for the output.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from runcancel.targets import Exchange

__all__ = [
    "FORMATS",
    "Recorded",
    "Recording",
    "RecordingError",
    "display_path",
]

# format id -> what the output calls it
FORMATS: dict[str, str] = {
    "runcancel": "runcancel cassette (vcrpy YAML with provenance)",
    "vcrpy-yaml": "vcrpy cassette (YAML)",
    "vcrpy-json": "vcrpy cassette (JSON serializer)",
    "ruby-vcr-yaml": "Ruby VCR cassette (YAML, http_interactions)",
    "ruby-vcr-json": "Ruby VCR cassette (JSON, http_interactions)",
    "har": "HAR 1.2 (HTTP Archive)",
}
UNDERSTOOD = (
    "vcrpy cassettes (YAML or JSON, with or without runcancel's provenance), Ruby VCR cassettes "
    "(`http_interactions`, YAML or JSON) and HAR 1.2 files"
)
RECORD_HINT = "pytest contracts --target mock --record-mode rewrite"


def display_path(path: Path) -> str:
    """The path relative to the working directory when it lies below it, else as given."""
    return _display(str(path), os.getcwd())


@functools.lru_cache(maxsize=1024)
def _display(path: str, cwd: str) -> str:
    try:
        return os.path.relpath(path, cwd) if Path(path).resolve().is_relative_to(cwd) else path
    except (OSError, ValueError):
        return path


class RecordingError(Exception):
    """A recording that exists but cannot be used: which file, which line, what is understood, what to do.

    `ours` says whether runcancel recorded the file: only then is recording it again the advice.
    `incomplete` marks a file cut short (an interrupted recording), as opposed to one never usable.
    """

    def __init__(
        self,
        path: Path,
        problem: str,
        line: int | None = None,
        *,
        ours: bool = False,
        incomplete: bool = False,
        hint: str | None = None,
    ) -> None:
        self.path = path
        self.problem = problem
        self.line = line
        self.ours = ours
        self.incomplete = incomplete
        if hint is None:
            hint = (
                f"Record it again: {RECORD_HINT} (see README, Record and replay)."
                if ours
                else f"runcancel reads {UNDERSTOOD}; this file was not recorded by runcancel, so fix or "
                "export it again with the tool that made it, or leave it out."
            )
        self.hint = hint
        super().__init__(str(self))

    @property
    def location(self) -> str:
        return f"{display_path(self.path)}:{self.line}" if self.line else display_path(self.path)

    def __str__(self) -> str:
        return f"{self.location}: {self.problem}" + (f"\n  {self.hint}" if self.hint else "")

    def __reduce__(self) -> tuple[object, ...]:  # picklable: reports come back from worker processes
        return (_error, (self.path, self.problem, self.line, self.ours, self.incomplete, self.hint))


def _error(
    path: Path, problem: str, line: int | None, ours: bool, incomplete: bool, hint: str
) -> RecordingError:
    return RecordingError(path, problem, line, ours=ours, incomplete=incomplete, hint=hint)


@dataclass(frozen=True)
class Recorded:
    """One recorded request and its answer, the body decoded (content-encoding undone)."""

    file: Path
    line: int  # where the exchange starts in its file (1-based); 0 when unknown
    index: int  # its position in the file, from 0
    method: str
    url: str
    request_headers: Mapping[str, str]  # lower-cased names, first value
    status: int
    headers: httpx.Headers
    body: bytes
    undecoded: str | None = None  # why the body could not be decoded (say, brotli not installed)

    @property
    def path(self) -> str:
        return urlsplit(self.url).path

    @property
    def where(self) -> str:
        return f"{display_path(self.file)}:{self.line}" if self.line else display_path(self.file)

    @property
    def content_type(self) -> str:
        return str(self.headers.get("content-type", "")).split(";")[0].strip().lower()

    def exchange(self) -> Exchange:
        """The exchange the suites' checks take."""
        return Exchange(self.method, self.url, self.status, self.headers, self.body, elapsed=0.0)


@dataclass
class Recording:
    """One file of recorded traffic: its format, its provenance (runcancel's own), its exchanges.

    `exchanges` is an iterator read as the file is read (a 100 MB file is never held whole); once it
    is exhausted, `notes` says what the reader noticed and `complete` whether the file was whole.
    """

    path: Path
    format: str  # a key of FORMATS
    provenance: Mapping[str, Any] | None
    exchanges: Iterator[Recorded] = field(repr=False)
    notes: list[str] = field(default_factory=list)

    @property
    def ours(self) -> bool:
        return self.provenance is not None

    @property
    def format_name(self) -> str:
        return FORMATS[self.format]
