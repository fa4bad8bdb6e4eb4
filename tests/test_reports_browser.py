"""The HTML report in a real headless Chromium: it renders styled, shows a true duration, and its
filter works (only the failed clauses stay visible after a click on "failed", dispatched as a real
mouse event through the DevTools protocol). Skipped without chromium, except in CI."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import select
import shutil
import struct
import subprocess
import tempfile
import time
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from runcancel.clauses import all_clauses
from runcancel.findings import Evidence, Finding, NotVerified, Severity, TargetVerdict
from runcancel.reports import Report, build_report, write_reports
from runcancel.rules import Outcome
from runcancel.runinfo import RunInfo, ShownSetting
from runcancel.session import SessionRecord
from runcancel.settings import resolve_settings

CANCEL_URL = "http://127.0.0.1:4010/v1/threads/thread_abc/runs/run_abc/cancel"
EVIDENCE = Evidence("POST", CANCEL_URL, 200)
STARTED = datetime(2025, 11, 21, 5, 0, 0, tzinfo=UTC)
# A run of 3 min 7.25 s: the page must show it, not "run T to T"
FINISHED = STARTED + timedelta(minutes=3, seconds=7.25)
UNCHECKED = {"error.wrong_key", "error.wrong_method"}


@pytest.fixture(autouse=True)
def _no_step_summary(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)


def _outcome(clause: str) -> Outcome:
    if clause == "cancel.status":
        return [
            Finding(
                clause, "$.status", '"cancelling" or "cancelled"', '"queued"', Severity.BREAKING, EVIDENCE
            )
        ]
    if clause == "schema.undocumented_field":
        return [Finding(clause, "$.tool_resources", "no such field", "{}", Severity.ADDITIVE, EVIDENCE)]
    if clause == "lifecycle.cancel_finished":
        return NotVerified(clause, "could not arrange an expired run")
    return []


@pytest.fixture
def sample() -> Report:
    """One failed, one additive, one not verified, two unchecked clauses; a target verdict and drift;
    a run of 3 min 7.25 s."""
    record = SessionRecord(resolve_settings({}, {}, {}), target_label="http://127.0.0.1:4010/v1")
    for clause in all_clauses():
        if clause not in UNCHECKED:
            record.record(clause, _outcome(clause), f"contracts/test_x.py::test_x[{clause}]")
    run = RunInfo(
        STARTED,
        FINISHED,
        "pytest --pyargs runcancel.contracts --target http://127.0.0.1:4010",
        seed=7,
        budget=30,
        settings={"target": ShownSetting("http://127.0.0.1:4010", "--target")},
    )
    return build_report(
        record,
        target_verdicts=[TargetVerdict("endpoint-retired", "every cancel answered 410", ["POST x -> 410"])],
        drift=[Finding("drift.status", "$.status", "present", "absent", Severity.BREAKING, EVIDENCE)],
        baseline="cassettes/baseline.yaml",
        notes=["12 probe cases sent"],
        run=run,
    )


class _Page(HTMLParser):
    """The visible text of a page (not its style or script), and which rows are hidden."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.rows: dict[str, bool] = {}  # clause row id -> hidden
        self._skip = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        self._skip = tag in ("style", "script")
        if tag == "tr" and "clause" in (found.get("class") or "").split():
            self.rows[found.get("id") or ""] = "hidden" in found

    def handle_endtag(self, tag: str) -> None:
        self._skip = False

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.text.append(data)


def parse(page: str) -> _Page:
    parser = _Page()
    parser.feed(page)
    parser.close()
    return parser


def _need_chromium() -> str:
    found = shutil.which("chromium")
    if found is None:
        message = "chromium is not on PATH: install Debian's chromium (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(f"{message}. CI must render the HTML report, not skip it.")
        pytest.skip(message)
    return found


BROWSER_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
    "--host-resolver-rules=MAP * ~NOTFOUND",  # nothing on the network would load
]


def _png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """Decode an 8-bit RGB or RGBA PNG (what Chromium writes) into rows of RGB(A) bytes."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
    width, height, depth, colour, _c, _f, interlace = struct.unpack(">IIBBBBB", header)
    assert (depth, colour, interlace) in {(8, 2, 0), (8, 6, 0)}, (depth, colour, interlace)
    bpp = 3 if colour == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows: list[bytes] = []
    previous = bytearray(stride)
    for y in range(height):
        kind = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        if kind == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 0xFF
        elif kind == 2:
            line = bytearray((a + b) & 0xFF for a, b in zip(line, previous, strict=True))
        elif kind == 3:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + previous[i]) >> 1)) & 0xFF
        elif kind == 4:
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b, c = previous[i], previous[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        rows.append(bytes(line))
        previous = line
    return width, bpp, rows


def _chromium(*args: str, profile: Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        ["chromium", *BROWSER_FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        timeout=120,
        check=False,
    )


def test_the_html_report_renders_in_a_headless_browser(sample: Report, tmp_path: Path) -> None:
    """Chromium shows the verdict, the counts and every clause id, and the page is neither blank nor
    unstyled (the badge colours are on screen). Skipped without chromium, except in CI."""
    _need_chromium()
    page = write_reports(sample, tmp_path / "reports")[3]
    url = page.as_uri()
    with tempfile.TemporaryDirectory() as profile:
        start = time.monotonic()
        dom = _chromium("--dump-dom", url, profile=Path(profile))
        shot = tmp_path / "shot.png"
        picture = _chromium("--window-size=1000,1400", f"--screenshot={shot}", url, profile=Path(profile))
        elapsed = time.monotonic() - start
    assert dom.returncode == 0, dom.stderr.decode(errors="replace")[-2000:]
    assert picture.returncode == 0, picture.stderr.decode(errors="replace")[-2000:]
    assert shot.exists(), picture.stderr.decode(errors="replace")[-2000:]
    text = parse(dom.stdout.decode("utf-8"))
    visible = " ".join("".join(text.text).split())
    n = len(all_clauses())
    assert "NOT CERTIFIED" in visible
    assert f"{n - 4} passed, 1 failed, 3 not verified (of {n} clauses)" in visible
    assert "endpoint-retired: every cancel answered 410" in visible
    missing = [c for c in all_clauses() if c not in visible]
    assert not missing, f"clauses not on the rendered page: {missing}"

    width, bpp, rows = _png_pixels(shot.read_bytes())
    pixels = [row[i : i + 3] for row in rows[::4] for i in range(0, width * bpp, 4 * bpp)]
    colours = set(pixels)
    background = max(colours, key=pixels.count)
    drawn = sum(p != background for p in pixels) / len(pixels)
    assert len(colours) > 50, f"the page looks blank: {len(colours)} colours"
    assert drawn > 0.05, f"the page looks blank: {drawn:.1%} of it drawn"

    def near(rgb: tuple[int, int, int]) -> bool:
        return any(all(abs(p[k] - rgb[k]) <= 24 for k in range(3)) for p in colours)

    assert near((0xCF, 0x22, 0x2E)), "no failure red on screen: the styles did not apply"
    assert near((0x1A, 0x7F, 0x37)), "no pass green on screen: the styles did not apply"
    assert elapsed < 60, f"chromium took {elapsed:.1f} s"


def test_a_filtered_address_shows_only_the_failed_clauses(sample: Report, tmp_path: Path) -> None:
    """`certification.html?show=failed`: after the page's script ran, every clause row but the failed
    one is hidden; without the query every row shows. The duration on the page is the run's."""
    _need_chromium()
    page = write_reports(sample, tmp_path / "reports")[3]
    with tempfile.TemporaryDirectory() as profile:
        everything = _chromium("--dump-dom", page.as_uri(), profile=Path(profile))
        failed = _chromium("--dump-dom", page.as_uri() + "?show=failed", profile=Path(profile))
    assert everything.returncode == 0, everything.stderr.decode(errors="replace")[-2000:]
    assert failed.returncode == 0, failed.stderr.decode(errors="replace")[-2000:]
    shown = parse(everything.stdout.decode("utf-8"))
    assert len(shown.rows) == len(all_clauses())
    assert not any(shown.rows.values()), "rows hidden without a filter"
    filtered = parse(failed.stdout.decode("utf-8"))
    assert [row for row, hidden in filtered.rows.items() if not hidden] == ["clause-cancel.status"]
    assert "duration 3 min 07 s" in " ".join("".join(filtered.text).split())


class _DevTools:
    """Chromium driven over `--remote-debugging-pipe` (fd 3 in, fd 4 out, NUL-separated JSON): no
    network and no websocket library, only the DevTools protocol's own commands."""

    def __init__(self, profile: Path) -> None:
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()

        def wire() -> None:  # in the child: the pipe ends on the fds the protocol names
            read, write = os.dup(to_browser_r), os.dup(from_browser_w)
            os.dup2(read, 3)
            os.dup2(write, 4)

        self.process = subprocess.Popen(
            [
                "chromium",
                *BROWSER_FLAGS,
                f"--user-data-dir={profile}",
                "--remote-debugging-pipe",
                "--window-size=1000,1400",
                "about:blank",
            ],
            preexec_fn=wire,
            close_fds=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer = b""
        self._next = 0
        self.events: list[dict[str, Any]] = []
        self.session = ""

    def _message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self._from_browser], [], [], max(left, 0))
            if not ready:
                raise TimeoutError("chromium did not answer over the DevTools pipe")
            chunk = os.read(self._from_browser, 1 << 16)
            if not chunk:
                raise ConnectionError("chromium closed the DevTools pipe")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        message: dict[str, Any] = json.loads(raw)
        return message

    def send(self, method: str, timeout: float = 30, **params: Any) -> dict[str, Any]:
        self._next += 1
        command: dict[str, Any] = {"id": self._next, "method": method, "params": params}
        if self.session and not method.startswith(("Target.", "Browser.")):
            command["sessionId"] = self.session
        os.write(self._to_browser, json.dumps(command).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            message = self._message(deadline)
            if message.get("id") == self._next:
                assert "error" not in message, message
                result: dict[str, Any] = message.get("result", {})
                return result
            self.events.append(message)

    def wait_for(self, event: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not any(e.get("method") == event for e in self.events):
            self.events.append(self._message(deadline))

    def evaluate(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        assert "exceptionDetails" not in result, result
        return result["result"].get("value")

    def close(self) -> None:
        with contextlib.suppress(OSError, TimeoutError, AssertionError):
            self.send("Browser.close", timeout=10)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._to_browser)
        os.close(self._from_browser)


@pytest.fixture
def devtools(tmp_path: Path) -> Iterator[_DevTools]:
    _need_chromium()
    browser = _DevTools(tmp_path / "profile")
    try:
        yield browser
    finally:
        browser.close()


VISIBLE_ROWS = """JSON.stringify(Array.from(document.querySelectorAll("tr.clause"))
  .filter(row => row.offsetParent !== null && getComputedStyle(row).display !== "none")
  .map(row => row.id))"""


def test_a_click_on_failed_leaves_only_the_failed_clauses_visible(
    sample: Report, tmp_path: Path, devtools: _DevTools
) -> None:
    """A real mouse click on the "failed" button (not a script calling click()) hides every clause
    but the failed one; a click on "all" shows every clause again. Also saves a screenshot."""
    page = write_reports(sample, tmp_path / "reports")[3]
    (target,) = [t for t in devtools.send("Target.getTargets")["targetInfos"] if t["type"] == "page"]
    devtools.session = devtools.send("Target.attachToTarget", targetId=target["targetId"], flatten=True)[
        "sessionId"
    ]
    devtools.send("Page.enable")
    devtools.send("Runtime.enable")
    devtools.events.clear()
    devtools.send("Page.navigate", url=page.as_uri())
    devtools.wait_for("Page.loadEventFired")
    before = json.loads(devtools.evaluate(VISIBLE_ROWS))
    assert len(before) == len(all_clauses())
    assert devtools.evaluate("document.getElementById('duration').innerText") == "3 min 07 s"

    def click(state: str) -> None:
        x, y = devtools.evaluate(
            f"""(() => {{ const b = document.querySelector('#filter button[data-show="{state}"]');
            b.scrollIntoView({{block: "center"}}); const r = b.getBoundingClientRect();
            return [r.x + r.width / 2, r.y + r.height / 2]; }})()"""
        )
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            devtools.send("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)

    click("failed")
    assert json.loads(devtools.evaluate(VISIBLE_ROWS)) == ["clause-cancel.status"]
    assert (
        devtools.evaluate(
            "document.querySelector('#filter button[data-show=\"failed\"]').getAttribute('aria-pressed')"
        )
        == "true"
    )
    devtools.evaluate("window.scrollTo(0, 0)")
    shot = devtools.send("Page.captureScreenshot", format="png")["data"]
    (tmp_path / "failed-only.png").write_bytes(base64.b64decode(shot))
    click("all")
    assert len(json.loads(devtools.evaluate(VISIBLE_ROWS))) == len(all_clauses())
