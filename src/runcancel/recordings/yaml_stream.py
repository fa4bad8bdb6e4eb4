"""YAML cassettes read one interaction at a time, with the line every mapping starts on.

A cassette is a mapping whose one big key is a list of interactions (`interactions` for vcrpy,
`http_interactions` for Ruby VCR). The reader splits that list at its items' dashes and parses each
item on its own, so a 100 MB cassette costs the memory of its largest interaction, not of the whole
document. The other top-level keys (`provenance`, `version`, `recorded_with`) are parsed whole.
Items that share YAML anchors cannot be parsed apart: then the document is parsed whole, once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import yaml

__all__ = ["Located", "YamlError", "YamlListReader", "load_located"]

_SafeLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_TOP_KEY = re.compile(r"^([A-Za-z_][\w.-]*)\s*:(.*)$")
_ITEM = re.compile(r"^(\s*)-(?:\s|$)")
LIST_KEYS = ("interactions", "http_interactions")


class YamlError(Exception):
    """Text that is not YAML, or not laid out as a cassette: the problem and the line (1-based)."""

    def __init__(self, problem: str, line: int | None) -> None:
        self.problem = problem
        self.line = line
        super().__init__(problem)


class Located(dict[Any, Any]):
    """A mapping read from YAML that remembers the line it starts on."""

    line: int = 0


class _LineLoader(_SafeLoader):  # type: ignore[misc]
    """The safe loader (libyaml's when present), keeping each mapping's line, shifted by `offset`."""

    offset = 0


def _construct_located(loader: _LineLoader, node: yaml.MappingNode) -> Iterator[Located]:
    data = Located()
    data.line = node.start_mark.line + 1 + loader.offset
    yield data
    data.update(loader.construct_mapping(node))


_LineLoader.add_constructor("tag:yaml.org,2002:map", _construct_located)


def load_located(text: str, offset: int = 0) -> Any:
    """Parse one YAML document; mappings are `Located`. YamlError with the file's line on failure."""
    loader = _LineLoader(text)
    loader.offset = offset
    try:
        return loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 + offset if mark is not None else None
        problem = ": ".join(p for p in (exc.context, exc.problem) if p)
        raise YamlError(f"is not valid YAML: {problem}", line) from None
    except yaml.YAMLError as exc:
        raise YamlError(f"is not valid YAML: {exc}", None) from None
    finally:
        loader.dispose()


class _Alias(Exception):
    """An item refers to an anchor defined in another item: parse the document whole."""


class YamlListReader:
    """The top-level keys of a cassette and, one by one, the items of its list of interactions.

    `top` holds the other top-level keys: those before the list when `items()` starts, those after it
    once `items()` is exhausted. `list_key` is the list's key, `ended_with_newline` whether the last
    line was whole (a file cut mid-line is not).
    """

    def __init__(self, path: Path, stream: Iterable[str]) -> None:
        self.path = path
        self._lines = enumerate(stream, start=1)
        self.top: dict[str, Any] = {}
        self.top_lines: dict[str, int] = {}
        self.list_key: str | None = None
        self.list_line = 0
        self.ended_with_newline = True
        self._pending: tuple[int, str] | None = None
        self._read_until_list()

    # -- the top-level keys --------------------------------------------------------------------------

    def _next(self) -> tuple[int, str] | None:
        if self._pending is not None:
            found, self._pending = self._pending, None
            return found
        for number, line in self._lines:
            self.ended_with_newline = line.endswith("\n")
            return number, line
        return None

    def _read_until_list(self) -> None:
        block: list[str] = []
        start = 0
        while (found := self._next()) is not None:
            number, line = found
            key = _TOP_KEY.match(line)
            if key and key[1] in LIST_KEYS and not key[2].split("#")[0].strip():
                self._flush(block, start)
                self.list_key, self.list_line = key[1], number
                return
            if key or line.startswith("---"):
                self._flush(block, start)
                block, start = ([line], number) if key else ([], number + 1)
            elif block or line.strip():
                if not block:
                    start = number
                block.append(line)
        self._flush(block, start)

    def _flush(self, block: list[str], start: int) -> None:
        text = "".join(block)
        if not text.strip():
            return
        data = load_located(text, start - 1)
        if not isinstance(data, dict):
            raise YamlError(f"is not a cassette: its top level is {_kind(data)}, not a mapping", start)
        for key, value in data.items():
            self.top[str(key)] = value
            self.top_lines[str(key)] = start

    # -- the items -----------------------------------------------------------------------------------

    def items(self) -> Iterator[tuple[int, Any]]:
        """(line, item) for each interaction, in file order."""
        if self.list_key is None:
            value = next((self.top.get(k) for k in LIST_KEYS if k in self.top), None)
            for item in value if isinstance(value, list) else []:
                yield _line(item, self.top_lines.get(str(self.list_key), 1)), item
            return
        indent: str | None = None
        chunk: list[str] = []
        start = 0
        done = 0
        try:
            while (found := self._next()) is not None:
                number, line = found
                if not line.strip() or line.lstrip().startswith("#"):
                    if chunk:
                        chunk.append(line)
                    continue
                item = _ITEM.match(line)
                if item and (indent is None or item[1] == indent):
                    if chunk:
                        yield self._item(chunk, start, indent or "")
                        done += 1
                    indent = item[1]
                    chunk, start = [line], number
                elif indent is not None and line.startswith(indent + " "):
                    chunk.append(line)
                else:
                    self._pending = found
                    break
            if chunk:
                yield self._item(chunk, start, indent or "")
                done += 1
        except _Alias:
            yield from self._whole(done)
            return
        self._read_until_list_end()

    def _item(self, chunk: list[str], start: int, indent: str) -> tuple[int, Any]:
        text = "".join(line[len(indent) :] if line.startswith(indent) else line for line in chunk)
        try:
            data = load_located(text, start - 1)
        except YamlError as exc:
            if "found undefined alias" in exc.problem:
                raise _Alias() from None
            raise
        if not isinstance(data, list) or len(data) != 1:
            raise YamlError("an interaction is not a list item", start)
        return _line(data[0], start), data[0]

    def _read_until_list_end(self) -> None:
        key, self.list_key = self.list_key, None
        self._read_until_list()
        if self.list_key is not None:
            raise YamlError(f"has a second list of interactions, `{self.list_key}`", self.list_line)
        self.list_key = key

    def _whole(self, skip: int) -> Iterator[tuple[int, Any]]:
        """Parse the document whole (items share anchors) and yield the items not yet yielded."""
        text = self.path.read_text(encoding="utf-8")
        data = load_located(text)
        if not isinstance(data, dict):
            raise YamlError(f"is not a cassette: its top level is {_kind(data)}, not a mapping", 1)
        for key, value in data.items():
            if str(key) not in LIST_KEYS:
                self.top[str(key)] = value
        items: Any = next((data[k] for k in LIST_KEYS if k in data), [])
        self.ended_with_newline = text.endswith("\n")
        for item in (items if isinstance(items, list) else [])[skip:]:
            yield _line(item, 1), item


def _line(node: Any, default: int) -> int:
    return node.line if isinstance(node, Located) and node.line else default


def _kind(value: Any) -> str:
    if value is None:
        return "empty"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return "a string" if isinstance(value, str) else f"a {type(value).__name__}"
