"""When two machine configs are "the same": the rules fly_machine's idempotence rests on."""

from __future__ import annotations

import pytest

from ansible_collections.sophia.ops.plugins.module_utils.fly_api import CREATE_MARKER_KEY
from ansible_collections.sophia.ops.plugins.module_utils.fly_machine_config import (
    comparable,
    config_matches,
    whole_numbers,
)

SERVER = {
    "image": "registry.fly.io/app:1",
    "guest": {"cpu_kind": "shared", "cpus": 1, "memory_mb": 256},
    "restart": {"policy": "always"},
    "init": {},
    "dns": {},
    "env": {"A": "1"},
    "metadata": {"fly_process_group": "app", CREATE_MARKER_KEY: "f00"},
    "services": [{"protocol": "tcp", "internal_port": 8080, "ports": [{"port": 443, "handlers": ["tls"]}],
                  "autostart": True}],
}


@pytest.mark.parametrize("wanted", [
    {"image": "registry.fly.io/app:1"},
    {"image": "registry.fly.io/app:1", "guest": {"memory_mb": 256}},       # server-filled guest defaults
    {"image": "registry.fly.io/app:1", "env": {"A": "1"}, "init": None},     # None means nothing
    {"image": "registry.fly.io/app:1", "metadata": {"fly_process_group": "app"}},  # our marker never counts
    {"image": "registry.fly.io/app:1", "services": [{"internal_port": "8080", "ports": [{"port": 443}]}]},
])
def test_same(wanted):
    assert config_matches(wanted, SERVER)


@pytest.mark.parametrize("wanted", [
    {"image": "registry.fly.io/app:2"},
    {"image": "registry.fly.io/app:1", "guest": {"cpus": 2}},
    {"image": "registry.fly.io/app:1", "guest": {"cpu_kind": "performance", "memory_mb": 256}},
    {"image": "registry.fly.io/app:1", "env": {}},                           # the server has A; we want none
    {"image": "registry.fly.io/app:1", "env": {"A": "1", "B": "2"}},
    {"image": "registry.fly.io/app:1", "metadata": {}},                      # fly_process_group would go
    {"image": "registry.fly.io/app:1", "services": []},
    {"image": "registry.fly.io/app:1", "services": [{"internal_port": 8080, "ports": [{"port": 80}]}]},
    {"image": "registry.fly.io/app:1", "checks": {"alive": {"type": "tcp", "port": 8080}}},
])
def test_different(wanted):
    assert not config_matches(wanted, SERVER)


def test_only_the_guest_fields_the_caller_set_are_compared():
    wanted = {"image": "x", "guest": {"cpus": 1}}
    assert config_matches(wanted, {"image": "x", "guest": {"cpus": 1, "memory_mb": 256, "cpu_kind": "shared"}})
    assert config_matches(wanted, {"image": "x", "guest": {"cpus": 1, "memory_mb": 512}})
    # A real API that leaves a field empty is not a difference either.
    assert config_matches(wanted, {"image": "x", "guest": {"cpus": 1, "cpu_kind": ""}})
    assert not config_matches(wanted, {"image": "x", "guest": {"cpus": 2}})


def test_comparable_shows_only_what_was_asked_about_without_the_marker():
    shown = comparable(SERVER, {"image": "y", "metadata": {"fly_process_group": "app"}})
    assert shown == {"image": "registry.fly.io/app:1", "metadata": {"fly_process_group": "app"}}


@pytest.mark.parametrize("wanted, answered, same", [
    ("stop", True, True), ("off", False, True), ("stop", "stop", True), ("suspend", "suspend", True),
    ("off", True, False), ("stop", False, False), ("suspend", True, False),
])
def test_autostop_as_a_word_or_as_the_older_boolean(wanted, answered, same):
    actual = {"services": [{"protocol": "tcp", "autostop": answered}]}
    assert config_matches({"services": [{"protocol": "tcp", "autostop": wanted}]}, actual) is same


def test_templated_numbers_reach_the_api_as_numbers():
    """Before ansible-core 2.19 "{{ port | int }}" inside the config dict arrives as "8080"; the API wants 8080."""
    templated = {
        "image": "registry.fly.io/app:1",
        "guest": {"cpu_kind": "shared", "cpus": "2", "memory_mb": "2048"},
        "env": {"PORT": "8080", "WORKERS": "4"},
        "metadata": {"sophia_release": "12"},
        "services": [{"protocol": "tcp", "internal_port": "8080", "min_machines_running": "1", "autostart": True,
                      "ports": [{"port": "443", "handlers": ["tls", "http"]}],
                      "concurrency": {"type": "requests", "soft_limit": "20", "hard_limit": " 25 "}}],
        "checks": {"health": {"type": "http", "port": "8080", "path": "/health", "interval": "15s"}},
        "files": [{"guest_path": "/etc/app.conf", "raw_value": "eA==", "mode": "0644"}],
    }
    typed = whole_numbers(templated)
    assert typed["guest"] == {"cpu_kind": "shared", "cpus": 2, "memory_mb": 2048}
    service = typed["services"][0]
    assert (service["internal_port"], service["min_machines_running"], service["ports"][0]["port"]) == (8080, 1, 443)
    assert service["concurrency"] == {"type": "requests", "soft_limit": 20, "hard_limit": 25}
    assert typed["checks"]["health"] == {"type": "http", "port": 8080, "path": "/health", "interval": "15s"}
    # The user's data and anything that is no whole number stay as given.
    assert typed["env"] == {"PORT": "8080", "WORKERS": "4"} and typed["metadata"] == {"sophia_release": "12"}
    assert typed["files"][0]["mode"] == "0644"
    assert whole_numbers({"guest": {"cpus": "two"}})["guest"]["cpus"] == "two"
    assert templated["guest"]["cpus"] == "2"
