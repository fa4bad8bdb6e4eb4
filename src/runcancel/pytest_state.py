"""This pytest run's use of the suites: its settings (read once, from the option -> environment ->
ini -> default chain), the session's record, cassettes and request log, and the target built from
them. The plugin's hooks and fixtures reach all of it through `suites(config)`.

Importing it costs only pytest and the settings table; the rest loads when a suite first needs it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, NoReturn

import pytest

if TYPE_CHECKING:
    from pathlib import Path

    from runcancel.certify import Finish, Selection
    from runcancel.probe import ProbeRecord
    from runcancel.recording import Recorder
    from runcancel.reports.requests import RequestLog
    from runcancel.session import SessionRecord
    from runcancel.settings import Settings
    from runcancel.targets import Target

__all__ = [
    "CLI_PLUGIN",
    "EARLY",
    "SUITE_FIXTURES",
    "TALKING_FIXTURES",
    "TARGET_FIXTURES",
    "Early",
    "Interruptions",
    "Suites",
    "api_key",
    "learn_secrets",
    "prepare",
    "session_target",
    "settings_of",
    "suites",
    "target_for",
    "usage",
    "uses_suites",
]

TARGET_FIXTURES = {"runcancel_target", "runcancel_client", "arrange"}
# Fixtures through which a test or a fixture reaches the target: its requests go to a cassette.
TALKING_FIXTURES = TARGET_FIXTURES | {"runcancel_arrangers"}
SUITE_FIXTURES = TALKING_FIXTURES | {"verdict"}
# The plugin the command line registers around its pytest run (it knows the command to show).
CLI_PLUGIN = "runcancel-cli"


@dataclass
class Suites:
    """This session's use of the suites, once a test uses them: settings, record, cassettes, reports."""

    record: SessionRecord
    finish: Finish | None = None
    recorder: Recorder | None = None
    probe: ProbeRecord | None = None
    selection: Selection | None = None
    interrupted: str | None = None
    ctrl_c: bool = False
    unreachable: bool = False
    workers: int = 0
    transport_lines: list[str] = field(default_factory=list)
    requests: RequestLog | None = None  # the requests each test (or shared fixture) sent
    worker_requests: dict[str, Any] = field(default_factory=dict)  # the same, from pytest-xdist workers

    @property
    def settings(self) -> Settings:
        return self.record.settings


@dataclass
class Early:
    """What the plugin keeps before it knows whether the suites are used."""

    started: datetime
    deselected: int = 0
    suites: Suites | None = None


EARLY = pytest.StashKey[Early]()


def uses_suites(item: pytest.Item) -> bool:
    return bool(SUITE_FIXTURES.intersection(getattr(item, "fixturenames", ())))


def given_options(config: pytest.Config) -> dict[str, Any]:
    """The runcancel options given on the command line (pytest-recording's `--record-mode` included)."""
    from runcancel.settings import SETTINGS

    given = {spec.name: config.getoption(f"runcancel_{spec.name}") for spec in SETTINGS}
    recording = config.getoption("record_mode", None)  # pytest-recording's, when it is installed
    if given["record_mode"] is None and recording is not None:
        given["record_mode"] = recording
    return {name: value for name, value in given.items() if value is not None}


def _labels(config: pytest.Config) -> dict[str, str]:
    """The flag each given option was typed as (an alias or the --runcancel- name), for messages."""
    from runcancel.settings import SETTINGS

    typed = {arg.split("=", 1)[0] for arg in config.invocation_params.args if arg.startswith("--")}
    labels = {}
    if config.pluginmanager.get_plugin(CLI_PLUGIN) is not None:
        # `runcancel certify` hands its options to pytest by their --runcancel- names: name them as the
        # user typed them.
        labels = {spec.name: spec.flag for spec in SETTINGS if spec.option in typed}
    for spec in SETTINGS:
        for name in (spec.flag, "--record-mode") if spec.name == "record_mode" else (spec.flag,):
            if name in typed and (spec.alias or name == "--record-mode"):
                labels[spec.name] = name
    return labels


def usage(message: str, code: int = 2, config: pytest.Config | None = None) -> NoReturn:
    """Stop the run with one paragraph: 2 for a bad setting or folder, 4 for an unreachable target.

    Once the terminal is set up (collection), the paragraph is written there in full and pytest's
    own stop line only points at it.
    """
    reporter = config.pluginmanager.get_plugin("terminalreporter") if config is not None else None
    if reporter is None:
        pytest.exit(message, returncode=code)
    reporter.write_line(message, red=True)
    pytest.exit("runcancel: the run cannot go on (see above)", returncode=code)


def settings_of(config: pytest.Config) -> Settings:
    """The run's settings; a bad value stops the run with one paragraph (exit 2)."""
    from runcancel.settings import SETTINGS, SettingsError, resolve_settings

    ini = {}
    for spec in SETTINGS:
        value = config.getini(spec.ini) if spec.ini else None
        if spec.ini and value:
            ini[spec.ini] = str(value)
    try:
        given = given_options(config)
        return resolve_settings(given, os.environ, ini, style="pytest", labels=_labels(config))
    except SettingsError as exc:
        usage(str(exc), config=config)


def suites(config: pytest.Config) -> Suites:
    """The suites' state, set up the first time a suite needs it."""
    early = config.stash[EARLY]
    if early.suites is not None:
        return early.suites
    from runcancel.reports.requests import RequestLog
    from runcancel.scrub import Scrubber
    from runcancel.session import SessionRecord

    settings = settings_of(config)
    label = "the built-in reference mock" if settings.uses_mock else settings.target.value
    scrubber = Scrubber(
        api_key(settings) or "",
        organization=os.environ.get("OPENAI_ORG_ID"),
        project=os.environ.get("OPENAI_PROJECT_ID"),
    )
    record = SessionRecord(settings, target_label=label, scrubber=scrubber)
    state = Suites(record, requests=RequestLog(clean=record.clean))
    if settings.replays or settings.records:
        from runcancel.recording import Recorder

        state.recorder = Recorder.from_environment(
            _cassette_dir(config, settings),
            settings.record_mode.value or "none",
            api_key(settings) or "",
            os.environ,
        )
        config.add_cleanup(state.recorder.scrub_logs())
    early.suites = state
    return state


def prepare(config: pytest.Config, state: Suites) -> None:
    """Check the reports folder (and the drift baseline) once, before any test runs."""
    from runcancel.certify import CertifyError
    from runcancel.certify import prepare as prepare_finish

    if state.finish is None:
        try:
            state.finish = prepare_finish(state.settings, config.rootpath, config.invocation_params.dir)
        except CertifyError as exc:
            usage(str(exc), config=config)


def _cassette_dir(config: pytest.Config, settings: Settings) -> Path:
    """A folder given on the command line or in the environment is relative to where pytest was started;
    the configured or default one to the rootdir."""
    from pathlib import Path

    given = Path(settings.cassette_dir.value).expanduser()
    if settings.cassette_dir.source == "default" or settings.cassette_dir.source.startswith("config"):
        return config.rootpath / given
    return config.invocation_params.dir / given


def target_for(
    settings: Settings, base_url: str | None = None, label: str = "", config: pytest.Config | None = None
) -> Target:
    """The target the settings name (or `base_url`), with its profile, headers, bounds and TLS."""
    from runcancel.targets import Target, TargetError, account_headers

    try:
        return Target.from_spec(
            base_url or settings.target.value,
            api_key=api_key(settings),
            timeout=settings.request_timeout.value,
            **({"label": label} if label else {}),
            profile=settings.profile.value,
            # --header on top of the SDK's account headers (OPENAI_ORG_ID, OPENAI_PROJECT_ID): a name
            # given with --header wins.
            headers={**account_headers(os.environ), **dict(settings.header.value)},
            max_answer_bytes=settings.max_answer_bytes.value,
            rate_limit=settings.rate_limit.value,
            verify=False if settings.insecure.value else (settings.ca_bundle.value or True),
        )
    except TargetError as exc:
        usage(str(exc), config=config)


def learn_secrets(state: Suites, target: Target) -> None:
    """Every credential of the target (key, URL user info, auth-like and account header values) is
    scrubbed from what the session shows and writes, and from the cassettes."""
    secrets = target.secrets()
    for scrubber in (state.record.scrubber, state.recorder.scrubber if state.recorder else None):
        if scrubber is not None:
            scrubber.learn_all(secrets)


def api_key(settings: Settings) -> str | None:
    """The key the suites send: the one given (option, OPENAI_API_KEY, ini), else the built-in mock's
    to the built-in mock and its cassettes only, else none (`verdicts.key_for` decides)."""
    from runcancel.settings import DEFAULT_API_KEY
    from runcancel.verdicts import key_for

    key, _source = key_for(
        settings.api_key.value,
        settings.api_key.source,
        target=settings.target.value,
        mock_key=DEFAULT_API_KEY,
    )
    return key


@contextlib.contextmanager
def session_target(state: Suites) -> Iterator[Target]:
    """The target of this session: the built-in mock (started here, on a free port, and stopped on
    leaving), a URL, or the cassettes (replay: no server, and the network blocked throughout)."""
    record, settings, recorder = state.record, state.settings, state.recorder
    if recorder is not None and recorder.replaying:
        from runcancel.recording import block_network, replay_base_url

        # The recorded target's base path and query (Azure's api-version included), on a host that
        # never resolves.
        base = replay_base_url(recorder.cassette_dir)
        target = target_for(settings, base, label=f"cassettes in {recorder.cassette_dir}")
        record.target_label = target.label
        with block_network():
            yield target
        return
    if not settings.uses_mock:
        target = target_for(settings)
        learn_secrets(state, target)
        record.target_label = target.label
        if recorder is not None:
            from runcancel.targets import ASGI_PREFIX

            spec = str(settings.target.value)
            # An in-process app is recorded again by its `asgi:` spec; its requests' origin never resolves.
            recorder.recording_from(
                _with_query(target), target.base_url, again=spec if spec.startswith(ASGI_PREFIX) else None
            )
        yield target
        return
    from runcancel.mock import DEFAULT_API_KEY, MockConfig, MockServer, MockStartError

    try:
        key = api_key(settings) or DEFAULT_API_KEY  # the built-in mock always gets a key (key_for)
        server = MockServer(MockConfig(api_key=key, step=0.005, cancel_delay=0.005), port=0)
        server.__enter__()
    except MockStartError as exc:
        pytest.exit(str(exc), returncode=3)
    try:
        target = target_for(settings, server.base_url, label=f"the built-in mock at {server.base_url}")
        record.target_label = target.label
        if recorder is not None:
            recorder.recording_from(_with_query(target), "the built-in reference mock (runcancel.mock)")
        yield target
    finally:
        server.__exit__(None, None, None)


def _with_query(target: Target) -> str:
    return target.base_url + (f"?{target.query}" if target.query else "")


class Interruptions:
    """Ctrl-C, or pytest-xdist stopping the workers (-x, a worker's stop): the run is interrupted.

    A plugin object of its own, because pytest_keyboard_interrupt is told no config.
    """

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        # A Ctrl-C whose KeyboardInterrupt landed where Python cannot raise it (a finalizer, a weakref
        # callback: it becomes an "unraisable exception" and is dropped) is raised again between tests.
        self.pending = False

    @pytest.hookimpl(wrapper=True)
    def pytest_runtestloop(self, session: pytest.Session) -> Generator[None, object, object]:
        previous = None
        if (
            threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGINT) is signal.default_int_handler
        ):
            previous = signal.signal(signal.SIGINT, self._ctrl_c)
        try:
            return (yield)
        finally:
            if previous is not None:
                signal.signal(signal.SIGINT, previous)

    def _ctrl_c(self, signum: int, frame: object) -> NoReturn:
        __tracebackhide__ = True  # pytest shows where the run was, not this handler
        self.pending = True
        raise KeyboardInterrupt

    def pytest_runtest_logfinish(self) -> None:
        __tracebackhide__ = True
        if self.pending:
            raise KeyboardInterrupt

    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        from runcancel.certify import ExitCode

        self.pending = False
        state = self.config.stash[EARLY].suites
        if state is None:
            return
        value = excinfo.value
        message = str(getattr(value, "msg", "") or value)
        if isinstance(value, pytest.exit.Exception):
            state.unreachable = state.unreachable or value.returncode == ExitCode.UNREACHABLE
            state.interrupted = state.interrupted or (message.splitlines() or ["stopped"])[0]
            return
        plain = type(value) is KeyboardInterrupt or "keyboard-interrupt" in message
        state.ctrl_c = state.ctrl_c or plain
        state.interrupted = state.interrupted or ("Ctrl-C" if plain else message)
