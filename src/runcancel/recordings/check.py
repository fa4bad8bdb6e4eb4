"""`runcancel cassettes check`: every file read, every Run and error judged, the era named.

`check_recordings` reads the files one by one (a broken one is reported and the others still read),
judges each exchange (`judge.judge`) and gathers, per file, its format, counts, era and findings;
`render_text` prints them by clause, `as_json` gives the document `check.schema.json` describes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from runcancel.eras import EraMatch, era_of, usage_era
from runcancel.findings import NotVerified, Severity
from runcancel.recordings.judge import Judged, judge
from runcancel.recordings.model import FORMATS, RecordingError, display_path
from runcancel.recordings.reader import read_recording
from runcancel.scrub import Scrubber

__all__ = ["SCHEMA_ID", "CheckReport", "FileReport", "as_json", "check_recordings", "render_text"]

SCHEMA_ID = "runcancel.cassettes-check/1"
LISTED_FILES = 50  # more files than this are summed up by format and era in the text output
FAIL_ON = ("breaking", "additive", "never")


@dataclass
class FileReport:
    """One file: its format, what was judged in it, its era, its findings, and its problem if any."""

    path: Path
    format: str | None = None
    ours: bool = False
    provenance: dict[str, Any] | None = None
    exchanges: int = 0
    errors: int = 0
    runs: int = 0
    keysets: Counter[tuple[str, ...]] = field(default_factory=Counter)
    usage: Counter[str] = field(default_factory=Counter)
    findings: list[Judged] = field(default_factory=list)
    not_verified: list[tuple[NotVerified, str]] = field(default_factory=list)
    held: set[str] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)
    problem: RecordingError | None = None

    @property
    def eras(self) -> list[tuple[EraMatch, int]]:
        """The era of each key set its Runs showed, most Runs first."""
        return [(era_of(keys), count) for keys, count in self.keysets.most_common()]

    @property
    def era(self) -> EraMatch | None:
        eras = self.eras
        return eras[0][0] if eras else None


@dataclass
class CheckReport:
    root: Path
    fail_on: str = "breaking"
    files: list[FileReport] = field(default_factory=list)

    def counts(self) -> Counter[str]:
        counts: Counter[str] = Counter()
        for f in self.files:
            counts["exchanges"] += f.exchanges
            counts["runs"] += f.runs
            counts["errors"] += f.errors
            counts["broken"] += f.problem is not None and not f.problem.incomplete
            counts["incomplete"] += f.problem is not None and f.problem.incomplete
            for j in f.findings:
                counts[j.finding.severity.value] += 1
        return counts

    @property
    def keysets(self) -> Counter[tuple[str, ...]]:
        total: Counter[tuple[str, ...]] = Counter()
        for f in self.files:
            total.update(f.keysets)
        return total

    @property
    def era(self) -> EraMatch | None:
        common = self.keysets.most_common(1)
        return era_of(common[0][0]) if common else None

    @property
    def fail(self) -> bool:
        """Whether the check fails: a file unusable, or findings the policy counts."""
        counts = self.counts()
        if counts["broken"] or counts["incomplete"]:
            return True
        if self.fail_on == "never":
            return False
        return bool(counts["breaking"] or (self.fail_on == "additive" and counts["additive"]))


def check_recordings(
    paths: Iterable[Path], root: Path, fail_on: str = "breaking", workers: int | None = None
) -> CheckReport:
    """Read and judge every file (over the machine's cores when there are many); keep going past the
    ones that cannot be read."""
    from runcancel.recordings.pool import map_files

    report = CheckReport(root=root, fail_on=fail_on)
    report.files = map_files(check_file, list(paths), workers)
    return report


def check_file(path: Path) -> FileReport:
    result = FileReport(path)
    scrubber = Scrubber("")
    try:
        recording = read_recording(path)
        result.format, result.ours = recording.format, recording.ours
        result.provenance = dict(recording.provenance) if recording.provenance else None
        for rec in recording.exchanges:
            result.exchanges += 1
            verdict = judge(rec, ours=recording.ours, scrubber=scrubber)
            result.findings += verdict.findings
            result.not_verified += verdict.not_verified
            result.held |= verdict.held
            result.errors += verdict.errors
            for run in verdict.runs:
                result.runs += 1
                result.keysets[tuple(run)] += 1
                usage = run.get("usage")
                if isinstance(usage, dict) and (month := usage_era(usage)):
                    result.usage[month] += 1
        result.notes += recording.notes
    except RecordingError as exc:
        result.problem = exc
        result.ours = result.ours or exc.ours
    except FileNotFoundError:
        result.problem = RecordingError(path, "disappeared while it was being read", hint="")
    return result


# -- output -------------------------------------------------------------------------------------------


def eras_of(keysets: Counter[tuple[str, ...]]) -> list[tuple[EraMatch, int]]:
    return [(era_of(keys), count) for keys, count in keysets.most_common()]


def _version() -> str:
    try:
        return metadata.version("runcancel")
    except metadata.PackageNotFoundError:  # pragma: no cover - a source tree without metadata
        return "unknown"


def _era_json(match: EraMatch | None, runs: int | None = None) -> dict[str, Any] | None:
    if match is None:
        return None
    data = match.as_json()
    data["span"] = match.era.span
    data["api"] = match.era.api
    if runs is not None:
        data["runs"] = runs
    return data


def _finding_json(j: Judged) -> dict[str, Any]:
    f = j.finding
    return {
        "clause": f.clause,
        "path": f.path,
        "severity": f.severity.value,
        "expected": f.expected,
        "observed": f.observed,
        "location": j.where,
        "line": j.line or None,
        "request": str(f.evidence) if f.evidence is not None else None,
        "note": j.note,
    }


def _file_json(f: FileReport) -> dict[str, Any]:
    problem = None
    if f.problem is not None:
        problem = {
            "message": f.problem.problem,
            "location": f.problem.location,
            "line": f.problem.line,
            "incomplete": f.problem.incomplete,
            "hint": f.problem.hint or None,
        }
    return {
        "path": display_path(f.path),
        "format": f.format,
        "format_name": FORMATS[f.format] if f.format else None,
        "recorded_by_runcancel": f.ours,
        "provenance": f.provenance,
        "readable": f.problem is None,
        "problem": problem,
        "exchanges": f.exchanges,
        "runs": f.runs,
        "errors": f.errors,
        "era": _era_json(f.era),
        "eras": [_era_json(match, count) for match, count in f.eras],
        "usage_eras": dict(sorted(f.usage.items())),
        "findings": [_finding_json(j) for j in f.findings],
        "not_verified": sorted({(nv.clause, nv.reason) for nv, _ in f.not_verified}),
        "notes": f.notes,
    }


def as_json(report: CheckReport) -> dict[str, Any]:
    """The document `runcancel cassettes check --format json` prints (schema: check.schema.json)."""
    counts = report.counts()
    files = [_file_json(f) for f in report.files]
    for entry in files:
        entry["not_verified"] = [{"clause": c, "reason": r} for c, r in entry["not_verified"]]
    return {
        "schema": SCHEMA_ID,
        "runcancel_version": _version(),
        "root": display_path(report.root),
        "policy": {"fail_on": report.fail_on, "fail": report.fail},
        "summary": {
            "files": len(report.files),
            "readable": sum(f.problem is None for f in report.files),
            "broken": counts["broken"],
            "incomplete": counts["incomplete"],
            "exchanges": counts["exchanges"],
            "runs": counts["runs"],
            "errors": counts["errors"],
            "findings": {s.value: counts[s.value] for s in Severity},
        },
        "era": _era_json(report.era),
        "files": files,
    }


def render_text(report: CheckReport) -> str:
    """The check for a terminal: each file's format, counts and eras; findings by clause (the same
    finding in many answers once, with its first place and how many more); the files not read."""
    from runcancel.clauses import all_clauses

    titles = {c.id: c.title for c in all_clauses().values()}
    counts = report.counts()
    lines = [
        f"runcancel cassettes check: {display_path(report.root)}: {len(report.files)} files, "
        f"{counts['exchanges']} exchanges, {counts['runs']} Runs and {counts['errors']} error answers judged"
    ]
    readable_files = [file for file in report.files if file.problem is None and file.format is not None]
    if len(readable_files) <= LISTED_FILES:
        for file in readable_files:
            eras = "; ".join(f"{m.describe()} ({n} Runs)" for m, n in file.eras) or "no Run"
            lines.append(
                f"  {display_path(file.path)}: {FORMATS[file.format or 'runcancel']}, {file.exchanges} "
                f"exchanges, {file.runs} Runs, {file.errors} errors; era {eras}"
            )
    else:
        by_format = Counter(FORMATS[file.format or "runcancel"] for file in readable_files)
        lines.extend(f"  {count} files: {name}" for name, count in by_format.most_common())
        for match, count in eras_of(report.keysets):
            lines.append(f"  {count} Runs: {match.describe()}")
    notes = Counter(note for file in readable_files for note in file.notes)
    for note, count in notes.most_common():
        where = next(display_path(f.path) for f in readable_files if note in f.notes)
        lines.append(f"  note: {where}" + (f" and {count - 1} more files" if count > 1 else "") + f": {note}")
    by_clause: dict[str, dict[tuple[str, ...], list[Judged]]] = {}
    for file in report.files:
        for j in file.findings:
            f = j.finding
            key = (f.path, f.expected, f.observed, f.severity.value, j.note or "")
            by_clause.setdefault(f.clause, {}).setdefault(key, []).append(j)
    for clause in sorted(by_clause):
        groups = by_clause[clause]
        total = sum(len(found) for found in groups.values())
        title = titles.get(clause)
        lines += ["", f"{clause}" + (f" ({title})" if title else "") + f": {total} finding(s)"]
        for found in groups.values():
            first = found[0]
            f = first.finding
            severity = "" if f.severity is Severity.BREAKING else f" ({f.severity.value})"
            note = f" [{first.note}]" if first.note else ""
            more = f" (and {len(found) - 1} more answers like it)" if len(found) > 1 else ""
            said = f"expected {f.expected}; observed {f.observed}{severity}{note}{more}"
            lines.append(f"  {first.where}: {f.path}: {said}")
            if f.evidence is not None:
                lines.append(f"    request: {f.evidence}")
    problems = [(file, file.problem) for file in report.files if file.problem is not None]
    if problems:
        lines += ["", f"{len(problems)} file(s) could not be checked:"]
        for _file, problem in problems:
            lines.append(f"  {problem.location}: {problem.problem}")
            if problem.hint:
                lines.append(f"    {problem.hint}")
    held: set[str] = set().union(*(file.held for file in report.files))
    broken = {
        clause
        for clause, groups in by_clause.items()
        if any(j.finding.severity is Severity.BREAKING for found in groups.values() for j in found)
    }
    not_verified = {nv.clause for file in report.files for nv, _ in file.not_verified} - held - set(by_clause)
    era = report.era
    readable = len(report.files) - len(problems)
    lines += [
        "",
        f"{len(held - set(by_clause))} clauses held, {len(broken)} broken, "
        f"{len(set(by_clause) - broken)} with additive or info findings only, "
        f"{len(not_verified)} not verified by recorded answers alone; "
        f"{readable} of {len(report.files)} files readable" + (f"; era {era.describe()}" if era else ""),
    ]
    return "\n".join(lines)
