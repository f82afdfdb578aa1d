"""Phase 3's GPU pool (roles/lambda_fleet, playbooks/gpu_pool.yml) against the Lambda emulator.

The pool converges and stays put, falls back over instance types and regions, lets SSH in from the
configured networks only, keeps its private key to itself, shows up in the fleet inventory; and with
Lambda down it fails, saying so, without a call to Fly.io, while the Fly.io phases never call Lambda.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.support.ansible_cli import REPO_ROOT, ansible_env, run_playbook
from tests.support.awx import write_inventory_script
from tests.support.platform import PlayRun

GPU_POOL = "playbooks/gpu_pool.yml"
NOT_HERE = "not bootstrapped here (lambda_bootstrap_nodes is false)"
# The GPU nodes play's tasks that set the inventory's GPU hosts: the instances added, those marked terminated.
JOIN_TASKS = ("Pool instances the inventory lacks join gpu_workers",
              "Instances of the inventory that Lambda no longer runs are marked terminated")
# The tasks of phase 3's GPU plays that write to the platform: the only ones a run may report changed.
POOL_WRITES = {"Instances of the pool", "SSH key of the pool", "Inbound firewall, SSH from the allowed networks only",
               "Directory of the pool's private key", "Private key of the pool"}
POOL = "sophia-local-gpu"
POOL_TAG = {"key": "sophia-ops:pool", "value": POOL}
ALL_REGIONS = ["us-east-1", "us-west-1", "us-south-1", "europe-central-1", "asia-northeast-1"]


def pool_vars(tmp_path, **more):
    """The key under the test's own directory (never the repository's .cache), launches not paced."""
    return dict({"lambda_ssh_key_dir": str(tmp_path / "ssh"), "lambda_launch_interval": 0.1}, **more)


def members(lam):
    listed = lam.api("GET", "/instances").json()["data"]
    return sorted((i for i in listed if POOL_TAG in i["tags"] and i["status"] not in ("terminating", "terminated")),
                  key=lambda i: i["name"])


def firewall(lam):
    return lam.api("GET", "/firewall-rules").json()["data"]


def printed(run):
    return json.dumps(run.output) + run.stderr


def test_pool_converges_then_changes_nothing(platform, tmp_path):
    # Through advanced.yml, as site.yml runs it: the play on `control`, the gpu tag alone.
    platform.env["ANSIBLE_RUN_TAGS"] = "gpu"
    first = platform.play("playbooks/advanced.yml", limit="control", extra_vars=pool_vars(tmp_path))
    assert first.rc == 0, first.explain()
    assert first.changed > 0

    pool = members(platform.lam)
    assert [i["name"] for i in pool] == [POOL + "-1"]  # local runs one
    instance = pool[0]
    assert instance["status"] == "active" and instance["ip"]
    assert (instance["instance_type"]["name"], instance["region"]["name"]) == ("gpu_1x_a100_sxm4", "us-east-1")
    assert instance["ssh_key_names"] == [POOL]
    tags = dict((t["key"], t["value"]) for t in instance["tags"])
    assert tags["environment"] == "local" and tags["project"] == "sophia-intel-ai" and tags["owner"] == "platform"
    keys = platform.lam.api("GET", "/ssh-keys").json()["data"]
    assert [k["name"] for k in keys] == [POOL]

    seq = platform.lam.last_seq()
    second = platform.play("playbooks/advanced.yml", limit="control", extra_vars=pool_vars(tmp_path))
    assert second.rc == 0, second.explain()
    assert second.changed == 0, [(h, n) for h, n, r in second.results() if r.get("changed")]
    assert platform.lam.writes_since(seq) == []
    assert [i["id"] for i in members(platform.lam)] == [instance["id"]]


def test_check_mode_on_an_empty_account_predicts_the_pool_and_writes_nothing(platform, tmp_path):
    seq = platform.lam.last_seq()
    run = platform.play(GPU_POOL, check=True, diff=True, extra_vars=pool_vars(tmp_path))
    assert run.rc == 0, run.explain()
    assert platform.lam.writes_since(seq) == []
    predicted = dict((n, r.get("changed")) for h, n, r in run.results())
    assert predicted["SSH key of the pool"] and predicted["Instances of the pool"]
    assert predicted["Inbound firewall, SSH from the allowed networks only"]
    assert not (tmp_path / "ssh").exists()


def test_count_follows_the_inventory_and_zero_ends_the_pool(platform, tmp_path):
    grown = platform.play(GPU_POOL, extra_vars=pool_vars(tmp_path, lambda_pool_count=2))
    assert grown.rc == 0, grown.explain()
    assert [i["name"] for i in members(platform.lam)] == [POOL + "-1", POOL + "-2"]

    ended = platform.play(GPU_POOL, extra_vars=pool_vars(tmp_path, lambda_pool_count=0))
    assert ended.rc == 0, ended.explain()
    assert members(platform.lam) == []


@pytest.mark.fault("no capacity for the first instance type anywhere, nor the second in the first region",
                   checks="the pool launches the next type, then in the next region")
def test_capacity_fallback_takes_the_next_type_then_the_next_region(platform, tmp_path):
    # The first choice, the A100, has no capacity anywhere; the H100 none in the first region.
    for region in ALL_REGIONS:
        platform.lam.set_capacity("gpu_1x_a100_sxm4", region, False)
    platform.lam.set_capacity("gpu_1x_h100_pcie", "us-east-1", False)

    run = platform.play(GPU_POOL, extra_vars=pool_vars(tmp_path))
    assert run.rc == 0, run.explain()
    [instance] = members(platform.lam)
    assert (instance["instance_type"]["name"], instance["region"]["name"]) == ("gpu_1x_h100_pcie", "us-west-1")


def test_regions_without_firewall_are_left_out(platform, tmp_path):
    # Lambda's firewall rules do not apply in us-south-1: first in the order, it is skipped all the same.
    run = platform.play(GPU_POOL, extra_vars=pool_vars(tmp_path, lambda_regions=["us-south-1", "us-west-1"]))
    assert run.rc == 0, run.explain()
    [instance] = members(platform.lam)
    assert instance["region"]["name"] == "us-west-1"
    [(host, name, skipped)] = list(run.results("Regions without firewall are skipped"))
    assert "us-south-1" in skipped["msg"]


def test_ssh_is_allowed_from_the_configured_networks_only(platform, tmp_path):
    # A rule from elsewhere (made by hand) goes: the role owns the account's inbound list.
    platform.lam.api("PUT", "/firewall-rules", json={"data": [
        {"protocol": "tcp", "port_range": [80, 80], "source_network": "0.0.0.0/0", "description": "by hand"}]})
    cidrs = ["203.0.113.0/24", "198.51.100.7"]
    run = platform.play(GPU_POOL, extra_vars=pool_vars(tmp_path, lambda_ssh_allowed_cidrs=cidrs))
    assert run.rc == 0, run.explain()

    rules = firewall(platform.lam)
    assert sorted(r["source_network"] for r in rules) == ["198.51.100.7/32", "203.0.113.0/24"]
    assert all(r["protocol"] == "tcp" and r["port_range"] == [22, 22] for r in rules)
    assert all(r["description"] == "SSH to " + POOL for r in rules)

    # The local inventory's own networks, with nothing given: loopback only.
    again = platform.play(GPU_POOL, extra_vars=pool_vars(tmp_path))
    assert again.rc == 0, again.explain()
    assert [(r["protocol"], r["port_range"], r["source_network"]) for r in firewall(platform.lam)] == [
        ("tcp", [22, 22], "127.0.0.1/32")]


@pytest.mark.parametrize("cidrs, message", [
    (["10.1.2.3/8"], "did you mean 10.0.0.0/8"),
    (["198.51.100.0/24", "not-a-network"], "not-a-network"),
    (["0.0.0.0/0"], "opens SSH to every address"),
    ([], "lambda_ssh_allowed_cidrs is empty"),
])
@pytest.mark.fault("bad SSH networks: host bits set, not a network, 0.0.0.0/0, empty list",
                   checks="fails naming the problem before any Lambda request",
                   area="Bad module input")
def test_bad_ssh_networks_fail_before_any_api_call(platform, tmp_path, cidrs, message):
    seq = platform.lam.last_seq()
    run = platform.play(GPU_POOL, extra_vars=pool_vars(tmp_path, lambda_ssh_allowed_cidrs=cidrs))
    assert run.rc != 0
    failures = [r.get("msg", "") for h, n, r in run.results() if r.get("failed")]
    assert any(message in msg for msg in failures), run.explain()
    assert platform.lam.requests_since(seq) == []


@pytest.mark.fault("lambda_pool_count: -1",
                   checks="fails (must be 0 or more) before any Lambda request",
                   area="Bad module input")
def test_negative_count_fails_before_any_api_call(platform, tmp_path):
    seq = platform.lam.last_seq()
    run = platform.play(GPU_POOL, extra_vars=pool_vars(tmp_path, lambda_pool_count=-1))
    assert run.rc != 0
    assert any("must be 0 or more" in r.get("msg", "") for h, n, r in run.results() if r.get("failed")), run.explain()
    assert platform.lam.requests_since(seq) == []


def test_private_key_is_0600_and_never_printed(platform, tmp_path):
    run = platform.play(GPU_POOL, diff=True, extra_vars=pool_vars(tmp_path))
    assert run.rc == 0, run.explain()
    key_path = tmp_path / "ssh" / POOL
    assert stat.S_IMODE(os.stat(key_path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(key_path.parent).st_mode) == 0o700
    private = key_path.read_text()
    assert private.startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    body = [line for line in private.splitlines() if line and not line.startswith("-----")]
    output = printed(run)
    assert body and not any(line in output for line in body)

    # The registered key is the file's public half, and a second run keeps both.
    registered = platform.lam.api("GET", "/ssh-keys").json()["data"][0]["public_key"]
    rerun = platform.play(GPU_POOL, diff=True, extra_vars=pool_vars(tmp_path))
    assert rerun.rc == 0 and rerun.changed == 0, rerun.explain()
    assert key_path.read_text() == private
    assert platform.lam.api("GET", "/ssh-keys").json()["data"][0]["public_key"] == registered
    assert not any(line in printed(rerun) for line in body)


def fleet_inventory_dir(tmp_path):
    """inventories/local as it is, but with a fleet.yml that never caches (two runs must not share it)."""
    inventory = tmp_path / "inventory"
    inventory.mkdir()
    local = REPO_ROOT / "inventories" / "local"
    (inventory / "hosts.yml").symlink_to(local / "hosts.yml")
    (inventory / "group_vars").symlink_to(local / "group_vars")
    fleet = yaml.safe_load((local / "fleet.yml").read_text())
    fleet["cache"] = False
    (inventory / "fleet.yml").write_text(yaml.safe_dump(fleet))
    return inventory


def stored_copy(platform, tmp_path, name):
    """The inventory as AWX stores it at a sync (``ansible-inventory --list --export`` of inventories/local, the
    fleet as listed then), handed back as the executable script AWX writes for a job."""
    (tmp_path / name).mkdir()
    inventory = fleet_inventory_dir(tmp_path / name)
    done = subprocess.run([str(Path(sys.executable).parent / "ansible-inventory"), "-i", str(inventory), "--list",
                           "--export"], cwd=REPO_ROOT, env=ansible_env(platform.env), capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return write_inventory_script(tmp_path / name / "hosts", done.stdout)


def joined(run):
    """(instances the GPU nodes play added to gpu_workers, those it marked terminated)."""
    def hosts(task):
        return sorted(item["add_host"]["host_name"] for _h, _n, result in run.results(task)
                      for item in result.get("results", []) if "add_host" in item)
    return tuple(hosts(task) for task in JOIN_TASKS)


def changed_tasks(run):
    """The tasks a run reported changed. The inventory's own changes (JOIN_TASKS) are not the platform's."""
    return {name for _h, name, result in run.results() if result.get("changed")}


def left_alone(run):
    """GPU host -> why the nodes play left it alone (local bootstraps none: its instances answer no SSH)."""
    return {host: result["msg"].split(": ", 1)[1] for host, _n, result in run.results("Node left alone")
            if not result.get("skipped")}


def test_the_gpu_nodes_play_takes_the_pool_from_lambda_when_the_inventory_is_a_stored_copy(platform, tmp_path):
    """AWX hands a job the inventory its last sync stored, and reading it again reads that copy: the GPU nodes
    play sets the inventory's GPU hosts from Lambda's listing. A copy from before the pool grew lacks the new
    instances, which join gpu_workers; one from before it shrank lists the terminated one, which is left alone."""
    env = dict(platform.env, ANSIBLE_RUN_TAGS="gpu")

    def phase_3(inventory, count):
        run = PlayRun(*run_playbook(REPO_ROOT / "playbooks/advanced.yml", inventory=inventory, env=env,
                                    extra_vars=pool_vars(tmp_path, lambda_pool_count=count)))
        assert run.rc == 0, run.explain()
        return run

    grown = phase_3(stored_copy(platform, tmp_path, "empty"), 2)
    assert [i["name"] for i in members(platform.lam)] == [POOL + "-1", POOL + "-2"]
    assert joined(grown) == ([POOL + "-1", POOL + "-2"], [])
    assert left_alone(grown) == {POOL + "-1": NOT_HERE, POOL + "-2": NOT_HERE}
    assert changed_tasks(grown) <= POOL_WRITES

    shrunk = phase_3(stored_copy(platform, tmp_path, "two"), 1)
    assert [i["name"] for i in members(platform.lam)] == [POOL + "-1"]
    assert joined(shrunk) == ([], [POOL + "-2"])
    assert left_alone(shrunk) == {POOL + "-1": NOT_HERE, POOL + "-2": "terminated since the inventory listed it"}
    assert changed_tasks(shrunk) <= POOL_WRITES


def test_the_fleet_inventory_lists_the_pool_in_gpu_workers(platform, tmp_path):
    inventory = fleet_inventory_dir(tmp_path)
    # The whole inventory (services, control and the fleet), phase 3's GPU plays: after the role, the pool play
    # reads it again, and the GPU nodes play finds the new instances in gpu_workers, with nothing left to add.
    run = PlayRun(*run_playbook(REPO_ROOT / "playbooks/advanced.yml", inventory=inventory,
                                env=dict(platform.env, ANSIBLE_RUN_TAGS="gpu"),
                                extra_vars=pool_vars(tmp_path, lambda_pool_count=2)))
    assert run.rc == 0, run.explain()
    assert joined(run) == ([], [])
    assert left_alone(run) == {POOL + "-1": NOT_HERE, POOL + "-2": NOT_HERE}

    listed = subprocess.run([str(Path(sys.executable).parent / "ansible-inventory"), "-i",
                             str(inventory / "fleet.yml"), "--list"], cwd=REPO_ROOT, env=ansible_env(platform.env),
                            capture_output=True, text=True, timeout=120, check=False)
    assert listed.returncode == 0, listed.stderr
    data = json.loads(listed.stdout)
    pool = members(platform.lam)
    names = [i["name"] for i in pool]
    assert names == [POOL + "-1", POOL + "-2"]
    assert sorted(data["gpu_workers"]["hosts"]) == names
    assert sorted(data["lambda_instances"]["hosts"]) == names
    hostvars = data["_meta"]["hostvars"]
    for instance in pool:
        host = hostvars[instance["name"]]
        assert host["ansible_host"] in (instance["ip"], {"__ansible_unsafe": instance["ip"]})
        assert host["lambda_pool"] in (POOL, {"__ansible_unsafe": POOL})
    for secret in (platform.lam.token, platform.fly.token):
        assert secret not in listed.stdout + listed.stderr


@pytest.mark.fault("Lambda answers 503 to every request",
                   checks="the GPU play fails naming Lambda Cloud and the 503; no Fly request; no instance")
def test_lambda_down_fails_the_gpu_play_by_name_and_leaves_fly_alone(platform, tmp_path):
    fly_seq = platform.fly.last_seq()
    # Every Lambda request answers 503 (more than the client's retries).
    platform.lam.add_fault(status=503, count=1000)
    try:
        run = platform.play(GPU_POOL, extra_vars=pool_vars(tmp_path))
    finally:
        platform.lam.clear_faults()
    assert run.rc != 0
    # The step that failed (rescued), then the role's own failure, which says who failed.
    failures = [(n, r) for h, n, r in run.results() if r.get("failed")]
    assert [n for n, r in failures][-1] == "Lambda Cloud failed", run.explain()
    failed = failures[-1][1]
    assert "Lambda Cloud API" in failed["msg"] and "503" in failed["msg"], failed["msg"]
    assert "SSH key of the pool" in failed["msg"]
    assert platform.fly.requests_since(fly_seq) == []
    assert members(platform.lam) == []


@pytest.mark.fault("Lambda answers 503 to every request during prepare and deploy",
                   checks="the preflight warns Lambda is down; the Fly phases complete; deploy makes no Lambda call")
def test_lambda_down_does_not_hold_back_the_fly_phases(platform):
    """With Lambda answering nothing but 503s, the preflight warns (its key check gets no answer) and the
    Fly.io phases run as ever; deploying the services makes no Lambda call at all."""
    platform.lam.add_fault(status=503, count=1000)
    try:
        prepared = platform.play("playbooks/prepare.yml")
        seq = platform.lam.last_seq()
        deployed = platform.play("playbooks/deploy.yml")
    finally:
        platform.lam.clear_faults()
    assert prepared.rc == 0, prepared.explain()
    warnings = [w for _h, n, r in prepared.results("Lambda Cloud is down") for w in r.get("warnings", [])]
    assert warnings and "Lambda Cloud is down" in warnings[0]
    assert deployed.rc == 0, deployed.explain()
    assert platform.lam.requests_since(seq) == []


@pytest.mark.fault("wrong Lambda key given as lambda_api_key, in check mode",
                   checks="the preflight fails: the API key is refused")
def test_a_refused_lambda_key_stops_the_preflight(platform):
    run = platform.play("playbooks/prepare.yml", check=True, extra_vars={"lambda_api_key": "wrong-key"})
    assert run.rc != 0
    assert any("API key is refused" in str(r.get("msg")) for _h, _n, r in run.results() if r.get("failed")), run.explain()
