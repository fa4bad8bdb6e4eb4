"""``runcancel mock``: its command-line flags and the function that serves the mock until interrupted.

``add_arguments(parser)`` declares the flags on the subcommand's parser; ``run(args)`` serves and
returns the exit code (2, after one ``runcancel: ...`` paragraph on stderr, when the mock cannot start).
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import sys
from collections.abc import Mapping
from types import FrameType

from runcancel.eras import ERAS
from runcancel.mock.config import DEFAULT_API_KEY, DEFAULT_MAX_BYTES, PACES, MockConfig

__all__ = ["DEFAULT_PORT", "add_arguments", "mock_api_key", "run"]

DEFAULT_PORT = 4010
_DEFAULTS = MockConfig()


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"expected a number of seconds >= 0, got {text!r}")
    return value


def _port(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"expected a port number from 0 to 65535, got {text!r}")
    return int(text)


def _rate(text: str) -> float:
    number = text.removesuffix("/s")
    try:
        value = float(number)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected requests a second such as 5/s or 0.5/s, got {text!r}")
    return value


def _share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (0.0 <= value <= 1.0):
        raise argparse.ArgumentTypeError(f"expected a share from 0 to 1, got {text!r}")
    return value


def _count(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return int(text)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``runcancel mock``; each help text names its default."""
    fast, live = PACES["fast"], PACES["live"]
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = (
        f"Base URL: http://HOST:PORT/v1 (default http://127.0.0.1:{DEFAULT_PORT}/v1). Point the openai SDK "
        "at it:\n  export OPENAI_BASE_URL=http://127.0.0.1:4010/v1 OPENAI_API_KEY=<the mock's key>\n"
        f"The key is --api-key, else $OPENAI_API_KEY, else the built-in mock key {DEFAULT_API_KEY}."
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    parser.add_argument(
        "--port",
        type=_port,
        default=DEFAULT_PORT,
        help="port to listen on, 0 for a free one (default: %(default)s)",
    )
    parser.add_argument(
        "--api-key",
        default=None,
        help=f"the key clients must send (default: $OPENAI_API_KEY, else {DEFAULT_API_KEY})",
    )
    parser.add_argument(
        "--pace",
        choices=sorted(PACES),
        default=None,
        help=f"how fast runs move (default: fast: {fast.queued:g} s queued, {fast.in_progress:g} s in "
        f"progress, {fast.cancelling:g} s cancelling; live: {live.queued:g} s, {live.in_progress:g} s, "
        f"{live.cancelling:g} s, like the live API)",
    )
    parser.add_argument(
        "--step",
        type=_seconds,
        default=None,
        help="seconds a run spends queued, and again in progress, before its outcome (default: the pace's)",
    )
    parser.add_argument(
        "--cancel-delay",
        type=_seconds,
        default=None,
        help="seconds a run spends cancelling before it is cancelled (default: the pace's)",
    )
    parser.add_argument(
        "--era",
        choices=[era.name for era in ERAS],
        default=None,
        help=f"serve the live Run's keys of that era (default: {ERAS[-1].name}, the newest: 29 keys)",
    )
    parser.add_argument(
        "--rate-limit",
        type=_rate,
        metavar="N/s",
        default=None,
        help="answer 429 with Retry-After beyond N requests a second (default: no limit)",
    )
    parser.add_argument(
        "--retired",
        action="store_true",
        default=None,
        help="answer every authenticated request as a switched-off endpoint: 404 unknown_url (default: off)",
    )
    parser.add_argument(
        "--cancel-race",
        type=_share,
        metavar="P",
        default=None,
        help="share of accepted cancels that lose the race: the run completes anyway (default: 0)",
    )
    parser.add_argument("--seed", type=int, default=None, help="seed of --cancel-race (default: random)")
    parser.add_argument(
        "--max-stored-bytes",
        type=_count,
        default=None,
        help=f"bytes of stored objects kept, oldest evicted first (default: {DEFAULT_MAX_BYTES})",
    )
    parser.add_argument(
        "--header-timeout",
        type=_seconds,
        default=None,
        help="seconds a connection may take to send a request's headers "
        f"(default: {_DEFAULTS.header_timeout:g})",
    )
    parser.add_argument(
        "--keep-alive",
        type=_count,
        default=None,
        help=f"seconds an idle keep-alive connection is kept (default: {_DEFAULTS.keep_alive})",
    )
    parser.add_argument(
        "--http",
        choices=["auto", "httptools", "h11"],
        default="auto",
        help="HTTP implementation (default: %(default)s: httptools where installed, else h11)",
    )
    parser.add_argument(
        "--log", action="store_true", help="print one line per request to stderr (default: off)"
    )


def mock_api_key(option: str | None, environ: Mapping[str, str], default: str) -> tuple[str, str]:
    """The key the mock accepts and where it came from.

    The chain: ``--api-key``, then ``OPENAI_API_KEY``, then the default; an empty value counts as not given.
    """
    if option:
        return option, "--api-key"
    if environ.get("OPENAI_API_KEY"):
        return environ["OPENAI_API_KEY"], "OPENAI_API_KEY"
    return default, "the built-in default"


def config_from(args: argparse.Namespace, environ: Mapping[str, str]) -> tuple[MockConfig, str]:
    """The mock's configuration from the flags, and where its key came from."""
    api_key, source = mock_api_key(args.api_key, environ, DEFAULT_API_KEY)
    given = {
        "step": args.step,
        "cancel_delay": args.cancel_delay,
        "pace": args.pace,
        "era": args.era,
        "rate_limit": args.rate_limit,
        "retired": args.retired,
        "cancel_race": args.cancel_race,
        "seed": args.seed,
        "max_bytes": args.max_stored_bytes,
        "header_timeout": args.header_timeout,
        "keep_alive": args.keep_alive,
    }
    log = (lambda line: print(line, file=sys.stderr, flush=True)) if args.log else None
    options = {name: value for name, value in given.items() if value is not None}
    return MockConfig(api_key=api_key, log=log, **options), source


def start_lines(base_url: str, source: str, http: str) -> str:
    """What the mock prints once it listens: its URL, the key's source, how to point the SDK at it."""
    key = DEFAULT_API_KEY if source == "the built-in default" else "<your key>"
    if source == "OPENAI_API_KEY":
        sdk = f"export OPENAI_BASE_URL={base_url}  (OPENAI_API_KEY is already set)"
    else:
        sdk = f"export OPENAI_BASE_URL={base_url} OPENAI_API_KEY={key}"
    return (
        f"runcancel mock: listening on {base_url} (API key from {source})\n"
        f"  serving with {http}; point the openai SDK at it: {sdk}"
    )


def run(args: argparse.Namespace) -> int:
    """Serve the mock until interrupted; 2 if it cannot start (the reason on stderr, one paragraph)."""
    from runcancel.mock.server import MockServer, MockStartError

    config, source = config_from(args, os.environ)
    server = MockServer(config, args.port, host=args.host, http=args.http)
    try:
        server.start()
    except MockStartError as exc:
        print(f"runcancel: {exc}", file=sys.stderr)
        return 2
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        print(start_lines(server.base_url, source, server.http), flush=True)
        while server.running:
            server.wait(0.5)
    except KeyboardInterrupt:
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous)
        server.stop()
    print("runcancel: the mock server stopped unexpectedly; see the log above.", file=sys.stderr)
    return 1


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt
