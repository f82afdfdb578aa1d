"""The drift report filter: registered results of sophia.ops.fly_service in, one entry per drifted resource out.

The results below have the shapes the modules register (trimmed to what the filter reads); the platform
test (tests/platform/test_operations.py) runs the same filter on real ones.
"""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.sophia.ops.plugins.filter.drift import config_differences, drift_report

APP = "sophia-local-weaviate"
WANTED = {
    "image": "semitechnologies/weaviate:1.32.0",
    "guest": {"cpu_kind": "shared", "cpus": 2, "memory_mb": 2048},
    "env": {"LOG_LEVEL": "info"},
    "services": [{"internal_port": 8080, "ports": [{"port": 443, "handlers": ["tls", "http"]}]}],
    "metadata": {"environment": "local", "sophia_service": APP},
}


def machine(machine_id, region="iad", state="started", **config_changes):
    config = {
        "image": "semitechnologies/weaviate:1.32.0",
        "guest": {"cpu_kind": "shared", "cpus": 2, "memory_mb": 2048},
        "env": {"LOG_LEVEL": "info"},
        # What the API adds on its own, and a port as a string from a template: neither is drift.
        "services": [{"protocol": "tcp", "internal_port": "8080", "ports": [{"port": 443, "handlers": ["tls", "http"]}]}],
        "metadata": {"environment": "local", "sophia_service": APP, "fly_process_group": "app",
                     "sophia_ops_create_id": "c0ffee"},
        "restart": {"policy": "always"},
    }
    for key, value in config_changes.items():
        config[key] = dict(config[key], **value) if isinstance(value, dict) else value
    return {"id": machine_id, "region": region, "state": state, "config": config}


def summary(**lists):
    keys = ("created", "updated", "started", "restarted", "destroyed", "rolled_back", "unchanged", "grown_volumes",
            "volumes_updated", "unhealthy", "progress")
    return dict((key, list(lists.get(key, []))) for key in keys)


def service(name="weaviate", app_changed=False, secrets=None, ips=None, certificates=None, groups=None, error=None):
    return {
        "service": name,
        "error": error,
        "app": {"changed": app_changed, "fly_app": {"name": APP}},
        "secrets": secrets or {"changed": False, "skipped": True},
        "ips": ips or ip_result(),
        "certificates": certificates or {"results": [], "skipped": True},
        "groups": groups if groups is not None else {"app": group([machine("m1")], summary(unchanged=["m1"]))},
    }


def ip_result(assigned=(), released=()):
    """The service's one fly_ip task (types, exclusive): the kinds it assigned, the (kind, address) it released."""
    return {"changed": bool(assigned or released),
            "fly_ip": {"addresses": [{"ip": "fdaa:0:1::3", "type": "private_v6"}],
                       "assigned": [{"type": kind} for kind in assigned],
                       "released": [{"ip": address, "type": kind} for kind, address in released]}}


def group(current, plan, diff=None, changed=None):
    return {"wanted": WANTED, "current": {"changed": False, "machines": current},
            "result": {"changed": bool(changed), "summary": plan, "machines": current, "diff": diff or {}}}


def messages(entries):
    return [entry["message"] for entry in entries]


def test_nothing_drifted_gives_no_entry():
    assert drift_report([service(), service("agent_ui")]) == []


def test_a_changed_machine_is_named_field_by_field_with_what_was_found_and_what_is_wanted():
    drifted = machine("3d8d413b29d089", guest={"memory_mb": 1024}, env={"DEBUG": "1"})
    entries = drift_report([service(groups={"app": group([drifted], summary(updated=["3d8d413b29d089"]), changed=True)})])
    assert messages(entries) == [
        "weaviate: machine 3d8d413b29d089 guest.memory_mb 1024 -> 2048 (would update)",
        "weaviate: machine 3d8d413b29d089 env.DEBUG 1 -> (absent) (would update)",
    ]
    first = entries[0]
    assert (first["resource"], first["name"], first["change"], first["field"], first["found"], first["wanted"]) == (
        "machine", "3d8d413b29d089", "update", "guest.memory_mb", 1024, 2048)
    assert first["app"] == APP and first["group"] == "app"


def test_a_new_image_is_one_difference_its_release_record_goes_with_it():
    wanted = dict(WANTED, image="semitechnologies/weaviate:1.33.0",
                  metadata=dict(WANTED["metadata"], sophia_previous_image="semitechnologies/weaviate:1.32.0"))
    kept = group([machine("m1")], summary(updated=["m1"]), changed=True)
    kept["wanted"] = wanted
    assert messages(drift_report([service(groups={"app": kept})])) == [
        "weaviate: machine m1 image semitechnologies/weaviate:1.32.0 -> semitechnologies/weaviate:1.33.0 (would update)"]


def test_missing_and_stopped_and_surplus_and_unhealthy_machines():
    plan = summary(created=["new-1"], started=["m2"], destroyed=["m3"], unhealthy=["m4"])
    diff = {"before": {"machines": {}}, "after": {"machines": {"new-1": {"region": "ord", "state": "started"}}}}
    current = [machine("m2", state="stopped"), machine("m3", region="lhr"), machine("m4")]
    entries = drift_report([service(groups={"app": group(current, plan, diff, changed=True)})])
    assert messages(entries) == [
        "weaviate: machine missing in ord (would create)",
        "weaviate: machine m2 is stopped (would start)",
        "weaviate: machine m3 in lhr not wanted (would destroy)",
        "weaviate: machine m4 runs the wanted config and fails its checks (not healthy)",
    ]
    assert entries[0]["name"] == "new-1" and entries[0]["wanted"] == "ord"


def test_volume_snapshot_settings_and_size():
    plan = summary(volumes_updated=["vol_a"], grown_volumes=["vol_b"], unchanged=["m1"])
    diff = {"before": {"machines": {}, "volumes": {"vol_a": {"snapshot_retention": 3}}},
            "after": {"machines": {}, "volumes": {"vol_a": {"snapshot_retention": 14}}}}
    entries = drift_report([service("vector_store", groups={"app": group([machine("m1")], plan, diff, changed=True)})])
    assert messages(entries) == [
        "vector_store: volume vol_b smaller than the wanted size (would extend)",
        "vector_store: volume vol_a snapshot_retention 3 -> 14 (would update)",
    ]
    assert (entries[1]["found"], entries[1]["wanted"], entries[1]["field"]) == (3, 14, "snapshot_retention")


def test_secrets_missing_or_different_never_show_a_value():
    secrets = {"changed": True,
               "diff": {"before": {"JWT_SECRET": "(absent)", "REDIS_URL": "5d2c9f0c1a7b3e44"},
                        "after": {"JWT_SECRET": "91dbe8ff88653e7f", "REDIS_URL": "0a0a0a0a0a0a0a0a"}},
               "fly_secret": {"changed_names": ["JWT_SECRET", "REDIS_URL"],
                              "secrets": [{"name": "REDIS_URL", "digest": "5d2c9f0c1a7b3e44"}]}}
    entries = drift_report([service("unified_api", secrets=secrets)])
    assert messages(entries) == ["unified_api: secret JWT_SECRET missing (would set)",
                                 "unified_api: secret REDIS_URL differs from the vault (would set)"]
    assert "91dbe8ff88653e7f" not in str(entries) and "0a0a0a0a0a0a0a0a" not in str(entries)


def test_without_a_diff_the_listing_tells_missing_from_different():
    secrets = {"changed": True, "fly_secret": {"changed_names": ["JWT_SECRET"], "secrets": []}}
    assert messages(drift_report([service(secrets=secrets)])) == ["weaviate: secret JWT_SECRET missing (would set)"]


def test_addresses_and_certificates():
    ips = ip_result(assigned=["private_v6"], released=[("v4", "137.66.1.2")])
    certificates = {"results": [{"item": "app.sophia.localhost", "changed": True},
                                {"item": "www.sophia.localhost", "changed": False}]}
    entries = drift_report([service("agent_ui", ips=ips, certificates=certificates)])
    assert messages(entries) == [
        "agent_ui: IP private_v6 missing (would assign)",
        "agent_ui: IP v4 (137.66.1.2) present, not wanted (would release)",
        "agent_ui: certificate for app.sophia.localhost missing (would request)",
    ]


def test_a_missing_app_is_one_entry():
    plan = summary(created=["new-1", "new-2"])
    entries = drift_report([service("mcp_server", app_changed=True, secrets={"changed": True, "fly_secret": {
        "changed_names": ["MCP_AUTH_TOKEN"], "secrets": []}}, groups={"app": group([], plan, changed=True)})])
    assert messages(entries) == ["mcp_server: app sophia-local-weaviate missing (would create)"]


def test_a_fix_run_says_what_was_done_and_names_other_process_groups():
    plan = summary(started=["m9"])
    groups = {"alertmanager": group([machine("m9", state="stopped")], plan, changed=True), "app": group(
        [machine("m1")], summary(unchanged=["m1"]))}
    entries = drift_report([service("monitoring", groups=groups)], fixed=True)
    assert messages(entries) == ["monitoring/alertmanager: machine m9 is stopped (started)"]
    assert entries[0]["group"] == "alertmanager"


def test_a_service_that_could_not_be_checked_is_an_entry():
    entries = drift_report([service(error={"task": "Release now running", "msg": "HTTP 503"}, groups={})])
    assert [(e["resource"], e["change"]) for e in entries] == [("service", "error")]
    assert entries[0]["message"] == "weaviate: Release now running: HTTP 503 (could not be checked)"


def test_config_differences_follow_the_module_rules():
    wanted = {"guest": {"memory_mb": 2048}, "env": {"A": "1"}, "checks": {"health": {"port": 8080}},
              "services": [{"ports": [{"port": 443}]}]}
    actual = {"guest": {"memory_mb": 2048, "cpus": 2}, "env": {"A": "1", "B": "2"},
              "checks": {"health": {"port": "8080", "type": "http"}, "extra": {"port": 1}},
              "services": [{"ports": [{"port": 80}]}], "init": {"cmd": ["x"]}}
    assert config_differences(wanted, actual) == [
        ("env.B", "2", None),
        ("checks.extra", {"port": 1}, None),
        ("services[0].ports[0].port", 80, 443),
    ]
    # autostop's old booleans are the names the module compares them as.
    assert config_differences({"services": [{"autostop": "stop"}]}, {"services": [{"autostop": True}]}) == []
    # A list of another length is one difference, shown whole.
    assert config_differences({"services": [{"a": 1}]}, {"services": []}) == [("services", [], [{"a": 1}])]


@pytest.mark.parametrize("bad", [{"service": "x"}, "weaviate", [["not", "a", "dict"]]])
def test_other_input_is_refused(bad):
    with pytest.raises(AnsibleFilterError):
        drift_report(bad)
