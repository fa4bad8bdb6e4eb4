"""The mock's answers as JSON bytes: one encoder for every answer, and Runs from parts encoded once.

Every answer is encoded as ``json.dumps`` encodes it (``", "`` and ``": "`` between items, non-ASCII
escaped, so any decoded input, even a lone surrogate, encodes). A Run is what the mock answers most,
and most of its keys never change once it is created: :class:`RunEncoder` encodes those once per run
(in the era's order, again when an update replaces the metadata) and each answer then encodes only
the keys that follow the run's status, mostly nulls and numbers. The bytes are the same either way.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

from runcancel.mock.fields import JSONObject

CHANGING_RUN_KEYS = frozenset(
    {
        "status",
        "started_at",
        "expires_at",
        "cancelled_at",
        "failed_at",
        "completed_at",
        "required_action",
        "last_error",
        "incomplete_details",
        "usage",
    }
)
"""The keys of a Run whose values follow its status; the others are fixed (the metadata changes only
by an update, and the store encodes the fixed keys again then)."""

# No check for circular references: answers are built from decoded JSON, which has none.
_encode = json.JSONEncoder(check_circular=False).encode


def encode(value: Any) -> bytes:
    """The JSON of an answer, byte for byte what ``json.dumps(value).encode()`` gives."""
    return _encode(value).encode("ascii")


def _items(view: JSONObject, keys: tuple[str, ...]) -> bytes:
    """``"key": value, ...`` of the given keys, without the braces."""
    return encode({key: view[key] for key in keys})[1:-1]


def _value(value: Any) -> bytes:
    """The JSON of one value, the common ones of a Run's changing keys without the encoder's set-up."""
    if value is None:
        return b"null"
    if type(value) is int:
        return b"%d" % value
    return encode(value)


class RunEncoder:
    """Encodes Runs with one era's keys: the fixed keys of each run once, the changing ones per answer."""

    def __init__(self, keys: tuple[str, ...]) -> None:
        # Consecutive keys in the era's order, grouped by whether they are fixed; a changing key
        # comes with its encoded name.
        self._groups = tuple(
            (fixed, tuple((key, encode(key) + b": ") for key in group))
            for fixed, group in itertools.groupby(keys, key=lambda key: key not in CHANGING_RUN_KEYS)
        )

    def fixed(self, view: JSONObject) -> tuple[bytes, ...]:
        """The encoded groups of fixed keys of a run, from any view of it (in the era's shape)."""
        return tuple(_items(view, tuple(key for key, _ in group)) for fixed, group in self._groups if fixed)

    def encode(self, fixed: tuple[bytes, ...], view: JSONObject) -> bytes:
        """The Run's JSON: ``fixed`` (from :meth:`fixed`) with the changing keys read from ``view``."""
        parts: list[bytes] = []
        stored = iter(fixed)
        for is_fixed, group in self._groups:
            if is_fixed:
                parts.append(next(stored))
                continue
            for key, name in group:
                value = view[key]
                parts.append(name + (b"null" if value is None else _value(value)))
        return b"{" + b", ".join(parts) + b"}"


class RunAnswer(dict[str, Any]):
    """A Run view that knows its JSON: the run's fixed parts, encoded once, and the changing keys.

    It is a plain dict to everything else (and encodes like one inside a list or an event). A view
    is never changed once made, so its fixed parts stay true to it.
    """

    __slots__ = ("_encoder", "_fixed")

    def __init__(self, view: JSONObject, encoder: RunEncoder, fixed: tuple[bytes, ...]) -> None:
        super().__init__(view)
        self._encoder = encoder
        self._fixed = fixed

    def json(self) -> bytes:
        """The JSON of this Run, the same bytes as :func:`encode` of it."""
        if not self._fixed:
            return encode(self)
        return self._encoder.encode(self._fixed, self)
