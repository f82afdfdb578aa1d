"""The filter plugins the roles and playbooks use."""

from __future__ import annotations

from ansible_collections.sophia.ops.plugins.filter.fleet import healthy_machines


def test_healthy_machines_are_started_and_pass_every_check():
    machines = [
        {"id": "a", "state": "started", "checks": [{"status": "passing"}, {"status": "passing"}]},
        {"id": "b", "state": "started", "checks": [{"status": "passing"}, {"status": "critical"}]},
        {"id": "c", "state": "stopped", "checks": [{"status": "passing"}]},
        {"id": "d", "state": "started"},
        {"id": "e", "state": "starting", "checks": []},
    ]
    assert [m["id"] for m in healthy_machines(machines)] == ["a", "d"]
    assert healthy_machines(None) == []
