"""The settings chain: option -> environment -> config -> default."""

from __future__ import annotations

import pytest

from runcancel.settings import SettingsError, resolve_settings


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
