"""Runs encoded from their fixed parts are the bytes json.dumps gives; paths split as segment by segment."""

from __future__ import annotations

import json
from urllib.parse import unquote_to_bytes

from hypothesis import given, settings
from hypothesis import strategies as st
from mock_support import WEATHER, FakeClock

from runcancel.eras import ERAS
from runcancel.mock import SCENARIO_KEY, SCENARIOS, MockConfig, create_app
from runcancel.mock.app import path_segments
from runcancel.mock.encoding import CHANGING_RUN_KEYS, RunAnswer, RunEncoder, encode
from runcancel.mock.validation import assistant_request, run_request, thread_request

TEXT = st.text(
    st.characters(codec="utf-8") | st.sampled_from(["\ud800", "\u2028", '"', "\\", "%"]), max_size=12
)


@settings(max_examples=60, deadline=None)
@given(
    era=st.sampled_from([era.name for era in ERAS]),
    scenario=st.sampled_from([None, *SCENARIOS]),
    instructions=TEXT,
    metadata=st.dictionaries(st.text(max_size=8), TEXT, max_size=3),
    tools=st.booleans(),
    steps=st.lists(st.sampled_from(["wait", "cancel", "update"]), max_size=5),
)
def test_a_run_encodes_to_the_bytes_of_json_dumps_in_every_era_and_status(
    era: str, scenario: str | None, instructions: str, metadata: dict[str, str], tools: bool, steps: list[str]
) -> None:
    """Whatever the era, status, inputs (non-ASCII, lone surrogates) and updates: the same bytes as dumps."""
    clock = FakeClock()
    store = create_app(MockConfig(era=era, step=1.0, cancel_delay=1.0, clock=clock)).store
    assistant = store.create_assistant(
        assistant_request({"model": "gpt-4o", "tools": [WEATHER] if tools else []})
    )
    thread = store.create_thread(thread_request({}))["id"]
    if scenario is not None:
        metadata = {**metadata, SCENARIO_KEY: scenario}
    body = {"assistant_id": assistant["id"], "instructions": instructions, "metadata": metadata}
    if scenario == "requires_action" and not tools:
        body["tools"] = [WEATHER]
    views = [store.create_run(thread, run_request(body))]
    run_id = views[0]["id"]
    for step in steps:
        if step == "wait":
            clock.advance(0.7)
        elif step == "update" and views[-1]["status"] not in (
            "queued",
            "in_progress",
            "requires_action",
            "cancelling",
        ):
            views.append(store.update_run(thread, run_id, {"note": instructions}))
        elif step == "cancel" and views[-1]["status"] in ("queued", "in_progress", "requires_action"):
            views.append(store.cancel_run(thread, run_id))
        views.append(store.get_run(thread, run_id))
    for view in views:
        assert isinstance(view, RunAnswer)
        assert view.json() == json.dumps(dict(view)).encode("ascii")
        assert json.loads(view.json()) == view


def test_the_fixed_groups_leave_out_every_changing_key() -> None:
    """Only the status-dependent keys are encoded per answer; an encoder with no fixed keys still encodes."""
    encoder = RunEncoder(("status", "usage"))
    assert encoder.fixed({"status": "queued", "usage": None}) == ()
    assert encoder.encode((), {"status": "queued", "usage": None}) == b'{"status": "queued", "usage": null}'
    assert {"status", "usage", "metadata"} - CHANGING_RUN_KEYS == {"metadata"}


def test_a_run_counts_its_encoded_json_against_the_byte_cap() -> None:
    """The encoded copy of a run's fixed keys is memory too: long instructions count about twice."""
    store = create_app(MockConfig(max_bytes=2**40)).store
    assistant = store.create_assistant(assistant_request({"model": "gpt-4o"}))["id"]
    thread = store.create_thread(thread_request({}))["id"]
    before = store.stored_bytes()
    store.create_run(thread, run_request({"assistant_id": assistant, "instructions": "x" * 100_000}))
    assert store.stored_bytes() - before >= 2 * 100_000


@given(st.binary(max_size=40).map(lambda raw: b"/" + raw.replace(b"%", b"").replace(b"?", b"")))
def test_a_path_splits_like_each_segment_decoded_on_its_own(raw: bytes) -> None:
    """Decoding the whole path, then splitting at "/", gives each segment's own decoding."""
    expected = [unquote_to_bytes(part).decode("utf-8", "replace") for part in raw[1:].split(b"/")]
    assert path_segments({"raw_path": raw, "path": ""}) == expected
    assert path_segments({"raw_path": raw + b"?q=1", "path": ""}) == expected


def test_encode_gives_the_bytes_of_json_dumps() -> None:
    """The shared encoder: dumps's separators and escapes, no circularity check needed."""
    value = {"a": [1, 2.5, None, True], "b": "\u00e9\ud800", "c": {}}
    assert encode(value) == json.dumps(value).encode("ascii")
