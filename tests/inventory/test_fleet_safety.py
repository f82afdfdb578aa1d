"""The fleet inventory with its credentials and providers at fault: a missing token, a provider down or refusing
its key, instance credentials, the cache's file modes and its key, and the Python of the Fly machine hosts."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.support.emulators import FlyEmulator
from tests.inventory.conftest import ansible_inventory, make_fleet, plain, provider_env, write_fleet_config

# Every Lambda request answers 503, more than the client's retries.
LAMBDA_DOWN = 1000


def seqs(fly_api, lambda_api):
    return fly_api.last_seq(), lambda_api.last_seq()


def no_requests_since(fly_api, lambda_api, marks):
    return fly_api.requests_since(marks[0]) == [] and lambda_api.requests_since(marks[1]) == []


def cache_files(directory):
    root = Path(directory) / "cache" / "inventory"
    return sorted(p for p in root.iterdir() if p.is_file()) if root.is_dir() else []


def fly_hosts(machines, app="sophia-mcp"):
    return sorted("%s-%s" % (app, m["id"]) for m in machines)


# ------------------------------------------------------------------ credentials
MISSING = [
    # (provider, how the token is missing, option in fleet.yml, environment override)
    ("fly", "FLY_API_TOKEN unset", {}, {"FLY_API_TOKEN": None}),
    ("fly", "FLY_API_TOKEN empty", {}, {"FLY_API_TOKEN": ""}),
    ("fly", "option templated from an unset FLY_API_TOKEN",
     {"fly_api_token": "{{ lookup('ansible.builtin.env', 'FLY_API_TOKEN') }}"}, {"FLY_API_TOKEN": None}),
    ("lambda", "LAMBDA_API_KEY unset", {}, {"LAMBDA_API_KEY": None}),
    ("lambda", "LAMBDA_API_KEY blank", {}, {"LAMBDA_API_KEY": "  "}),
    ("lambda", "option templated from an empty LAMBDA_API_KEY",
     {"lambda_api_key": "{{ lookup('ansible.builtin.env', 'LAMBDA_API_KEY') }}"}, {"LAMBDA_API_KEY": ""}),
]


@pytest.mark.fault("fleet inventory with a missing or empty Fly token or Lambda key (unset, empty, templated empty)",
                   checks="fails at once naming the option and the variable; no request to either API, "
                          "even with a cache from an earlier run")
@pytest.mark.parametrize("provider,how,options,overrides", MISSING, ids=[m[1] for m in MISSING])
def test_a_missing_credential_fails_before_any_request(fly_api, lambda_api, fleet, tmp_path, provider, how, options,
                                                       overrides):
    config = write_fleet_config(tmp_path, **options)
    # A cache from a run with credentials: a run without them must not be answered from it.
    first = ansible_inventory(config, provider_env(fly_api, lambda_api), tmp_path, "--list")
    assert first.returncode == 0, first.stderr
    assert cache_files(tmp_path)

    marks = seqs(fly_api, lambda_api)
    listed = ansible_inventory(config, provider_env(fly_api, lambda_api, **overrides), tmp_path, "--list")
    assert listed.returncode != 0, listed.stdout
    option, variable = {"fly": ("fly_api_token", "FLY_API_TOKEN"), "lambda": ("lambda_api_key", "LAMBDA_API_KEY")}[
        provider]
    assert option in listed.stderr and variable in listed.stderr, listed.stderr
    assert "nothing was requested" in listed.stderr
    assert no_requests_since(fly_api, lambda_api, marks)


@pytest.mark.fault("fleet inventory with lambda_enabled false and no Lambda key",
                   checks="the Fly machines are listed and Lambda is never asked")
def test_a_disabled_provider_needs_no_credential(fly_api, lambda_api, fleet, tmp_path):
    machines, dummy = fleet
    config = write_fleet_config(tmp_path, lambda_enabled=False)
    marks = seqs(fly_api, lambda_api)
    listed = ansible_inventory(config, provider_env(fly_api, lambda_api, LAMBDA_API_KEY=None), tmp_path, "--list")
    assert listed.returncode == 0, listed.stderr
    data = json.loads(listed.stdout)
    assert sorted(data["fly_machines"]["hosts"]) == fly_hosts(machines)
    assert "hosts" not in data.get("lambda_instances", {})
    assert lambda_api.requests_since(marks[1]) == []


# ------------------------------------------------------------------ the cache and instance credentials
def jupyter(lambda_api, instance_id):
    instance = lambda_api.api("GET", "/instances/%s" % instance_id).json()["data"]
    # The test means something only if the API does give them.
    assert instance["jupyter_token"] and instance["jupyter_url"]
    return instance["jupyter_token"], instance["jupyter_url"]


def test_the_cache_is_the_owners_alone_and_holds_no_instance_credentials(fly_api, lambda_api, fleet, tmp_path):
    machines, instance_id = fleet
    token, url = jupyter(lambda_api, instance_id)
    config = write_fleet_config(tmp_path)
    listed = ansible_inventory(config, provider_env(fly_api, lambda_api), tmp_path, "--list")
    assert listed.returncode == 0, listed.stderr

    files = cache_files(tmp_path)
    assert files, "no cache file written"
    assert stat.S_IMODE(os.stat(files[0].parent).st_mode) == 0o700
    for path in files:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, path
        held = path.read_text()
        assert "gpu-embed-1" in held  # it is the fleet's cache
        for secret in (token, url, fly_api.token, lambda_api.token):
            assert secret not in held

    hostvars = plain(json.loads(listed.stdout)["_meta"]["hostvars"])
    assert not [name for name in hostvars["gpu-embed-1"] if "jupyter" in name]
    for secret in (token, url):
        assert secret not in listed.stdout and secret not in listed.stderr

    # Rewritten (after --flush-cache), the file keeps its mode.
    refreshed = ansible_inventory(config, provider_env(fly_api, lambda_api), tmp_path, "--list", "--flush-cache")
    assert refreshed.returncode == 0, refreshed.stderr
    assert [stat.S_IMODE(os.stat(path).st_mode) for path in cache_files(tmp_path)] == [0o600] * len(files)


def test_include_credentials_gives_the_jupyter_url_and_token(fly_api, lambda_api, fleet, tmp_path):
    machines, instance_id = fleet
    token, url = jupyter(lambda_api, instance_id)
    config = write_fleet_config(tmp_path, include_credentials=True)
    listed = ansible_inventory(config, provider_env(fly_api, lambda_api), tmp_path, "--list")
    assert listed.returncode == 0, listed.stderr
    gpu = plain(json.loads(listed.stdout)["_meta"]["hostvars"])["gpu-embed-1"]
    assert gpu["lambda_jupyter_token"] == token and gpu["lambda_jupyter_url"] == url
    # Asked for, they are cached too, in a file of mode 0600; and a second listing gives them from there.
    [path] = cache_files(tmp_path)
    assert token in path.read_text() and stat.S_IMODE(os.stat(path).st_mode) == 0o600
    marks = seqs(fly_api, lambda_api)
    again = ansible_inventory(config, provider_env(fly_api, lambda_api), tmp_path, "--list")
    assert json.loads(again.stdout) == json.loads(listed.stdout)
    assert no_requests_since(fly_api, lambda_api, marks)


# ------------------------------------------------------------------ one provider failing
@pytest.mark.fault("fleet inventory with the Lambda API answering 503 and Fly up (on_provider_error default)",
                   checks="the inventory fails naming Lambda Cloud and the 503; no host listed, nothing cached")
def test_a_provider_down_fails_the_inventory_by_default(fly_api, lambda_api, fleet, tmp_path):
    config = write_fleet_config(tmp_path)
    lambda_api.add_fault(status=503, count=LAMBDA_DOWN)
    listed = ansible_inventory(config, provider_env(fly_api, lambda_api), tmp_path, "--list")
    assert listed.returncode != 0, listed.stdout
    assert "Lambda Cloud" in listed.stderr and "503" in listed.stderr, listed.stderr
    assert "keep_healthy" in listed.stderr  # says how to list the other provider anyway
    assert "sophia-mcp-" not in listed.stdout
    assert cache_files(tmp_path) == []


@pytest.mark.fault("fleet inventory with the Lambda API answering 503 and Fly up, on_provider_error=keep_healthy",
                   checks="the Fly hosts are listed with a warning naming Lambda Cloud; the partial listing is "
                          "not cached, so the next one has the Lambda host again")
def test_keep_healthy_lists_the_healthy_provider_with_a_warning(fly_api, lambda_api, fleet, tmp_path):
    machines, dummy = fleet
    config = write_fleet_config(tmp_path, on_provider_error="keep_healthy")
    lambda_api.add_fault(status=503, count=LAMBDA_DOWN)
    listed = ansible_inventory(config, provider_env(fly_api, lambda_api), tmp_path, "--list")
    lambda_api.clear_faults()
    assert listed.returncode == 0, listed.stderr
    data = json.loads(listed.stdout)
    assert sorted(data["fly_machines"]["hosts"]) == fly_hosts(machines)
    assert "hosts" not in data.get("lambda_instances", {})
    warning = " ".join(listed.stderr.split())
    assert "[WARNING]" in listed.stderr and "Lambda Cloud" in warning and "503" in warning, listed.stderr
    assert "left out" in warning and "keep_healthy" in warning
    assert cache_files(tmp_path) == []

    # Lambda back: the next listing asks it again (nothing partial was cached) and has its host.
    again = ansible_inventory(config, provider_env(fly_api, lambda_api), tmp_path, "--list")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["lambda_instances"]["hosts"] == ["gpu-embed-1"]
    assert "[WARNING]" not in again.stderr


@pytest.mark.fault("fleet inventory with a refused Lambda key (401), on_provider_error=keep_healthy",
                   checks="the inventory still fails, naming Lambda Cloud and the 401: a refused key is a "
                          "configuration error, not an outage")
def test_a_refused_key_fails_even_with_keep_healthy(fly_api, lambda_api, fleet, tmp_path):
    config = write_fleet_config(tmp_path, on_provider_error="keep_healthy")
    listed = ansible_inventory(config, provider_env(fly_api, lambda_api, LAMBDA_API_KEY="not-the-key"), tmp_path,
                               "--list")
    assert listed.returncode != 0, listed.stdout
    message = " ".join(listed.stderr.split())
    assert "Lambda Cloud" in message and "401" in message and "configuration error" in message, listed.stderr
    assert "not-the-key" not in listed.stderr


@pytest.mark.fault("fleet inventory with both APIs answering 503, on_provider_error=keep_healthy",
                   checks="the inventory fails naming both providers")
def test_keep_healthy_fails_when_no_provider_is_healthy(fly_api, lambda_api, fleet, tmp_path):
    config = write_fleet_config(tmp_path, on_provider_error="keep_healthy")
    fly_api.add_fault(status=503, count=LAMBDA_DOWN)
    lambda_api.add_fault(status=503, count=LAMBDA_DOWN)
    listed = ansible_inventory(config, provider_env(fly_api, lambda_api), tmp_path, "--list")
    fly_api.clear_faults()
    assert listed.returncode != 0, listed.stdout
    message = " ".join(listed.stderr.split())
    assert "Fly.io" in message and "Lambda Cloud" in message and "no provider could be listed" in message


# ------------------------------------------------------------------ the cache key
@pytest.fixture
def other_fly(tmp_path_factory):
    """A second Fly API, with fleets of its own."""
    emulator = FlyEmulator(tmp_path_factory.mktemp("other-fly")).start()
    yield emulator
    emulator.stop()


@pytest.mark.fault("fleet inventory cached, then pointed at another Fly API URL, then at another organisation",
                   checks="each listing has the hosts of where it points (cache on), never the cached ones")
def test_another_endpoint_or_organisation_is_another_cache_entry(fly_api, lambda_api, other_fly, tmp_path):
    here, dummy = make_fleet(fly_api, lambda_api)
    there, dummy = make_fleet(other_fly, None, app="sophia-other", regions=("ams",))
    elsewhere, dummy = make_fleet(fly_api, None, app="sophia-staging", org="staging", regions=("lhr",))

    def fly_machines(api, org="personal"):
        config = write_fleet_config(tmp_path, lambda_enabled=False, fly_org_slug=org)
        listed = ansible_inventory(config, provider_env(api, lambda_api, LAMBDA_API_KEY=None), tmp_path, "--list")
        assert listed.returncode == 0, listed.stderr
        return sorted(json.loads(listed.stdout)["fly_machines"]["hosts"])

    assert fly_machines(fly_api) == fly_hosts(here)
    assert fly_machines(other_fly) == fly_hosts(there, "sophia-other")
    assert fly_machines(fly_api, org="staging") == fly_hosts(elsewhere, "sophia-staging")
    # Each had its own entry; back at the first endpoint and organisation, the listing is its cached one.
    assert len(cache_files(tmp_path)) == 3
    mark = fly_api.last_seq()
    assert fly_machines(fly_api) == fly_hosts(here)
    assert fly_api.requests_since(mark) == []


# ------------------------------------------------------------------ the Python of the Fly machine hosts
PLAY = [{
    "name": "A task on every Fly machine host, with nothing set by hand",
    "hosts": "fly_machines",
    "gather_facts": False,
    "tasks": [{"name": "Python facts", "ansible.builtin.setup": {"gather_subset": ["!all", "!min", "python"]}}],
}]


def test_fly_machine_hosts_run_their_tasks_with_the_controllers_python(fly_api, lambda_api, fleet, tmp_path):
    machines, dummy = fleet
    config = write_fleet_config(tmp_path, cache=False)
    playbook = tmp_path / "play.yml"
    playbook.write_text(yaml.safe_dump(PLAY))
    ran = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(config), str(playbook)],
                         cwd=tmp_path, env=provider_env(fly_api, lambda_api), capture_output=True, text=True,
                         timeout=300, check=False)
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    [task] = json.loads(ran.stdout)["plays"][0]["tasks"]
    assert sorted(task["hosts"]) == fly_hosts(machines)
    for result in task["hosts"].values():
        # The controller's Python (this virtualenv's), not one found by interpreter discovery on the machine.
        executable = Path(result["ansible_facts"]["ansible_python"]["executable"])
        assert executable.parent == Path(sys.executable).parent, executable


def test_the_inventory_python_gives_way_to_group_vars(fly_api, lambda_api, fleet, tmp_path):
    machines, dummy = fleet
    config = write_fleet_config(tmp_path, cache=False)
    host = fly_hosts(machines)[0]
    shown = ansible_inventory(config.parent, provider_env(fly_api, lambda_api), tmp_path, "--host", host)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["ansible_python_interpreter"] == "{{ ansible_playbook_python }}"
    # The GPU instances are reached over SSH: their Python is found there, as ever.
    gpu = ansible_inventory(config.parent, provider_env(fly_api, lambda_api), tmp_path, "--host", "gpu-embed-1")
    assert "ansible_python_interpreter" not in json.loads(gpu.stdout)

    (config.parent / "group_vars").mkdir()
    (config.parent / "group_vars" / "fly_machines.yml").write_text("ansible_python_interpreter: /opt/py/bin/python3\n")
    shown = ansible_inventory(config.parent, provider_env(fly_api, lambda_api), tmp_path, "--host", host)
    assert json.loads(shown.stdout)["ansible_python_interpreter"] == "/opt/py/bin/python3"


def test_the_environments_keep_fly_hosts_through_a_lambda_outage():
    """inventories/<env>/fleet.yml: the platform's Fly phases go on while Lambda Cloud is down (the preflight
    warns, the GPU play fails naming it), so each environment lists the Fly machines with a warning then."""
    for path in sorted((Path(__file__).resolve().parents[2] / "inventories").glob("*/fleet.yml")):
        config = yaml.safe_load(path.read_text())
        assert config["on_provider_error"] == "keep_healthy", path
        assert not config.get("include_credentials"), path
