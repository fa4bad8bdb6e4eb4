"""The generated cases as sent, kept beside the probe's cassette so that replay re-sends them.

Recording generates (schemathesis and Hypothesis draw the cases from the seed and the budget) and
writes every case as it went out, in order: method, request-target, headers (the key only as its
class) and what schemathesis's checks need to judge its answer again (the case's parameters and how
it was generated: phase, coverage scenario, positive or negative). Replay reads them back and sends
them again, generating nothing, so a cassette replays whatever schemathesis or Hypothesis version is
installed.

The file is JSON, one case a line, `<cassette>.cases.json` next to `<cassette>.yaml`. Reading it is
the only place that knows its shape: `read_cases` turns it into `SentCase` records and
`rebuild_case` turns one into a schemathesis case (the one adapter to schemathesis's internals).
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from runcancel.cassettes import CassetteError
from runcancel.scrub import KEY_HEADERS, KEY_OTHER, KEY_VALID, classify_key
from runcancel.settings import DEFAULT_PROBE_EXAMPLES, DEFAULT_PROBE_SEED

__all__ = [
    "CASES_FORMAT",
    "CasesFile",
    "ProbeSettings",
    "SentCase",
    "cases_path",
    "describe_meta",
    "key_class",
    "read_cases",
    "rebuild_case",
    "write_cases",
]

CASES_FORMAT = "runcancel probe cases 1"


@dataclass(frozen=True)
class ProbeSettings:
    """What the generated cases depend on: with the same seed and budget, the same cases."""

    seed: int = DEFAULT_PROBE_SEED
    examples: int = DEFAULT_PROBE_EXAMPLES

    @property
    def reproduce(self) -> str:
        return f"--probe-seed {self.seed} --probe-examples {self.examples}"


@dataclass(frozen=True)
class SentCase:
    """One generated request as it went out, and what its answer's checks need to judge it again."""

    method: str
    target: bytes  # the request-target below the base URL's path, byte for byte
    # Headers as sent: `Authorization` as its class (`Bearer <valid-key>`, ...), absent ones absent.
    headers: dict[str, str]
    path_parameters: dict[str, Any] = field(default_factory=dict)
    query: dict[str, Any] = field(default_factory=dict)
    cookies: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] | None = None  # `describe_meta` of the generated case

    def to_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            # Latin-1 maps each byte to one code point: any target survives the round trip.
            "target": self.target.decode("latin-1"),
            "headers": self.headers,
            "body": None,  # the probe sends no body
            "path_parameters": self.path_parameters,
            "query": self.query,
            "cookies": self.cookies,
            "meta": self.meta,
        }

    @classmethod
    def from_json(cls, data: Any) -> SentCase:
        if not isinstance(data, dict) or not isinstance(data.get("method"), str):
            raise ValueError("a case must be an object with a method")
        target, headers = data.get("target"), data.get("headers")
        if not isinstance(target, str) or not isinstance(headers, dict):
            raise ValueError("a case must have a target (text) and headers (an object)")
        return cls(
            method=data["method"],
            target=target.encode("latin-1"),
            headers={str(k): str(v) for k, v in headers.items()},
            path_parameters=dict(data.get("path_parameters") or {}),
            query=dict(data.get("query") or {}),
            cookies=dict(data.get("cookies") or {}),
            meta=data.get("meta"),
        )

    def headers_to_send(self, api_key: str) -> dict[str, str | None]:
        """The headers to send again, as overrides of the client's defaults; the key class becomes a key."""
        overrides: dict[str, str | None] = {"Authorization": None, "OpenAI-Beta": None}
        for name, value in self.headers.items():
            if name.lower() in KEY_HEADERS:
                value = value.replace(KEY_VALID, api_key).replace(KEY_OTHER, "sk-runcancel-other-key")
            overrides[name] = value
        return overrides


def key_class(headers: Mapping[str, str], api_key: str) -> dict[str, str]:
    """`headers` with each key header's value replaced by its class (`Bearer <valid-key>`, ...)."""
    return {
        name: (classify_key(name, value, api_key) or value) if name.lower() in KEY_HEADERS else value
        for name, value in headers.items()
    }


def describe_meta(meta: Any) -> dict[str, Any] | None:
    """How schemathesis generated a case, in the few plain fields its checks read."""
    if meta is None:
        return None
    phase = meta.phase
    data = phase.data
    location = getattr(data, "parameter_location", None)
    scenario = getattr(data, "scenario", None)
    return {
        "phase": str(getattr(phase.name, "value", phase.name)),
        "mode": str(getattr(meta.generation.mode, "value", meta.generation.mode)),
        "components": {
            getattr(loc, "name", str(loc)): str(getattr(info.mode, "value", info.mode))
            for loc, info in meta.components.items()
        },
        "scenario": None if scenario is None else str(getattr(scenario, "value", scenario)),
        "description": getattr(data, "description", None),
        "parameter": getattr(data, "parameter", None),
        "parameter_location": None if location is None else getattr(location, "name", str(location)),
        "location": getattr(data, "location", None),
    }


def rebuild_meta(description: Mapping[str, Any]) -> Any:
    """schemathesis's metadata of a case from `describe_meta`'s fields (its own `from_dict` shape)."""
    from schemathesis.generation.meta import CaseMetadata

    phase = description["phase"]
    kind = "CoveragePhaseData" if phase == "coverage" else f"{phase.capitalize()}PhaseData"
    data: dict[str, Any] = {
        "type": kind,
        "description": description.get("description"),
        "location": description.get("location"),
        "parameter": description.get("parameter"),
        "parameter_location": description.get("parameter_location"),
    }
    if kind == "CoveragePhaseData":
        data["scenario"] = description["scenario"]
    return CaseMetadata.from_dict(
        {
            "generation": {"time": 0.0, "mode": description["mode"]},
            "components": dict(description.get("components") or {}),
            "phase": {"name": phase, "data": data},
        }
    )


def rebuild_case(operation: Any, sent: SentCase) -> Any:
    """The schemathesis case `sent` was, for its checks: parameters, headers and generation metadata."""
    meta = rebuild_meta(sent.meta) if sent.meta is not None else None
    headers = {k: v for k, v in sent.headers.items() if k.lower() != "authorization"}
    fields = {
        "method": sent.method,
        "path_parameters": sent.path_parameters,
        "headers": headers,
        "query": sent.query,
        "cookies": sent.cookies,
    }
    try:
        return operation.Case(**fields, _meta=meta)
    except TypeError:  # a schemathesis that takes no metadata here: set it on the case
        case = operation.Case(**fields)
        case._meta = meta
        return case


def cases_path(cassette: Path) -> Path:
    """`<dir>/probed.yaml` -> `<dir>/probed.cases.json`."""
    return cassette.with_name(cassette.stem + ".cases.json")


@dataclass(frozen=True)
class CasesFile:
    """What a cases file holds: the seed and budget that generated them, who generated them, the cases."""

    path: Path
    seed: int
    examples: int
    generated_by: dict[str, str]
    cases: tuple[SentCase, ...]


def _versions() -> dict[str, str]:
    found = {}
    for name in ("schemathesis", "hypothesis"):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:  # pragma: no cover - both are dependencies
            found[name] = "unknown"
    return found


def write_cases(
    path: Path, seed: int, examples: int, cases: Sequence[SentCase], clean: Callable[[str], str] = str
) -> None:
    """Write the cases as sent, one a line, after a header; `clean` scrubs the whole text first."""
    now = datetime.datetime.now(datetime.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    header = {
        "format": CASES_FORMAT,
        "seed": seed,
        "examples": examples,
        "generated_by": _versions(),
        "recorded_at": now,
    }
    head = json.dumps(header, ensure_ascii=True)[:-1]
    lines = [json.dumps(c.to_json(), ensure_ascii=True, sort_keys=False) for c in cases]
    text = head + ', "cases": [\n' + ",\n".join(lines) + "\n]}\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(clean(text), encoding="utf-8")
    partial.replace(path)


def read_cases(path: Path) -> CasesFile:
    """The cases recorded at `path`; CassetteError (file, line, what to do) when it cannot be used."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CassetteError(
            path,
            "the probe's generated cases were not recorded (no such file)",
            hint="Record them with the probe's cassette: pytest contracts/test_probe.py --target mock "
            "--record-mode rewrite (or --target <URL>).",
        ) from None
    try:
        document = json.loads(text)
    except ValueError as exc:
        line = getattr(exc, "lineno", None)
        raise CassetteError(path, f"not JSON ({exc.args[0].split(':')[0]})", line=line) from None
    if not isinstance(document, dict) or document.get("format") != CASES_FORMAT:
        found = document.get("format") if isinstance(document, dict) else type(document).__name__
        raise CassetteError(path, f"not a probe cases file of format {CASES_FORMAT!r} (found {found!r})")
    cases = []
    for i, entry in enumerate(document.get("cases") or ()):
        try:
            cases.append(SentCase.from_json(entry))
        except (ValueError, TypeError, UnicodeError) as exc:
            raise CassetteError(path, f"case {i + 1}: {exc}", line=i + 2) from None
    try:
        seed, examples = int(document["seed"]), int(document["examples"])
    except (KeyError, TypeError, ValueError):
        raise CassetteError(path, "the header has no seed and budget (seed, examples)", line=1) from None
    generated_by = document.get("generated_by")
    return CasesFile(
        path,
        seed,
        examples,
        {str(k): str(v) for k, v in generated_by.items()} if isinstance(generated_by, dict) else {},
        tuple(cases),
    )
