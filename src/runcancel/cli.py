"""The ``runcancel`` command line: one function per subcommand, one parser built by ``build_parser``."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from runcancel import __version__

__all__ = [
    "UsageError",
    "build_parser",
    "main",
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


def build_parser() -> argparse.ArgumentParser:
    """The parser of every subcommand; each sets ``command`` to the function that runs it."""
    parser = _Parser(
        prog="runcancel",
        description="Contract tests for the OpenAI Assistants v2 cancel-run endpoint.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"runcancel {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", parser_class=_Parser)

    mock = commands.add_parser(
        "mock",
        help="serve the reference mock API in the foreground until Ctrl-C",
        description="Serve the reference mock of the Assistants v2 runs API until Ctrl-C.",
    )
    from runcancel.mock import cli as mock_cli

    mock_cli.add_arguments(mock)
    mock.set_defaults(command=mock_cli.run)

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
        usage="runcancel certify [URL] [options] [-- PYTEST_ARGS...]",
        description="Run every contract suite (shape, lifecycle, errors, probes) against URL, or the "
        "built-in reference mock when no URL is given (nor OPENAI_BASE_URL), and write findings.json, "
        "drift.md, certification.md and certification.html. Arguments after `--` go to pytest as they "
        "are: --junitxml=FILE, -k EXPR, -x, -v, -n 4 (with pytest-xdist installed).",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    certify.add_argument("url", nargs="?", default=None, help="the server's base URL, or 'mock'")
    _suite_options(certify)
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
    _suite_options(drift, leave_out=("drift_baseline",))
    drift.set_defaults(command=run_drift)
    return parser


EXIT_CODES = """exit codes (the same for a pytest run of the suites):
  0  the run passes under the policy (--fail-on)
  1  the run fails under the policy
  2  usage error: a bad setting, option or folder; nothing was checked
  3  interrupted (Ctrl-C, -x), or the reports could not be written
  4  the target could not be reached when the run started, or stopped answering in it"""


def _suite_options(parser: argparse.ArgumentParser, leave_out: Sequence[str] = ()) -> None:
    """The suites' settings as flags, from the one table (`runcancel.settings.SETTINGS`). Not given:
    the suites' own chain applies (environment variable, then default), as for pytest."""
    from runcancel.settings import SETTINGS

    for spec in SETTINGS:
        if spec.name in leave_out:
            continue
        names = [spec.flag, *([spec.short] if spec.short else [])]
        where = f" (env {spec.env})" if spec.env else ""
        default = f"; default {spec.default}" if spec.default is not None else ""
        if spec.switch:
            parser.add_argument(
                *names,
                dest=spec.name,
                action="store_const",
                const=True,
                default=None,
                help=f"{spec.help}{where}",
            )
            continue
        parser.add_argument(
            *names,
            dest=spec.name,
            metavar=spec.metavar,
            default=None,
            action="append" if spec.repeat else "store",
            help=f"{spec.help}{where}{default}",
        )


def _given(args: argparse.Namespace) -> dict[str, Any]:
    from runcancel.settings import SETTINGS

    return {
        spec.name: getattr(args, spec.name, None)
        for spec in SETTINGS
        if getattr(args, spec.name, None) is not None
    }


def _check_settings(args: argparse.Namespace) -> None:
    """Refuse a bad value before pytest starts: the same one-paragraph message, exit 2."""
    from runcancel.settings import SettingsError, resolve_settings
    from runcancel.targets import ASGI_PREFIX, TargetError, normalize_base_url

    options = _given(args)
    if args.url is not None:
        options["target"] = args.url
    try:
        settings = resolve_settings(options, os.environ)
    except SettingsError as exc:
        raise UsageError(str(exc)) from None
    if settings.api_key.value:
        from runcancel.targets import check_key

        try:
            check_key(settings.api_key.value, f"the API key (from {settings.api_key.source})")
        except TargetError as exc:
            raise UsageError(str(exc)) from None
    # An in-process app (asgi:MODULE:ATTR) is imported, and refused if it cannot be, by the suites.
    if not (settings.uses_mock or settings.replays or settings.target.value.startswith(ASGI_PREFIX)):
        try:
            normalize_base_url(settings.target.value)
        except TargetError as exc:
            raise UsageError(str(exc)) from None


def suites_path() -> Path:
    """The contract suites: inside the installed package, else `contracts/` of the source tree."""
    from importlib import resources

    packaged = resources.files("runcancel").joinpath("contracts")
    if packaged.is_dir():
        return Path(str(packaged))
    return Path(__file__).resolve().parents[2] / "contracts"


def _pytest_args(args: argparse.Namespace, url: str | None, extra: Sequence[str] = ()) -> list[str]:
    """pytest's arguments for the suites, isolated from any pytest configuration in the current folder.

    Each setting given goes to pytest under its `--runcancel-` name, which no other plugin owns.
    """
    from runcancel.settings import SETTINGS

    passthrough = list(getattr(args, "pytest_args", []))
    verbose = any(a.startswith("-v") or a.startswith("--verbose") for a in passthrough)
    argv = [str(suites_path()), "-c", os.devnull, "--rootdir", os.getcwd(), "-p", "no:cacheprovider"]
    argv += [] if verbose else ["-q"]
    # pytest marks an installed plugin's package for assertion rewriting; this process imported it
    # already (it is the command line, which loads the mock's server, anyio included), and those
    # modules hold no test assertions to rewrite.
    for module in _ALREADY_IMPORTED_MODULES:
        argv += ["-W", f"ignore:{_ALREADY_IMPORTED}{module}:pytest.PytestAssertRewriteWarning"]
    if url is not None:
        argv += [SETTINGS[0].option, url]
    for spec in SETTINGS:
        value = getattr(args, spec.name, None)
        if value is None:
            continue
        if spec.switch:
            argv.append(spec.option)
        else:
            argv += [part for item in (value if spec.repeat else [value]) for part in (spec.option, item)]
    return [*argv, *extra, *passthrough]


_ALREADY_IMPORTED = "Module already imported so cannot be rewritten; "
_ALREADY_IMPORTED_MODULES = ("runcancel", "anyio")


class CliRun:
    """The plugin `certify` and `drift` register around their pytest run: it tells the suites the
    command that reproduces the run, and learns whether the suites ran (their exit codes are then
    runcancel's own; else pytest's are mapped onto them)."""

    def __init__(self, passthrough: Sequence[str]) -> None:
        self.passthrough = list(passthrough)
        self.used = False

    def pytest_sessionfinish(self, session: Any) -> None:
        from runcancel.plugin import EARLY

        early = session.config.stash.get(EARLY, None)
        self.used = early is not None and early.suites is not None


# pytest's own exit codes, when the suites did not run, onto runcancel's (see EXIT_CODES).
_PYTEST_CODES = {2: 3, 3: 3, 4: 2, 5: 2}


def _run_pytest(args: argparse.Namespace, url: str | None, extra: Sequence[str] = ()) -> int:
    """pytest on the suites. Hypothesis keeps its caches in a folder of its own for the run, so no
    `.hypothesis/` is left in the user's folder (unless HYPOTHESIS_STORAGE_DIRECTORY says where)."""
    import tempfile

    import pytest

    from runcancel.plugin import CLI_PLUGIN

    observer = CliRun(getattr(args, "pytest_args", []))
    with tempfile.TemporaryDirectory(prefix="runcancel-hypothesis-") as storage:
        given = os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY")
        os.environ["HYPOTHESIS_STORAGE_DIRECTORY"] = given or storage
        try:
            code = int(pytest.main(_pytest_args(args, url, extra), plugins=[_Named(observer, CLI_PLUGIN)]))
        finally:
            if given is None:
                os.environ.pop("HYPOTHESIS_STORAGE_DIRECTORY", None)
    return code if observer.used else _PYTEST_CODES.get(code, code)


class _Named:
    """Registers a plugin object under a name pytest's plugin manager can look up."""

    def __init__(self, plugin: Any, name: str) -> None:
        self.plugin, self.name = plugin, name

    def pytest_addhooks(self, pluginmanager: Any) -> None:
        if not pluginmanager.has_plugin(self.name):
            pluginmanager.register(self.plugin, self.name)


def run_certify(args: argparse.Namespace) -> int:
    """``runcancel certify [URL] [-- PYTEST_ARGS]``: every suite, the reports, the exit code (EXIT_CODES)."""
    _check_settings(args)
    return _run_pytest(args, args.url)


def run_drift(args: argparse.Namespace) -> int:
    """``runcancel drift URL --baseline DIR``: the suites run, and only their drift decides the exit."""
    import json

    from runcancel.findings import Finding, Severity
    from runcancel.reports import exit_decision
    from runcancel.settings import SettingsError, resolve_settings

    _check_settings(args)
    try:
        settings = resolve_settings({"fail_on": args.fail_on, "reports_dir": args.reports_dir}, os.environ)
    except SettingsError as exc:
        raise UsageError(str(exc)) from None
    from runcancel.recordings.cli import drift_baseline

    args.fail_on = "never"  # the suites' clause failures are certify's business, not drift's
    with drift_baseline(args):
        code = _run_pytest(args, args.url, ["--runcancel-drift-baseline", args.baseline])
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


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; the exit code (2 for a usage error, printed as ``runcancel: <message>``)."""
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    passthrough: list[str] = []
    if "--" in argv:  # what follows `--` goes to pytest as it is
        at = argv.index("--")
        argv, passthrough = argv[:at], argv[at + 1 :]
    try:
        args = parser.parse_args(argv)
        if passthrough and getattr(args, "command", None) not in (run_certify, run_drift):
            raise UsageError("only certify and drift pass arguments after `--` on to pytest")
        args.pytest_args = passthrough
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
