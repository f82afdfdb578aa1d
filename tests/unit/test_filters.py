"""The filter plugins the roles and playbooks use."""

from __future__ import annotations

from ansible_collections.sophia.ops.plugins.filter.app_name import app_name
from ansible_collections.sophia.ops.plugins.filter.fleet import healthy_machines, lambda_hosts


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


def test_lambda_hosts_are_the_fleet_inventorys_and_never_the_jupyter_credentials():
    active = {
        "id": "0920582c7ff041399e34823a0be62549", "name": "sophia-gpu-1", "status": "active", "ip": "192.0.2.11",
        "private_ip": "10.19.60.24", "hostname": "192-0-2-11", "region": {"name": "us-east-1"},
        "instance_type": {"name": "gpu_1x_a100_sxm4"}, "jupyter_token": "53968f128c4a4489b688c2c0a181d083",
        "jupyter_url": "https://jupyter.example/?token=53968f128c4a4489b688c2c0a181d083",
        "tags": [{"key": "sophia-ops:pool", "value": "sophia-gpu"}, {"key": "environment", "value": "prod"}],
    }
    booting = {"id": "i-2", "name": "", "status": "booting", "tags": []}
    gone = [dict(active, id="i-%s" % status, name="gone-" + status, status=status)
            for status in ("terminating", "terminated", "preempted")]
    hosts = lambda_hosts([active, booting] + gone)
    # Gone instances are no hosts; one without a name is named by its ID.
    assert [host["name"] for host in hosts] == ["sophia-gpu-1", "i-2"]
    hostvars = hosts[0]["vars"]
    assert hostvars["ansible_host"] == "192.0.2.11" and hostvars["ansible_user"] == "ubuntu"
    assert (hostvars["lambda_pool"], hostvars["lambda_region"], hostvars["lambda_instance_type"]) == (
        "sophia-gpu", "us-east-1", "gpu_1x_a100_sxm4")
    assert hostvars["lambda_private_ip"] == "10.19.60.24" and hostvars["lambda_tags"]["environment"] == "prod"
    assert "53968f128c4a4489b688c2c0a181d083" not in repr(hosts)
    # Booting: no address yet, and no pool tag is no pool.
    assert "ansible_host" not in hosts[1]["vars"] and hosts[1]["vars"]["lambda_pool"] is None
    assert lambda_hosts(None) == []


def test_app_names_are_the_prefix_and_the_dashed_service():
    assert app_name("vector_store", "sophia-prod") == "sophia-prod-vector-store"
    assert app_name("gpu", "sophia-dev") == "sophia-dev-gpu"
    # No prefix in the inventory is the platform's own; an empty one is kept, as the inventory gave it.
    assert app_name("unified_api") == app_name("unified_api", None) == "sophia-unified-api"
    assert app_name("weaviate", "") == "-weaviate"
