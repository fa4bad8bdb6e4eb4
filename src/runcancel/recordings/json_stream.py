"""JSON recordings read one list item at a time: vcrpy's and Ruby VCR's JSON cassettes, HAR files.

The reader walks the top-level object key by key with the standard decoder and, at the list of
interactions (`interactions`, `http_interactions`, or `log.entries`), decodes one item at a time
from a buffer that grows only to the size of the largest item: a 100 MB HAR is never held whole.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any, Protocol

__all__ = ["JsonError", "JsonListReader"]

_WS = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()
# key path -> list: the lists of interactions the formats keep
LISTS = {("interactions",), ("http_interactions",), ("log", "entries")}
_READ = 1 << 20


class Readable(Protocol):
    def read(self, size: int, /) -> str: ...


class JsonError(Exception):
    """Text that is not JSON, or not laid out as a recording: the problem and the line (1-based)."""

    def __init__(self, problem: str, line: int | None) -> None:
        self.problem = problem
        self.line = line
        super().__init__(problem)


class JsonListReader:
    """The top-level keys of a JSON recording and, one by one, the items of its list of interactions."""

    def __init__(self, stream: Readable) -> None:
        self._fh = stream
        self._text = ""
        self._pos = 0
        self._eof = False
        self._line = 1  # the line of self._pos
        self._counted = 0  # self._text[:self._counted] is counted into self._line
        self.top: dict[str, Any] = {}
        self.list_path: tuple[str, ...] | None = None
        self.list_line = 0

    # -- the buffer --------------------------------------------------------------------------------

    def _fill(self, at_least: int = 0) -> bool:
        if self._eof:
            return False
        self._advance_line()
        self._text, self._pos, self._counted = self._text[self._pos :], 0, 0
        chunk = self._fh.read(max(at_least, _READ))
        if not chunk:
            self._eof = True
            return False
        self._text += chunk
        return True

    def _advance_line(self) -> None:
        if self._pos > self._counted:
            self._line += self._text.count("\n", self._counted, self._pos)
            self._counted = self._pos

    @property
    def line(self) -> int:
        self._advance_line()
        return self._line

    def _peek(self) -> str:
        while True:
            self._pos = _WS.match(self._text, self._pos).end()  # type: ignore[union-attr]
            if self._pos < len(self._text) or not self._fill():
                return self._text[self._pos : self._pos + 1]

    def _expect(self, chars: str) -> str:
        found = self._peek()
        if not found or found not in chars:
            shown = repr(found) if found else "the end of the file"
            raise JsonError(
                f"is not valid JSON: expected {' or '.join(map(repr, chars))}, found {shown}", self.line
            )
        self._pos += 1
        return found

    def _value(self) -> Any:
        self._peek()
        while True:
            try:
                value, end = _DECODER.raw_decode(self._text, self._pos)
            except json.JSONDecodeError as exc:
                if self._fill(len(self._text)):  # the value may go on past the buffer: read more
                    continue
                self._pos = min(exc.pos, len(self._text))
                raise JsonError(f"is not valid JSON: {exc.msg}", self.line) from None
            # A number at the buffer's end may go on in the next chunk.
            at_end = end >= len(self._text) and not self._eof and isinstance(value, int | float)
            if at_end and self._fill(len(self._text)):
                continue
            self._pos = end
            return value

    # -- walking -----------------------------------------------------------------------------------

    def items(self) -> Iterator[tuple[int, Any]]:
        """(line, item) for each interaction; `top` and `list_path` are filled on the way."""
        if self._peek() != "{":
            kind = "empty" if not self._peek() else f"starts with {self._peek()!r}"
            raise JsonError(f"is not a recording: its top level is not a JSON object ({kind})", self.line)
        yield from self._object((), self.top)
        if self._peek():
            raise JsonError("is not valid JSON: more data after the top-level object", self.line)

    def _object(self, path: tuple[str, ...], into: dict[str, Any] | None) -> Iterator[tuple[int, Any]]:
        self._expect("{")
        if self._peek() == "}":
            self._pos += 1
            return
        while True:
            key = self._value()
            if not isinstance(key, str):
                raise JsonError("is not valid JSON: an object key is not a string", self.line)
            self._expect(":")
            here = (*path, key)
            if here in LISTS and self._peek() == "[" and self.list_path is None:
                self.list_path, self.list_line = here, self.line
                yield from self._list()
            elif any(p[: len(here)] == here for p in LISTS) and self._peek() == "{":
                inner: dict[str, Any] = {}
                yield from self._object(here, inner)
                if into is not None:
                    into[key] = inner
            else:
                value = self._value()
                if into is not None:
                    into[key] = value
            if self._expect(",}") == "}":
                return

    def _list(self) -> Iterator[tuple[int, Any]]:
        self._expect("[")
        if self._peek() == "]":
            self._pos += 1
            return
        while True:
            self._peek()
            line = self.line
            yield line, self._value()
            if self._expect(",]") == "]":
                return
