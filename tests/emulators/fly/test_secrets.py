"""App secrets: write-only, digests and versions; all at once and by name."""

from __future__ import annotations

import hashlib

import pytest

from tests.emulators.fly.helpers import ok, refused


@pytest.mark.fault("an invalid secret name", checks="400; values never readable back, only digests")
def test_secrets_are_write_only_with_digests_and_versions(fly, app):
    base = "/apps/%s/secrets" % app
    first = ok(fly.api("POST", base, json={"values": {"DATABASE_URL": "postgres://u:p@db/x", "TOKEN": "t-1"}}))
    second = ok(fly.api("POST", base, json={"values": {"TOKEN": "t-2", "DATABASE_URL": None}}))
    assert second["version"] > first["version"]

    listed = ok(fly.api("GET", base))["secrets"]
    assert [s["name"] for s in listed] == ["TOKEN"]
    assert "value" not in listed[0] and "t-2" not in fly.api("GET", base).text
    assert listed[0]["digest"] != [s for s in first["secrets"] if s["name"] == "TOKEN"][0]["digest"]
    assert fly.api("POST", base, json={"values": {"bad name": "x"}}).status_code == 400


def test_a_secret_digest_is_the_sha256_prefix_of_its_value(fly, app):
    base = "/apps/%s/secrets" % app
    first = ok(fly.api("POST", base, json={"values": {"API_KEY": "value-one"}}))
    second = ok(fly.api("POST", base, json={"values": {"API_KEY": "value-one", "GONE": None}}))
    listed = ok(fly.api("GET", base))["secrets"]
    assert [(s["name"], s["digest"]) for s in listed] == [("API_KEY", hashlib.sha256(b"value-one").hexdigest()[:16])]
    assert listed[0]["created_at"] == first["secrets"][0]["created_at"]
    assert second["version"] == first["version"] + 1


def digest(value):
    return hashlib.sha256(value.encode()).hexdigest()[:16]


def test_a_secret_is_set_read_and_deleted_by_name(fly, app):
    base = "/apps/%s/secrets" % app
    assert fly.api("GET", base + "/API_KEY").status_code == 404
    made = ok(fly.api("POST", base + "/API_KEY", json={"value": "key-one"}), 201)
    assert (made["name"], made["digest"], made["version"]) == ("API_KEY", digest("key-one"), 1)
    shown = ok(fly.api("GET", base + "/API_KEY"))
    assert shown == {"name": "API_KEY", "digest": digest("key-one"), "created_at": made["created_at"],
                     "updated_at": made["updated_at"]}

    changed = ok(fly.api("POST", base + "/API_KEY", json={"value": "key-two"}), 201)
    assert changed["digest"] == digest("key-two") and changed["version"] == 2
    assert changed["created_at"] == made["created_at"]
    assert [s["name"] for s in ok(fly.api("GET", base))["secrets"]] == ["API_KEY"]

    assert ok(fly.api("DELETE", base + "/API_KEY")) == {"version": 3}
    assert fly.api("GET", base + "/API_KEY").status_code == 404
    assert ok(fly.api("GET", base))["secrets"] == []
    # The bulk update counts on from the same version.
    assert ok(fly.api("POST", base, json={"values": {"OTHER": "x"}}))["version"] == 4


@pytest.mark.fault("secret values asked for with show_secrets", checks="names, digests and dates only, never a value")
def test_values_are_never_answered(fly, app):
    base = "/apps/%s/secrets" % app
    ok(fly.api("POST", base + "/PASSWORD", json={"value": "hunter2-long-password"}), 201)
    for path in (base, base + "/PASSWORD"):
        answer = fly.api("GET", path, params={"show_secrets": "true"})
        assert answer.status_code == 200 and "hunter2" not in answer.text and '"value"' not in answer.text


@pytest.mark.fault("per-name secrets with a bad name, an unknown name, an unknown app",
                   checks="400 naming the rule; 404 for what is not there")
def test_per_name_secrets_refuse_bad_names_and_missing_things(fly, app):
    base = "/apps/%s/secrets" % app
    assert "invalid secret name '1ST'" in refused(fly.api("POST", base + "/1ST", json={"value": "x"}))
    assert "invalid secret name" in refused(fly.api("POST", base + "/" + "A" * 257, json={"value": "x"}))
    ok(fly.api("POST", base + "/" + "A" * 256, json={"value": "x"}), 201)
    assert refused(fly.api("DELETE", base + "/MISSING"), 404) == "secret MISSING not found"
    assert refused(fly.api("GET", "/apps/no-such-app/secrets/X"), 404) == "app not found"
    assert "invalid secret name" in refused(fly.api("POST", base, json={"values": {"bad name": "x"}}))
    assert [s["name"] for s in ok(fly.api("GET", base))["secrets"]] == ["A" * 256]
