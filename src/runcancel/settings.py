"""Settings: one table, and where each value came from.

`SETTINGS` is the only list of runcancel's settings. The pytest plugin builds its options from it
(`--runcancel-<name>`, plus the documented short name as an alias where no well-known plugin owns
it), the command line its flags, and the README its settings table (`settings_table`), so none can
drift from another.

One chain, for the pytest plugin and the command line alike, applied in `_choose`:
command-line option -> environment variable -> config file (pytest ini / pyproject) -> default.
The environment variables are the openai SDK's where one exists (`OPENAI_BASE_URL`, `OPENAI_API_KEY`).

This module imports nothing beyond the standard library: the plugin reads it in every pytest run.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Generic, TypeVar

__all__ = [
    "CHAIN",
    "DEFAULT_API_KEY",
    "DEFAULT_MAX_ANSWER_BYTES",
    "DEFAULT_PROBE_EXAMPLES",
    "DEFAULT_PROBE_SEED",
    "FAIL_ON",
    "MOCK",
    "PROFILES",
    "RECORD_MODES",
    "REPLAY",
    "SETTINGS",
    "Setting",
    "Settings",
    "SettingsError",
    "Spec",
    "pytest_flag",
    "resolve_settings",
    "settings_table",
]

T = TypeVar("T")
MOCK = "mock"
# The key the built-in mock accepts, and the suites send, when no key is given anywhere.
DEFAULT_API_KEY = "sk-runcancel-mock"
REPLAY = "replay"  # answer every request from the cassettes, network blocked
RECORD_MODES = ("none", "once", "new_episodes", "all", "rewrite")  # pytest-recording's
# The probe's generation: a fixed seed, so a run is reproducible (and replayable) unless told otherwise,
# and a budget that keeps the probe suite at a couple of seconds against a local server.
DEFAULT_PROBE_SEED = 20231106
DEFAULT_PROBE_EXAMPLES = 100
DEFAULT_MAX_ANSWER_BYTES = 8 * 1024 * 1024
FAIL_ON = ("breaking", "additive", "never")
PROFILES = ("openai", "azure")


class SettingsError(ValueError):
    """A setting was given a value it cannot take; the message is one paragraph a person can act on."""


@dataclass(frozen=True)
class Setting(Generic[T]):
    value: T
    source: str


@dataclass(frozen=True)
class Settings:
    target: Setting[str]
    api_key: Setting[str | None]
    request_timeout: Setting[float]
    arrange_timeout: Setting[float]
    record_mode: Setting[str | None] = Setting(None, "default")
    cassette_dir: Setting[str] = Setting("cassettes", "default")
    probe_examples: Setting[int] = Setting(DEFAULT_PROBE_EXAMPLES, "default")
    probe_seed: Setting[int] = Setting(DEFAULT_PROBE_SEED, "default")
    fail_on: Setting[str] = Setting("breaking", "default")
    drift_baseline: Setting[str | None] = Setting(None, "default")
    reports_dir: Setting[str] = Setting("reports", "default")
    header: Setting[tuple[tuple[str, str], ...]] = Setting((), "default")
    profile: Setting[str] = Setting("openai", "default")
    max_answer_bytes: Setting[int] = Setting(DEFAULT_MAX_ANSWER_BYTES, "default")
    rate_limit: Setting[float | None] = Setting(None, "default")
    insecure: Setting[bool] = Setting(False, "default")
    ca_bundle: Setting[str | None] = Setting(None, "default")
    accept: Setting[str | None] = Setting(None, "default")
    provider_state: Setting[str | None] = Setting(None, "default")

    @property
    def uses_mock(self) -> bool:
        return self.target.value == MOCK

    @property
    def replays(self) -> bool:
        return self.target.value == REPLAY

    @property
    def records(self) -> bool:
        return self.record_mode.value is not None and not self.replays

    def items(self) -> list[tuple[str, Setting[Any]]]:
        """Every setting, in the table's order."""
        return [(f.name, getattr(self, f.name)) for f in fields(self)]


# -- the parsers: (text, where it came from) -> value, or a SettingsError ------------------------------

Parse = Callable[[str, str], Any]


def _refuse(where: str, text: str, allowed: str, example: str) -> SettingsError:
    return SettingsError(f"runcancel: {where} takes {allowed}, got {text!r}. Example: {example}")


def _text(text: str, where: str) -> str:
    return text.strip()


def _as_given(text: str, where: str) -> str:
    """A key as given: a stray CR or non-breaking space is refused where the key is checked, not dropped."""
    return text


def _seconds(text: str, where: str) -> float:
    """A finite number of seconds above 0 (`inf`, `nan`, `0` and words are refused)."""
    try:
        value = float(text) if text.strip().isascii() else math.nan
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise _refuse(where, text, "a number of seconds above 0", f"{where} 5")
    return value


def _digits(text: str) -> int | None:
    """A whole number written in ASCII digits (a superscript two is a digit to Python, not here)."""
    text = text.strip()
    return int(text) if text.isascii() and text.isdigit() else None


def _count(text: str, where: str) -> int:
    value = _digits(text)
    if value is None or value < 1:
        raise _refuse(where, text.strip(), "a whole number above 0", f"{where} 200")
    return value


def _seed(text: str, where: str) -> int:
    """A whole number, or `random` for a fresh seed (shown in the report header, so it can be replayed)."""
    if text.strip() == "random":
        import secrets  # not at import: hashlib is a few milliseconds every pytest run would pay

        return secrets.randbelow(2**32)
    value = _digits(text)
    if value is None:
        raise _refuse(where, text.strip(), "a whole number or 'random'", f"{where} 12345")
    return value


def _choice(choices: tuple[str, ...], what: str = "") -> Parse:
    def parse(text: str, where: str) -> str:
        value = text.strip().lower()
        if value not in choices:
            raise SettingsError(
                f"runcancel: {where} takes one of {', '.join(choices)}{what}, got {text!r}. "
                f"Example: {where} {choices[1] if len(choices) > 1 else choices[0]}"
            )
        return value

    return parse


def _fail_on(text: str, where: str) -> str:
    value = text.strip().lower()
    if value not in FAIL_ON:
        raise SettingsError(
            f"runcancel: {where} takes one of {', '.join(FAIL_ON)}, got {text!r}. "
            "`breaking` fails on breaking findings, `additive` on additive ones too, `never` only reports."
        )
    return value


_UNITS = {"": 1, "b": 1, "kib": 1024, "k": 1024, "mib": 1024**2, "m": 1024**2, "gib": 1024**3, "g": 1024**3}
_SIZE = re.compile(r"(?P<number>[0-9]+)\s*(?P<unit>[A-Za-z]*)")


def _bytes(text: str, where: str) -> int:
    """A size in bytes: `8388608`, `512KiB`, `8MiB` (ASCII digits, above 0)."""
    match = _SIZE.fullmatch(text.strip())
    unit = _UNITS.get(match["unit"].lower()) if match else None
    if match is None or unit is None or int(match["number"]) < 1:
        raise _refuse(
            where, text, "a size in bytes above 0 (a whole number, optionally KiB or MiB)", f"{where} 8MiB"
        )
    return int(match["number"]) * unit


def _rate(text: str, where: str) -> float:
    """Requests per second: `5`, `0.5` or `5/s` (finite, above 0)."""
    number = text.strip().removesuffix("/s").strip()
    try:
        value = float(number) if number.isascii() else math.nan
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise _refuse(where, text, "a number of requests per second above 0, like 5 or 5/s", f"{where} 5/s")
    return value


_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off", "")


def _flag(text: str, where: str) -> bool:
    value = text.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise _refuse(where, text, f"one of {', '.join(_TRUE[:2])} or {', '.join(_FALSE[:2])}", f"{where}=1")


_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


def _header(text: str, where: str) -> tuple[str, str]:
    """One `NAME:VALUE` header: NAME an HTTP token, VALUE printable text without line breaks."""
    name, colon, value = text.partition(":")
    value = value.strip()
    if not colon or not _TOKEN.fullmatch(name.strip()) or not value.isprintable():
        raise SettingsError(
            f"runcancel: {where} takes a header as NAME:VALUE (NAME letters, digits and -, VALUE on one "
            f"line), got {_masked_header(text)!r}. Example: {where} 'X-Tenant: acme'"
        )
    return name.strip(), value


def _masked_header(text: str) -> str:
    name, colon, value = text.partition(":")
    return f"{name}:***" if colon and value.strip() else text


def _file(what: str, suffixes: tuple[str, ...] = ()) -> Parse:
    def parse(text: str, where: str) -> str:
        path = Path(text.strip()).expanduser()
        if not path.is_file():
            raise SettingsError(
                f"runcancel: {where} takes the path of {what}, got {text!r}, which is not a file "
                f"(looked for {path.resolve()}). Give an existing file, e.g. {where} "
                f"{'ca.pem' if not suffixes else 'accepted' + suffixes[0]}"
            )
        if suffixes and path.suffix.lower() not in suffixes:
            raise SettingsError(
                f"runcancel: {where} takes {what} ({', '.join(suffixes)}), got {text!r}. "
                f"Example: {where} accepted{suffixes[0]}"
            )
        return str(path)

    return parse


def _http_url(text: str, where: str) -> str:
    """An http(s) URL with a host."""
    from urllib.parse import urlsplit

    value = text.strip()
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError:
        parts, host = None, None
    if parts is None or parts.scheme not in ("http", "https") or not host:
        raise _refuse(where, value, "an http or https URL", f"{where} http://127.0.0.1:4010/provider-state")
    return value


# -- the table -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Spec:
    """One setting: its names everywhere, its default, how its text is read, and its help."""

    name: str  # attribute of Settings
    flag: str  # the command line's flag, and the pytest option's alias where `alias` says so
    env: str | None
    ini: str | None
    default: str | None  # as text, parsed like any given value; None: not set
    metavar: str
    help: str
    parse: Parse = _text
    alias: bool = True  # `--<flag>` also works under pytest (no well-known plugin owns it)
    short: str | None = None  # a one-letter flag of the command line
    repeat: bool = False  # given more than once (the command line and pytest append)
    switch: bool = False  # a flag without a value
    secret: bool = False  # never shown, only whether and where it was given
    env_separator: str = ""  # how a repeated setting is split in its environment variable

    @property
    def option(self) -> str:
        """The pytest option: `--runcancel-<name>`, which no other plugin can own."""
        return pytest_flag(self.name)


def pytest_flag(name: str) -> str:
    return "--runcancel-" + name.replace("_", "-")


SETTINGS: tuple[Spec, ...] = (
    Spec(
        "target", "--target", "OPENAI_BASE_URL", "runcancel_target", MOCK, "URL",
        "Server to check: a base URL (http://127.0.0.1:4010 gets /v1 added), `mock` for the built-in "
        "reference mock, or `replay` for the cassettes (network blocked).",
    ),
    Spec(
        "api_key", "--api-key", "OPENAI_API_KEY", None, None, "KEY",
        "API key sent to the target. Default: the built-in mock's key to the built-in mock, none to any "
        "other target. Prefer the environment variable.",
        _as_given, secret=True,
    ),
    Spec(
        "request_timeout", "--request-timeout", "RUNCANCEL_REQUEST_TIMEOUT", "runcancel_request_timeout",
        "10", "SECONDS", "Time-out of one request, in seconds.", _seconds,
    ),
    Spec(
        "arrange_timeout", "--arrange-timeout", "RUNCANCEL_ARRANGE_TIMEOUT", "runcancel_arrange_timeout",
        "30", "SECONDS", "How long to wait for a run to reach a wanted status, in seconds.", _seconds,
    ),
    Spec(
        "record_mode", "--record-mode", "RUNCANCEL_RECORD_MODE", "runcancel_record_mode", None, "MODE",
        "Record the target's answers into cassettes, one per test: once, new_episodes, all, rewrite "
        "(pytest-recording's modes; `none` replays). pytest-recording's own `--record-mode` is read "
        "when that plugin is installed. Default: off.",
        _choice(RECORD_MODES, " (pytest-recording's record modes)"), alias=False,
    ),
    Spec(
        "cassette_dir", "--cassette-dir", "RUNCANCEL_CASSETTE_DIR", "runcancel_cassette_dir", "cassettes",
        "DIR", "Folder of the cassettes (replay, recording); below the rootdir unless given on the "
        "command line or in the environment.",
    ),
    Spec(
        "probe_examples", "--probe-examples", "RUNCANCEL_PROBE_EXAMPLES", "runcancel_probe_examples",
        str(DEFAULT_PROBE_EXAMPLES), "N", "Budget of the probe suite's generated cases.", _count,
    ),
    Spec(
        "probe_seed", "--probe-seed", "RUNCANCEL_PROBE_SEED", "runcancel_probe_seed",
        str(DEFAULT_PROBE_SEED), "SEED", "Seed of the probe suite's generated cases, or `random`.", _seed,
    ),
    Spec(
        "fail_on", "--fail-on", "RUNCANCEL_FAIL_ON", "runcancel_fail_on", "breaking", "POLICY",
        "Which findings fail the run: breaking, additive or never. The reports are written either way.",
        _fail_on,
    ),
    Spec(
        "drift_baseline", "--drift-baseline", "RUNCANCEL_DRIFT_BASELINE", "runcancel_drift_baseline", None,
        "DIR", "Compare the target's answers with the cassettes in DIR.",
    ),
    Spec(
        "reports_dir", "--reports-dir", "RUNCANCEL_REPORTS_DIR", "runcancel_reports_dir", "reports", "DIR",
        "Where findings.json, drift.md, certification.md and certification.html go (below the rootdir).",
    ),
    Spec(
        "header", "--header", "RUNCANCEL_HEADERS", "runcancel_headers", None, "NAME:VALUE",
        "An extra request header, repeatable. The environment variable and the config key hold one "
        "header a line. Values are never shown.",
        _header, alias=False, short="-H", repeat=True, secret=True, env_separator="\n",
    ),
    Spec(
        "profile", "--profile", "RUNCANCEL_PROFILE", "runcancel_profile", "openai", "NAME",
        "How the target is addressed: openai or azure.", _choice(PROFILES), alias=False,
    ),
    Spec(
        "max_answer_bytes", "--max-answer-bytes", "RUNCANCEL_MAX_ANSWER_BYTES", "runcancel_max_answer_bytes",
        "8MiB", "SIZE", "The largest answer read from the target (bytes, KiB or MiB).", _bytes, alias=False,
    ),
    Spec(
        "rate_limit", "--rate-limit", "RUNCANCEL_RATE_LIMIT", "runcancel_rate_limit", None, "N/s",
        "At most N requests a second to the target. Default: no limit.", _rate, alias=False,
    ),
    Spec(
        "insecure", "--insecure", "RUNCANCEL_INSECURE", "runcancel_insecure", None, "",
        "Do not verify the target's TLS certificate.", _flag, alias=False, switch=True,
    ),
    Spec(
        "ca_bundle", "--ca-bundle", "RUNCANCEL_CA_BUNDLE", "runcancel_ca_bundle", None, "FILE",
        "Verify the target's TLS certificate against the CA certificates in FILE (PEM).",
        _file("a file of CA certificates"), alias=False,
    ),
    Spec(
        "accept", "--accept", "RUNCANCEL_ACCEPT", "runcancel_accept", None, "FILE",
        "A YAML or TOML file of accepted deviations (clause ids or finding paths, each with a reason): "
        "reported as accepted, not failed. Read and checked before any test runs.",
        _file("a YAML or TOML file of accepted deviations", (".yaml", ".yml", ".toml")), alias=False,
    ),
    Spec(
        "provider_state", "--provider-state", "RUNCANCEL_PROVIDER_STATE", "runcancel_provider_state", None,
        "URL", "The target owner's provider-state URL: the suites POST the status they need there and "
        "get the ids of a run in it (see the README, \"Provider states\").", _http_url, alias=False,
    ),
)  # fmt: skip
_BY_NAME = {spec.name: spec for spec in SETTINGS}

# name: (option flag, environment variable, config key, default): the table's names, as pairs.
CHAIN: dict[str, tuple[str, str | None, str | None, str | None]] = {
    s.name: (s.flag, s.env, s.ini, s.default) for s in SETTINGS
}

# What a setting is when nothing gives it.
_UNSET: dict[str, Any] = {"header": (), "insecure": False}


def _where(spec: Spec, source: str, style: str) -> str:
    if source != "default":
        return source
    return spec.option if style == "pytest" else spec.flag


def _choose(
    spec: Spec,
    options: Mapping[str, Any],
    env: Mapping[str, str],
    ini: Mapping[str, str],
    style: str,
    labels: Mapping[str, str],
) -> tuple[Any, str]:
    """The chain, in one place: option -> environment -> config -> default. Empty counts as not given."""
    given = options.get(spec.name)
    if given not in (None, "", [], (), False):
        flag = spec.option if style == "pytest" else spec.flag
        return given, labels.get(spec.name, flag)
    if spec.env and env.get(spec.env):
        return env[spec.env], spec.env
    if spec.ini and ini.get(spec.ini):
        return ini[spec.ini], f"config {spec.ini}"
    return spec.default, "default"


def _parse(spec: Spec, given: Any, where: str) -> Any:
    if given is None:
        return _UNSET.get(spec.name)
    if spec.switch and isinstance(given, bool):
        return given
    if spec.repeat:
        items = given if isinstance(given, list | tuple) else str(given).split(spec.env_separator or "\n")
        return tuple(spec.parse(str(item), where) for item in items if str(item).strip())
    return spec.parse(str(given), where)


def resolve_settings(
    options: Mapping[str, Any],
    env: Mapping[str, str],
    ini: Mapping[str, str] | None = None,
    *,
    style: str = "cli",
    labels: Mapping[str, str] | None = None,
) -> Settings:
    """Apply the chain option -> environment -> config -> default to every setting of the table.

    `options` maps setting names to what the command line gave (None: not given). `style` names the
    options in messages: `cli` (`--request-timeout`) or `pytest` (`--runcancel-request-timeout`);
    `labels` names the flag a given option was typed as, where it had another name (an alias).
    """
    ini = ini or {}
    values: dict[str, Setting[Any]] = {}
    for spec in SETTINGS:
        given, source = _choose(spec, options, env, ini, style, labels or {})
        value = _parse(spec, given, _where(spec, source, style))
        if spec.name == "probe_seed" and str(given).strip() == "random":
            source = f"{source}, random"
        values[spec.name] = Setting(value, source)
    values["target"], values["record_mode"] = _record_mode(values["target"], values["record_mode"], style)
    return Settings(**values)


def _record_mode(
    target: Setting[Any], mode: Setting[str | None], style: str
) -> tuple[Setting[str], Setting[str | None]]:
    """Replay is `--target replay`, or pytest-recording's `--record-mode none`; other modes record."""
    target = Setting(str(target.value).strip(), target.source)
    where = _where(_BY_NAME["record_mode"], mode.source, style)
    if mode.value == "none":
        return Setting(REPLAY, f"{where} none"), mode
    if target.value == REPLAY and mode.value is not None:
        raise SettingsError(
            f"runcancel: {where} {mode.value} records from a server, but the target is {REPLAY!r} "
            f"(from {target.source}), which only plays cassettes back. Give the server to record "
            "from (--target mock, or its URL), or leave the record mode out to replay."
        )
    return target, mode


# -- the README's table ----------------------------------------------------------------------------------


def settings_table() -> str:
    """The README's table of settings, in Markdown, generated from `SETTINGS`."""
    rows = [
        "| setting | pytest option | `runcancel certify` | environment | pyproject / ini key | default |",
        "|---|---|---|---|---|---|",
    ]
    for s in SETTINGS:
        value = "" if s.switch else f" {s.metavar}"
        pytest_names = f"`{s.option}{value}`" + (f", `{s.flag}`" if s.alias else "")
        if s.name == "record_mode":
            pytest_names += ", `--record-mode` (pytest-recording's, or ours without it)"
        cli = f"`{s.flag}{value}`" + (f", `{s.short}`" if s.short else "")
        default = "off" if s.switch else "none" if s.default is None else f"`{s.default}`"
        rows.append(
            f"| {s.name}: {s.help} | {pytest_names} | {cli} | "
            f"{f'`{s.env}`' if s.env else ''} | {f'`{s.ini}`' if s.ini else ''} | {default} |"
        )
    return "\n".join(rows)
