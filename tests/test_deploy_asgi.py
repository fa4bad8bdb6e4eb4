"""In-process targets: raw paths reach the app byte for byte, lifespan runs, specs name apps."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from runcancel.recording import Recorder, block_network
from runcancel.targets import Target, TargetError

KEY = "sk-in-process-key"
started: list[str] = []


async def echo(request: Request) -> JSONResponse:
    scope = request.scope
    return JSONResponse(
        {
            "raw_path": scope["raw_path"].decode("latin-1"),
            "path": scope["path"],
            "query_string": scope["query_string"].decode("latin-1"),
            "authorization": request.headers.get("authorization"),
            "state": getattr(request.state, "marker", None),
        }
    )


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[dict[str, str]]:
    started.append("up")
    yield {"marker": "set at startup"}
    started.append("down")


def echo_app() -> Starlette:
    """A tiny Starlette app answering every path and method with what its scope says."""
    return Starlette(routes=[Route("/{rest:path}", echo, methods=["GET", "POST"])], lifespan=lifespan)


async def broken_app(scope: dict[str, object], receive: object, send: object) -> None:
    if scope["type"] == "http":
        raise RuntimeError("the app is broken")


not_callable = 42


@pytest.mark.parametrize(
    ("target", "raw_path", "query"),
    [
        pytest.param(
            b"/threads/a%2Fb/runs/r/cancel", b"/v1/threads/a%2Fb/runs/r/cancel", b"", id="encoded-slash"
        ),
        pytest.param(b"/threads/a?b/runs/r/cancel", b"/v1/threads/a", b"b/runs/r/cancel", id="question-mark"),
        pytest.param(b"/threads/../runs/r/cancel", b"/v1/threads/../runs/r/cancel", b"", id="dot-dot"),
        pytest.param(b"/threads/%/runs/r/cancel", b"/v1/threads/%/runs/r/cancel", b"", id="lone-percent"),
        pytest.param(b"/threads/a#b/runs/r/cancel", b"/v1/threads/a#b/runs/r/cancel", b"", id="hash"),
        pytest.param(b"/threads/%E2%82%AC/runs/r", b"/v1/threads/%E2%82%AC/runs/r", b"", id="utf8-escape"),
    ],
)
def test_raw_paths_reach_the_app_byte_for_byte(target: bytes, raw_path: bytes, query: bytes) -> None:
    """send_raw's bytes are the ASGI scope's raw_path (and query_string after a `?`), unchanged."""
    with Target.from_spec(echo_app(), KEY).client() as client:
        seen = client.send_raw("POST", target).json()
    assert seen["raw_path"].encode("latin-1") == raw_path
    assert seen["query_string"].encode("latin-1") == query


def test_the_path_is_the_raw_path_decoded_and_the_query_follows() -> None:
    """`path` is raw_path percent-decoded; the target's own query string is appended."""
    target = Target("http://in-process.invalid/api?api-version=1", KEY, transport=echo_app())
    with target.client() as client:
        seen = client.send("GET", "/threads/%E2%82%AC").json()
    assert seen["path"] == "/api/threads/\u20ac"
    assert seen["query_string"] == "api-version=1"
    assert seen["authorization"] == f"Bearer {KEY}"


def test_the_app_lifespan_runs_around_the_client() -> None:
    """Startup before the first request (its state reaches requests), shutdown when the client closes."""
    started.clear()
    with Target.from_spec(echo_app(), KEY).client() as client:
        assert client.send("GET", "/x").json()["state"] == "set at startup"
        assert started == ["up"]
    assert started == ["up", "down"]


def test_an_app_that_raises_answers_500() -> None:
    """An exception before the app's answer is a 500, as uvicorn would answer, and the client goes on."""
    with Target.from_spec(broken_app, KEY).client() as client:
        assert client.send("GET", "/x").status == 500
        assert client.send("GET", "/y").status == 500


def test_a_spec_names_a_module_attribute() -> None:
    """`asgi:MODULE:ATTR` imports the module and calls a factory of no arguments."""
    target = Target.from_spec("asgi:test_deploy_asgi:echo_app/api?x=1", KEY)
    assert target.label == "the in-process app test_deploy_asgi:echo_app"
    with target.client() as client:
        assert client.send("GET", "/y").json()["raw_path"] == "/api/y"


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        pytest.param("asgi:no_such_module_here:app", "cannot be imported", id="no-module"),
        pytest.param("asgi:test_deploy_asgi:missing", "has no 'missing'", id="no-attribute"),
        pytest.param("asgi:test_deploy_asgi:not_callable", "is not callable", id="not-callable"),
        pytest.param("asgi:test_deploy_asgi", "it is not MODULE:ATTR", id="no-attr-given"),
        pytest.param("asgi::app", "it is not MODULE:ATTR", id="no-module-given"),
    ],
)
def test_a_bad_spec_is_one_paragraph(spec: str, problem: str) -> None:
    """A spec that names no app is a TargetError with the form and an example."""
    with pytest.raises(TargetError) as caught:
        Target.from_spec(spec, KEY)
    assert problem in str(caught.value)
    assert "asgi:myserver.main:app" in str(caught.value)


def test_an_in_process_app_is_recorded_and_replayed(tmp_path: Path) -> None:
    """vcrpy records an in-process app's exchanges like a server's; replay answers them offline."""
    path = tmp_path / "suite" / "case.yaml"
    with Recorder(tmp_path, "all", KEY).cassette(path), Target.from_spec(echo_app(), KEY).client() as c:
        live = c.send("GET", "/threads/thread_x").json()
    assert "/v1/threads/thread_x" in path.read_text()
    assert KEY not in path.read_text()
    replay = Target("http://replay.invalid/v1", KEY)
    with block_network(), Recorder(tmp_path, "none", KEY).cassette(path), replay.client() as c:
        replayed = c.send("GET", "/threads/thread_x").json()
    assert replayed == {**live, "authorization": "Bearer <api-key>"}  # the echoed key, scrubbed


READS = """
def test_reads(runcancel_client):
    runcancel_client.send("GET", "/threads/{thread}")
"""


def test_a_missing_recording_of_an_in_process_app_is_recorded_again_by_its_spec(
    pytester: pytest.Pytester,
) -> None:
    """The advice for a request the cassette lacks names the `asgi:` spec to record from again, never
    the origin an in-process app's requests carry (it does not resolve)."""
    spec = "asgi:test_deploy_asgi:echo_app"
    args = ("-p", "no:cacheprovider", "--target", spec, "--api-key", KEY, "--record-mode", "once")
    pytester.makeini("[pytest]\n")
    pytester.makepyfile(test_app=READS.format(thread="thread_x"))
    pytester.runpytest_inprocess(*args).assert_outcomes(passed=1)
    pytester.makepyfile(test_app=READS.format(thread="thread_y"))

    result = pytester.runpytest_inprocess(*args)

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"*Record it again: pytest test_app.py -k test_reads --target {spec} *"])
    assert "in-process.invalid" not in result.stdout.str().split("Record it again", 1)[1].splitlines()[0]
