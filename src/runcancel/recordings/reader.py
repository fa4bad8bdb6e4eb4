"""Which format a file is in, from its content, and its exchanges read one at a time.

`read_recording` opens a file, tells its format from what it holds (not from its name), and returns
a `Recording` whose exchanges are read as they are asked for. A file that cannot be used raises
`RecordingError` naming the file, the line where known and the formats understood; a file cut short
is `incomplete`. `find_recordings` lists the files of a folder that may be recordings.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from runcancel.recordings.adapters import ADAPTERS, AdapterError
from runcancel.recordings.json_stream import JsonError, JsonListReader
from runcancel.recordings.model import UNDERSTOOD, Recorded, Recording, RecordingError
from runcancel.recordings.yaml_stream import YamlError, YamlListReader

__all__ = ["SUFFIXES", "find_recordings", "read_recording"]

SUFFIXES = (".yaml", ".yml", ".json", ".har")
# Files runcancel writes beside its cassettes that are not recorded traffic: the probe's recorded
# cases (`<cassette>.cases.json`). A folder walk leaves them out; named alone, they are read (and refused).
COMPANIONS = (".cases.json",)
_HEAD = 4096


def find_recordings(root: Path) -> list[Path]:
    """The recording files at `root`: a file, or a folder searched recursively.

    FileNotFoundError if `root` does not exist."""
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise FileNotFoundError(str(root))
    return sorted(
        p
        for p in root.rglob("*")
        if p.suffix.lower() in SUFFIXES and not p.name.lower().endswith(COMPANIONS) and p.is_file()
    )


def read_recording(path: Path) -> Recording:
    """Open `path` and tell its format; the exchanges are read lazily (RecordingError may come then too).

    FileNotFoundError when the file does not exist; RecordingError when it is not a recording.
    """
    try:
        stream = path.open(encoding="utf-8-sig")
        head = stream.read(_HEAD)
    except FileNotFoundError:
        raise
    except UnicodeDecodeError as exc:
        raise RecordingError(path, f"is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise RecordingError(path, f"cannot be read ({exc.strerror or exc})", hint="") from None
    if not head.strip():
        stream.close()
        raise RecordingError(path, "is empty: it holds no recorded interactions")
    whole = _Rewound(head, stream)
    if head.lstrip()[:1] in ("{", "["):
        return _json(path, whole)
    return _yaml(path, whole)


class _Rewound:
    """The head already read, then the rest of the stream."""

    def __init__(self, head: str, rest: IO[str]) -> None:
        self._head = head
        self._rest = rest

    def read(self, size: int | None = -1, /) -> str:
        if self._head:
            if size is None or size < 0:
                text, self._head = self._head + self._rest.read(), ""
                return text
            text, self._head = self._head[:size], self._head[size:]
            return text
        return self._rest.read(-1 if size is None else size)

    def __iter__(self) -> Iterator[str]:
        if self._head:
            head, self._head = self._head, ""
            lines = io.StringIO(head).readlines()
            if lines and not lines[-1].endswith("\n"):  # the head's last line goes on in the rest
                lines[-1] += self._rest.readline()
            yield from lines
        yield from self._rest

    def close(self) -> None:
        self._rest.close()


def _yaml(path: Path, stream: _Rewound) -> Recording:
    try:
        reader = YamlListReader(path, stream)
    except YamlError as exc:
        stream.close()
        raise RecordingError(path, exc.problem, exc.line, ours=_looks_ours(stream, path)) from None
    except UnicodeDecodeError as exc:
        stream.close()
        raise RecordingError(path, f"is not UTF-8 text ({exc.reason})") from None
    provenance = reader.top.get("provenance")
    ours = isinstance(provenance, dict)
    if reader.list_key is None and not any(k in reader.top for k in ("interactions", "http_interactions")):
        stream.close()
        keys = ", ".join(f"`{k}`" for k in list(reader.top)[:5]) or "none"
        raise RecordingError(
            path,
            f"is not a recording runcancel understands: a YAML mapping without `interactions` or "
            f"`http_interactions` (its top-level keys: {keys}). runcancel reads {UNDERSTOOD}",
            1,
            ours=ours,
        )
    ruby = (reader.list_key or "") == "http_interactions" or "http_interactions" in reader.top
    kind = "ruby-vcr-yaml" if ruby else ("runcancel" if ours else "vcrpy-yaml")
    recording = Recording(path, kind, provenance if ours else None, iter(()))
    recording.exchanges = _yaml_exchanges(recording, reader, stream)
    return recording


def _yaml_exchanges(recording: Recording, reader: YamlListReader, stream: _Rewound) -> Iterator[Recorded]:
    path, ours = recording.path, recording.ours
    adapter = ADAPTERS[recording.format]
    count = 0
    try:
        try:
            for line, item in reader.items():
                yield adapter(path, count, line, item)
                count += 1
        except YamlError as exc:
            raise RecordingError(path, exc.problem, exc.line, ours=ours, incomplete=_cut(exc)) from None
        except AdapterError as exc:
            raise RecordingError(path, exc.problem, exc.line, ours=ours) from None
        except UnicodeDecodeError as exc:
            raise RecordingError(path, f"is not UTF-8 text ({exc.reason})", ours=ours) from None
    finally:
        stream.close()
    _complete(recording, reader.top, count, reader.ended_with_newline, reader.list_line)


def _cut(exc: YamlError | JsonError) -> bool:
    return "end of stream" in exc.problem or "end of the file" in exc.problem or "Unterminated" in exc.problem


def _complete(recording: Recording, top: dict[str, Any], count: int, newline: bool, line: int) -> None:
    """Raise RecordingError(incomplete) for a file cut short; notes for what only looks odd."""
    path, ours = recording.path, recording.ours
    provenance = recording.provenance or {}
    if ours and provenance.get("interrupted"):
        raise RecordingError(
            path,
            f"is incomplete: its recording was interrupted ({provenance['interrupted']}) after {count} "
            "interactions",
            line,
            ours=True,
            incomplete=True,
        )
    expected = provenance.get("interactions")
    if ours and isinstance(expected, int) and expected != count:
        raise RecordingError(
            path,
            f"is incomplete: its provenance says {expected} interactions, the file holds {count} "
            "(cut short, say by an interrupted recording or a full disk)",
            line,
            ours=True,
            incomplete=True,
        )
    if recording.format == "vcrpy-yaml" and "version" not in top:
        raise RecordingError(
            path,
            f"is incomplete: it ends after {count} interactions without vcrpy's closing `version: 1` "
            "(cut short?)",
            line,
            incomplete=True,
        )
    if recording.format == "ruby-vcr-yaml" and "recorded_with" not in top:
        raise RecordingError(
            path,
            f"is incomplete: it ends after {count} interactions without Ruby VCR's closing "
            "`recorded_with:` (cut short?)",
            line,
            incomplete=True,
        )
    if recording.format in ("runcancel", "vcrpy-yaml", "vcrpy-json") and top.get("version") not in (None, 1):
        raise RecordingError(
            path,
            f"has cassette format version {top.get('version')!r}; vcrpy's format 1 is read",
            line,
            ours=ours,
        )
    if not newline:
        if ours:
            raise RecordingError(
                path, "is incomplete: its last line is cut short", None, ours=True, incomplete=True
            )
        recording.notes.append("the last line has no line end (cut short?)")
    if count == 0:
        raise RecordingError(path, "is empty: its list of interactions is empty", line, ours=ours)
    if ours and expected is None:
        recording.notes.append(
            "completeness not verified: recorded before cassettes carried their interaction count"
        )


def _looks_ours(stream: _Rewound, path: Path) -> bool:
    try:
        with path.open(encoding="utf-8", errors="replace") as fh:
            return fh.read(_HEAD).lstrip().startswith("provenance:")
    except OSError:
        return False


_JSON_FORMATS = {
    ("interactions",): "vcrpy-json",
    ("http_interactions",): "ruby-vcr-json",
    ("log", "entries"): "har",
}


def _json(path: Path, stream: _Rewound) -> Recording:
    reader = JsonListReader(stream)
    items = reader.items()
    try:
        first = next(items, None)
    except JsonError as exc:
        stream.close()
        raise RecordingError(path, exc.problem, exc.line, incomplete=_cut(exc)) from None
    if reader.list_path is None:
        stream.close()
        keys = ", ".join(f"`{k}`" for k in list(reader.top)[:5]) or "none"
        raise RecordingError(
            path,
            "is not a recording runcancel understands: a JSON object without `interactions`, "
            f"`http_interactions` or `log.entries` (its top-level keys: {keys}). "
            f"runcancel reads {UNDERSTOOD}",
            1,
        )
    kind = _JSON_FORMATS[reader.list_path]
    provenance = reader.top.get("provenance")
    ours = isinstance(provenance, dict) and kind == "vcrpy-json"
    recording = Recording(path, kind, provenance if ours else None, iter(()))

    def exchanges() -> Iterator[Recorded]:
        adapter = ADAPTERS[kind]
        count = 0
        try:
            try:
                for line, item in [first] if first is not None else []:
                    yield adapter(path, count, line, item)
                    count += 1
                for line, item in items:
                    yield adapter(path, count, line, item)
                    count += 1
            except JsonError as exc:
                raise RecordingError(path, exc.problem, exc.line, ours=ours, incomplete=_cut(exc)) from None
            except AdapterError as exc:
                raise RecordingError(path, exc.problem, exc.line, ours=ours) from None
        finally:
            stream.close()
        if kind == "har":
            version = (reader.top.get("log") or {}).get("version")
            if version not in (None, "1.2", "1.1"):
                recording.notes.append(f"HAR version {version!r}: read as 1.2")
        _complete(recording, reader.top, count, True, reader.list_line)

    recording.exchanges = exchanges()
    return recording
