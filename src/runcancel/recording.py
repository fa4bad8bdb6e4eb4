"""Record and replay: the suites' HTTP exchanges written to cassettes, free of secrets, replayed offline.

Built on vcrpy, which patches httpx's transports, so every request `TargetClient` sends is recorded
or answered from the active cassette. This module holds all of it; the plugin only enters
`Recorder.cassette(...)` around a test (or a module-scoped fixture) and yields.

- Modes are pytest-recording's: `none` (replay only), `once`, `new_episodes`, `all`, and `rewrite`
  (record the cassette afresh as `new_episodes`; the old one is replaced only once the new one is
  complete, so an interrupted rewrite loses nothing).
- Matching tells apart what the contract tells apart: method, path, query, which key was sent
  (the session's, another, or none) and the `OpenAI-Beta` header, in one matcher
  (`request_signature`).
  Scheme, host and port are left out, so cassettes replay whatever base URL recorded them. Bodies
  are left out too: they carry ids of the recording, which the arranging step reads back anyway.
- Scrubbing happens before anything is matched or written: the key headers become placeholders
  (`Bearer <valid-key>`, `Bearer <other-key>`), cookies and account headers are dropped or
  redacted in requests and answers, and the key, organisation and project ids are replaced wherever
  they appear, masked key echoes (`sk-...abcd`, `sk-proj-****abcd`) included. The written YAML is
  scrubbed once more as a whole.
- Provenance (where a cassette came from, when, which suite version) is written at its top.
- While replaying, `block_network` refuses every connection and name lookup.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import re
import shlex
import socket
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import vcr
from vcr import serialize as vcr_serialize
from vcr.errors import CannotOverwriteExistingCassetteException
from vcr.persisters.filesystem import CassetteNotFoundError

from runcancel.cassettes import CassetteError, display_path, dump_cassette, read_cassette
from runcancel.scrub import (
    ACCOUNT_HEADERS,
    DROPPED_HEADERS,
    KEY_HEADERS,
    KEY_OTHER,
    KEY_VALID,
    REDACTED,
    Scrubber,
    classify_key,
    scrub_url,
)

__all__ = [
    "KEY_OTHER",
    "KEY_VALID",
    "MATCH_ON",
    "RECORD_MODES",
    "REPLAY_BASE_URL",
    "NetworkBlocked",
    "Recorder",
    "Scrubber",
    "block_network",
    "cassette_name",
    "classify_key",
    "not_recorded",
    "recording_ended",
    "replay_base_url",
    "replay_provider_state",
    "scrub_url",
]

RECORD_MODES = ("none", "once", "new_episodes", "all", "rewrite")
# Replay never contacts a server; `.invalid` can never resolve, should anything try.
REPLAY_BASE_URL = "http://replay.invalid/v1"
MATCH_ON = ("request_signature",)


class NetworkBlocked(RuntimeError):
    """Something tried to open a connection while replaying. A RuntimeError, so httpx does not wrap it."""


class _ScrubbedLog(logging.Filter):
    """Log records of the HTTP stack, scrubbed: a `--log-file` at DEBUG level must not keep a secret.

    vcrpy logs each answer as received, before scrubbing (kept: the request; left out: the answer);
    httpcore logs every answer's headers (the values of secret ones are redacted).
    """

    def __init__(self, scrubber: Scrubber) -> None:
        super().__init__()
        self.scrubber = scrubber

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(record.msg, str) and record.msg.startswith("Appending") and isinstance(args, tuple):
            record.msg = "Appending request %s (its answer is written scrubbed)"
            record.args = args[:1]
        message = _LOGGED_HEADER.sub(_redact_logged_header, record.getMessage())
        record.msg, record.args = self.scrubber.text(message), None
        return True


# The loggers of the HTTP stack that see requests and answers: vcrpy's, httpcore's, httpx's.
HTTP_LOGGERS = (
    "vcr.cassette",
    "vcr.matchers",
    "vcr.request",
    "vcr.stubs",
    "vcr.stubs.httpx_stubs",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "httpx",
)
# A header as httpcore logs it: (b'name', b'value').
_LOGGED_HEADER = re.compile(r"""\(b(['"])(?P<name>[\w-]+)\1, b(['"])(?P<value>.*?)\3\)""")
SECRET_HEADERS = {*KEY_HEADERS, *ACCOUNT_HEADERS, *DROPPED_HEADERS}


def _redact_logged_header(match: re.Match[str]) -> str:
    if match["name"].lower() not in SECRET_HEADERS:
        return match[0]
    start, end = match.start("value") - match.start(), match.end("value") - match.start()
    return match[0][:start] + REDACTED + match[0][end:]


# -- matching ------------------------------------------------------------------------------------------


# What a request is matched on, in the order its differences are told.
_SIGNATURE = ("method", "path", "query", "Authorization", "api-key", "OpenAI-Beta")


def _signature(request: Any) -> tuple[str | None, ...]:
    """What a request is matched on, computed once per request object.

    A request is not changed once scrubbed; a copy gets new `parsed_uri` and `headers` objects, so
    the cache, kept with the objects it was computed from, is recomputed for it.
    """
    headers, uri = request.headers, request.parsed_uri
    cached = request.__dict__.get("_runcancel_signature")
    if cached is not None and cached[0] is uri and cached[1] is headers:
        signature: tuple[str | None, ...] = cached[2]
        return signature
    signature = (
        request.method.upper(),
        uri.path or "/",
        uri.query,
        headers.get("authorization"),
        headers.get("api-key"),
        headers.get("openai-beta"),
    )
    request.__dict__["_runcancel_signature"] = (uri, headers, signature)
    return signature


def request_signature(live: Any, recorded: Any) -> bool:
    """The one matcher: method, path, query, key class and beta header, all compared at once.

    vcrpy runs every matcher against every recorded request, so one comparison of cached tuples
    instead of five matchers keeps replay of a large cassette fast; a miss names the differences
    itself (`closest_differences`). Both requests were scrubbed first, so the key headers hold
    classes (`Bearer <valid-key>`), never keys.
    """
    return _signature(live) == _signature(recorded)


def _differences(ours: tuple[str | None, ...], theirs: tuple[str | None, ...]) -> list[str]:
    return [
        f"{name} {a if a is not None else 'absent'} != {b if b is not None else 'absent'}"
        for name, a, b in zip(_SIGNATURE, ours, theirs, strict=True)
        if a != b
    ]


def closest_differences(request: Any, recorded: list[Any]) -> list[str]:
    """How the recorded request most like `request` differs from it (fewest differences first)."""
    ours = _signature(request)
    found = [_differences(ours, _signature(other)) for other in recorded]
    return min(found, key=len, default=[])


# -- network guard -------------------------------------------------------------------------------------


@contextlib.contextmanager
def block_network(why: str = "replaying cassettes") -> Iterator[None]:
    """Refuse every connection and name lookup (Unix sockets excepted) until the block is left."""
    connect, connect_ex, getaddrinfo = socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo
    unix = getattr(socket, "AF_UNIX", None)

    def refuse(target: object) -> NetworkBlocked:
        return NetworkBlocked(
            f"runcancel: the network is blocked while {why}, and something tried to reach {target!r}.\n"
            "  Every request must be answered from a cassette. Record the missing one from a server, "
            "e.g. --target mock --record-mode rewrite."
        )

    def guarded_connect(self: Any, address: Any) -> None:
        if unix is not None and self.family == unix:
            return connect(self, address)
        raise refuse(address)

    def guarded_connect_ex(self: Any, address: Any) -> int:
        if unix is not None and self.family == unix:
            return connect_ex(self, address)
        raise refuse(address)

    def guarded_getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        raise refuse(f"{host}:{port}")

    socket.socket.connect = guarded_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = guarded_connect_ex  # type: ignore[method-assign]
    socket.getaddrinfo = guarded_getaddrinfo
    try:
        yield
    finally:
        socket.socket.connect = connect  # type: ignore[method-assign]
        socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]
        socket.getaddrinfo = getaddrinfo


# -- cassettes -------------------------------------------------------------------------------------------


def cassette_name(name: str) -> str:
    """A file name from a test or fixture name: `test_x[a.b-c]` stays, anything else becomes `-`."""
    return re.sub(r"[^\w.\-\[\]=,+@]", "-", name.replace("::", ".")).strip(".") or "unnamed"


def _suite_version() -> str:
    try:
        return f"runcancel {metadata.version('runcancel')}"
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "runcancel (version unknown)"


# Marks a request read from a cassette runcancel wrote (kept by vcrpy's copies of it).
_SCRUBBED = "_runcancel_scrubbed"


class _ScrubbedAnswer(dict[str, Any]):
    """An answer read from a cassette runcancel wrote: scrubbed when it was recorded."""


class _Persister:
    """vcrpy's persister: cassettes are read by `read_cassette` (clear errors) and written with provenance."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder

    def load_cassette(self, cassette_path: str, serializer: Any) -> Any:
        try:
            cassette = read_cassette(Path(cassette_path), lines=False)
        except FileNotFoundError:
            raise CassetteNotFoundError() from None

        class Parsed:  # hands vcrpy the document read above instead of parsing the text again
            @staticmethod
            def deserialize(_text: str) -> Any:
                return cassette.document

        requests, responses, *metadata = vcr_serialize.deserialize("", Parsed)
        if cassette.provenance is not None:
            # Written by a Recorder: scrubbed when recorded, and scrubbing is idempotent (a key class
            # stays itself), so vcrpy's loading does not scrub each interaction again.
            for request in requests:
                request.__dict__[_SCRUBBED] = True
            responses = [_ScrubbedAnswer(response) for response in responses]
        return (requests, responses, *metadata)

    def save_cassette(self, cassette_path: str, cassette_dict: Any, serializer: Any) -> None:
        recorder = self.recorder

        class Writer:
            @staticmethod
            def serialize(document: Mapping[str, Any]) -> str:
                return dump_cassette(document, recorder.provenance())

        text = recorder.scrubber.text(vcr_serialize.serialize(cassette_dict, Writer))
        path = Path(cassette_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        partial.write_text(text, encoding="utf-8")
        partial.replace(path)


# The HTTP libraries the suites send through: httpx (`TargetClient`), and requests on urllib3 and
# http.client (schemathesis's own re-sends, e.g. its `ignored_auth` check).
_PATCHED = ("httpx", "requests", "urllib3", "httplib")


def _patched_libraries() -> dict[str, Any]:
    """vcrpy patches every HTTP library it knows on entering each cassette (about a millisecond, for
    each of a hundred cassettes); the ones the suites never send through are left unpatched where
    vcrpy can be told so (its `skip_patchers`)."""
    import inspect

    from vcr import patch as vcr_patch

    names = getattr(vcr_patch, "PATCHER_NAMES", None)
    if names is None or "skip_patchers" not in inspect.signature(vcr.VCR).parameters:
        return {}  # pragma: no cover - an older vcrpy patches them all, as before
    return {"skip_patchers": tuple(name for name in names if name not in _PATCHED)}


class Recorder:
    """Cassettes of one session: where they are, the mode, the scrubbing, the provenance written."""

    def __init__(
        self,
        cassette_dir: Path,
        mode: str,
        api_key: str,
        *,
        organization: str | None = None,
        project: str | None = None,
    ) -> None:
        if mode not in RECORD_MODES:
            raise ValueError(f"record mode must be one of {', '.join(RECORD_MODES)}, got {mode!r}")
        self.cassette_dir = cassette_dir
        self.mode = mode
        self.scrubber = Scrubber(api_key, organization, project)
        self.recorded_from = "an unnamed target"
        self.target_url = ""
        self.provider_state_url = ""
        self.target_again: str | None = None  # the `--target` to record again with, when not target_url
        self.active: Path | None = None  # the cassette in use, while one is (the probe's cases sit beside it)
        # Set when the run is interrupted (Ctrl-C, a stop): cassettes being rewritten keep their old
        # content. Tests are torn down after the interruption with no exception in flight, so the
        # plugin says so here.
        self.interrupted = False
        self._vcr = vcr.VCR(
            record_mode="none",
            match_on=MATCH_ON,
            decode_compressed_response=True,
            before_record_request=self._scrub_request,
            before_record_response=self._scrub_response,
            record_on_exception=True,
            **_patched_libraries(),
        )
        self._vcr.register_matcher("request_signature", request_signature)
        self._vcr.register_persister(_Persister(self))
        self._log_filter = _ScrubbedLog(self.scrubber)

    def _scrub_request(self, request: Any) -> Any:
        return request if request.__dict__.get(_SCRUBBED) else self.scrubber.request(request)

    def _scrub_response(self, response: dict[str, Any]) -> dict[str, Any]:
        return response if isinstance(response, _ScrubbedAnswer) else self.scrubber.response(response)

    def scrub_logs(self) -> Callable[[], None]:
        """Scrub what the HTTP stack logs from now on; the function returned stops it."""
        loggers = [logging.getLogger(name) for name in HTTP_LOGGERS]
        for logger in loggers:
            logger.addFilter(self._log_filter)

        def stop() -> None:
            for logger in loggers:
                logger.removeFilter(self._log_filter)

        return stop

    @classmethod
    def from_environment(
        cls, cassette_dir: Path, mode: str, api_key: str, environ: Mapping[str, str]
    ) -> Recorder:
        """Account ids to scrub come from the openai SDK's variables, `OPENAI_ORG_ID`, `OPENAI_PROJECT_ID`."""
        return cls(
            cassette_dir,
            mode,
            api_key,
            organization=environ.get("OPENAI_ORG_ID"),
            project=environ.get("OPENAI_PROJECT_ID"),
        )

    @property
    def replaying(self) -> bool:
        return self.mode == "none"

    def recording_from(self, base_url: str, label: str, again: str | None = None) -> None:
        """Name the target the cassettes are recorded from (written into their provenance): its base URL
        with its query (credential values redacted), which replay sends to again (`replay_base_url`).
        `again` is the `--target` that records from it again, when its URL is not (an in-process app)."""
        from runcancel.targets.urls import redact_query

        query = urlsplit(base_url).query
        shown = scrub_url(base_url) + (f"?{redact_query(query)}" if query else "")
        self.target_url = self.scrubber.text(shown)
        self.recorded_from = label
        if again is not None:  # shown like the URL: credential values in its query redacted, scrubbed
            spec, _, query = again.partition("?")
            again = self.scrubber.text(spec + (f"?{redact_query(query)}" if query else ""))
        self.target_again = again

    def asking_provider_state(self, url: str) -> None:
        """Name the provider state the suites ask (written into the provenance, scrubbed): replay asks
        the cassettes at its path again (`replay_provider_state`)."""
        self.provider_state_url = self.scrubber.text(scrub_url(url))

    def provenance(self) -> dict[str, str]:
        now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
        provenance = {
            "recorded_from": self.recorded_from,
            "target": self.target_url,
            "recorded_at": now.isoformat().replace("+00:00", "Z"),
            "suite": _suite_version(),
            "record_mode": self.mode,
            "recorder": f"vcrpy {vcr.__version__}",
        }
        if self.provider_state_url:
            provenance["provider_state"] = self.provider_state_url
        return provenance

    def check_ready(self) -> None:
        """Raise CassetteError when replay has no cassettes folder to read."""
        if self.replaying and not self.cassette_dir.is_dir():
            raise CassetteError(
                self.cassette_dir,
                f"no such folder (looked for {self.cassette_dir.resolve()})",
                hint="Record them from a server: pytest --pyargs runcancel.contracts --target mock "
                "--record-mode once (or give the folder with --cassette-dir).",
            )

    def path(self, suite: str, name: str) -> Path:
        """`<cassette dir>/<suite>/<name>.yaml`."""
        return self.cassette_dir / cassette_name(suite) / f"{cassette_name(name)}.yaml"

    @contextlib.contextmanager
    def cassette(self, path: Path) -> Iterator[Any]:
        """Requests inside go to (or come from) the cassette at `path`, saved on leaving.

        `rewrite` is pytest-recording's: start from nothing, record everything. The new recording
        goes to a file beside the old one (`<name>.rewriting`) and replaces it only when the block
        ends normally and the run was not interrupted; otherwise the old cassette stays as it was.
        A block that sends nothing leaves no cassette, as a fresh recording would.
        """
        if self.mode == "rewrite":
            with self._rewriting(path) as cassette:
                yield cassette
            return
        with self._in_use(path, path, self.mode) as cassette:
            yield cassette

    @contextlib.contextmanager
    def _rewriting(self, path: Path) -> Iterator[Any]:
        fresh = path.with_name(path.name + ".rewriting")
        fresh.unlink(missing_ok=True)
        try:
            with self._in_use(path, fresh, "new_episodes") as cassette:
                yield cassette
        except BaseException:
            fresh.unlink(missing_ok=True)
            raise
        if self.interrupted:
            fresh.unlink(missing_ok=True)
        elif fresh.exists():
            fresh.replace(path)
        else:
            path.unlink(missing_ok=True)

    @contextlib.contextmanager
    def _in_use(self, path: Path, file: Path, mode: str) -> Iterator[Any]:
        """vcrpy's cassette on `file`; `path` is the active cassette meanwhile (the probe's cases sit
        beside it)."""
        outer, self.active = self.active, path
        try:
            with self._vcr.use_cassette(str(file), record_mode=mode) as cassette:
                _filter_once(cassette)
                _indexed(cassette)
                _one_at_a_time(cassette)
                yield cassette
        finally:
            self.active = outer

    # -- messages --------------------------------------------------------------------------------------

    def explain(self, error: BaseException, nodeid: str) -> str | None:
        """A paragraph for a failure caused by the cassettes, or None for any other failure."""
        if isinstance(error, CannotOverwriteExistingCassetteException) and error.failed_request is not None:
            return self._miss(error, nodeid)
        if isinstance(error, CassetteError):
            problem = f"runcancel: cannot use cassette {error.location}: {error.problem}"
            return f"{problem}\n  Record it again: {self.record_command(nodeid)}"
        if isinstance(error, NetworkBlocked):
            return str(error)
        return None

    def record_command(self, nodeid: str) -> str:
        """The command that records this test's cassette again: it works for a pip user (the suites
        by package name, the test by name) and names the target the cassettes came from."""
        test = nodeid.split("::", 1)[-1]
        where = nodeid.split("::", 1)[0].replace("\\", "/")
        suites = "--pyargs runcancel.contracts" if "runcancel/contracts/" in where else shlex.quote(where)
        live = bool(self.target_url) and "runcancel.mock" not in self.recorded_from
        target = shlex.quote(self.target_again or self.target_url) if live else "mock"
        hint = "" if live else " (or --target <URL>)"
        return (
            f"pytest {suites} -k {shlex.quote(test)} --target {target} --record-mode rewrite "
            f"--cassette-dir {shlex.quote(str(self.cassette_dir))}{hint}"
        )

    def _miss(self, error: Any, nodeid: str) -> str:
        cassette = error.cassette
        request = cassette.filter_request(error.failed_request)  # scrubbed: never print the real key
        parts = urlsplit(request.uri)
        shown = f"{request.method} {parts.path}" + (f"?{parts.query}" if parts.query else "")
        auth = request.headers.get("authorization") or request.headers.get("api-key") or "absent"
        beta = request.headers.get("openai-beta") or "absent"
        differences = closest_differences(request, cassette.requests)
        if error.reason == "cassette_not_found":
            reason = "The cassette does not exist"
        elif error.reason == "already_played":
            reason = (
                "Every recording of this request was played already: the test sent it more often "
                "than when it was recorded"
            )
        elif differences:
            reason = f"The closest recording differs: {'; '.join(differences)} (recorded)"
        else:
            reason = "Nothing in the cassette matches"
        if self.mode == "once" and error.reason != "already_played":
            advice = (
                "--record-mode once does not add to an existing cassette. Record it again: "
                + self.record_command(nodeid)
            )
        else:
            advice = "Record it: " + self.record_command(nodeid)
        return (
            f"runcancel: no recording in cassette {display_path(Path(cassette.path))} answers\n"
            f"  {shown} (Authorization: {auth}, OpenAI-Beta: {beta})\n"
            f"  {reason}.\n"
            f"  {advice}"
        )


def _filter_once(cassette: Any) -> None:
    """vcrpy filters (copies and scrubs) a request anew each time it looks at it: four times for a
    request answered from the cassette, once of them its own filtered copy. The same request object
    gets the same filtered copy, and so does that copy (scrubbing is idempotent)."""
    filtered = getattr(cassette, "_before_record_request", None)
    if filtered is None:  # pragma: no cover - another vcrpy: it filters as before
        return
    local = threading.local()

    def filter_once(request: Any) -> Any:
        seen: list[tuple[Any, Any]] = getattr(local, "seen", [])
        for known, result in seen:
            if known is request:
                return result
        result = filtered(request)
        local.seen = [(request, result), (result, result)] if result is not None else []
        return result

    cassette._before_record_request = filter_once


def _indexed(cassette: Any) -> None:
    """vcrpy finds a request's recordings by running the matcher on every interaction, twice a
    request; with the one matcher (`request_signature`) the interactions are indexed by signature
    instead, in recorded order, so a large cassette (the probe's) answers in constant time."""
    if list(getattr(cassette, "_match_on", ())) != [request_signature] or not hasattr(cassette, "_responses"):
        return  # pragma: no cover - another vcrpy or matcher: it matches as before
    lock = threading.Lock()
    index: dict[tuple[str | None, ...], list[int]] = {}
    indexed: tuple[list[Any], int] = ([], 0)  # the interactions indexed, and how many of them

    def responses(request: Any) -> Iterator[tuple[int, Any]]:
        nonlocal indexed
        request = cassette._before_record_request(request)
        data = cassette.data
        with lock:
            done = indexed[1] if indexed[0] is data else 0
            if done == 0:
                index.clear()
            for position in range(done, len(data)):  # recorded since (or a new list)
                index.setdefault(_signature(data[position][0]), []).append(position)
            indexed = (data, len(data))
            found = list(index.get(_signature(request), ())) if request else []
        for position in found:
            yield position, data[position][1]

    cassette._responses = responses


# -- where replay sends -------------------------------------------------------------------------------

REPLAY_ORIGIN = "http://replay.invalid"
_PROVENANCE_HEAD = 4096  # the provenance is a cassette's first lines: this much of a file is read


def replay_base_url(cassette_dir: Path) -> str:
    """Where replay sends: `REPLAY_ORIGIN` + the base path and query of the target the cassettes were
    recorded from (their provenance's `target`; the most common one, if they differ), so cassettes
    recorded from `/`, `/api/v1` or Azure's `/openai?api-version=...` match what replay sends.
    `REPLAY_BASE_URL` (`/v1`) when no cassette says."""

    found = _recorded_paths(cassette_dir, "target")
    if not found:
        return REPLAY_BASE_URL
    return REPLAY_ORIGIN + found.most_common(1)[0][0]


def replay_provider_state(cassette_dir: Path) -> str | None:
    """The provider state replay asks: `REPLAY_ORIGIN` + the path of the one the cassettes were
    recorded with (their provenance's `provider_state`; the most common one), or None when none was."""
    found = _recorded_paths(cassette_dir, "provider_state")
    return REPLAY_ORIGIN + found.most_common(1)[0][0] if found else None


def _recorded_paths(cassette_dir: Path, name: str) -> Counter[str]:
    """How many cassettes' provenance names each path and query as `name` (an http(s) URL)."""
    import yaml

    seen: Counter[str] = Counter()
    for path in sorted(cassette_dir.rglob("*.yaml")) if cassette_dir.is_dir() else []:
        try:
            with path.open(encoding="utf-8") as file:
                head = file.read(_PROVENANCE_HEAD)
        except (OSError, UnicodeDecodeError):
            continue
        lines = head.splitlines()
        if not lines or lines[0].strip() != "provenance:":
            continue
        block = [lines[0], *(line for line in _indented(lines[1:]))]
        try:
            provenance = (yaml.safe_load("\n".join(block)) or {}).get("provenance")
        except yaml.YAMLError:
            continue
        url = provenance.get(name) if isinstance(provenance, dict) else None
        if isinstance(url, str) and url.startswith(("http://", "https://")):
            parts = urlsplit(url)
            seen[(parts.path.rstrip("/") or "/") + (f"?{parts.query}" if parts.query else "")] += 1
    return seen


def recording_ended(error: BaseException) -> bool:
    """Whether `error` is replay running out of recordings of a request it has answered before: the
    session sent it more often than the recording did."""
    return isinstance(error, CannotOverwriteExistingCassetteException) and error.reason == "already_played"


def not_recorded(error: BaseException) -> bool:
    """Whether `error` is replay meeting a request no cassette recording answers."""
    return isinstance(error, CannotOverwriteExistingCassetteException)


def _indented(lines: list[str]) -> Iterator[str]:
    for line in lines:
        if line and not line.startswith(" "):
            return
        yield line


def _one_at_a_time(cassette: Any) -> None:
    """Let threads share the cassette: two concurrent identical requests must not play one answer twice."""
    lock = threading.Lock()
    play, append = cassette.play_response, cassette.append

    def play_response(request: Any) -> Any:
        with lock:
            return play(request)

    def locked_append(request: Any, response: Any) -> None:
        with lock:
            append(request, response)

    cassette.play_response = play_response
    cassette.append = locked_append
