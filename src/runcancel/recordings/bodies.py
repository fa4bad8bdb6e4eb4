"""Recorded bodies as the client read them: `Content-Encoding` undone (gzip, deflate, brotli).

vcrpy keeps a compressed answer as recorded (a `!!binary` string of gzip bytes) unless it was told
to decode it; Ruby VCR and HAR keep base64 text. Brotli needs the optional `brotli` package: without
it such a body is left undecoded and every check of it is "not verified", with the reason.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import Any

__all__ = ["BodyError", "decode_body"]


class BodyError(ValueError):
    """A body the reader cannot decode; the message is the reason, for a "not verified"."""


def _gunzip(data: bytes) -> bytes:
    return zlib.decompress(data, 16 + zlib.MAX_WBITS)


def _inflate(data: bytes) -> bytes:
    try:
        return zlib.decompress(data)
    except zlib.error:  # raw deflate, as some servers send it
        return zlib.decompress(data, -zlib.MAX_WBITS)


def _brotli(data: bytes) -> bytes:
    try:
        import brotli  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        raise BodyError(
            "not verified: brotli not installed (pip install brotli to read `br` bodies)"
        ) from None
    decoded: bytes = brotli.decompress(data)
    return decoded


_DECODERS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": _gunzip,
    "x-gzip": _gunzip,
    "deflate": _inflate,
    "br": _brotli,
    "identity": lambda data: data,
}


def decode_body(data: bytes, encoding: str | None) -> bytes:
    """The body with its content-codings undone, last applied first; BodyError if one cannot be."""
    if not encoding:
        return data
    codings = [c.strip().lower() for c in encoding.split(",") if c.strip()]
    for coding in reversed(codings):
        decoder = _DECODERS.get(coding)
        if decoder is None:
            raise BodyError(f"not verified: unknown content-encoding {coding!r}")
        if coding != "identity" and _plain_json(data):
            # Recorded already decoded (vcrpy's decode_compressed_response) with the header kept.
            return data
        try:
            data = decoder(data)
        except (zlib.error, OSError) as exc:
            raise BodyError(f"not verified: the {coding} body does not decompress ({exc})") from None
        except BodyError:
            raise
        except Exception as exc:  # brotli.error is not an OSError
            raise BodyError(f"not verified: the {coding} body does not decompress ({exc})") from None
    return data


def _plain_json(data: bytes) -> bool:
    head = data[:1]
    return head in (b"{", b"[") or data[:6] in (b"event:", b"data: ")


def as_bytes(value: Any) -> bytes:
    if value is None:
        return b""
    if isinstance(value, bytes):
        return value
    return str(value).encode("utf-8", "surrogateescape")
