"""The command line of recordings: `runcancel cassettes check` and the drift baseline's options.

`runcancel.cli` builds the parsers and delegates here: `add_check_command` defines the check's
arguments and the function that runs it, `add_baseline_arguments` the options of a drift baseline,
`drift_baseline` checks a baseline before the suites run and passes `--skip-broken` on to them.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["SKIP_BROKEN_ENV", "add_baseline_arguments", "add_check_command", "drift_baseline", "run_check"]

SKIP_BROKEN_ENV = "RUNCANCEL_DRIFT_SKIP_BROKEN"


def _usage(message: str) -> Exception:
    from runcancel.cli import UsageError

    return UsageError(message)


def add_check_command(commands: Any) -> argparse.ArgumentParser:
    """`cassettes check [PATH] [--format text|json] [--fail-on POLICY]` on the `cassettes` subparsers."""
    check: argparse.ArgumentParser = commands.add_parser(
        "check",
        help="check every recorded Run and error answer against the contract, and name the era",
        description="Read recorded traffic in any common format (runcancel's and other projects' vcrpy "
        "cassettes, YAML or JSON; Ruby VCR cassettes; HAR 1.2 files), judge every Run on any route and "
        "every 4xx error answer with the suites' checks, and name the era of the API the Runs look like. "
        "Exit 0: nothing the policy counts; 1: a finding the policy counts, or a file unusable or "
        "incomplete; 2: nothing to check.",
    )
    check.add_argument(
        "path", nargs="?", default="cassettes", help="a recording or a folder of them (default: %(default)s)"
    )
    check.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="text (default) or json: one document, schema in recordings/check.schema.json",
    )
    check.add_argument(
        "--fail-on",
        choices=("breaking", "additive", "never"),
        default="breaking",
        help="which findings fail the check (default: %(default)s); unusable files always do",
    )
    check.set_defaults(command=run_check)
    return check


def run_check(args: argparse.Namespace) -> int:
    from runcancel.recordings.check import as_json, check_recordings, render_text
    from runcancel.recordings.reader import SUFFIXES, find_recordings

    root = Path(args.path)
    try:
        paths = find_recordings(root)
    except FileNotFoundError:
        raise _usage(
            f"no recordings at {args.path!r} (no such file or folder). Give a cassette, a HAR file or a "
            "folder of them: runcancel cassettes check PATH; or record some with "
            "`pytest contracts --target mock --record-mode once`."
        ) from None
    if not paths:
        raise _usage(
            f"no recordings ({', '.join('*' + s for s in SUFFIXES)}) under {args.path!r}. Give the folder "
            "of your cassettes or HAR files, or record some with `pytest contracts --target mock "
            "--record-mode once`."
        )
    report = check_recordings(paths, root, args.fail_on)
    if args.format == "json":
        json.dump(as_json(report), sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        print(render_text(report))
    return 1 if report.fail else 0


def add_baseline_arguments(parser: argparse.ArgumentParser) -> None:
    """`--baseline PATH` (required) and `--skip-broken` of `runcancel drift`."""
    parser.add_argument(
        "--baseline",
        required=True,
        metavar="PATH",
        help="recorded answers to compare with: a folder or a file of vcrpy or Ruby VCR cassettes "
        "or HAR files",
    )
    parser.add_argument(
        "--skip-broken",
        action="store_true",
        default=None,
        help=f"leave out unreadable or incomplete baseline files (named in the report) instead of "
        f"failing (env {SKIP_BROKEN_ENV}=1)",
    )


@contextlib.contextmanager
def drift_baseline(args: argparse.Namespace) -> Iterator[None]:
    """Pass `--skip-broken` on to the session that loads the baseline (`drift.load_baseline`, which
    refuses a broken file by name before any suite runs, as a usage error)."""
    if not args.skip_broken:
        yield
        return
    before = os.environ.get(SKIP_BROKEN_ENV)
    os.environ[SKIP_BROKEN_ENV] = "1"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(SKIP_BROKEN_ENV, None)
        else:
            os.environ[SKIP_BROKEN_ENV] = before
