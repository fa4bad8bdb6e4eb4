"""Settings and where each one came from.

One chain, for the pytest plugin and the command line alike:
command-line option -> environment variable -> config file (pytest ini / pyproject) -> default.
The environment variables are the openai SDK's where one exists (`OPENAI_BASE_URL`, `OPENAI_API_KEY`).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = [
    "DEFAULT_API_KEY",
    "DEFAULT_PROBE_EXAMPLES",
    "DEFAULT_PROBE_SEED",
    "FAIL_ON",
    "MOCK",
    "RECORD_MODES",
    "REPLAY",
    "Setting",
    "Settings",
    "SettingsError",
    "resolve_settings",
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


class SettingsError(ValueError):
    """A setting was given a value it cannot take."""


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

    @property
    def uses_mock(self) -> bool:
        return self.target.value == MOCK

    @property
    def replays(self) -> bool:
        return self.target.value == REPLAY

    @property
    def records(self) -> bool:
        return self.record_mode.value is not None and not self.replays


# name: (option flag, environment variable, config key, default)
CHAIN: dict[str, tuple[str, str, str | None, str | None]] = {
    "target": ("--target", "OPENAI_BASE_URL", "runcancel_target", MOCK),
    "api_key": ("--api-key", "OPENAI_API_KEY", None, None),
    "request_timeout": ("--request-timeout", "RUNCANCEL_REQUEST_TIMEOUT", "runcancel_request_timeout", "10"),
    "arrange_timeout": ("--arrange-timeout", "RUNCANCEL_ARRANGE_TIMEOUT", "runcancel_arrange_timeout", "30"),
    "record_mode": ("--record-mode", "RUNCANCEL_RECORD_MODE", "runcancel_record_mode", None),
    "cassette_dir": ("--cassette-dir", "RUNCANCEL_CASSETTE_DIR", "runcancel_cassette_dir", "cassettes"),
    "probe_examples": (
        "--probe-examples",
        "RUNCANCEL_PROBE_EXAMPLES",
        "runcancel_probe_examples",
        str(DEFAULT_PROBE_EXAMPLES),
    ),
    "probe_seed": ("--probe-seed", "RUNCANCEL_PROBE_SEED", "runcancel_probe_seed", str(DEFAULT_PROBE_SEED)),
    "fail_on": ("--fail-on", "RUNCANCEL_FAIL_ON", "runcancel_fail_on", "breaking"),
    "drift_baseline": ("--drift-baseline", "RUNCANCEL_DRIFT_BASELINE", "runcancel_drift_baseline", None),
    "reports_dir": ("--reports-dir", "RUNCANCEL_REPORTS_DIR", "runcancel_reports_dir", "reports"),
}
FAIL_ON = ("breaking", "additive", "never")


def _seconds(flag: str) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = -1.0
        if not value > 0:
            raise SettingsError(
                f"runcancel: {flag} takes a number of seconds above 0, got {text!r}. Example: {flag} 5"
            )
        return value

    return parse


def _choose(
    name: str, options: Mapping[str, str | None], env: Mapping[str, str], ini: Mapping[str, str]
) -> Setting[str | None]:
    flag, variable, config_key, default = CHAIN[name]
    if options.get(name) not in (None, ""):
        return Setting(options[name], flag)
    if env.get(variable):
        return Setting(env[variable], variable)
    if config_key and ini.get(config_key):
        return Setting(ini[config_key], f"config {config_key}")
    return Setting(default, "default")


def resolve_settings(
    options: Mapping[str, str | None], env: Mapping[str, str], ini: Mapping[str, str] | None = None
) -> Settings:
    """Apply the chain option -> environment -> config -> default to every setting."""
    ini = ini or {}
    target = _choose("target", options, env, ini)
    key = _choose("api_key", options, env, ini)
    timeouts = {}
    for name in ("request_timeout", "arrange_timeout"):
        chosen = _choose(name, options, env, ini)
        flag = CHAIN[name][0] if chosen.source == "default" else chosen.source
        timeouts[name] = Setting(_seconds(flag)(str(chosen.value)), chosen.source)
    where, mode = _record_mode(Setting(str(target.value).strip(), target.source), options, env, ini)
    cassette_dir = _choose("cassette_dir", options, env, ini)
    examples = _choose("probe_examples", options, env, ini)
    seed = _choose("probe_seed", options, env, ini)
    return Settings(
        target=where,
        api_key=key,
        request_timeout=timeouts["request_timeout"],
        arrange_timeout=timeouts["arrange_timeout"],
        record_mode=mode,
        cassette_dir=Setting(str(cassette_dir.value), cassette_dir.source),
        probe_examples=Setting(_count(examples), examples.source),
        probe_seed=_seed(seed),
        fail_on=_fail_on(_choose("fail_on", options, env, ini)),
        drift_baseline=_choose("drift_baseline", options, env, ini),
        reports_dir=_text(_choose("reports_dir", options, env, ini)),
    )


def _text(chosen: Setting[str | None]) -> Setting[str]:
    return Setting(str(chosen.value), chosen.source)


def _fail_on(chosen: Setting[str | None]) -> Setting[str]:
    """Which findings fail the run: `breaking` ones (the default), `additive` ones too, or `never`."""
    flag = CHAIN["fail_on"][0] if chosen.source == "default" else chosen.source
    text = str(chosen.value).strip().lower()
    if text not in FAIL_ON:
        raise SettingsError(
            f"runcancel: {flag} takes one of {', '.join(FAIL_ON)}, got {chosen.value!r}. "
            "`breaking` fails on breaking findings, `additive` on additive ones too, `never` only reports."
        )
    return Setting(text, chosen.source)


def _count(chosen: Setting[str | None]) -> int:
    flag = CHAIN["probe_examples"][0] if chosen.source == "default" else chosen.source
    text = str(chosen.value).strip()
    if not text.isdigit() or int(text) < 1:
        raise SettingsError(
            f"runcancel: {flag} takes a whole number above 0, got {text!r}. Example: {flag} 200"
        )
    return int(text)


def _seed(chosen: Setting[str | None]) -> Setting[int]:
    """A whole number, or `random` for a fresh seed (shown in the report header, so it can be replayed)."""
    flag = CHAIN["probe_seed"][0] if chosen.source == "default" else chosen.source
    text = str(chosen.value).strip()
    if text == "random":
        return Setting(secrets.randbelow(2**32), f"{chosen.source}, random")
    if not text.isdigit():
        raise SettingsError(
            f"runcancel: {flag} takes a whole number or 'random', got {text!r}. Example: {flag} 12345"
        )
    return Setting(int(text), chosen.source)


def _record_mode(
    target: Setting[str], options: Mapping[str, str | None], env: Mapping[str, str], ini: Mapping[str, str]
) -> tuple[Setting[str], Setting[str | None]]:
    """Replay is `--target replay`, or pytest-recording's `--record-mode none`; other modes record."""
    mode = _choose("record_mode", options, env, ini)
    flag = CHAIN["record_mode"][0] if mode.source == "default" else mode.source
    if mode.value is not None and mode.value not in RECORD_MODES:
        raise SettingsError(
            f"runcancel: {flag} takes one of {', '.join(RECORD_MODES)} (pytest-recording's record "
            f"modes), got {mode.value!r}. Example: --record-mode once"
        )
    if mode.value == "none":
        return Setting(REPLAY, f"{flag} none"), mode
    if target.value == REPLAY and mode.value is not None:
        raise SettingsError(
            f"runcancel: {flag} {mode.value} records from a server, but the target is {REPLAY!r} "
            f"(from {target.source}), which only plays cassettes back. Give the server to record "
            "from (--target mock, or its URL), or leave the record mode out to replay."
        )
    return target, mode
