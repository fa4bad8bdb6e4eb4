"""The settings chain: option -> environment -> config -> default."""

from __future__ import annotations

import pytest

from runcancel.settings import DEFAULT_PROBE_EXAMPLES, DEFAULT_PROBE_SEED, SettingsError, resolve_settings


def test_option_beats_environment_beats_config_beats_default() -> None:
    """Each setting comes from the first place that gives it, and says which."""
    env = {"OPENAI_BASE_URL": "http://env", "RUNCANCEL_REQUEST_TIMEOUT": "3"}
    ini = {
        "runcancel_target": "http://ini",
        "runcancel_request_timeout": "4",
        "runcancel_arrange_timeout": "5",
    }
    s = resolve_settings({"target": "http://option"}, env, ini)
    assert (s.target.value, s.target.source) == ("http://option", "--target")
    assert (s.request_timeout.value, s.request_timeout.source) == (3.0, "RUNCANCEL_REQUEST_TIMEOUT")
    assert (s.arrange_timeout.value, s.arrange_timeout.source) == (5.0, "config runcancel_arrange_timeout")
    s = resolve_settings({}, {}, ini)
    assert (s.target.value, s.target.source) == ("http://ini", "config runcancel_target")
    s = resolve_settings({}, {}, {})
    assert (s.target.value, s.target.source, s.uses_mock) == ("mock", "default", True)
    assert (s.api_key.value, s.request_timeout.value, s.arrange_timeout.value) == (None, 10.0, 30.0)


def test_an_empty_value_counts_as_not_given() -> None:
    """An empty OPENAI_BASE_URL (a common shell leftover) does not replace the default."""
    s = resolve_settings({"target": None}, {"OPENAI_BASE_URL": ""}, {})
    assert s.target.value == "mock"


@pytest.mark.parametrize(
    ("options", "env", "message"),
    [
        pytest.param(
            {"request_timeout": "abc"},
            {},
            "--request-timeout takes a number of seconds above 0, got 'abc'",
            id="word",
        ),
        pytest.param(
            {"arrange_timeout": "-1"},
            {},
            "--arrange-timeout takes a number of seconds above 0, got '-1'",
            id="neg",
        ),
        pytest.param(
            {}, {"RUNCANCEL_REQUEST_TIMEOUT": "0"}, "RUNCANCEL_REQUEST_TIMEOUT takes a number", id="env"
        ),
        pytest.param({"request_timeout": "nan"}, {}, "got 'nan'", id="nan"),
    ],
)
def test_a_bad_value_names_where_it_came_from(
    options: dict[str, str], env: dict[str, str], message: str
) -> None:
    """The error names the option or variable that gave the bad value, the value, and an example."""
    with pytest.raises(SettingsError, match=message.replace("(", r"\(")):
        resolve_settings(options, env, {})


def test_the_probe_settings_follow_the_chain() -> None:
    """--probe-examples and --probe-seed come from the option, the environment, the config or the default."""
    s = resolve_settings({}, {}, {})
    assert (s.probe_examples.value, s.probe_seed.value) == (DEFAULT_PROBE_EXAMPLES, DEFAULT_PROBE_SEED)
    s = resolve_settings(
        {"probe_examples": "7"},
        {"RUNCANCEL_PROBE_EXAMPLES": "8", "RUNCANCEL_PROBE_SEED": "9"},
        {"runcancel_probe_seed": "10"},
    )
    assert (s.probe_examples.value, s.probe_examples.source) == (7, "--probe-examples")
    assert (s.probe_seed.value, s.probe_seed.source) == (9, "RUNCANCEL_PROBE_SEED")


def test_a_random_probe_seed_is_drawn_once_and_says_so() -> None:
    """`--probe-seed random` draws a seed when the settings are resolved; its source says it was random."""
    s = resolve_settings({"probe_seed": "random"}, {}, {})
    assert 0 <= s.probe_seed.value < 2**32
    assert s.probe_seed.source == "--probe-seed, random"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        pytest.param(
            {"probe_examples": "0"}, "--probe-examples takes a whole number above 0, got '0'", id="zero"
        ),
        pytest.param({"probe_examples": "many"}, "--probe-examples takes a whole number", id="word"),
        pytest.param(
            {"probe_seed": "-3"}, "--probe-seed takes a whole number or 'random', got '-3'", id="negative"
        ),
    ],
)
def test_a_bad_probe_setting_is_refused(options: dict[str, str], message: str) -> None:
    """A budget below 1 or a seed that is not a whole number is refused with an example."""
    with pytest.raises(SettingsError, match=message):
        resolve_settings(options, {}, {})


@pytest.mark.parametrize(
    ("options", "env", "target", "mode"),
    [
        pytest.param({}, {}, "mock", None, id="default-off"),
        pytest.param({"record_mode": "once"}, {}, "mock", "once", id="record-from-mock"),
        pytest.param({}, {"RUNCANCEL_RECORD_MODE": "rewrite"}, "mock", "rewrite", id="env"),
        pytest.param({"target": "replay"}, {}, "replay", None, id="replay"),
        pytest.param(
            {"record_mode": "none"}, {"OPENAI_BASE_URL": "http://x"}, "replay", "none", id="none-is-replay"
        ),
    ],
)
def test_record_mode_follows_the_chain_and_none_means_replay(
    options: dict[str, str], env: dict[str, str], target: str, mode: str | None
) -> None:
    """--record-mode comes from the chain; pytest-recording's `none` replays, whatever the target."""
    s = resolve_settings(options, env, {})
    assert (s.target.value, s.record_mode.value) == (target, mode)
    assert s.replays == (target == "replay")
    assert s.records == (mode not in (None, "none"))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        pytest.param(
            {"record_mode": "always"},
            "--record-mode takes one of none, once, new_episodes, all, rewrite",
            id="unknown-mode",
        ),
        pytest.param(
            {"target": "replay", "record_mode": "all"},
            "--record-mode all records from a server, but the target is 'replay'",
            id="record-from-replay",
        ),
    ],
)
def test_a_record_mode_that_cannot_work_is_refused(options: dict[str, str], message: str) -> None:
    """A mode pytest-recording does not have, or recording with nothing to record from, is refused."""
    with pytest.raises(SettingsError, match=message):
        resolve_settings(options, {}, {})


def test_the_cassette_folder_follows_the_chain() -> None:
    """--cassette-dir, then RUNCANCEL_CASSETTE_DIR, then runcancel_cassette_dir, then cassettes/."""
    env, ini = {"RUNCANCEL_CASSETTE_DIR": "env-dir"}, {"runcancel_cassette_dir": "ini-dir"}
    assert resolve_settings({"cassette_dir": "opt"}, env, ini).cassette_dir.value == "opt"
    assert resolve_settings({}, env, ini).cassette_dir.value == "env-dir"
    assert resolve_settings({}, {}, ini).cassette_dir.source == "config runcancel_cassette_dir"
    assert resolve_settings({}, {}, {}).cassette_dir.value == "cassettes"


def test_the_readme_table_is_the_settings_table() -> None:
    """The README's settings table is exactly the one the settings table generates."""
    from pathlib import Path

    from runcancel.settings import settings_table

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    start = readme.index("<!-- settings-table")
    shown = readme[readme.index("\n", start) + 1 : readme.index("<!-- /settings-table -->")].strip()
    assert shown == settings_table()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        pytest.param(
            {"request_timeout": "inf"}, "--request-timeout takes a number of seconds above 0", id="inf"
        ),
        pytest.param(
            {"arrange_timeout": "1e999"}, "--arrange-timeout takes a number of seconds", id="overflow"
        ),
        pytest.param(
            {"probe_examples": "\u00b2"}, "--probe-examples takes a whole number above 0", id="superscript"
        ),
        pytest.param(
            {"probe_seed": "\u0661"}, "--probe-seed takes a whole number or 'random'", id="arabic-digit"
        ),
        pytest.param({"header": ["X-Tenant"]}, "--header takes a header as NAME:VALUE", id="header-no-colon"),
        pytest.param({"header": ["Bad Name: x"]}, "--header takes a header as NAME:VALUE", id="header-space"),
        pytest.param({"profile": "gcp"}, "--profile takes one of openai, azure", id="profile"),
        pytest.param(
            {"max_answer_bytes": "8 parsecs"}, "--max-answer-bytes takes a size in bytes", id="size-unit"
        ),
        pytest.param(
            {"max_answer_bytes": "0"}, "--max-answer-bytes takes a size in bytes above 0", id="size-zero"
        ),
        pytest.param({"rate_limit": "fast"}, "--rate-limit takes a number of requests per second", id="rate"),
        pytest.param(
            {"rate_limit": "inf/s"}, "--rate-limit takes a number of requests per second", id="rate-inf"
        ),
        pytest.param({"ca_bundle": "no-such.pem"}, "--ca-bundle takes the path of a file", id="ca-missing"),
        pytest.param(
            {"accept": "no-such.yaml"}, "--accept takes the path of a YAML or TOML file", id="accept-missing"
        ),
        pytest.param(
            {"provider_state": "ftp://127.0.0.1/state"},
            "--provider-state takes an http or https URL",
            id="provider-state-scheme",
        ),
        pytest.param(
            {"provider_state": "http://"},
            "--provider-state takes an http or https URL",
            id="provider-state-host",
        ),
    ],
)
def test_every_bad_value_is_one_paragraph(options: dict[str, object], message: str) -> None:
    """A bad value of any setting is refused with what was given, what is allowed and an example."""
    with pytest.raises(SettingsError, match=message) as caught:
        resolve_settings(options, {}, {})
    assert "Example:" in str(caught.value) or "Give" in str(caught.value)


def test_a_header_value_is_never_echoed() -> None:
    """A refused header shows its name, never its value: it may be a credential."""
    with pytest.raises(SettingsError) as caught:
        resolve_settings({"header": ["Bad Name: s3cret-token"]}, {}, {})
    assert "s3cret-token" not in str(caught.value)


@pytest.mark.parametrize(
    ("options", "env", "name", "value"),
    [
        pytest.param(
            {"header": ["X-A: 1", "X-B:2"]}, {}, "header", (("X-A", "1"), ("X-B", "2")), id="headers"
        ),
        pytest.param(
            {},
            {"RUNCANCEL_HEADERS": "X-A: 1, 2\nX-B: 3"},
            "header",
            (("X-A", "1, 2"), ("X-B", "3")),
            id="env-lines",
        ),
        pytest.param({}, {}, "profile", "openai", id="profile-default"),
        pytest.param({"profile": "Azure"}, {}, "profile", "azure", id="profile"),
        pytest.param({}, {}, "max_answer_bytes", 8 * 1024 * 1024, id="size-default"),
        pytest.param({"max_answer_bytes": "512KiB"}, {}, "max_answer_bytes", 512 * 1024, id="size-kib"),
        pytest.param({"rate_limit": "5/s"}, {}, "rate_limit", 5.0, id="rate"),
        pytest.param({}, {}, "rate_limit", None, id="rate-default"),
        pytest.param({}, {"RUNCANCEL_INSECURE": "1"}, "insecure", True, id="insecure-env"),
        pytest.param({}, {}, "insecure", False, id="insecure-default"),
    ],
)
def test_the_settings_for_later_use_are_parsed(
    options: dict[str, object], env: dict[str, str], name: str, value: object
) -> None:
    """Headers, profile, answer size, rate limit and TLS settings are parsed and kept on Settings."""
    assert getattr(resolve_settings(options, env, {}), name).value == value


def test_the_accept_setting_names_a_yaml_or_toml_file(tmp_path: pytest.TempPathFactory) -> None:
    """--accept takes an existing .yaml, .yml or .toml file (its entries are read by certify.prepare);
    another suffix is refused in one paragraph."""
    from pathlib import Path

    folder = Path(str(tmp_path))
    good = folder / "accepted.toml"
    good.write_text('[[accept]]\nclause = "schema.undocumented_field"\nreason = "r"\n')
    assert resolve_settings({"accept": str(good)}, {}, {}).accept.value == str(good)
    other = folder / "accepted.json"
    other.write_text("{}")
    with pytest.raises(SettingsError, match=r"\(\.yaml, \.yml, \.toml\)"):
        resolve_settings({"accept": str(other)}, {}, {})
