"""YAML cassettes read one interaction at a time, with the line every mapping starts on.

A cassette is a mapping whose one big key is a list of interactions (`interactions` for vcrpy,
`http_interactions` for Ruby VCR). The reader takes libyaml's events as the file is read and builds
one interaction at a time, so a 100 MB cassette costs the memory of its largest interaction, not of
the whole document. Scalars are resolved as PyYAML's safe loader resolves them (`!!binary` to bytes;
tags beyond YAML's own are refused), anchors and aliases are kept.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

__all__ = ["Located", "YamlError", "YamlListReader"]

_SafeLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
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


class YamlListReader:
    """The top-level keys of a cassette and, one by one, the items of its list of interactions.

    libyaml's parser (when PyYAML has it) reads the file as a stream of events; the objects are built
    from the events here, one interaction at a time, with the line of every mapping. `top` holds the
    other top-level keys: those before the list when `items()` starts, those after it once `items()`
    is exhausted. `ended_with_newline` says whether the last line was whole (a file cut mid-line is not).
    """

    def __init__(self, path: Path, stream: Any) -> None:
        self.path = path
        self._events = yaml.parse(stream, Loader=_SafeLoader)
        self._anchors: dict[str, Any] = {}
        self._constructor = yaml.constructor.SafeConstructor()
        self._resolver = yaml.resolver.Resolver()
        self.top: dict[str, Any] = {}
        self.top_lines: dict[str, int] = {}
        self.list_key: str | None = None
        self.list_line = 0
        self.ended_with_newline = _ends_with_newline(path)
        self._started = False
        self._done = False
        self._read_top()

    def _next(self) -> Any:
        try:
            return next(self._events)
        except StopIteration:
            raise YamlError("is not valid YAML: it ends in the middle of the document", None) from None
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            problem = ": ".join(p for p in (exc.context, exc.problem) if p)
            raise YamlError(f"is not valid YAML: {problem}", mark.line + 1 if mark else None) from None
        except yaml.YAMLError as exc:
            raise YamlError(f"is not valid YAML: {exc}", None) from None

    def _read_top(self) -> None:
        """Read up to the list of interactions (its first item not yet read), or to the end."""
        if not self._started:
            self._started = True
            event = self._next()
            while isinstance(event, yaml.StreamStartEvent | yaml.DocumentStartEvent):
                event = self._next()
            if isinstance(event, yaml.StreamEndEvent):
                raise YamlError("is empty: it holds no YAML document", None)
            if not isinstance(event, yaml.MappingStartEvent):
                value = self._build(event)
                raise YamlError(f"is not a cassette: its top level is {_kind(value)}, not a mapping", 1)
        while True:
            event = self._next()
            if isinstance(event, yaml.MappingEndEvent):
                self._finish()
                return
            line = _at(event)
            key = self._build(event)
            value_event = self._next()
            if (
                key in LIST_KEYS
                and isinstance(value_event, yaml.SequenceStartEvent)
                and self.list_key is None
            ):
                self.list_key, self.list_line = str(key), line
                return
            self.top[str(key)] = self._build(value_event)
            self.top_lines[str(key)] = line

    def _finish(self) -> None:
        event = self._next()
        if isinstance(event, yaml.DocumentEndEvent):
            event = self._next()
        if not isinstance(event, yaml.StreamEndEvent):
            raise YamlError("holds more than one YAML document", _at(event))
        self._done = True

    def items(self) -> Iterator[tuple[int, Any]]:
        """(line, item) for each interaction, in file order."""
        if self.list_key is None:
            value = next((self.top.get(k) for k in LIST_KEYS if k in self.top), None)
            for item in value if isinstance(value, list) else []:
                yield _line(item, self.top_lines.get(str(self.list_key), 1)), item
            return
        while True:
            event = self._next()
            if isinstance(event, yaml.SequenceEndEvent):
                break
            line = _at(event)
            yield line, self._build(event)
        key = self.list_key
        self._read_top()
        self.list_key = key

    # -- objects from events -----------------------------------------------------------------------

    def _build(self, event: Any) -> Any:
        if isinstance(event, yaml.ScalarEvent):
            value = self._scalar(event)
        elif isinstance(event, yaml.MappingStartEvent):
            value = Located()
            value.line = _at(event)
            self._anchor(event, value)
            while not isinstance(key_event := self._next(), yaml.MappingEndEvent):
                key = self._build(key_event)
                item = self._build(self._next())
                try:
                    value[key] = item
                except TypeError:
                    raise YamlError("has a mapping key that is not a scalar", _at(key_event)) from None
            return value
        elif isinstance(event, yaml.SequenceStartEvent):
            value = []
            self._anchor(event, value)
            while not isinstance(item_event := self._next(), yaml.SequenceEndEvent):
                value.append(self._build(item_event))
            return value
        elif isinstance(event, yaml.AliasEvent):
            if event.anchor not in self._anchors:
                raise YamlError(f"is not valid YAML: found undefined alias {event.anchor!r}", _at(event))
            return self._anchors[event.anchor]
        else:
            raise YamlError(f"is not valid YAML: unexpected {type(event).__name__}", _at(event))
        self._anchor(event, value)
        return value

    def _anchor(self, event: Any, value: Any) -> None:
        if event.anchor is not None:
            self._anchors[event.anchor] = value

    def _scalar(self, event: Any) -> Any:
        tag, text = event.tag, event.value
        if tag in (None, "!"):
            if not event.implicit[0]:
                return text
            resolve: Any = self._resolver.resolve
            tag = resolve(yaml.ScalarNode, text, (True, False))
        if tag == _STR:
            return text
        if tag == _INT and text.isdigit():
            return int(text)
        if tag == _BINARY:
            try:
                return base64.decodebytes(text.encode("ascii"))
            except (ValueError, UnicodeEncodeError):
                raise YamlError("has a `!!binary` value that is not base64", _at(event)) from None
        construct = self._constructor.yaml_constructors.get(tag)
        if construct is None or not tag.startswith("tag:yaml.org,2002:"):
            raise YamlError(f"has a tag the safe reader does not take: {tag}", _at(event))
        try:
            return construct(self._constructor, yaml.ScalarNode(tag, text, event.start_mark, event.end_mark))
        except yaml.YAMLError as exc:
            raise YamlError(f"is not valid YAML: {exc}", _at(event)) from None


_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_BINARY = "tag:yaml.org,2002:binary"


def _at(event: Any) -> int:
    mark = event.start_mark
    return int(mark.line) + 1 if mark is not None else 0


def _ends_with_newline(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            fh.seek(0, 2)
            if fh.tell() == 0:
                return True
            fh.seek(-1, 2)
            return fh.read(1) == b"\n"
    except OSError:
        return True


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
