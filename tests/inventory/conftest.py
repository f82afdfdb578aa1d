"""What the fleet inventory tests share: a small fleet on the session emulators, and ansible-inventory runs
against a fleet.yml written for the test (its cache under the test's own directory)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.support.ansible_cli import ansible_env

PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICN+lJwsONkwrdsSnQsu1ydUkIuIg5oOC+Eslvmtt60T ops"
CREDENTIAL_VARIABLES = ("FLY_API_URL", "FLY_API_TOKEN", "LAMBDA_API_URL", "LAMBDA_API_KEY")


def make_fleet(fly_api, lambda_api, app="sophia-mcp", org="personal", regions=("iad", "ord")):
    """Machines of one service in ``app`` (one per region) and one Lambda GPU instance of a pool."""
    fly_api.api("POST", "/apps", json={"app_name": app, "org_slug": org})
    machines = [fly_api.api("POST", "/apps/%s/machines" % app, json={
        "region": region, "config": {"image": "registry.fly.io/sophia-mcp:2", "metadata": {
            "fly_process_group": "app", "sophia_service": "mcp-memory"}}}).json() for region in regions]
    instance_id = None
    if lambda_api is not None:
        lambda_api.api("POST", "/ssh-keys", json={"name": "ops", "public_key": PUBLIC_KEY})
        launched = lambda_api.api("POST", "/instance-operations/launch", json={
            "region_name": "us-east-1", "instance_type_name": "gpu_1x_a100_sxm4", "ssh_key_names": ["ops"],
            "name": "gpu-embed-1", "tags": [{"key": "sophia-ops:pool", "value": "gpu-embed"}]}).json()
        instance_id = launched["data"]["instance_ids"][0]
        # Booted (boot_seconds=0.3): the instance has its public IP. Bounded.
        for dummy in range(50):
            if lambda_api.api("GET", "/instances/%s" % instance_id).json()["data"].get("ip"):
                break
            time.sleep(0.1)
    return machines, instance_id


@pytest.fixture
def fleet(fly_api, lambda_api):
    """Two Fly machines of one service and one Lambda GPU instance of a pool."""
    return make_fleet(fly_api, lambda_api)


def plain(value):
    """Hostvars from the API come out marked unsafe ({"__ansible_unsafe": ...}): data, never templates."""
    if isinstance(value, dict):
        if set(value) == {"__ansible_unsafe"}:
            return value["__ansible_unsafe"]
        return dict((k, plain(v)) for k, v in value.items())
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def provider_env(fly_api, lambda_api, **overrides):
    """The environment of an ansible command pointed at the emulators. An override of None unsets the variable
    (whatever the calling shell had)."""
    values = {"FLY_API_URL": fly_api.url, "FLY_API_TOKEN": fly_api.token,
              "LAMBDA_API_URL": lambda_api.url, "LAMBDA_API_KEY": lambda_api.token}
    values.update(overrides)
    env = ansible_env()
    for name in CREDENTIAL_VARIABLES:
        env.pop(name, None)
    env.update((name, value) for name, value in values.items() if value is not None)
    return env


def write_fleet_config(directory, **options):
    """inventory/fleet.yml under ``directory``: the plugin with its documented defaults (URLs and credentials from
    FLY_API_URL, FLY_API_TOKEN, LAMBDA_API_URL, LAMBDA_API_KEY), a file cache under ``directory``, and ``options``
    over that (an option given as None is left out)."""
    inventory = Path(directory) / "inventory"
    inventory.mkdir(exist_ok=True)
    config = {
        "plugin": "sophia.ops.fleet",
        "fly_org_slug": "personal",
        "keyed_groups": [{"key": "fly_service", "prefix": "service"}, {"key": "lambda_instance_type", "prefix": "gpu"}],
        "groups": {"gpu_workers": "lambda_pool is not none"},
        "cache": True,
        "cache_plugin": "ansible.builtin.jsonfile",
        "cache_connection": str(Path(directory) / "cache" / "inventory"),
        "cache_timeout": 300,
    }
    config.update(options)
    config = dict((k, v) for k, v in config.items() if v is not None)
    path = inventory / "fleet.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def ansible_inventory(source, env, cwd, *args):
    return subprocess.run([str(Path(sys.executable).parent / "ansible-inventory"), "-i", str(source)] + list(args),
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False)
