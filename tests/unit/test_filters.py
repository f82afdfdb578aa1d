"""The filter plugins the roles and playbooks use."""

from __future__ import annotations

from ansible_collections.sophia.ops.plugins.filter.fleet import healthy_machines, lambda_hostvars


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


def test_lambda_hostvars_are_the_fleet_inventorys_and_never_the_jupyter_credentials():
    instance = {
        "id": "0920582c7ff041399e34823a0be62549", "name": "sophia-gpu-1", "status": "active", "ip": "192.0.2.11",
        "private_ip": "10.19.60.24", "hostname": "192-0-2-11", "region": {"name": "us-east-1"},
        "instance_type": {"name": "gpu_1x_a100_sxm4"}, "jupyter_token": "53968f128c4a4489b688c2c0a181d083",
        "jupyter_url": "https://jupyter.example/?token=53968f128c4a4489b688c2c0a181d083",
        "tags": [{"key": "sophia-ops:pool", "value": "sophia-gpu"}, {"key": "environment", "value": "prod"}],
    }
    hostvars = lambda_hostvars(instance)
    assert hostvars["ansible_host"] == "192.0.2.11" and hostvars["ansible_user"] == "ubuntu"
    assert (hostvars["lambda_pool"], hostvars["lambda_region"], hostvars["lambda_instance_type"]) == (
        "sophia-gpu", "us-east-1", "gpu_1x_a100_sxm4")
    assert hostvars["lambda_private_ip"] == "10.19.60.24" and hostvars["lambda_tags"]["environment"] == "prod"
    assert "53968f128c4a4489b688c2c0a181d083" not in repr(hostvars)
    # Booting: no address yet, and no pool tag is no pool.
    booting = lambda_hostvars({"id": "i-2", "name": "other", "status": "booting", "tags": []})
    assert "ansible_host" not in booting and booting["lambda_pool"] is None
