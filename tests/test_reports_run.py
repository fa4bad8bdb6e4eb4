"""Reports of what a run was (RunInfo: true times, the reproducing command, seed, settings, partial and
interrupted runs), the evidence of passed and failed clauses, badge.json, the GitHub step summary,
the terminal's verdict line and notes, and the templates shipped as package files."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path

import jsonschema
import pytest

from runcancel.clauses import all_clauses
from runcancel.findings import Evidence, Finding, NotVerified, Severity
from runcancel.reports import (
    API_REFERENCE,
    NOT_CHECKED,
    NOT_SELECTED,
    Report,
    ReportError,
    RequestLog,
    badge_json,
    build_report,
    findings_json,
    findings_schema,
    format_clause_table,
    format_notes,
    format_verdict_line,
    render_certification_html,
    render_certification_md,
    write_reports,
    write_step_summary,
    writing,
)
from runcancel.rules import Outcome
from runcancel.runinfo import RunInfo, ShownSetting
from runcancel.scrub import Scrubber
from runcancel.session import Seen, SessionRecord
from runcancel.settings import resolve_settings

CANCEL_URL = "http://127.0.0.1:4010/v1/threads/thread_abc/runs/run_abc/cancel"
EVIDENCE = Evidence("POST", CANCEL_URL, 200)
STARTED = datetime(2026, 3, 1, 9, 30, 0, tzinfo=UTC)
FINISHED = STARTED + timedelta(seconds=42.5)
SHAPE = "contracts/test_shape.py"
KEY = "sk-test-abcdmnop"


@pytest.fixture(autouse=True)
def _no_step_summary(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)


def run_info(**changes: object) -> RunInfo:
    fields: dict[str, object] = {
        "started": STARTED,
        "finished": FINISHED,
        "command": "pytest --pyargs runcancel.contracts --target http://127.0.0.1:4010",
        "seed": 1234,
        "budget": 40,
        "settings": {
            "target": ShownSetting("http://127.0.0.1:4010", "--target"),
            "api_key": ShownSetting("sk-...mnop", "OPENAI_API_KEY"),
        },
    }
    fields.update(changes)
    return RunInfo(**fields)  # type: ignore[arg-type]


def record_of(
    outcomes: Mapping[str, Outcome], scrubber: Scrubber | None = None, skip: Sequence[str] = ()
) -> SessionRecord:
    """Every clause passed in the shape file's tests, but those given otherwise or skipped."""
    record = SessionRecord(
        resolve_settings({}, {}, {}), target_label="http://127.0.0.1:4010/v1", scrubber=scrubber
    )
    for clause in all_clauses():
        if clause not in skip:
            record.record(clause, outcomes.get(clause, []), f"{SHAPE}::test_cancel_answer[{clause}]")
    return record


def broken(clause: str = "cancel.status", evidence: Evidence = EVIDENCE) -> Finding:
    return Finding(clause, "$.status", '"cancelling" or "cancelled"', '"queued"', Severity.BREAKING, evidence)


def seen(body: str, status: int = 200, url: str = CANCEL_URL) -> Seen:
    return Seen(
        method="POST",
        url=url,
        auth="valid",
        beta="assistants=v2",
        status=status,
        content_type="application/json",
        header_names=("authorization", "content-type", "openai-organization", "set-cookie", "x-request-id"),
        head=body,
        body=None,
    )


# -- what the run was --------------------------------------------------------------------------------


def test_the_run_gives_the_true_start_finish_and_duration() -> None:
    """With RunInfo the report's times are the run's (not the time of writing), and so is the duration."""
    report = build_report(record_of({}), run=run_info())
    assert (report.started, report.finished, report.duration) == (
        "2026-03-01T09:30:00Z",
        "2026-03-01T09:30:42Z",
        42.5,
    )
    page = render_certification_html(report)
    assert 'duration <b id="duration">42.5 s</b>' in page
    assert "- run: 2026-03-01T09:30:00Z to 2026-03-01T09:30:42Z (42.5 s)" in render_certification_md(report)


def test_without_run_info_no_start_is_made_up() -> None:
    """A library call without RunInfo or a start: the start is unknown (null), never the finish again."""
    report = build_report(record_of({}))
    assert report.started is None
    assert report.duration is None
    assert findings_json(report)["started"] is None
    assert findings_json(report)["run"] is None
    assert "(start not known)" in render_certification_html(report)
    assert "start not known" in render_certification_md(report)
    assert "The caller did not say how this run was started" in render_certification_html(report)


def test_the_html_shows_command_seed_settings_and_links_on_top() -> None:
    """The reproducing command, seed, budget and every setting with its source, before any clause;
    links to the contract document (written alongside) and the API reference."""
    page = render_certification_html(build_report(record_of({}), run=run_info()))
    first_clause = page.index('class="clause ')
    for shown in (
        "pytest --pyargs runcancel.contracts --target http://127.0.0.1:4010",
        "<dt>probe seed</dt><dd>1234</dd>",
        "<dt>probe budget</dt><dd>40</dd>",
        "<tr><td><code>api_key</code></td><td><code>sk-...mnop</code></td><td>OPENAI_API_KEY</td></tr>",
        f'<a href="{API_REFERENCE}"',
        '<a href="cancel_run.openapi.yaml">',
    ):
        assert 0 <= page.index(shown) < first_clause, shown


@pytest.mark.parametrize(
    ("run", "banner"),
    [
        pytest.param(
            run_info(selection="partial", not_selected=("error.no_key", "error.no_beta")),
            "the run selected part of the suites (partial): 2 clauses not selected",
            id="partial",
        ),
        pytest.param(run_info(interrupted="Ctrl-C"), "the run was interrupted (Ctrl-C)", id="interrupted"),
    ],
)
def test_a_partial_or_interrupted_run_is_never_a_full_certificate(run: RunInfo, banner: str) -> None:
    """Every clause held, but the run was partial or interrupted: INCOMPLETE, said on top of every
    report, and the badge does not say certified."""
    report = build_report(record_of({}), run=run)
    assert report.verdict == "INCOMPLETE"
    assert report.partial_reason == banner
    page = render_certification_html(report)
    assert page.index(f"Not a full certificate: {banner}.") < page.index("target <b>")
    lines = render_certification_md(report).splitlines()
    assert lines[4] == f"> **Not a full certificate**: {banner}."
    assert badge_json(report)["message"].endswith("(partial run)")
    assert badge_json(report)["color"] == "yellow"
    assert format_verdict_line(report).endswith(f"not a full certificate: {banner}")


def test_a_full_run_that_held_everything_is_certified() -> None:
    """The same run, full and not interrupted: CERTIFIED, no banner."""
    report = build_report(record_of({}), run=run_info())
    assert (report.verdict, report.partial_reason) == ("CERTIFIED", None)
    assert "Not a full certificate" not in render_certification_html(report)


def test_clauses_not_selected_say_so() -> None:
    """A clause the selection left out is not verified because it was not selected, not merely
    unchecked; one that nothing reached in a full run keeps `not checked in this run`."""
    run = run_info(selection="partial", not_selected=("error.no_key",))
    report = build_report(record_of({}, skip=["error.no_key", "error.no_beta"]), run=run)
    reasons = {c.id: c.reasons for c in report.clauses}
    assert reasons["error.no_key"] == (NOT_SELECTED,)
    assert reasons["error.no_beta"] == (NOT_CHECKED,)
    assert "  errors" in "\n".join(format_clause_table(report))
    errors = next(line for line in format_clause_table(report) if line.startswith("  errors"))
    assert errors.endswith("(1 not checked in this run)  (1 not selected)")


def test_findings_json_has_the_typed_run_object(tmp_path: Path) -> None:
    """findings.json's `run`: times, duration, command, seed, budget, settings, selection, not selected,
    interruption, workers; it validates against the shipped schema."""
    run = run_info(selection="partial", not_selected=("error.no_key",), interrupted="-x", workers=2)
    report = build_report(record_of({}), run=run)
    write_reports(report, tmp_path, environ={})
    doc = json.loads((tmp_path / "findings.json").read_text(encoding="utf-8"))
    jsonschema.validate(doc, findings_schema())
    assert doc["run"] == {
        "started": "2026-03-01T09:30:00Z",
        "finished": "2026-03-01T09:30:42Z",
        "duration_seconds": 42.5,
        "command": "pytest --pyargs runcancel.contracts --target http://127.0.0.1:4010",
        "seed": 1234,
        "budget": 40,
        "settings": {
            "api_key": {"value": "sk-<redacted>", "source": "OPENAI_API_KEY"},
            "target": {"value": "http://127.0.0.1:4010", "source": "--target"},
        },
        "selection": "partial",
        "not_selected": ["error.no_key"],
        "interrupted": "-x",
        "workers": 2,
        "full": False,
    }


def test_the_schema_refuses_an_untyped_run_object() -> None:
    """`run` is typed: a seed that is a string, or an unknown field, is refused."""
    validator = jsonschema.Draft202012Validator(findings_schema())
    doc = findings_json(build_report(record_of({}), run=run_info()))
    assert validator.is_valid(doc)
    doc["run"]["seed"] = "1234"
    assert not validator.is_valid(doc)
    doc = findings_json(build_report(record_of({}), run=run_info()))
    doc["run"]["colour"] = "red"
    assert not validator.is_valid(doc)


# -- evidence ----------------------------------------------------------------------------------------


def test_a_passed_clause_shows_the_requests_that_verified_it() -> None:
    """A test's own requests, else those its file's shared fixture sent, are the passed clause's
    evidence, in the report model, findings.json, the HTML and the Markdown."""
    own = Evidence("POST", "http://127.0.0.1:4010/v1/threads/t2/runs/r2/cancel", 200)
    requests = {
        SHAPE: (EVIDENCE,),
        f"{SHAPE}::test_cancel_answer[cancel.id]": (own,),
    }
    report = build_report(record_of({}), run=run_info(), requests=requests)
    by_id = {c.id: c for c in report.clauses}
    assert by_id["cancel.id"].requests == (own,)
    assert by_id["cancel.status"].requests == (EVIDENCE,)
    doc = findings_json(report)
    status = next(c for c in doc["clauses"] if c["id"] == "cancel.status")
    assert status["verified_by"] == [{"method": "POST", "url": CANCEL_URL, "status": 200}]
    assert (
        f'<span class="label">verified by</span>\n<ul><li><code>POST {CANCEL_URL} -&gt; 200</code></li></ul>'
        in (render_certification_html(report))
    )
    row = next(line for line in render_certification_md(report).splitlines() if "| `cancel.id` |" in line)
    assert row.endswith(f"| verified by `{own}` |")


def test_a_clause_lists_a_few_requests_and_counts_the_rest() -> None:
    """Five requests are shown for a clause; the others are counted."""
    many = tuple(Evidence("POST", f"{CANCEL_URL}?n={n}", 200) for n in range(8))
    report = build_report(record_of({}), requests={SHAPE: many})
    status = next(c for c in report.clauses if c.id == "cancel.status")
    assert (status.requests, status.more_requests) == (many[:5], 3)


def test_a_clause_without_known_requests_claims_none() -> None:
    """Without the requests of its tests, a passed clause shows no made-up evidence."""
    report = build_report(record_of({}))
    assert all(c.requests == () for c in report.clauses if c.state == "passed")
    assert "verified by" not in render_certification_html(report)


def test_a_failure_shows_the_answer_scrubbed() -> None:
    """A failed clause shows the answer its finding names: status, the headers (key and cookie
    headers left out, account ids redacted) and the body's first bytes, with keys scrubbed."""
    scrubber = Scrubber(KEY)
    record = record_of({"cancel.status": [broken()]}, scrubber=scrubber)
    record.seen.append(seen(f'{{"status": "queued", "echo": "{KEY}", "masked": "sk-...mnop"}}'))
    record.seen.append(seen('{"other": 1}', status=400))
    report = build_report(record)
    (answer,) = next(c for c in report.clauses if c.id == "cancel.status").answers
    assert answer.status == 200
    assert answer.headers == (
        ("content-type", "application/json"),
        ("openai-organization", "<redacted>"),
        ("x-request-id", None),
    )
    assert answer.head == '{"status": "queued", "echo": "<api-key>", "masked": "sk-<redacted>"}'
    page = render_certification_html(report)
    assert KEY not in page
    assert "sk-...mnop" not in page
    assert "authorization" not in page
    assert "set-cookie" not in page
    assert "{&#34;status&#34;: &#34;queued&#34;, &#34;echo&#34;: &#34;&lt;api-key&gt;&#34;" in page
    assert "status 200" in page


def test_a_failure_without_a_kept_answer_shows_no_answer() -> None:
    """A finding whose request the session did not keep shows the finding only."""
    report = build_report(record_of({"cancel.status": [broken()]}))
    assert next(c for c in report.clauses if c.id == "cancel.status").answers == ()


def test_failed_clauses_come_first() -> None:
    """In the HTML the failed clauses have their own section before every suite; in the Markdown the
    broken list comes right after the verdict, and failed rows lead their suite's table."""
    report = build_report(record_of({"error.no_key": [broken("error.no_key")]}), run=run_info())
    page = render_certification_html(report)
    assert page.index('id="clause-error.no_key"') < page.index('id="suite-shape"')
    text = render_certification_md(report)
    assert text.index("## Broken") < text.index("- target:") < text.index("## shape")
    assert "- `error.no_key`: " in text


def test_passed_rows_are_folded_in_details() -> None:
    """The Markdown folds each suite's passed rows into `<details>`; failed ones stay open."""
    report = build_report(record_of({"cancel.status": [broken()]}))
    text = render_certification_md(report)
    folded = text.split("<details><summary>", 1)[1].split("</details>", 1)[0]
    assert " | `cancel.status` | " not in folded
    assert " | `cancel.id` | " in folded
    assert " | `cancel.status` | " in text.split("<details>", 1)[0]
    held = sum(1 for c in report.clauses if c.suite == "shape" and c.state == "passed")
    assert folded.startswith(f"{held} passed</summary>\n\n| state |")


# -- badge.json and the step summary -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("outcomes", "skip", "message", "colour"),
    [
        pytest.param(
            {},
            (),
            f"certified: {len(all_clauses())}/{len(all_clauses())} held",
            "brightgreen",
            id="certified",
        ),
        pytest.param(
            {},
            ("error.no_key",),
            f"incomplete: {len(all_clauses()) - 1}/{len(all_clauses())} held",
            "yellow",
            id="incomplete",
        ),
        pytest.param({"cancel.status": [broken()]}, (), "not certified: 1 broken", "red", id="broken"),
    ],
)
def test_badge_json_is_a_shields_endpoint(
    outcomes: dict[str, Outcome], skip: tuple[str, ...], message: str, colour: str, tmp_path: Path
) -> None:
    """badge.json: schemaVersion 1, label, message, color, as shields.io's endpoint badge reads them."""
    write_reports(build_report(record_of(outcomes, skip=skip)), tmp_path, environ={})
    badge = json.loads((tmp_path / "badge.json").read_text(encoding="utf-8"))
    assert badge == {"schemaVersion": 1, "label": "runcancel", "message": message, "color": colour}


def test_the_step_summary_is_appended_when_github_asks(tmp_path: Path) -> None:
    """With GITHUB_STEP_SUMMARY set, write_reports appends certification.md to that file (after what
    other steps wrote); unset, nothing is written anywhere else."""
    summary = tmp_path / "summary.md"
    summary.write_text("# earlier step\n", encoding="utf-8")
    report = build_report(record_of({"cancel.status": [broken()]}), run=run_info())
    write_reports(report, tmp_path / "reports", environ={"GITHUB_STEP_SUMMARY": str(summary)})
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("# earlier step\n# runcancel certification: NOT CERTIFIED\n")
    assert text.endswith(render_certification_md(report) + "\n")
    assert write_step_summary(report, {}) is None
    assert write_step_summary(report, {"GITHUB_STEP_SUMMARY": ""}) is None


def test_the_step_summary_uses_the_process_environment_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every caller of write_reports (plugin, command line) gets the step summary without asking."""
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    write_reports(build_report(record_of({})), tmp_path / "reports")
    assert summary.read_text(encoding="utf-8").startswith("# runcancel certification: ")


def test_an_unwritable_step_summary_is_a_clear_error(tmp_path: Path) -> None:
    """A GITHUB_STEP_SUMMARY naming a folder: ReportError naming the file and what to do; the reports
    themselves are written."""
    with pytest.raises(ReportError, match=r"cannot append the step summary to .* GITHUB_STEP_SUMMARY"):
        write_reports(
            build_report(record_of({})), tmp_path / "r", environ={"GITHUB_STEP_SUMMARY": str(tmp_path)}
        )
    assert (tmp_path / "r" / "certification.md").is_file()


def test_a_step_summary_too_long_for_github_keeps_the_verdict_and_broken_list() -> None:
    """Above the limit the step summary is cut after the verdict and broken list, and says so."""
    report = build_report(record_of({"cancel.status": [broken()]}))
    text = writing.step_summary_text(report, limit=3000)
    assert len(text.encode()) <= 3000
    assert text.startswith("# runcancel certification: NOT CERTIFIED")
    assert "- `cancel.status`: " in text
    assert "## shape" not in text
    assert text.endswith("see certification.md._\n")


# -- atomic writes -----------------------------------------------------------------------------------


def test_an_interrupted_write_leaves_the_old_reports_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C while the files are written: the previous reports stay, byte for byte, no temp left."""
    write_reports(build_report(record_of({})), tmp_path, environ={})
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    real = os.fsync
    calls: list[int] = []

    def fsync(fd: int) -> None:
        calls.append(fd)
        if len(calls) == 4:
            raise KeyboardInterrupt
        real(fd)

    monkeypatch.setattr(writing.os, "fsync", fsync)
    with pytest.raises(KeyboardInterrupt):
        write_reports(build_report(record_of({"cancel.status": [broken()]})), tmp_path, environ={})
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_the_contract_document_is_written_next_to_the_html(tmp_path: Path) -> None:
    """The HTML links to the contract document; the link works offline because the file is there."""
    write_reports(build_report(record_of({})), tmp_path, environ={})
    copy = (tmp_path / "cancel_run.openapi.yaml").read_text(encoding="utf-8")
    assert "/threads/{thread_id}/runs/{run_id}/cancel" in copy
    assert "operationId: cancelRun" in copy


# -- the terminal ------------------------------------------------------------------------------------


def _markup(text: str, **flags: bool) -> str:
    """Stands for TerminalWriter.markup: names the flags around the text."""
    on = ",".join(sorted(name for name, wanted in flags.items() if wanted))
    return f"<{on}>{text}</>"


@pytest.mark.parametrize(
    ("outcomes", "skip", "colour"),
    [
        pytest.param({}, (), "green", id="certified"),
        pytest.param({}, ("error.no_key",), "yellow", id="incomplete"),
        pytest.param({"cancel.status": [broken()]}, (), "red", id="not-certified"),
    ],
)
def test_the_verdict_line_is_coloured_through_the_terminal_writer(
    outcomes: dict[str, Outcome], skip: tuple[str, ...], colour: str
) -> None:
    """Given the TerminalWriter's markup, the verdict is bold in its colour; without it, plain text."""
    report = build_report(record_of(outcomes, skip=skip))
    plain = format_verdict_line(report)
    assert plain.startswith(f"{report.verdict}: ")
    assert format_verdict_line(report, _markup) == f"<bold,{colour}>{report.verdict}</>" + plain.removeprefix(
        report.verdict
    )
    assert format_clause_table(report, _markup)[-1 if not report.broken else -2].startswith("<bold,")


def test_the_verdict_line_is_plain_when_pytest_does_not_colour() -> None:
    """A TerminalWriter without markup returns the text as it is: the line carries no escape codes."""
    from _pytest._io import TerminalWriter

    writer = TerminalWriter()
    writer.hasmarkup = False
    report = build_report(record_of({}))
    assert format_verdict_line(report, writer.markup) == format_verdict_line(report)
    writer.hasmarkup = True
    assert "\x1b[" in format_verdict_line(report, writer.markup)


OVERLAY = [
    "probe: 40 generated cases sent (seed 1, 40 examples)",
    "probe overlay: 400, 401, 404 are not in the upstream OpenAPI document; 30 of 40 answers had one",
    "  probe.status: accepts 400, 401 and 404 only because the contract adds them",
    "  probe.content_type: the content type of 400, 401 and 404 answers comes from the added responses",
    "probe: reproduce with pytest contracts/test_probe.py",
]


@pytest.mark.parametrize(
    ("verbose", "expected"),
    [
        pytest.param(False, [OVERLAY[0], OVERLAY[1] + " (2 more lines with -v)", OVERLAY[4]], id="folded"),
        pytest.param(True, OVERLAY, id="verbose"),
    ],
)
def test_the_probe_overlay_is_one_line_unless_verbose(verbose: bool, expected: list[str]) -> None:
    """A note's indented detail lines fold into it unless verbose."""
    assert format_notes(OVERLAY, verbose=verbose) == expected


def test_notes_ending_in_details_fold_too() -> None:
    """Details at the very end fold into their note as well."""
    assert format_notes(OVERLAY[:3]) == [OVERLAY[0], OVERLAY[1] + " (1 more lines with -v)"]


# -- the request log ---------------------------------------------------------------------------------


class _Exchange:
    def __init__(self, url: str, status: int = 200) -> None:
        self.method, self.url, self.status = "POST", url, status


def test_the_request_log_files_requests_under_what_is_running() -> None:
    """Requests go to the innermost running test or fixture, cleaned; outside any, nowhere."""
    log = RequestLog(clean=lambda url: url.replace("secret", "<x>"))
    log.observe(_Exchange("http://h/before"))  # type: ignore[arg-type]
    with log.running(SHAPE):
        log.observe(_Exchange("http://h/secret/shared"))  # type: ignore[arg-type]
        with log.running(f"{SHAPE}::test_a"):
            log.observe(_Exchange("http://h/own", 404))  # type: ignore[arg-type]
    assert log.mapping() == {
        SHAPE: (Evidence("POST", "http://h/<x>/shared", 200),),
        f"{SHAPE}::test_a": (Evidence("POST", "http://h/own", 404),),
    }


def test_the_request_log_feeds_the_report() -> None:
    """build_report(requests=log.mapping()) shows a test's requests as its clause's evidence."""
    log = RequestLog()
    nodeid = f"{SHAPE}::test_cancel_answer[cancel.id]"
    with log.running(nodeid):
        log.observe(_Exchange(CANCEL_URL))  # type: ignore[arg-type]
    report = build_report(record_of({}), requests=log.mapping())
    assert next(c for c in report.clauses if c.id == "cancel.id").requests == (EVIDENCE,)


# -- package files -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("templates/certification.html.j2", id="html"),
        pytest.param("templates/certification.md.j2", id="markdown"),
        pytest.param("templates/drift.md.j2", id="drift"),
        pytest.param("static/report.css", id="css"),
        pytest.param("static/filter.js", id="script"),
    ],
)
def test_templates_and_assets_are_package_files(name: str) -> None:
    """What the writers render from lives in the package (so it ships in the wheel)."""
    assert resources.files("runcancel.reports").joinpath(name).is_file()


def test_not_verified_evidence_is_kept_with_the_reason() -> None:
    """A not verified clause keeps its reason in every report, and claims no request."""
    report: Report = build_report(
        record_of({"lifecycle.cancel_finished": NotVerified("lifecycle.cancel_finished", "no expired run")}),
        requests={SHAPE: (EVIDENCE,)},
    )
    clause = next(c for c in report.clauses if c.id == "lifecycle.cancel_finished")
    assert (clause.state, clause.reasons, clause.requests) == ("not verified", ("no expired run",), ())


def test_the_cancels_lead_a_clauses_evidence() -> None:
    """Of a test's requests, the cancels (the operation under contract) are listed before the ones
    that arranged or read back the run."""
    create = Evidence("POST", "http://127.0.0.1:4010/v1/threads", 200)
    read = Evidence("GET", "http://127.0.0.1:4010/v1/threads/thread_abc/runs/run_abc", 200)
    report = build_report(record_of({}), requests={SHAPE: (create, read, EVIDENCE)})
    status = next(c for c in report.clauses if c.id == "cancel.status")
    assert status.requests == (EVIDENCE, create, read)


def test_the_requests_that_arranged_the_run_are_folded() -> None:
    """The HTML lists the cancels and folds the requests that arranged the run; the Markdown names
    the cancels and counts the rest."""
    create = Evidence("POST", "http://127.0.0.1:4010/v1/threads", 200)
    report = build_report(record_of({}), requests={SHAPE: (create, EVIDENCE)})
    page = render_certification_html(report)
    assert "<details><summary>1 more request that arranged or read back the run</summary>" in page
    row = next(line for line in render_certification_md(report).splitlines() if "| `cancel.id` |" in line)
    assert row.endswith(f"| verified by `{EVIDENCE}` and 1 more |")
