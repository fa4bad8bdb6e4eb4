"""The Run's key-set eras: every era's own key set is named exactly, and a near miss names its difference."""

import pytest

from runcancel.eras import ERAS, era_named, era_of, field_note, usage_era


@pytest.mark.parametrize("era", ERAS, ids=lambda era: era.name)
def test_each_era_matches_itself(era):
    """An era's own keys, in its order, match it exactly."""
    match = era_of(era.keys)
    assert match.era is era
    assert match.exact
    assert match.in_order


def test_era_key_counts_follow_the_field_notes():
    """17 -> 19 -> 27 (v1) -> 27 (v2) -> 28 -> 29 keys."""
    assert [len(era.keys) for era in ERAS] == [17, 19, 27, 27, 28, 29]
    assert "file_ids" in era_named("2024-04-v1").keys
    assert "file_ids" not in era_named("2024-04").keys
    assert "tool_resources" in era_named("2024-04").keys


def test_a_28_key_run_is_like_2024_06_and_lacks_reasoning_effort():
    """An exact older era names what it lacks against the newest one."""
    described = era_of(era_named("2024-06").keys).describe()
    assert described == "28 keys: like 2024-06..2025-02; no `reasoning_effort`"


def test_a_near_miss_names_the_closest_era_and_its_difference():
    """A 29-key Run with one key renamed is closest to 2025-03, with the missing and the extra key."""
    keys = [k if k != "usage" else "usage_info" for k in era_named("2025-03").keys]
    match = era_of(keys)
    assert match.era.name == "2025-03"
    assert not match.exact
    assert match.missing == ("usage",)
    assert match.extra == ("usage_info",)
    assert "closest to 2025-03.." in match.describe()


def test_order_is_checked():
    """The same keys in another order match the era's set but say the order differs."""
    keys = list(reversed(era_named("2023-11").keys))
    match = era_of(keys)
    assert match.exact
    assert not match.in_order
    assert match.describe().endswith("keys in another order")


def test_field_notes_and_usage_eras():
    """Field history is looked up by name or JSON path; usage key sets have months of their own."""
    assert field_note("$.parallel_tool_calls") == "added upstream 2024-06"
    assert field_note("nothing") is None
    assert usage_era({"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}) == "2024-02"
    full = {
        "prompt_tokens": 1,
        "completion_tokens": 1,
        "total_tokens": 2,
        "prompt_token_details": {},
        "completion_tokens_details": {},
    }
    assert usage_era(full) == "2025-09"
    assert usage_era({"x": 1}) is None
