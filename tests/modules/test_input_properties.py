"""Property: whatever arguments a module is given, it either converges or fails before any write,
with a message naming the option and the values it accepts.

Hypothesis generates the arguments, mixing values the platform takes with near misses (names with a
capital or a dash, regions that do not exist, sizes and counts one past a bound, guests off the
documented grid, malformed CIDRs). Each example runs the module against an emptied emulator, then:
- if the task failed, the emulator logged no write, ``invalid_option`` names one of the arguments
  given, and the message starts with it and says what is accepted (a failure from the API, or a
  Python error, breaks the property);
- if it succeeded, the emulator's state is what was asked for.

The module runs in the test's process (``tests.support.modules.call_module``): the same argument
parsing, no_log handling, checks and requests as under the CLI, without the second or so of ansible
start-up per example; tests/modules/test_cli_wiring.py covers the CLI path. Examples
are always the same ones (``derandomize``), so CI is reproducible; ``SOPHIA_HYPOTHESIS_EXAMPLES`` raises
their number for a deeper search.
"""

from __future__ import annotations

import os
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.sophia.ops.plugins.module_utils.fly_api import secret_digest
from ansible_collections.sophia.ops.plugins.module_utils.fly_platform import REGIONS
from tests.support.emulators import empty_lambda
from tests.support.modules import call_module

EXAMPLES = int(os.environ.get("SOPHIA_HYPOTHESIS_EXAMPLES", "25"))
PROPERTY = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
CHECKS = "converges, or fails naming an option given and the accepted values with no write"

APP = "property-app"
IMAGE = "registry.fly.io/property:1"
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICN+lJwsONkwrdsSnQsu1ydUkIuIg5oOC+Eslvmtt60T ops"
LAMBDA_REGIONS = ["us-east-1", "us-west-1"]
A100, A10 = "gpu_1x_a100_sxm4", "gpu_1x_a10"


def converges_or_refuses(emulator, module, args):
    """Run the module; answers its result when it succeeded, None when it refused the input as it must."""
    seq = emulator.last_seq()
    result = call_module(module, emulator.module_args(**args))
    if not result.failed:
        return result
    assert emulator.writes_since(seq) == [], "%s wrote before failing: %s" % (module, result["msg"])
    option = result.get("invalid_option")
    assert option, "%s failed, not on a refused argument: %s" % (module, result["msg"])
    assert re.split(r"[.\[]", option)[0] in args, (option, args)
    assert result["msg"].startswith(option + ": ") and "accepted: " in result["msg"], result["msg"]
    assert not result.changed
    return None


def mixed(good, bad):
    """Values the platform takes and values it does not, so examples land on both sides."""
    return st.one_of(st.sampled_from(good), bad)


WORD = st.text(alphabet="abcxyzABZ019_-.", min_size=0, max_size=34)
FLY_REGION = mixed(list(REGIONS), st.sampled_from(["mars", "IAD", "", "iad ", "global"]))


# ------------------------------------------------------------------- Fly
@pytest.fixture
def fly_clean(fly_api):
    def clean(app=APP):
        fly_api.reset()
        fly_api.settings(transition_seconds=0.05)
        if app:
            answer = fly_api.api("POST", "/apps", json={"app_name": app, "org_slug": "personal"})
            assert answer.status_code == 201, answer.text
        return fly_api
    return clean


@pytest.mark.fault("fly_volume with generated name, region, size_gb and snapshot_retention", checks=CHECKS)
@PROPERTY
@given(name=mixed(["data", "weaviate_data", "v" * 30], WORD), region=FLY_REGION,
       size_gb=st.one_of(st.none(), st.sampled_from([0, 1, 500, 501]), st.integers(-3, 600)),
       retention=st.one_of(st.none(), st.integers(-1, 62)))
def test_fly_volume(fly_clean, name, region, size_gb, retention):
    fly = fly_clean()
    args = {"app": APP, "name": name, "region": region, "size_gb": size_gb, "snapshot_retention": retention}
    if converges_or_refuses(fly, "fly_volume", args):
        [volume] = fly.api("GET", "/apps/%s/volumes" % APP).json()
        assert (volume["name"], volume["region"], volume["size_gb"]) == (name, region, size_gb or 1)
        assert retention is None or volume["snapshot_retention"] == retention


GUEST = st.fixed_dictionaries({}, optional={
    "cpu_kind": mixed(["shared", "performance"], st.sampled_from(["weird", "Shared"])),
    "cpus": mixed([1, 2, 4, 8], st.integers(-1, 17)),
    "memory_mb": st.one_of(st.integers(0, 48).map(lambda steps: steps * 256), st.integers(-1, 20000)),
})


@pytest.mark.fault("fly_machine process group with generated count, regions and guest", checks=CHECKS)
@PROPERTY
@given(count=st.integers(-2, 2), regions=st.lists(FLY_REGION, max_size=3), guest=GUEST)
def test_fly_machine_group(fly_clean, count, regions, guest):
    fly = fly_clean()
    args = {"app": APP, "group": "app", "count": count, "regions": regions,
            "config": {"image": IMAGE, "guest": guest}, "rollout": {"health_timeout": 20, "wait_timeout": 20}}
    if converges_or_refuses(fly, "fly_machine", args):
        machines = [m for m in fly.machines_now(APP) if m["state"] not in ("destroying", "destroyed")]
        assert len(machines) == count
        for machine in machines:
            assert machine["region"] in regions
            assert all(machine["config"]["guest"][key] == value for key, value in guest.items())


@pytest.mark.fault("fly_app with generated names", checks=CHECKS)
@PROPERTY
@given(name=mixed(["sophia-api", "abc", "a" * 63, "0-9"], WORD))
def test_fly_app(fly_clean, name):
    fly = fly_clean(app=None)
    if converges_or_refuses(fly, "fly_app", {"name": name}):
        assert fly.api("GET", "/apps/%s" % name).status_code == 200


# Values long and odd enough that no_log masking of them cannot garble the task's message.
SECRET_VALUE = st.one_of(st.text(alphabet="abcdefXYZ0123456789-_ :/", min_size=6, max_size=24).map(lambda v: "sv" + v),
                         st.none(), st.integers(10 ** 9, 10 ** 10), st.booleans(), st.just(["sv-in-a-list"]))


@pytest.mark.fault("fly_secret with generated names and values", checks=CHECKS)
@PROPERTY
@given(secrets=st.dictionaries(mixed(["DATABASE_URL", "_X", "A1"], WORD), SECRET_VALUE, max_size=3))
def test_fly_secret(fly_clean, secrets):
    fly = fly_clean()
    if converges_or_refuses(fly, "fly_secret", {"app": APP, "secrets": secrets}):
        listed = dict((s["name"], s["digest"]) for s in fly.api("GET", "/apps/%s/secrets" % APP).json()["secrets"])
        assert listed == dict((name, secret_digest(str(value))) for name, value in secrets.items())


# ---------------------------------------------------------------- Lambda
@pytest.fixture
def lambda_clean(lambda_api):
    def clean():
        empty_lambda(lambda_api).api("POST", "/ssh-keys", json={"name": "ops", "public_key": KEY})
        return lambda_api
    return clean


OCTET = st.integers(0, 300)
CIDR = st.one_of(
    st.sampled_from(["0.0.0.0/0", "203.0.113.0/24", "198.51.100.7", "10.0.0.1/24", "::/0", "anywhere", ""]),
    st.builds(lambda a, b, prefix: "%d.%d.0.0/%d" % (a, b, prefix), OCTET, OCTET, st.integers(0, 34)))
RULE = st.fixed_dictionaries(
    {"protocol": st.sampled_from(["tcp", "udp", "icmp", "all"]), "source_network": CIDR},
    optional={"port_range": st.one_of(st.none(), st.lists(st.integers(-1, 70000), min_size=0, max_size=3),
                                      st.sampled_from([[22, 22], [80, 443], [443, 80]])),
              "description": st.text(alphabet="ab ", max_size=130)})


def normalised(rule):
    network = rule["source_network"] if "/" in rule["source_network"] else rule["source_network"] + "/32"
    ports = rule.get("port_range") if rule["protocol"] != "icmp" else None
    return (rule["protocol"], tuple(ports or ()), network, rule.get("description") or "")


@pytest.mark.fault("lambda_firewall with generated rules (protocols, port ranges, CIDRs)", checks=CHECKS)
@PROPERTY
@given(rules=st.lists(RULE, max_size=3))
def test_lambda_firewall(lambda_clean, rules):
    lam = lambda_clean()
    if converges_or_refuses(lam, "lambda_firewall", {"rules": rules}):
        current = lam.api("GET", "/firewall-rules").json()["data"]
        assert sorted(map(normalised, current)) == sorted(map(normalised, rules))


@pytest.mark.fault("lambda_instance with generated count, regions, instance types and tags", checks=CHECKS)
@PROPERTY
@given(count=st.integers(-1, 2), regions=st.lists(mixed(LAMBDA_REGIONS, st.sampled_from(["mars-1", "US-EAST-1"])),
                                                  max_size=2),
       types=st.lists(mixed([A100, A10], st.sampled_from(["gpu_9x_imaginary", ""])), max_size=2),
       tags=st.dictionaries(mixed(["service", "team:owner"], WORD), st.text(alphabet="abc", max_size=3), max_size=2))
def test_lambda_instance(lambda_clean, count, regions, types, tags):
    lam = lambda_clean()
    args = {"name": "prop", "count": count, "region_names": regions, "instance_type_names": types,
            "ssh_key_name": "ops", "tags": tags, "wait": False, "launch_interval": 0}
    if converges_or_refuses(lam, "lambda_instance", args):
        pool = [i for i in lam.api("GET", "/instances").json()["data"]
                if {"key": "sophia-ops:pool", "value": "prop"} in i.get("tags", [])]
        assert len(pool) == count
        assert all(i["region"]["name"] in regions and i["instance_type"]["name"] in types for i in pool)


@pytest.mark.fault("lambda_filesystem with generated names and regions", checks=CHECKS)
@PROPERTY
@given(name=mixed(["sophia-models", "A1-b", "m" * 60], WORD),
       region=mixed(LAMBDA_REGIONS, st.sampled_from(["mars-1", "", "us-east-1 "])))
def test_lambda_filesystem(lambda_clean, name, region):
    lam = lambda_clean()
    if converges_or_refuses(lam, "lambda_filesystem", {"name": name, "region": region}):
        listed = lam.api("GET", "/file-systems").json()["data"]
        assert [(fs["name"], fs["region"]["name"]) for fs in listed] == [(name, region)]
