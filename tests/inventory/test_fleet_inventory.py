"""The sophia.ops.fleet inventory plugin through ansible-inventory, with inventories/local."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.inventory.conftest import plain
from tests.support.ansible_cli import REPO_ROOT, ansible_env


def inventory(fly_api, lambda_api, cwd, *args):
    env = ansible_env({"FLY_API_URL": fly_api.url, "FLY_API_TOKEN": fly_api.token,
                       "LAMBDA_API_URL": lambda_api.url, "LAMBDA_API_KEY": lambda_api.token})
    return subprocess.run([str(Path(sys.executable).parent / "ansible-inventory"), "-i",
                           str(REPO_ROOT / "inventories" / "local")] + list(args),
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False)


def test_list_and_graph_show_both_clouds(fly_api, lambda_api, fleet, tmp_path):
    machines, instance_id = fleet
    listed = inventory(fly_api, lambda_api, tmp_path, "--list")
    assert listed.returncode == 0, listed.stderr
    data = json.loads(listed.stdout)
    fly_hosts = sorted("sophia-mcp-%s" % m["id"] for m in machines)
    assert sorted(data["fly_machines"]["hosts"]) == fly_hosts
    assert data["lambda_instances"]["hosts"] == ["gpu-embed-1"]
    assert sorted(data["service_mcp_memory"]["hosts"]) == fly_hosts
    assert data["gpu_gpu_1x_a100_sxm4"]["hosts"] == ["gpu-embed-1"]
    assert data["gpu_workers"]["hosts"] == ["gpu-embed-1"]

    raw = data["_meta"]["hostvars"]
    assert raw["gpu-embed-1"]["lambda_name"] == {"__ansible_unsafe": "gpu-embed-1"}
    hostvars = plain(raw)
    gpu = hostvars["gpu-embed-1"]
    assert gpu["ansible_user"] == "ubuntu" and gpu["ansible_host"] == gpu["lambda_ip"]
    assert gpu["lambda_id"] == instance_id and gpu["lambda_pool"] == "gpu-embed"
    fly = hostvars[fly_hosts[0]]
    assert fly["ansible_connection"] == "local" and "ansible_host" not in fly
    assert fly["fly_app"] == "sophia-mcp" and fly["fly_process_group"] == "app"
    assert "sophia_ops_create_id" not in fly["fly_metadata"]
    for secret in (fly_api.token, lambda_api.token):
        assert secret not in listed.stdout and secret not in listed.stderr

    graph = inventory(fly_api, lambda_api, tmp_path, "--graph")
    assert "@lambda_instances:" in graph.stdout and "gpu-embed-1" in graph.stdout
    assert "@service_mcp_memory:" in graph.stdout


def test_a_cached_listing_asks_no_api(fly_api, lambda_api, fleet, tmp_path):
    first = inventory(fly_api, lambda_api, tmp_path, "--list")
    assert first.returncode == 0, first.stderr
    fly_seq, lambda_seq = fly_api.last_seq(), lambda_api.last_seq()

    second = inventory(fly_api, lambda_api, tmp_path, "--list")
    assert json.loads(second.stdout) == json.loads(first.stdout)
    assert fly_api.requests_since(fly_seq) == [] and lambda_api.requests_since(lambda_seq) == []

    refreshed = inventory(fly_api, lambda_api, tmp_path, "--list", "--flush-cache")
    assert refreshed.returncode == 0
    assert fly_api.requests_since(fly_seq) and lambda_api.requests_since(lambda_seq)
