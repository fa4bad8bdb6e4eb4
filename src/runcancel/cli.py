"""The ``runcancel`` command line: one function per subcommand, one parser built by ``build_parser``."""

from __future__ import annotations

import argparse
import math
import os
import signal
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import NoReturn

__all__ = [
    "UsageError",
    "build_parser",
    "main",
    "mock_api_key",
    "run_cassettes_check",
    "run_certify",
    "run_drift",
    "suites_path",
]

Command = Callable[[argparse.Namespace], int]


class UsageError(Exception):
    """A command line the program cannot act on; ``main`` prints it and exits with code 2."""


class _Parser(argparse.ArgumentParser):
    """An argparse parser that raises :class:`UsageError` instead of printing and exiting."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message}. See '{self.prog} --help'.")


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"expected a number of seconds >= 0, got {text!r}")
    return value


def _port(text: str) -> int:
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"expected a port number from 0 to 65535, got {text!r}")
    return int(text)


def build_parser() -> argparse.ArgumentParser:
    """The parser of every subcommand; each sets ``command`` to the function that runs it."""
    parser = _Parser(
        prog="runcancel", description="Contract tests for the OpenAI Assistants v2 cancel-run endpoint."
    )
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", parser_class=_Parser)

    mock = commands.add_parser(
        "mock",
        help="serve the reference mock API in the foreground until Ctrl-C",
        description="Serve the reference mock of the Assistants v2 runs API until Ctrl-C.",
    )
    mock.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    mock.add_argument(
        "--port", type=_port, default=4010, help="port to listen on, 0 for a free one (default: %(default)s)"
    )
    mock.add_argument(
        "--api-key",
        default=None,
        help="the key clients must send; default: $OPENAI_API_KEY, else the built-in mock key",
    )
    mock.add_argument(
        "--step", type=_seconds, default=None, help="seconds a run spends in each stage before its outcome"
    )
    mock.add_argument(
        "--cancel-delay",
        type=_seconds,
        default=None,
        help="seconds a run spends cancelling before it is cancelled",
    )
    mock.set_defaults(command=run_mock)

    cassettes = commands.add_parser(
        "cassettes",
        help="work with recorded cassettes",
        description="Work with the cassettes recorded by `pytest contracts --record-mode ...`.",
    )
    cassette_commands = cassettes.add_subparsers(title="commands", metavar="COMMAND", parser_class=_Parser)
    from runcancel.recordings.cli import add_baseline_arguments, add_check_command

    add_check_command(cassette_commands)
    cassettes.set_defaults(command=lambda _args: _missing_command(cassettes))

    certify = commands.add_parser(
        "certify",
        help="run every contract suite against a server and write the reports",
        description="Run every contract suite (shape, lifecycle, errors, probes) against URL, or the "
        "built-in reference mock when no URL is given (nor OPENAI_BASE_URL), and write findings.json, "
        "drift.md, certification.md and certification.html. Exit 0 when the policy (--fail-on) passes.",
    )
    certify.add_argument("url", nargs="?", default=None, help="the server's base URL, or 'mock'")
    _suite_options(certify)
    certify.add_argument("--drift-baseline", metavar="DIR", help="also compare with the cassettes in DIR")
    certify.set_defaults(command=run_certify)

    drift = commands.add_parser(
        "drift",
        help="compare a server's answers with recorded ones",
        description="Run the contract suites against URL and compare every answer with the cassettes in "
        "--baseline: fields added or removed, types and nullability, status codes, error messages, headers. "
        "Exit 0 when no drift fails the policy (--fail-on); clause failures alone do not count here.",
    )
    drift.add_argument("url", help="the server's base URL, or 'mock'")
    add_baseline_arguments(drift)
    _suite_options(drift)
    drift.set_defaults(command=run_drift)
    return parser


# The options `certify` and `drift` pass to the suites: (flag, metavar, help). Not given: the suites'
# own chain applies (environment variable, then config, then default), as for `pytest contracts`.
_SUITE_OPTIONS = (
    ("--api-key", "KEY", "API key to send (env OPENAI_API_KEY)"),
    ("--fail-on", "POLICY", "breaking (default), additive or never (env RUNCANCEL_FAIL_ON)"),
    ("--reports-dir", "DIR", "where the reports go (default: reports; env RUNCANCEL_REPORTS_DIR)"),
    ("--request-timeout", "SECONDS", "time-out of one request (default 10)"),
    ("--arrange-timeout", "SECONDS", "how long to wait for a run to reach a status (default 30)"),
    ("--probe-examples", "N", "budget of the generated probe cases (default 100)"),
    ("--probe-seed", "SEED", "seed of the generated probe cases, or 'random'"),
)


def _suite_options(parser: argparse.ArgumentParser) -> None:
    for flag, metavar, text in _SUITE_OPTIONS:
        parser.add_argument(flag, metavar=metavar, default=None, help=text)


def suites_path() -> Path:
    """The contract suites: inside the installed package, else `contracts/` of the source tree."""
    from importlib import resources

    packaged = resources.files("runcancel").joinpath("contracts")
    if packaged.is_dir():
        return Path(str(packaged))
    return Path(__file__).resolve().parents[2] / "contracts"


def _pytest_args(args: argparse.Namespace, url: str | None, extra: Sequence[str] = ()) -> list[str]:
    """pytest's arguments for the suites, isolated from any pytest configuration in the current folder."""
    argv = [str(suites_path()), "-c", os.devnull, "--rootdir", os.getcwd(), "-p", "no:cacheprovider", "-q"]
    if url is not None:
        argv += ["--target", url]
    for flag, _metavar, _text in _SUITE_OPTIONS:
        value = getattr(args, flag.lstrip("-").replace("-", "_"))
        if value is not None:
            argv += [flag, value]
    return [*argv, *extra]


def run_certify(args: argparse.Namespace) -> int:
    """``runcancel certify [URL]``: every suite, the reports, the policy's exit code (pytest's codes)."""
    import pytest

    extra = ["--drift-baseline", args.drift_baseline] if args.drift_baseline else []
    return int(pytest.main(_pytest_args(args, args.url, extra)))


def run_drift(args: argparse.Namespace) -> int:
    """``runcancel drift URL --baseline DIR``: the suites run, and only their drift decides the exit."""
    import json

    import pytest

    from runcancel.findings import Finding, Severity
    from runcancel.reports import exit_decision
    from runcancel.settings import SettingsError, resolve_settings

    try:
        settings = resolve_settings({"fail_on": args.fail_on, "reports_dir": args.reports_dir}, os.environ)
    except SettingsError as exc:
        raise UsageError(str(exc)) from None
    from runcancel.recordings.cli import drift_baseline

    args.fail_on = "never"  # the suites' clause failures are certify's business, not drift's
    with drift_baseline(args):
        code = int(pytest.main(_pytest_args(args, args.url, ["--drift-baseline", args.baseline])))
    if code != 0:
        return code
    folder = Path(settings.reports_dir.value)
    document = json.loads(
        ((folder if folder.is_absolute() else Path.cwd() / folder) / "findings.json").read_text()
    )
    drift = [
        Finding(f["clause"], f["path"], f["expected"], f["observed"], Severity(f["severity"]))
        for f in document["drift"]["findings"]
    ]
    return 1 if exit_decision(drift, settings.fail_on.value) else 0


def _missing_command(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    raise UsageError(f"choose a command, e.g. '{parser.prog} check'")


def run_cassettes_check(args: argparse.Namespace) -> int:
    """``runcancel cassettes check [PATH]``: see ``runcancel.recordings.cli``."""
    from runcancel.recordings.cli import run_check

    return run_check(args)


def run_mock(args: argparse.Namespace) -> int:
    """``runcancel mock``: serve the mock until interrupted; 2 if it cannot start."""
    from runcancel.mock import DEFAULT_API_KEY, MockConfig, MockServer, MockStartError

    api_key, source = mock_api_key(args.api_key, os.environ, DEFAULT_API_KEY)
    timing = {
        name: getattr(args, name) for name in ("step", "cancel_delay") if getattr(args, name) is not None
    }
    config = MockConfig(api_key=api_key, **timing)
    server = MockServer(config, args.port, host=args.host)
    try:
        server.start()
    except MockStartError as exc:
        raise UsageError(str(exc)) from None
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        print(f"runcancel mock: listening on {server.base_url} (API key from {source})", flush=True)
        while server.running:
            server.wait(0.5)
    except KeyboardInterrupt:
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous)
        server.stop()
    print("runcancel: the mock server stopped unexpectedly; see the log above.", file=sys.stderr)
    return 1


def mock_api_key(option: str | None, environ: Mapping[str, str], default: str) -> tuple[str, str]:
    """The key the mock accepts and where it came from.

    The chain: ``--api-key``, then ``OPENAI_API_KEY``, then the default; an empty value counts as not given.
    """
    if option:
        return option, "--api-key"
    if environ.get("OPENAI_API_KEY"):
        return environ["OPENAI_API_KEY"], "OPENAI_API_KEY"
    return default, "the built-in default"


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; the exit code (2 for a usage error, printed as ``runcancel: <message>``)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        command: Command | None = getattr(args, "command", None)
        if command is None:
            parser.print_help(sys.stderr)
            raise UsageError("choose a command, e.g. 'runcancel mock'")
        return command(args)
    except UsageError as exc:
        message = str(exc)
        print(message if message.startswith("runcancel:") else f"runcancel: {message}", file=sys.stderr)
        return 2
    except SystemExit as exc:  # --help and --version exit through argparse
        return exc.code if isinstance(exc.code, int) else 0


if __name__ == "__main__":
    sys.exit(main())
