"""Bad input is refused before any write: every module, through the ansible CLI, against the emulators.

Each case gives one module one bad argument and checks that the task fails naming the option (the
message starts with it, ``invalid_option`` says it) and the values it accepts, reports no change, and
that the emulator's request log shows no write. Arguments the platform rules settle without the API
(names, regions, sizes, guests, counts, CIDRs) are refused before any request at all; instance types
and regions are checked against the catalogue the module reads on its way to a launch or a create,
so there only reads are seen.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.ansible_cli import REPO_ROOT, ansible_env
from tests.support.modules import call_module

APP = "input-check-app"
IMAGE = "registry.fly.io/input-check:1"
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICN+lJwsONkwrdsSnQsu1ydUkIuIg5oOC+Eslvmtt60T ops"
A100 = "gpu_1x_a100_sxm4"


def case(module, args, option, tried):
    """One bad input: ``tried`` says what, for the fault records."""
    return pytest.param(module, args, option, id="%s-%s" % (module, option),
                        marks=pytest.mark.fault("%s: %s" % (module, tried),
                                                checks="fails naming %s and the accepted values; no request sent"
                                                % option))


def group(**args):
    return dict({"app": APP, "group": "app", "count": 1, "regions": ["iad"], "config": {"image": IMAGE}}, **args)


def single(**args):
    return dict({"app": APP, "name": "one", "region": "iad", "config": {"image": IMAGE}}, **args)


FLY_CASES = [
    case("fly_app", {"name": "Sophia_API"}, "name", "an app name with capitals and an underscore"),
    case("fly_app", {"name": "ab"}, "name", "a two-letter app name"),
    case("fly_app_info", {"name": "-api"}, "name", "an app name starting with a dash"),
    case("fly_volume", {"app": APP, "name": "data", "region": "mars", "size_gb": 3}, "region", "region mars"),
    case("fly_volume", {"app": APP, "name": "data", "region": "iad", "size_gb": 0}, "size_gb", "size_gb 0"),
    case("fly_volume", {"app": APP, "name": "data", "region": "iad", "size_gb": 501}, "size_gb", "size_gb 501"),
    case("fly_volume", {"app": APP, "name": "Data-1", "region": "iad"}, "name", "a volume name with a dash"),
    case("fly_volume", {"app": "Bad_App", "name": "data", "region": "iad"}, "app", "an invalid app name"),
    case("fly_volume", {"app": APP, "name": "data", "region": "iad", "snapshot_retention": 0},
         "snapshot_retention", "snapshot_retention 0"),
    case("fly_volume_info", {"app": APP, "region": "IAD"}, "region", "a region in capitals"),
    case("fly_volume_snapshot", {"app": APP, "name": "Weaviate-Data"}, "name", "an invalid volume name"),
    case("fly_machine", single(config={"image": IMAGE, "guest": {"cpu_kind": "weird", "cpus": 3, "memory_mb": 100}}),
         "config.guest.cpu_kind", "guest {cpu_kind: weird, cpus: 3, memory_mb: 100}"),
    case("fly_machine", single(config={"image": IMAGE, "guest": {"cpus": 3, "memory_mb": 768}}),
         "config.guest.cpus", "3 shared CPUs"),
    case("fly_machine", single(config={"image": IMAGE, "guest": {"cpu_kind": "performance", "cpus": 2,
                                                                 "memory_mb": 2048}}),
         "config.guest.memory_mb", "2 performance CPUs with 2048 MB"),
    case("fly_machine", single(config={"image": IMAGE, "guest": {"cpus": 1, "memory_mb": 300}}),
         "config.guest.memory_mb", "memory not a multiple of 256"),
    case("fly_machine", single(region="mars"), "region", "a single machine in region mars"),
    case("fly_machine", group(count=-1), "count", "count -1"),
    case("fly_machine", group(regions=["iad", "mars"]), "regions[1]", "a group spread over mars"),
    case("fly_machine", group(count=2, regions=[]), "regions", "a group of two with no region"),
    case("fly_machine", group(config={"image": IMAGE, "guest": {"cpu_kind": "shared", "cpus": 8,
                                                                "memory_mb": 1024}}),
         "config.guest.memory_mb", "a group whose guest has too little memory for 8 CPUs"),
    case("fly_machine", group(volume={"name": "data", "path": "/data", "size_gb": 0}), "volume.size_gb",
         "a group volume of 0 GB"),
    case("fly_machine", group(volume={"name": "Data", "path": "/data"}), "volume.name", "an invalid group volume name"),
    case("fly_machine", group(config={"image": IMAGE, "mounts": [{"volume": "vol_1", "path": "/d"}]}),
         "config.mounts", "config.mounts in process-group mode"),
    case("fly_machine", group(rollout={"max_unavailable": 0}), "rollout.max_unavailable", "max_unavailable 0"),
    case("fly_machine", group(state="stopped"), "state", "a stopped process group"),
    case("fly_secret", {"app": APP, "secrets": {"MY-KEY": "x"}}, "secrets", "a secret name with a dash"),
    case("fly_secret", {"app": APP, "secrets": {"TOKEN": None}}, "secrets.TOKEN", "a secret with a null value"),
    case("fly_secret", {"app": APP, "names": ["1BAD"], "state": "absent"}, "names[0]", "removing an invalid name"),
    case("fly_secret_info", {"app": "UPPER"}, "app", "an invalid app name"),
    case("fly_ip", {"app": APP, "type": "v6", "region": "mars"}, "region", "an address in region mars"),
    case("fly_ip", {"app": APP, "address": "137.66.10", "state": "absent"}, "address", "a truncated IPv4 address"),
    case("fly_certificate", {"app": APP, "hostname": "https://api.example.com"}, "hostname", "a URL as hostname"),
    case("fly_machine_info", {"app": APP, "region": "moon"}, "region", "a region filter of moon"),
    case("fly_app", {"name": "sophia-api", "request_timeout": 0}, "request_timeout", "request_timeout 0"),
    case("fly_app", {"name": "sophia-api", "max_retries": -1}, "max_retries", "max_retries -1"),
]

LAMBDA_CASES = [
    case("lambda_instance", {"name": "pool", "count": -1}, "count", "count -1"),
    case("lambda_instance", {"name": "p" * 61}, "name", "a pool name of 61 characters"),
    case("lambda_instance", {"name": "pool", "tags": {"Service": "x"}}, "tags", "a tag key in capitals"),
    case("lambda_instance", {"name": "pool", "tags": {"sophia-ops:pool": "other"}}, "tags.sophia-ops:pool",
         "the module's own pool tag"),
    case("lambda_instance", {"name": "pool", "file_system_names": ["1models"]}, "file_system_names[0]",
         "a filesystem name starting with a digit"),
    case("lambda_instance", {"name": "pool", "launch_interval": -1}, "launch_interval", "launch_interval -1"),
    case("lambda_filesystem", {"name": "my_models", "region": "us-east-1"}, "name", "a filesystem name with '_'"),
    case("lambda_ssh_key", {"name": "k" * 65, "public_key": KEY}, "name", "an SSH key name of 65 characters"),
    case("lambda_ssh_key", {"name": "ops", "public_key": "not-a-key"}, "public_key", "a public key that is not one"),
    case("lambda_firewall", {"rules": [{"protocol": "tcp", "port_range": [22, 22], "source_network": "999.0.0.0/0"}]},
         "rules[0].source_network", "CIDR 999.0.0.0/0"),
    case("lambda_firewall", {"rules": [{"protocol": "tcp", "port_range": [22, 22], "source_network": "0.0.0.0/0"},
                                       {"protocol": "tcp", "port_range": [22, 22], "source_network": "10.0.0.1/24"}]},
         "rules[1].source_network", "a CIDR with host bits set"),
    case("lambda_firewall", {"rules": [{"protocol": "tcp", "source_network": "0.0.0.0/0"}]}, "rules[0].port_range",
         "a tcp rule without ports"),
    case("lambda_firewall", {"rules": [{"protocol": "icmp", "port_range": [1, 2], "source_network": "0.0.0.0/0"}]},
         "rules[0].port_range", "an icmp rule with ports"),
    case("lambda_firewall", {"rules": [{"protocol": "udp", "port_range": [53, 70000], "source_network": "0.0.0.0/0"}]},
         "rules[0].port_range[1]", "port 70000"),
]


def refused(result, option):
    assert result.failed and not result.changed, result
    assert result["invalid_option"] == option, result["msg"]
    assert result["msg"].startswith(option + ": ") and "accepted: " in result["msg"], result["msg"]


@pytest.mark.parametrize("module, args, option", FLY_CASES)
def test_fly_modules_refuse_bad_input_before_any_request(fly_api, module, args, option):
    seq = fly_api.last_seq()
    refused(call_module(module, fly_api.module_args(**args)), option)
    assert fly_api.requests_since(seq) == []


@pytest.mark.parametrize("module, args, option", LAMBDA_CASES)
def test_lambda_modules_refuse_bad_input_before_any_request(lambda_api, module, args, option):
    seq = lambda_api.last_seq()
    refused(call_module(module, lambda_api.module_args(**args)), option)
    assert lambda_api.requests_since(seq) == []


def launch_args(lambda_api, **args):
    return lambda_api.module_args(**dict({"name": "pool", "instance_type_names": [A100], "region_names": ["us-east-1"],
                                          "ssh_key_name": "ops", "wait": False, "launch_interval": 0}, **args))


@pytest.mark.parametrize("args, option, listed", [
    pytest.param({"instance_type_names": [A100, "gpu_9x_imaginary"]}, "instance_type_names[1]", A100,
                 id="instance-type",
                 marks=pytest.mark.fault("lambda_instance: an instance type the catalogue does not list",
                                         checks="fails naming instance_type_names[1] and the listed types; no write")),
    pytest.param({"region_names": ["mars-1"]}, "region_names[0]", "us-east-1", id="region",
                 marks=pytest.mark.fault("lambda_instance: a region the catalogue does not list",
                                         checks="fails naming region_names[0] and the listed regions; no write")),
    pytest.param({"ssh_key_name": None}, "ssh_key_name", "SSH key", id="no-ssh-key",
                 marks=pytest.mark.fault("lambda_instance: a launch without ssh_key_name",
                                         checks="fails naming ssh_key_name before reading the catalogue; no write")),
])
@pytest.mark.parametrize("check", [False, True], ids=["run", "check-mode"])
def test_a_launch_checks_names_against_the_catalogue_first(lambda_api, args, option, listed, check):
    lambda_api.api("POST", "/ssh-keys", json={"name": "ops", "public_key": KEY})
    seq = lambda_api.last_seq()
    result = call_module("lambda_instance", launch_args(lambda_api, **args), check=check)
    refused(result, option)
    assert lambda_api.writes_since(seq) == []
    assert listed in result["msg"].split("accepted: ", 1)[1]
    assert lambda_api.api("GET", "/instances").json()["data"] == []


@pytest.mark.fault("lambda_filesystem: a region the catalogue does not list",
                   checks="fails naming region and the listed regions; no write, in check mode too")
def test_a_filesystem_region_is_checked_against_the_catalogue(lambda_api):
    args = lambda_api.module_args(name="models", region="mars-1")
    for check in (True, False):
        seq = lambda_api.last_seq()
        result = call_module("lambda_filesystem", args, check=check)
        refused(result, "region")
        assert "us-east-1" in result["msg"] and lambda_api.writes_since(seq) == []


# ------------------------------------------------------------------ tokens
TOKEN_CASES = [
    pytest.param("fly", {"api_token": ""}, {"FLY_API_TOKEN": "", "FLY_ACCESS_TOKEN": ""}, id="fly-empty-option",
                 marks=pytest.mark.fault("fly_app with api_token empty and FLY_API_TOKEN unset",
                                         checks="fails at once naming api_token and FLY_API_TOKEN; no request")),
    pytest.param("fly", {}, {"FLY_API_TOKEN": "", "FLY_ACCESS_TOKEN": ""}, id="fly-empty-variable",
                 marks=pytest.mark.fault("fly_app with no api_token and FLY_API_TOKEN set but empty",
                                         checks="fails at once naming api_token and FLY_API_TOKEN; no request")),
    pytest.param("fly", {"api_token": "   "}, {}, id="fly-blank-option",
                 marks=pytest.mark.fault("fly_app with a blank api_token",
                                         checks="fails at once naming api_token and FLY_API_TOKEN; no request")),
    pytest.param("lambda", {"api_key": ""}, {"LAMBDA_API_KEY": ""}, id="lambda-empty-option",
                 marks=pytest.mark.fault("lambda_instance with api_key empty and LAMBDA_API_KEY unset",
                                         checks="fails at once naming api_key and LAMBDA_API_KEY; no request")),
    pytest.param("lambda", {}, {"LAMBDA_API_KEY": ""}, id="lambda-empty-variable",
                 marks=pytest.mark.fault("lambda_instance with no api_key and LAMBDA_API_KEY set but empty",
                                         checks="fails at once naming api_key and LAMBDA_API_KEY; no request")),
]


@pytest.mark.parametrize("provider, token, env", TOKEN_CASES)
def test_a_missing_or_empty_credential_fails_at_once_naming_the_variable(request, provider, token, env):
    emulator = request.getfixturevalue("fly_api" if provider == "fly" else "lambda_api")
    if provider == "fly":
        args = dict(fly_api_args(emulator, name="sophia-api"), **token)
        module, option, variable = "fly_app", "api_token", "FLY_API_TOKEN"
    else:
        args = dict(api_url=emulator.url, name="pool", **token)
        module, option, variable = "lambda_instance", "api_key", "LAMBDA_API_KEY"
    # A retried 401 would take seconds; the check needs none, so a short timeout is a second witness.
    seq = emulator.last_seq()
    result = call_module(module, args, env=env, timeout=60)
    assert result.failed and not result.changed
    assert result["msg"].startswith(option + ": ") and variable in result["msg"], result["msg"]
    assert emulator.requests_since(seq) == []


def fly_api_args(fly_api, **args):
    return dict(api_url=fly_api.url, **args)


def test_an_empty_first_variable_falls_back_to_the_next(fly_api):
    env = {"FLY_API_TOKEN": "", "FLY_ACCESS_TOKEN": fly_api.token}
    created = call_module("fly_app", fly_api_args(fly_api, name="from-the-second-variable"), env=env)
    assert created.changed and not created.failed, created.get("msg")


def test_the_token_from_the_environment_is_used(lambda_api):
    listed = call_module("lambda_instance_info", {"api_url": lambda_api.url}, env={"LAMBDA_API_KEY": lambda_api.token})
    assert not listed.failed and listed["instances"] == []


# ---------------------------------------------------------------- user_data
@pytest.mark.fault("lambda_instance launched with user_data holding a canary, at -vvvv",
                   checks="the canary is in no output; the invocation shows the option masked")
def test_user_data_never_shows_even_at_the_highest_verbosity(lambda_api):
    """lambda_instance's user_data often carries credentials: the module treats it as no_log."""
    canary = "user-data-canary-" + "9f3c1d7e5b"
    lambda_api.api("POST", "/ssh-keys", json={"name": "ops", "public_key": KEY})
    args = launch_args(lambda_api, user_data="#cloud-config\nwrite_files: [{content: %s}]\n" % canary)
    cmd = [str(Path(sys.executable).parent / "ansible"), "localhost", "-i", "localhost,", "-c", "local", "-e", "ansible_python_interpreter=%s" % sys.executable,
           "-m", "sophia.ops.lambda_instance", "-a", json.dumps(args), "-vvvv"]
    proc = subprocess.run(cmd, cwd=REPO_ROOT, env=ansible_env(), capture_output=True, text=True, timeout=300,
                          check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" in proc.stdout  # the invocation is shown, masked
    assert canary not in proc.stdout and canary not in proc.stderr
    # It did reach the API: masking the output must not drop it from the launch.
    assert len(lambda_api.api("GET", "/instances").json()["data"]) == 1


def test_instance_info_leaves_the_jupyter_credentials_out_unless_asked(lambda_api):
    lambda_api.api("POST", "/ssh-keys", json={"name": "ops", "public_key": KEY})
    assert call_module("lambda_instance", launch_args(lambda_api)).changed
    token = lambda_api.api("GET", "/instances").json()["data"][0]["jupyter_token"]
    assert token
    listed = call_module("lambda_instance_info", lambda_api.module_args())
    assert len(listed["instances"]) == 1 and token not in json.dumps(listed)
    asked = call_module("lambda_instance_info", lambda_api.module_args(include_credentials=True))
    assert asked["instances"][0]["jupyter_token"] == token
