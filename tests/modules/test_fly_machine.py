"""sophia.ops.fly_machine, one named machine, through the ansible CLI against the emulator."""

from __future__ import annotations

import json

from tests.support.modules import call_module

IMAGE = "registry.fly.io/sophia-mcp-memory:2.0.1"
CONFIG = {
    "image": IMAGE,
    "guest": {"cpus": 2, "memory_mb": 2048},
    "env": {"LOG_LEVEL": "info"},
    "services": [{"protocol": "tcp", "internal_port": 8080, "ports": [{"port": 443, "handlers": ["tls", "http"]}]}],
    "checks": {"alive": {"type": "http", "port": 8080, "method": "GET", "path": "/health"}},
}


def machine_args(fly, app, **args):
    return fly.module_args(**dict({"app": app, "name": "mcp-1", "region": "iad", "config": CONFIG}, **args))


def test_lifecycle(fly, app):
    args = machine_args(fly, app)

    seq = fly.last_seq()
    predicted = call_module("fly_machine", args, check=True, diff=True)
    assert predicted.changed and predicted["diff"]["before"] == {}
    assert fly.writes_since(seq) == []

    created = call_module("fly_machine", args)
    assert created.changed, created
    machine = created["fly_machine"]
    assert machine["state"] == "started" and machine["name"] == "mcp-1"
    assert [c["status"] for c in machine["checks"]] == ["passing"]

    seq = fly.last_seq()
    again = call_module("fly_machine", args)
    assert not again.changed, again.get("diff")
    assert fly.writes_since(seq) == []

    new_config = dict(CONFIG, env={"LOG_LEVEL": "debug"})
    seq = fly.last_seq()
    predicted = call_module("fly_machine", dict(args, config=new_config), check=True, diff=True)
    assert predicted.changed
    # The env's keys, never its values: any of them may be a credential.
    assert predicted["diff"]["before"]["config"]["env"] == {"LOG_LEVEL": "(value)"}
    assert predicted["diff"]["after"]["config"]["env"] == {"LOG_LEVEL": "(value changed)"}
    assert "debug" not in json.dumps(predicted["diff"]) and "info" not in json.dumps(predicted["diff"]["before"])
    assert fly.writes_since(seq) == []

    updated = call_module("fly_machine", dict(args, config=new_config), diff=True)
    assert updated.changed
    assert updated["fly_machine"]["instance_id"] != machine["instance_id"]
    assert updated["fly_machine"]["config"]["env"] == {"LOG_LEVEL": "debug"}
    assert updated["fly_machine"]["state"] == "started"
    writes = [(e["method"], e["path"].rsplit("/", 1)[-1]) for e in fly.writes_since(seq)]
    assert ("POST", "lease") in writes and ("DELETE", "lease") in writes  # the update held the lease

    stopped = call_module("fly_machine", dict(args, config=new_config, state="stopped"))
    assert stopped.changed and stopped["fly_machine"]["state"] == "stopped"
    assert not call_module("fly_machine", dict(args, config=new_config, state="stopped")).changed
    started = call_module("fly_machine", dict(args, config=new_config))
    assert started.changed and started["fly_machine"]["state"] == "started"

    seq = fly.last_seq()
    predicted = call_module("fly_machine", dict(args, state="absent"), check=True)
    assert predicted.changed and fly.writes_since(seq) == []
    removed = call_module("fly_machine", dict(args, state="absent"))
    assert removed.changed
    assert fly.api("GET", "/apps/%s/machines" % app).json() == []
    seq = fly.last_seq()
    assert not call_module("fly_machine", dict(args, state="absent")).changed
    assert fly.writes_since(seq) == []


def test_removed_env_var_and_drift_are_corrected(fly, app):
    args = machine_args(fly, app, config=dict(CONFIG, env={"A": "1", "B": "2"}))
    machine = call_module("fly_machine", args)["fly_machine"]

    fewer = dict(args, config=dict(CONFIG, env={"A": "1"}))
    assert call_module("fly_machine", fewer).changed
    assert not call_module("fly_machine", fewer).changed

    fly.drift_machine(app, machine["id"], config={"env": {"A": "1", "HAND_EDIT": "yes"}})
    fixed = call_module("fly_machine", fewer)
    assert fixed.changed and fixed["fly_machine"]["config"]["env"] == {"A": "1"}

    fly.drift_machine(app, machine["id"], state="stopped")
    restarted = call_module("fly_machine", fewer)
    assert restarted.changed and restarted["fly_machine"]["state"] == "started"


def test_created_stopped_and_suspended(fly, app):
    stopped = call_module("fly_machine", machine_args(fly, app, state="stopped"))
    assert stopped.changed and stopped["fly_machine"]["state"] in ("created", "stopped")
    assert not call_module("fly_machine", machine_args(fly, app, state="stopped")).changed
    suspended = call_module("fly_machine", machine_args(fly, app, state="suspended"))
    assert suspended.changed and suspended["fly_machine"]["state"] == "suspended"
    assert not call_module("fly_machine", machine_args(fly, app, state="suspended")).changed


def test_a_leased_machine_is_not_changed_behind_its_holders_back(fly, app):
    machine = call_module("fly_machine", machine_args(fly, app))["fly_machine"]
    fly.api("POST", "/apps/%s/machines/%s/lease" % (app, machine["id"]), json={"ttl": 60})
    blocked = call_module("fly_machine", machine_args(fly, app, config=dict(CONFIG, env={"X": "1"})))
    assert blocked.failed and blocked["api_error"]["status"] == 409
    assert fly.api("GET", "/apps/%s/machines/%s" % (app, machine["id"])).json()["config"]["env"] == {"LOG_LEVEL": "info"}
