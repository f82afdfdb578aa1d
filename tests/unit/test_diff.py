"""The one difference tracker behind every module's --diff, and the masking of values that may be secret."""

from __future__ import annotations

from ansible_collections.sophia.ops.plugins.module_utils.diff import (
    CHANGED_VALUE,
    MISSING,
    NEW_VALUE,
    OLD_VALUE,
    SAME_VALUE,
    DifferenceTracker,
    masked_values,
)


def test_nothing_recorded_is_an_empty_diff():
    tracker = DifferenceTracker()
    assert tracker.as_diff() == {"before": {}, "after": {}}


def test_a_created_resource_has_no_before_and_a_deleted_one_no_after():
    created, deleted = DifferenceTracker(), DifferenceTracker()
    created.add_all({}, {"name": "sophia-api", "network": None})
    deleted.add_all({"name": "sophia-api"}, {})
    assert created.as_diff() == {"before": {}, "after": {"name": "sophia-api", "network": None}}
    assert deleted.as_diff() == {"before": {"name": "sophia-api"}, "after": {}}


def test_fields_keep_their_order_and_one_side_may_be_missing():
    tracker = DifferenceTracker()
    tracker.add("size_gb", 2, 5)
    tracker.add("snapshot_id", after="vs_1")
    tracker.add("encrypted", True, MISSING)
    assert list(tracker.as_diff()["before"]) == ["size_gb", "encrypted"]
    assert tracker.as_diff()["after"] == {"size_gb": 5, "snapshot_id": "vs_1"}
    assert MISSING not in tracker.as_diff()["before"].values(), "a missing side is left out, never shown"


def test_what_was_recorded_cannot_change_afterwards():
    config = {"image": "a:1"}
    tracker = DifferenceTracker()
    tracker.add("config", {}, config)
    config["image"] = "a:2"
    tracker.as_diff()["after"]["config"]["image"] = "a:3"
    assert tracker.as_diff()["after"]["config"] == {"image": "a:1"}


def test_masked_values_show_keys_and_whether_each_value_changed_never_the_value():
    before, after = masked_values({"LOG_LEVEL": "info", "API_KEY": "s3cret", "OLD": "x"},
                                  {"LOG_LEVEL": "debug", "API_KEY": "s3cret", "NEW": "y"})
    assert before == {"LOG_LEVEL": OLD_VALUE, "API_KEY": OLD_VALUE, "OLD": OLD_VALUE}
    assert after == {"LOG_LEVEL": CHANGED_VALUE, "API_KEY": SAME_VALUE, "NEW": NEW_VALUE}
    assert "s3cret" not in repr((before, after)) and "debug" not in repr(after)


def test_masked_values_of_nothing_are_empty():
    assert masked_values(None, {}) == ({}, {})


def test_a_machine_configs_diff_shows_env_keys_and_leaves_the_rest_alone():
    from ansible_collections.sophia.ops.plugins.module_utils.fly_machine_config import shown_configs

    before = {"image": "a:1", "env": {"TOKEN": "old-secret"}}
    after = {"image": "a:2", "env": {"TOKEN": "new-secret", "MODE": "x"}}
    shown_before, shown_after = shown_configs(before, after)
    assert shown_before == {"image": "a:1", "env": {"TOKEN": OLD_VALUE}}
    assert shown_after == {"image": "a:2", "env": {"TOKEN": CHANGED_VALUE, "MODE": NEW_VALUE}}
    assert before["env"]["TOKEN"] == "old-secret", "the configs themselves are left as they were"
    assert shown_configs({}, {"image": "a:1"}) == ({}, {"image": "a:1"})
