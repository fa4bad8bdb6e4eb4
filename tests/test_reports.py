"""Report writers: the report model, findings.json and its schema, the Markdown and HTML reports, the
terminal table, the policy and atomic writes. (The HTML in a real browser: test_reports_browser.py.)"""

from __future__ import annotations

import errno
import json
import os
import re
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runcancel.clauses import all_clauses
from runcancel.findings import Evidence, Finding, NotVerified, Severity
from runcancel.probe import probe_clauses
from runcancel.reports import (
    API_REFERENCE,
    NOT_CHECKED,
    SCHEMA_ID,
    Report,
    ReportError,
    TargetVerdict,
    build_report,
    exit_decision,
    findings_json,
    findings_schema,
    format_clause_table,
    render_certification_html,
    render_certification_md,
    render_drift_md,
    write_reports,
    writing,
)
from runcancel.rules import Outcome
from runcancel.session import SessionRecord
from runcancel.settings import resolve_settings

CANCEL_URL = "http://127.0.0.1:4010/v1/threads/thread_abc/runs/run_abc/cancel"
EVIDENCE = Evidence("POST", CANCEL_URL, 200)
STARTED = datetime(2025, 11, 21, 5, 0, 0, tzinfo=UTC)
FINISHED = datetime(2025, 11, 21, 5, 0, 42, tzinfo=UTC)
FILES = [
    "findings.json",
    "drift.md",
    "certification.md",
    "certification.html",
    "badge.json",
    "cancel_run.openapi.yaml",
]


def breaking(clause: str, observed: str = '"queued"') -> Finding:
    return Finding(clause, "$.status", '"cancelling" or "cancelled"', observed, Severity.BREAKING, EVIDENCE)


def additive(clause: str = "schema.undocumented_field") -> Finding:
    return Finding(clause, "$.tool_resources", "no such field", "{}", Severity.ADDITIVE, EVIDENCE)


def record_of(*outcomes: tuple[str, Outcome], label: str = "http://127.0.0.1:4010/v1") -> SessionRecord:
    record = SessionRecord(resolve_settings({}, {}, {}), target_label=label)
    for clause, outcome in outcomes:
        record.record(clause, outcome, f"contracts/test_x.py::test_x[{clause}]")
    return record


def full_record(special: dict[str, Outcome] | None = None) -> SessionRecord:
    """Every clause checked: passed, or the outcome given for it."""
    return record_of(*((c, (special or {}).get(c, [])) for c in all_clauses()))


@pytest.fixture(autouse=True)
def _no_step_summary(monkeypatch: pytest.MonkeyPatch) -> None:
    """A test run inside GitHub Actions must not append its sample reports to the job's summary."""
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)


@pytest.fixture
def sample() -> Report:
    """One failed, one additive, one not verified, two unchecked clauses; a target verdict and drift."""
    unchecked = {"error.wrong_key", "error.wrong_method"}
    outcomes: list[tuple[str, Outcome]] = []
    for clause in all_clauses():
        if clause in unchecked:
            continue
        if clause == "cancel.status":
            outcomes.append((clause, [breaking(clause)]))
        elif clause == "schema.undocumented_field":
            outcomes.append((clause, [additive()]))
        elif clause == "lifecycle.cancel_finished":
            outcomes.append((clause, NotVerified(clause, "could not arrange an expired run")))
        else:
            outcomes.append((clause, []))
    return build_report(
        record_of(*outcomes),
        target_verdicts=[TargetVerdict("endpoint-retired", "every cancel answered 410", ["POST x -> 410"])],
        drift=[Finding("drift.status", "$.status", "present", "absent", Severity.BREAKING, EVIDENCE)],
        baseline="cassettes/baseline.yaml",
        notes=["12 probe cases sent"],
        started=STARTED,
        finished=FINISHED,
    )


# -- the model ---------------------------------------------------------------------------------------


def test_every_catalogued_clause_is_in_the_report_and_unchecked_ones_are_not_verified() -> None:
    """Each clause of all_clauses() has a result; one no test reached is not verified, never passed."""
    report = build_report(record_of(("cancel.status", [])))
    assert [c.id for c in report.clauses] == list(all_clauses())
    states = {c.id: (c.state, c.reasons) for c in report.clauses}
    assert states["cancel.status"] == ("passed", ())
    assert states["error.no_key"] == ("not verified", (NOT_CHECKED,))
    assert report.counts == {"passed": 1, "failed": 0, "accepted": 0, "not verified": len(all_clauses()) - 1}


@pytest.mark.parametrize(
    ("outcomes", "state"),
    [
        pytest.param([[], [breaking("cancel.status")]], "failed", id="a-break-in-any-test-fails"),
        pytest.param([NotVerified("cancel.status", "why"), []], "passed", id="verified-once-is-passed"),
        pytest.param([NotVerified("cancel.status", "why")], "not verified", id="never-verified"),
        pytest.param([[additive("cancel.status")]], "passed", id="additive-only-passes"),
    ],
)
def test_a_clause_takes_the_worst_state_its_tests_saw(outcomes: list[Outcome], state: str) -> None:
    """failed beats passed beats not verified, across all the tests of one clause."""
    report = build_report(record_of(*(("cancel.status", o) for o in outcomes)))
    (result,) = [c for c in report.clauses if c.id == "cancel.status"]
    assert result.state == state


def test_a_clause_carries_its_findings_reasons_and_test_ids() -> None:
    """The evidence of a clause is kept: each finding once, every not-verified reason, every node id."""
    record = record_of(("cancel.status", [breaking("cancel.status")]))
    record.record("cancel.status", [breaking("cancel.status")], "other::test")
    record.record("cancel.status", NotVerified("cancel.status", "no run"), "third::test")
    (result,) = [c for c in build_report(record).clauses if c.id == "cancel.status"]
    assert result.findings == (breaking("cancel.status"),)
    assert result.reasons == ("no run",)
    assert result.nodeids == ("contracts/test_x.py::test_x[cancel.status]", "other::test", "third::test")


def test_a_recorded_clause_outside_the_catalogue_is_reported_not_dropped() -> None:
    """A verdict on an unknown clause id still shows, in the suite `other`."""
    report = build_report(record_of(("custom.thing", [breaking("custom.thing")])))
    assert report.clauses[-1].id == "custom.thing"
    assert report.clauses[-1].suite == "other"
    assert report.clauses[-1].state == "failed"


def test_the_report_carries_the_run_around_the_clauses(sample: Report) -> None:
    """Version, target and its source, UTC timestamps, verdicts, drift and notes reach the report."""
    assert sample.target == "http://127.0.0.1:4010/v1"
    assert sample.target_source == "default"
    assert (sample.started, sample.finished) == ("2025-11-21T05:00:00Z", "2025-11-21T05:00:42Z")
    assert sample.target_verdicts[0].evidence == ("POST x -> 410",)
    assert [f.clause for f in sample.findings] == ["schema.undocumented_field", "cancel.status"]
    assert sample.notes == ("12 probe cases sent",)


# -- the policy --------------------------------------------------------------------------------------

B, A, INFO = Severity.BREAKING, Severity.ADDITIVE, Severity.INFO


@pytest.mark.parametrize(
    ("severities", "fail_on", "fails"),
    [
        pytest.param([B], "breaking", True, id="breaking-under-breaking-fails"),
        pytest.param([B], "additive", True, id="breaking-under-additive-fails"),
        pytest.param([B], "never", False, id="breaking-under-never-passes"),
        pytest.param([A], "breaking", False, id="additive-under-breaking-passes"),
        pytest.param([A], "additive", True, id="additive-under-additive-fails"),
        pytest.param([A], "never", False, id="additive-under-never-passes"),
        pytest.param([INFO, INFO], "additive", False, id="info-never-fails"),
        pytest.param([], "additive", False, id="nothing-found-passes"),
    ],
)
def test_exit_decision_follows_the_policy(severities: list[Severity], fail_on: str, fails: bool) -> None:
    """breaking fails under breaking and additive; additive only under additive; never never fails."""
    findings = [Finding("c", "$", "x", "y", s) for s in severities]
    assert exit_decision(findings, fail_on) is fails


def test_an_unknown_policy_is_refused_with_the_allowed_values() -> None:
    """fail_on takes breaking, additive or never; anything else names them."""
    with pytest.raises(ValueError, match="one of breaking, additive, never; got 'always'"):
        exit_decision([], "always")
    with pytest.raises(ValueError, match="got 'strict'"):
        build_report(record_of(), fail_on="strict")


@pytest.mark.parametrize(
    ("record", "fail_on", "drift", "fail", "verdict"),
    [
        pytest.param(full_record(), "breaking", [], False, "CERTIFIED", id="all-held"),
        pytest.param(
            full_record({"cancel.status": [breaking("cancel.status")]}),
            "breaking",
            [],
            True,
            "NOT CERTIFIED",
            id="broken",
        ),
        pytest.param(
            full_record({"cancel.status": [breaking("cancel.status")]}),
            "never",
            [],
            False,
            "NOT CERTIFIED",
            id="never-does-not-fail-but-does-not-certify",
        ),
        pytest.param(
            full_record({"schema.undocumented_field": [additive()]}),
            "breaking",
            [],
            False,
            "CERTIFIED",
            id="additive-under-breaking",
        ),
        pytest.param(
            full_record({"schema.undocumented_field": [additive()]}),
            "additive",
            [],
            True,
            "NOT CERTIFIED",
            id="additive-under-additive",
        ),
        pytest.param(full_record(), "breaking", [breaking("drift.x")], True, "NOT CERTIFIED", id="drift"),
        pytest.param(record_of(), "breaking", [], False, "NOT CERTIFIED", id="nothing-verified"),
        pytest.param(
            record_of(("cancel.status", [])), "breaking", [], False, "INCOMPLETE", id="some-not-verified"
        ),
    ],
)
def test_verdict_and_exit_decision(
    record: SessionRecord, fail_on: str, drift: list[Finding], fail: bool, verdict: str
) -> None:
    """CERTIFIED needs every clause held and nothing failing under the policy (never judges as
    breaking); with nothing broken but clauses left not verified, the verdict is INCOMPLETE."""
    report = build_report(record, fail_on=fail_on, drift=drift)
    assert (report.fail, report.verdict) == (fail, verdict)


def test_a_whole_target_verdict_withholds_the_certificate() -> None:
    """An endpoint reported retired (or any target verdict) is never CERTIFIED."""
    retired = TargetVerdict("endpoint-retired", "every request answered 404")
    assert build_report(full_record(), target_verdicts=iter([retired])).verdict == "NOT CERTIFIED"


# -- findings.json -----------------------------------------------------------------------------------


def test_findings_json_is_the_documented_document(sample: Report, tmp_path: Path) -> None:
    """findings.json: schema id, target, policy, summary, every clause, every finding with its request."""
    write_reports(sample, tmp_path)
    doc = json.loads((tmp_path / "findings.json").read_text(encoding="utf-8"))
    assert doc["schema"] == SCHEMA_ID
    assert doc["target"] == {"label": "http://127.0.0.1:4010/v1", "source": "default"}
    assert doc["policy"] == {"fail_on": "breaking", "fail": True}
    assert doc["verdict"] == "NOT CERTIFIED"
    n = len(all_clauses())
    assert doc["summary"] == {
        "clauses": n,
        "passed": n - 4,
        "failed": 1,
        "not_verified": 3,
        "accepted": 0,
        "findings": {"breaking": 1, "additive": 1, "info": 0},
    }
    assert [c["id"] for c in doc["clauses"]] == list(all_clauses())
    status = next(c for c in doc["clauses"] if c["id"] == "cancel.status")
    assert status["state"] == "failed"
    assert status["tests"] == ["contracts/test_x.py::test_x[cancel.status]"]
    assert doc["findings"][1] == {
        "clause": "cancel.status",
        "path": "$.status",
        "expected": '"cancelling" or "cancelled"',
        "observed": '"queued"',
        "severity": "breaking",
        "request": {"method": "POST", "url": CANCEL_URL, "status": 200},
    }
    assert doc["drift"]["baseline"] == "cassettes/baseline.yaml"
    assert doc["target_verdicts"] == [
        {"kind": "endpoint-retired", "message": "every cancel answered 410", "evidence": ["POST x -> 410"]}
    ]


def test_the_shipped_schema_is_a_valid_json_schema_and_accepts_written_files(
    sample: Report, tmp_path: Path
) -> None:
    """findings.schema.json is a 2020-12 schema and every written findings.json validates against it."""
    schema = findings_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    for report in (sample, build_report(record_of()), build_report(full_record(), fail_on="never")):
        write_reports(report, tmp_path)
        jsonschema.validate(json.loads((tmp_path / "findings.json").read_bytes()), schema)


def test_the_schema_rejects_a_document_that_drifts_from_it(sample: Report) -> None:
    """The schema is strict: a missing field, an unknown state or an extra field is refused."""
    validator = jsonschema.Draft202012Validator(findings_schema())
    doc = findings_json(sample)
    del doc["policy"]
    assert not validator.is_valid(doc)
    doc = findings_json(sample)
    doc["clauses"][0]["state"] = "skipped"
    assert not validator.is_valid(doc)
    doc = findings_json(sample)
    doc["findings"][0]["extra"] = 1
    assert not validator.is_valid(doc)


SERVER_TEXT = st.one_of(
    st.text(),
    st.sampled_from(
        ["<script>alert(1)</script>", "a | b", "``", "line\nbreak", "\ud800", "", "&amp;", "]]>"]
    ),
)


def _report_with(
    observed: str, path: str, reason: str, label: str, severity: Severity, status: int | None
) -> Report:
    finding = Finding("cancel.status", path, "x", observed, severity, Evidence("POST", label, status))
    return build_report(
        record_of(
            ("cancel.status", [finding]),
            ("error.no_key", NotVerified("error.no_key", reason)),
            label=label,
        ),
        drift=[finding],
        baseline=label,
        notes=[reason],
        target_verdicts=[TargetVerdict("kind", reason, [observed])],
    )


@settings(deadline=None)
@given(
    observed=SERVER_TEXT,
    path=SERVER_TEXT,
    reason=SERVER_TEXT,
    label=SERVER_TEXT,
    severity=st.sampled_from(Severity),
    status=st.none() | st.integers(100, 599),
)
def test_any_server_text_serialises_validly_everywhere(
    observed: str, path: str, reason: str, label: str, severity: Severity, status: int | None
) -> None:
    """Whatever a server sends: findings.json validates and round-trips, Markdown keeps one row a
    clause, and the HTML keeps its structure (the text never becomes markup)."""
    report = _report_with(observed, path, reason, label, severity, status)
    doc = findings_json(report)
    jsonschema.validate(doc, findings_schema())
    assert json.loads(writing.json_bytes(doc)) == doc
    rows = [line for line in render_certification_md(report).splitlines() if line.startswith("| ")]
    header = "| state | clause | rule | source | evidence |"
    assert len([r for r in rows if r != header]) == len(report.clauses)  # one row a clause
    page = render_certification_html(report)
    neutral = ["x" if text else "" for text in (observed, path, reason, label)]
    plain = render_certification_html(_report_with(*neutral, severity, status))
    assert [tag for tag, _ in parse(page).tags] == [tag for tag, _ in parse(plain).tags]
    writing.text_bytes(page)  # encodes as UTF-8


# -- certification.md and drift.md -------------------------------------------------------------------


def test_certification_md_has_the_summary_the_verdicts_and_every_clause(sample: Report) -> None:
    """Summary line first, target verdicts on top, then a row a clause with its evidence or reason."""
    text = render_certification_md(sample)
    lines = text.splitlines()
    n = len(all_clauses())
    assert lines[0] == "# runcancel certification: NOT CERTIFIED"
    assert lines[2] == (
        f"**NOT CERTIFIED**: {n - 4} passed, 1 failed, 3 not verified (of {n} clauses); "
        "policy fail_on=breaking: the run fails."
    )
    assert "- target: http://127.0.0.1:4010/v1 (from default)" in lines
    assert "- run: 2025-11-21T05:00:00Z to 2025-11-21T05:00:42Z (42.0 s)" in lines
    assert text.index("## Target verdicts") < text.index("## shape")
    assert "- **endpoint-retired**: every cancel answered 410" in lines
    for clause in all_clauses():
        assert len([line for line in lines if f" | `{clause}` | " in line]) == 1, clause
    status = next(line for line in lines if " | `cancel.status` | " in line)
    assert status.startswith("| **failed** |")
    assert '`$.status`: expected `"cancelling" or "cancelled"`; observed `"queued"`' in status
    assert f"request `POST {CANCEL_URL} -> 200`" in status
    assert next(line for line in lines if "`lifecycle.cancel_finished`" in line).endswith(
        "| could not arrange an expired run |"
    )
    assert next(line for line in lines if "`error.wrong_key`" in line).endswith(f"| {NOT_CHECKED} |")


def test_markdown_keeps_server_text_literal() -> None:
    """Pipes, backticks, newlines and tags from a server stay inside their cell, shown as they are."""
    nasty = "a | b `c`\n<script>x</script>"
    report = build_report(record_of(("cancel.status", [breaking("cancel.status", nasty)])))
    lines = render_certification_md(report).splitlines()
    row = next(line for line in lines if " | `cancel.status` | " in line)
    assert "observed ``a \\| b `c` <script>x</script>``" in row
    assert len(re.split(r"(?<!\\)\|", row)) == 7  # five cells between the outer pipes


@pytest.mark.parametrize(
    ("drift", "baseline", "expected"),
    [
        pytest.param([], None, "No baseline was given, so drift was not checked.", id="no-baseline"),
        pytest.param([], "base.yaml", "No drift was found against the baseline `base.yaml`.", id="no-drift"),
    ],
)
def test_drift_md_says_why_it_is_empty(drift: list[Finding], baseline: str | None, expected: str) -> None:
    """Without findings, drift.md says whether no baseline was given or no drift was found."""
    text = render_drift_md(build_report(record_of(), drift=drift, baseline=baseline))
    assert expected in text.splitlines()


def test_drift_md_groups_findings_by_severity() -> None:
    """breaking, then additive, then info; each with path, expected, observed and request."""
    drift = [
        Finding("drift.a", "$.new", "absent", "1", Severity.ADDITIVE),
        Finding("drift.b", "$.status", "present", "absent", Severity.BREAKING, EVIDENCE),
        Finding("drift.c", "$.ms", "12", "40", Severity.INFO),
    ]
    text = render_drift_md(build_report(record_of(), drift=drift, baseline="base.yaml"))
    assert "3 differences against the baseline `base.yaml`: 1 breaking, 1 additive, 1 info." in text
    assert text.index("## breaking") < text.index("## additive") < text.index("## info")
    assert (
        f"- `drift.b` `$.status`: expected `present`; observed `absent`; request `POST {CANCEL_URL} -> 200`"
        in text.splitlines()
    )


# -- certification.html ------------------------------------------------------------------------------


class _Page(HTMLParser):
    """Every tag and attribute of a page, its style text, its script text and its visible text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.styles: list[str] = []
        self.scripts: list[str] = []
        self.text: list[str] = []
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in = tag if tag in ("style", "script") else None

    def handle_endtag(self, tag: str) -> None:
        self._in = None

    def handle_data(self, data: str) -> None:
        {"style": self.styles, "script": self.scripts}.get(self._in or "", self.text).append(data)


def parse(page: str) -> _Page:
    parser = _Page()
    parser.feed(page)
    parser.close()
    return parser


def test_html_loads_nothing_from_anywhere(sample: Report) -> None:
    """Self-contained: one inline script (the filter), no link, image or frame; no URL in any attribute
    but the two links a reader may follow (the API reference, the contract document written alongside);
    no URL in the CSS or the script."""
    page = parse(render_certification_html(sample))
    names = [tag for tag, _ in page.tags]
    assert not set(names) & {"link", "img", "iframe", "object", "embed", "source", "video", "audio"}
    assert names.count("script") == 1
    for tag, attrs in page.tags:
        for name, value in attrs.items():
            if tag == "a" and name == "href" and value in (API_REFERENCE, "cancel_run.openapi.yaml"):
                continue
            assert "://" not in (value or ""), (tag, name, value)
            if name in {"href", "src", "action", "srcset", "poster"}:
                assert (value or "").startswith("#"), (tag, name, value)
    css = "".join(page.styles)
    assert "url(" not in css
    assert "@import" not in css
    script = "".join(page.scripts)
    assert "://" not in script
    assert not re.search(r"\b(fetch|XMLHttpRequest|import|WebSocket|src)\b", script)


def test_html_escapes_what_the_server_sent() -> None:
    """A `<script>` in an observed value, a reason, a target label or a verdict is shown, not run."""
    evil = '<script>alert("x")</script>'
    report = build_report(
        record_of(
            ("cancel.status", [breaking("cancel.status", evil)]),
            ("error.no_key", NotVerified("error.no_key", evil)),
            label=evil,
        ),
        target_verdicts=[TargetVerdict(evil, evil, [evil])],
        notes=[evil],
    )
    html_text = render_certification_html(report)
    assert html_text.count("<script") == 1  # the filter, at the end of the page
    assert "alert" not in html_text.rsplit("<script>", 1)[1]
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html_text
    page = parse(html_text)
    assert [tag for tag, _ in page.tags].count("script") == 1
    # shown as text: in the title, the target, the observed value, the reason, the verdict's kind,
    # message and evidence, and the note
    assert "".join(page.text).count(evil) == 8


def test_html_shows_the_summary_and_every_clause_grouped_by_suite(sample: Report) -> None:
    """The verdict and counts come first; failed clauses next, in their own section; then each suite
    is a section with a row and an anchor for each of its other clauses. Every clause shows once."""
    html_text = render_certification_html(sample)
    page = parse(html_text)
    ids = [attrs.get("id") for _, attrs in page.tags]
    for clause, c in all_clauses().items():
        assert ids.count(f"clause-{clause}") == 1
        assert html_text.count(f'<code class="clause-id">{clause}</code>') == 1
        if clause == "cancel.status":
            assert html_text.index('id="broken"') < html_text.index(f'id="clause-{clause}"')
            assert html_text.index(f'id="clause-{clause}"') < html_text.index('id="suite-shape"')
        else:
            assert html_text.index(f'id="suite-{c.suite}"') < html_text.index(f'id="clause-{clause}"')
    assert (
        html_text.index('id="verdict"') < html_text.index("Target verdicts") < html_text.index("suite-shape")
    )
    assert '<h1 id="verdict">NOT CERTIFIED</h1>' in html_text
    assert '<a href="#clause-cancel.status">' in html_text


# -- the terminal table ------------------------------------------------------------------------------


def test_the_terminal_table_is_a_few_lines(sample: Report) -> None:
    """Target verdicts, per suite held/broken/not verified, the verdict line, then the clause ids."""
    n = len(all_clauses())
    assert format_clause_table(sample) == [
        "target verdict endpoint-retired: every cancel answered 410",
        "clauses     held  broken  not verified",
        "  shape       47       1             0",
        "  lifecycle    8       0             1",
        "  errors       6       0             2  (2 not checked in this run)",
        f"  probe     {len(probe_clauses()):>4}       0             0",
        f"NOT CERTIFIED: {n - 4} passed, 1 failed, 3 not verified (of {n} clauses); "
        "policy fail_on=breaking: the run fails",
        "broken: cancel.status",
        "not verified: lifecycle.cancel_finished",
    ]


# -- writing -----------------------------------------------------------------------------------------


def test_write_reports_creates_the_folder_and_the_four_files(sample: Report, tmp_path: Path) -> None:
    """The folder is created if missing; the four files are written whole, readable, no temp left."""
    folder = tmp_path / "a" / "reports"
    written = write_reports(sample, folder)
    assert written == [folder / name for name in FILES]
    assert sorted(p.name for p in folder.iterdir()) == sorted(FILES)
    assert all(p.stat().st_mode & 0o444 == 0o444 for p in written)
    assert (folder / "certification.html").read_text(encoding="utf-8").endswith("</html>\n")


def _fail_with(code: int) -> object:
    def fail(*args: object, **kwargs: object) -> object:
        raise OSError(code, os.strerror(code))

    return fail


def test_a_folder_that_is_a_file_is_a_clear_error(sample: Report, tmp_path: Path) -> None:
    """A file where the folder should be: what failed, the path, the cause and --reports-dir."""
    blocking = tmp_path / "reports"
    blocking.write_text("not a folder")
    with pytest.raises(ReportError) as caught:
        write_reports(sample, blocking)
    assert str(caught.value) == (
        f"runcancel: cannot create the reports folder {blocking} (File exists). "
        f"{blocking} is a file, not a folder: remove it, or pass --reports-dir with another folder."
    )
    with pytest.raises(ReportError, match=r"\(Not a directory\)\. .* is a file, not a folder"):
        write_reports(sample, blocking / "inside")


@pytest.mark.parametrize(
    ("code", "advice"),
    [
        pytest.param(errno.EACCES, "Make the folder writable, or pass --reports-dir", id="permission"),
        pytest.param(errno.EROFS, "That file system is read-only: pass --reports-dir", id="read-only"),
        pytest.param(
            errno.ENOSPC, "The disk is full: free some space, or pass --reports-dir", id="disk-full"
        ),
    ],
)
def test_an_unwritable_folder_is_a_clear_error_and_old_reports_stay_whole(
    sample: Report, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int, advice: str
) -> None:
    """A write that fails midway raises ReportError and leaves the previous reports as they were."""
    write_reports(build_report(full_record()), tmp_path)
    before = {name: (tmp_path / name).read_bytes() for name in FILES}
    real = os.fsync
    calls = []

    def fsync(fd: int) -> None:
        calls.append(fd)
        if len(calls) == 3:  # the third file is written, but never flushed to disk
            raise OSError(code, os.strerror(code))
        real(fd)

    monkeypatch.setattr(writing.os, "fsync", fsync)
    with pytest.raises(ReportError) as caught:
        write_reports(sample, tmp_path)
    message = str(caught.value)
    assert message.startswith(
        f"runcancel: cannot write the report {tmp_path / 'certification.md'} ({os.strerror(code)}). "
    )
    assert advice in message
    assert {name: (tmp_path / name).read_bytes() for name in FILES} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(FILES)


def test_a_folder_that_cannot_be_created_is_a_clear_error(
    sample: Report, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """mkdir refused (no permission to the parent) names the folder and what to do."""
    monkeypatch.setattr(writing.Path, "mkdir", _fail_with(errno.EACCES))
    with pytest.raises(
        ReportError, match=r"cannot create the reports folder .*/r \(Permission denied\)\. Make"
    ):
        write_reports(sample, tmp_path / "r")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_folder_is_a_clear_error(sample: Report, tmp_path: Path) -> None:
    """A real folder without write permission: ReportError, not a traceback."""
    tmp_path.chmod(0o500)
    try:
        with pytest.raises(ReportError, match=r"\(Permission denied\)\. Make the folder writable"):
            write_reports(sample, tmp_path)
    finally:
        tmp_path.chmod(0o700)
