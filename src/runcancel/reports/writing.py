"""Writing the reports: every file atomically (a temporary file, then a rename, all or nothing), the
GitHub step summary appended when `GITHUB_STEP_SUMMARY` names a file, and errors people can act on."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from runcancel.reports.documents import badge_json, findings_json
from runcancel.reports.model import Report
from runcancel.reports.render import (
    CONTRACT_COPY,
    render_certification_html,
    render_certification_md,
    render_drift_md,
)

__all__ = [
    "FILES",
    "STEP_SUMMARY_LIMIT",
    "ReportError",
    "check_writable",
    "step_summary_text",
    "write_reports",
    "write_step_summary",
]

FILES = ("findings.json", "drift.md", "certification.md", "certification.html", "badge.json", CONTRACT_COPY)
# GitHub refuses a step summary above 1 MiB; a longer certificate is cut after its broken list.
STEP_SUMMARY_LIMIT = 1024 * 1024
_SURROGATES = re.compile("[\ud800-\udfff]")


class ReportError(Exception):
    """The reports could not be written; the message says where, why and what to do."""


def _advice(folder: Path, exc: OSError) -> str:
    blocking = next((p for p in (folder, *folder.parents) if p.exists() and not p.is_dir()), None)
    if blocking is not None:
        return f"{blocking} is a file, not a folder: remove it, or pass --reports-dir with another folder."
    if exc.errno == errno.EROFS:
        return "That file system is read-only: pass --reports-dir with a folder on a writable one."
    if exc.errno == errno.ENOSPC:
        return "The disk is full: free some space, or pass --reports-dir with a folder on another disk."
    return "Make the folder writable, or pass --reports-dir with a folder you can write to."


def _report_error(what: str, path: Path, folder: Path, exc: OSError) -> ReportError:
    cause = exc.strerror or str(exc) or type(exc).__name__
    return ReportError(f"runcancel: cannot {what} {path} ({cause}). {_advice(folder, exc)}")


def json_bytes(document: dict[str, Any]) -> bytes:
    """UTF-8 JSON; a lone surrogate a server sent (valid in JSON, not in UTF-8) stays escaped."""
    try:
        return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    except UnicodeEncodeError:
        return (json.dumps(document, indent=2) + "\n").encode("ascii")


def text_bytes(text: str) -> bytes:
    return _SURROGATES.sub("\ufffd", text).encode("utf-8")


def _contract_bytes() -> bytes:
    from runcancel.contract import contract_path

    return contract_path().read_bytes()


def _write_temp(folder: Path, name: str, data: bytes) -> Path:
    fd, temp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".tmp")
    try:
        with open(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(temp, 0o644)  # mkstemp makes it private; a report is for reading
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    return Path(temp)


def step_summary_text(report: Report, limit: int = STEP_SUMMARY_LIMIT) -> str:
    """certification.md, or, when longer than GitHub takes, its head: up to the first suite's table."""
    text = render_certification_md(report)
    if len(text_bytes(text)) <= limit:
        return text
    kept: list[str] = []
    for line in text.splitlines():
        if line.startswith("## ") and line not in ("## Broken", "## Target verdicts"):
            break
        kept.append(line)
    note = "_The full certificate is longer than a step summary takes: see certification.md._"
    head = text_bytes("\n".join(kept))[: limit - len(note) - 4].decode("utf-8", errors="ignore")
    return f"{head}\n\n{note}\n"


def write_step_summary(report: Report, environ: Mapping[str, str]) -> Path | None:
    """Append the Markdown certificate to the file `GITHUB_STEP_SUMMARY` names (GitHub Actions shows
    it on the job's page); nothing when the variable is unset or empty. Returns the file appended to."""
    where = environ.get("GITHUB_STEP_SUMMARY", "")
    if not where:
        return None
    path = Path(where)
    try:
        with open(path, "ab") as fh:
            fh.write(text_bytes(step_summary_text(report) + "\n"))
    except OSError as exc:
        cause = exc.strerror or str(exc) or type(exc).__name__
        raise ReportError(
            f"runcancel: cannot append the step summary to {path} ({cause}), the file GITHUB_STEP_SUMMARY "
            "names. The reports themselves were written. Unset GITHUB_STEP_SUMMARY, or point it at a "
            "writable file."
        ) from None
    return path


def write_reports(report: Report, folder: Path, environ: Mapping[str, str] | None = None) -> list[Path]:
    """Write the report files into `folder` (created if missing) and return their paths; then append
    the step summary when `environ` (default: the process's environment) sets GITHUB_STEP_SUMMARY.

    The files: findings.json, drift.md, certification.md, certification.html, badge.json and a copy
    of the contract document the HTML links to. Every file is written to a temporary file in the
    folder first; only when all are written do they replace the old ones, so a failure never leaves
    a half-written report. Any failure is a `ReportError` saying what failed, where, why and what to do.
    """
    texts = {
        "findings.json": json_bytes(findings_json(report)),
        "drift.md": text_bytes(render_drift_md(report)),
        "certification.md": text_bytes(render_certification_md(report)),
        "certification.html": text_bytes(render_certification_html(report)),
        "badge.json": json_bytes(badge_json(report)),
        CONTRACT_COPY: _contract_bytes(),
    }
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _report_error("create the reports folder", folder, folder, exc) from None
    temps: dict[str, Path] = {}
    try:
        for name, text in texts.items():
            try:
                temps[name] = _write_temp(folder, name, text)
            except OSError as exc:
                raise _report_error("write the report", folder / name, folder, exc) from None
        written = []
        for name, temp in temps.items():
            try:
                os.replace(temp, folder / name)
            except OSError as exc:
                raise _report_error("write the report", folder / name, folder, exc) from None
            written.append(folder / name)
    finally:
        for temp in temps.values():
            with contextlib.suppress(OSError):
                temp.unlink(missing_ok=True)
    write_step_summary(report, os.environ if environ is None else environ)
    return written


def check_writable(folder: Path) -> None:
    """Raise ReportError now, before a run, if the reports could not be written into `folder` later."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _report_error("create the reports folder", folder, folder, exc) from None
    try:
        _write_temp(folder, "probe", b"").unlink()
    except OSError as exc:
        raise _report_error("write into the reports folder", folder, folder, exc) from None
