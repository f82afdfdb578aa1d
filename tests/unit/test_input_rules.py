"""The rules the modules check their arguments against before the first request (fly_platform,
lambda_platform, input_checks): what passes, and that a refusal names the option and what it accepts."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.sophia.ops.plugins.module_utils import fly_platform, lambda_platform
from ansible_collections.sophia.ops.plugins.module_utils.input_checks import (
    InvalidInput,
    each,
    given as given_options,
    nonempty_env_fallback,
    number_above,
    require_token,
    shown,
    whole_number,
)
from ansible.module_utils.basic import AnsibleFallbackNotFound

EXAMPLES = int(os.environ.get("SOPHIA_HYPOTHESIS_EXAMPLES", "200"))
PURE = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None)


def refusal(check, *args, **kwargs):
    with pytest.raises(InvalidInput) as caught:
        check(*args, **kwargs)
    return caught.value


# ----------------------------------------------------------------- shapes
def test_a_refusal_names_the_option_first_and_says_what_is_accepted():
    error = refusal(whole_number, "volume.size_gb", 0, 1, 500, unit="GB")
    assert error.option == "volume.size_gb"
    assert str(error) == "volume.size_gb: 0 is out of range; accepted: 1 to 500 GB"


@pytest.mark.parametrize("value", [True, "3", 2.0, None, [3]])
def test_a_whole_number_is_an_integer_not_a_lookalike(value):
    assert "not a whole number" in refusal(whole_number, "count", value, 0).msg


def test_number_above_takes_floats_and_refuses_the_bound():
    assert number_above("rollout.max_unavailable", 0.5, 0) == 0.5
    assert refusal(number_above, "rollout.max_unavailable", 0, 0).option == "rollout.max_unavailable"


def test_a_long_value_is_cut_short_in_messages():
    assert len(shown("x" * 500)) <= 60


def test_given_checks_only_what_was_given_and_names_suboptions():
    given_options({"size_gb": None}, within="volume", size_gb=fly_platform.check_volume_size)
    error = refusal(given_options, {"size_gb": 0}, within="volume", size_gb=fly_platform.check_volume_size)
    assert error.option == "volume.size_gb"


def test_each_names_the_element():
    assert refusal(each(fly_platform.check_region), "regions", ["iad", "mars"]).option == "regions[1]"


# ------------------------------------------------------------- credentials
@pytest.mark.parametrize("value", [None, "", "   "])
def test_a_missing_or_blank_token_names_the_option_and_the_variable(value):
    error = refusal(require_token, "api_token", value, ("FLY_API_TOKEN", "FLY_ACCESS_TOKEN"))
    assert error.option == "api_token" and "FLY_API_TOKEN" in error.msg


def test_an_empty_environment_variable_counts_as_unset(monkeypatch):
    monkeypatch.setenv("FLY_API_TOKEN", "")
    monkeypatch.setenv("FLY_ACCESS_TOKEN", "from-the-second")
    assert nonempty_env_fallback("FLY_API_TOKEN", "FLY_ACCESS_TOKEN") == "from-the-second"
    monkeypatch.setenv("FLY_ACCESS_TOKEN", " ")
    with pytest.raises(AnsibleFallbackNotFound):
        nonempty_env_fallback("FLY_API_TOKEN", "FLY_ACCESS_TOKEN")


# ------------------------------------------------------------------- Fly
@pytest.mark.parametrize("name", ["sophia-weaviate", "abc", "a1b", "0-9", "a" * 63])
def test_app_names_that_pass(name):
    assert fly_platform.check_app_name("name", name) == name


@pytest.mark.parametrize("name", ["ab", "Sophia", "sophia_api", "-api", "api-", "a" * 64, "api.x", "", 5])
def test_app_names_that_do_not(name):
    error = refusal(fly_platform.check_app_name, "name", name)
    assert error.option == "name" and fly_platform.APP_NAME.pattern in error.msg


@pytest.mark.parametrize("name, ok", [("weaviate_data", True), ("a", True), ("x" * 30, True), ("x" * 31, False),
                                      ("data-1", False), ("Data", False), ("", False)])
def test_volume_names(name, ok):
    if ok:
        assert fly_platform.check_volume_name("name", name) == name
    else:
        assert refusal(fly_platform.check_volume_name, "name", name).option == "name"


@pytest.mark.parametrize("name, ok", [("DATABASE_URL", True), ("_x", True), ("a1", True), ("A" * 256, True),
                                      ("A" * 257, False), ("1ABC", False), ("MY-KEY", False), ("", False)])
def test_secret_names(name, ok):
    if ok:
        assert fly_platform.check_secret_name("names[0]", name) == name
    else:
        assert refusal(fly_platform.check_secret_name, "names[0]", name).option == "names[0]"


def test_secret_values_are_checked_without_being_shown():
    fly_platform.check_secret_values("secrets", {"A": "x", "B": 1, "C": True})
    null = refusal(fly_platform.check_secret_values, "secrets", {"TOKEN": None})
    assert null.option == "secrets.TOKEN"
    nested = refusal(fly_platform.check_secret_values, "secrets", {"TOKEN": {"hunter2-value": "v"}})
    assert nested.option == "secrets.TOKEN" and "hunter2" not in nested.msg
    # Removal ignores values; the names still count.
    fly_platform.check_secret_values("secrets", {"OLD": None}, values=False)
    assert refusal(fly_platform.check_secret_values, "secrets", {"bad-name": None}, values=False).option == "secrets"


def test_regions():
    assert fly_platform.check_region("region", "iad") == "iad"
    error = refusal(fly_platform.check_region, "region", "mars")
    assert error.option == "region" and "iad" in error.msg and "yyz" in error.msg
    assert refusal(fly_platform.check_region, "region", "IAD").option == "region"
    assert fly_platform.check_region("region", "global", also=("global",)) == "global"
    assert len(fly_platform.REGIONS) == len(set(fly_platform.REGIONS)) == 35


@pytest.mark.parametrize("size, ok", [(1, True), (500, True), (0, False), (501, False), (-3, False)])
def test_volume_sizes(size, ok):
    if ok:
        assert fly_platform.check_volume_size("size_gb", size) == size
    else:
        assert "accepted: 1 to 500 GB" in refusal(fly_platform.check_volume_size, "size_gb", size).msg


@pytest.mark.parametrize("guest", [
    None, {}, {"cpus": 2, "memory_mb": 2048}, {"cpu_kind": "shared", "cpus": 8, "memory_mb": 16384},
    {"cpu_kind": "performance", "cpus": 16, "memory_mb": 131072}, {"cpu_kind": "performance", "memory_mb": 2048},
    {"cpu_kind": "shared", "cpus": 1, "memory_mb": 256, "gpu_kind": "a100-pcie-40gb"},
])
def test_guests_that_the_platform_offers(guest):
    assert fly_platform.check_guest("config.guest", guest) == guest


@pytest.mark.parametrize("guest, option, words", [
    ({"cpu_kind": "weird", "cpus": 3, "memory_mb": 100}, "config.guest.cpu_kind", "shared, performance"),
    ({"cpus": 3}, "config.guest.cpus", "1, 2, 4, 6, 8"),
    ({"cpu_kind": "performance", "cpus": 6, "memory_mb": 12288}, "config.guest.cpus", "1, 2, 4, 8, 16"),
    ({"cpus": 1, "memory_mb": 100}, "config.guest.memory_mb", "256 to 2048 MB in steps of 256"),
    ({"cpus": 1, "memory_mb": 300}, "config.guest.memory_mb", "not a multiple of 256"),
    ({"cpus": 2, "memory_mb": 8192}, "config.guest.memory_mb", "512 to 4096 MB"),
    # Memory left out is the platform's 256 MB, too little for a performance CPU.
    ({"cpu_kind": "performance"}, "config.guest.memory_mb", "left out"),
    ({"cpus": "2"}, "config.guest.cpus", "not a whole number"),
    ({"memory_mb": None}, "config.guest.memory_mb", "not a whole number"),
    ("shared-cpu-1x", "config.guest", "mapping"),
])
def test_guests_that_it_does_not(guest, option, words):
    error = refusal(fly_platform.check_guest, "config.guest", guest)
    assert error.option == option and words in error.msg and "accepted: " in error.msg


@PURE
@given(kind=st.sampled_from(["shared", "performance"]), cpus=st.integers(-2, 20), memory=st.integers(-512, 140000))
def test_a_guest_passes_exactly_when_the_documented_rule_allows_it(kind, cpus, memory):
    offered, least, most = {"shared": ((1, 2, 4, 6, 8), 256, 2048), "performance": ((1, 2, 4, 8, 16), 2048, 8192)}[kind]
    allowed = cpus in offered and memory % 256 == 0 and least * cpus <= memory <= most * cpus
    guest = {"cpu_kind": kind, "cpus": cpus, "memory_mb": memory}
    if allowed:
        assert fly_platform.check_guest("config.guest", guest) == guest
    else:
        assert refusal(fly_platform.check_guest, "config.guest", guest).option.startswith("config.guest.")


@pytest.mark.parametrize("hostname, ok", [("api.sophia-intel.ai", True), ("*.sophia-intel.ai", True),
                                          ("API.Example.COM", True), ("localhost", False), ("a..b.com", False),
                                          ("https://api.example.com", False), ("api.example.com.", False)])
def test_certificate_hostnames(hostname, ok):
    if ok:
        assert fly_platform.check_hostname("hostname", hostname) == hostname
    else:
        assert refusal(fly_platform.check_hostname, "hostname", hostname).option == "hostname"


def test_ip_addresses():
    assert fly_platform.check_ip_address("address", "137.66.10.20")
    assert fly_platform.check_ip_address("address", "2a09:8280:1::1")
    assert refusal(fly_platform.check_ip_address, "address", "137.66.10").option == "address"


# ---------------------------------------------------------------- Lambda
@pytest.mark.parametrize("name, ok", [("sophia-models", True), ("a", True), ("A1-b", True), ("x" * 60, True),
                                      ("x" * 61, False), ("1models", False), ("my_fs", False), ("", False)])
def test_filesystem_names(name, ok):
    if ok:
        assert lambda_platform.check_filesystem_name("name", name) == name
    else:
        assert refusal(lambda_platform.check_filesystem_name, "name", name).option == "name"


def test_pool_and_ssh_key_names():
    assert lambda_platform.check_pool_name("name", "p" * 60)
    assert refusal(lambda_platform.check_pool_name, "name", "p" * 61).option == "name"
    assert refusal(lambda_platform.check_pool_name, "name", "").option == "name"
    assert lambda_platform.check_ssh_key_name("name", "k" * 64)
    assert refusal(lambda_platform.check_ssh_key_name, "name", "k" * 65).option == "name"


def test_public_keys():
    key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICN+lJwsONkwrdsSnQsu1ydUkIuIg5oOC+Eslvmtt60T ops@laptop"
    assert lambda_platform.check_public_key("public_key", key) == key
    assert lambda_platform.check_public_key("public_key", key.rsplit(" ", 1)[0])
    for bad in ("", "not a key", "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n", "ssh-ed25519"):
        error = refusal(lambda_platform.check_public_key, "public_key", bad)
        # A private key pasted by mistake is never echoed back.
        assert error.option == "public_key" and "b3BlbnNza" not in error.msg


def test_tags():
    lambda_platform.check_tags("tags", {"service": "vector-store", "team:owner": 7})
    assert refusal(lambda_platform.check_tags, "tags", {"Service": "x"}).option == "tags"
    assert refusal(lambda_platform.check_tags, "tags", {"s": "x"}).option == "tags"
    assert refusal(lambda_platform.check_tags, "tags", {"k" * 56: "x"}).option == "tags"
    assert refusal(lambda_platform.check_tags, "tags", {"service": "v" * 129}).option == "tags.service"
    assert refusal(lambda_platform.check_tags, "tags", {"service": None}).option == "tags.service"


def test_user_data_size_is_checked_and_the_content_never_shown():
    lambda_platform.check_user_data("user_data", "#cloud-config\n")
    error = refusal(lambda_platform.check_user_data, "user_data", "SECRETVALUE" * 100000)
    assert error.option == "user_data" and "SECRETVALUE" not in error.msg


@pytest.mark.parametrize("network", ["0.0.0.0/0", "203.0.113.0/24", "1.2.3.4", "1.2.3.4/32"])
def test_source_networks_that_pass(network):
    lambda_platform.check_source_network("rules[0].source_network", network)


@pytest.mark.parametrize("network, words", [("999.0.0.0/0", "not an IPv4 network"), ("10.0.0.1/24", "10.0.0.0/24"),
                                            ("1.2.3.4/33", "prefix"), ("::/0", "not an IPv4"), ("", "not an IPv4"),
                                            ("anywhere", "not an IPv4")])
def test_source_networks_that_do_not(network, words):
    error = refusal(lambda_platform.check_source_network, "rules[0].source_network", network)
    assert error.option == "rules[0].source_network" and words in error.msg


def rule(**fields):
    return dict({"protocol": "tcp", "port_range": [22, 22], "source_network": "0.0.0.0/0", "description": ""},
                **fields)


@pytest.mark.parametrize("fields", [{}, {"protocol": "icmp", "port_range": None}, {"protocol": "all"},
                                    {"port_range": [1, 65535]}, {"protocol": "udp", "port_range": [53, 53]}])
def test_firewall_rules_that_pass(fields):
    lambda_platform.check_firewall_rule("rules[0]", rule(**fields))


@pytest.mark.parametrize("fields, option", [
    ({"port_range": None}, "rules[0].port_range"),
    ({"protocol": "all", "port_range": None}, "rules[0].port_range"),
    ({"protocol": "icmp"}, "rules[0].port_range"),
    ({"port_range": [22]}, "rules[0].port_range"),
    ({"port_range": [0, 22]}, "rules[0].port_range[0]"),
    ({"port_range": [22, 70000]}, "rules[0].port_range[1]"),
    ({"port_range": [443, 80]}, "rules[0].port_range"),
    ({"protocol": "sctp"}, "rules[0].protocol"),
    ({"source_network": "999.0.0.0/0"}, "rules[0].source_network"),
    ({"description": "d" * 129}, "rules[0].description"),
])
def test_firewall_rules_that_do_not(fields, option):
    assert refusal(lambda_platform.check_firewall_rule, "rules[0]", rule(**fields)).option == option


def test_catalogue_names():
    known = ["us-east-1", "us-west-1"]
    assert lambda_platform.check_in_catalogue("region_names", ["us-west-1"], known, "region")
    error = refusal(lambda_platform.check_in_catalogue, "region_names", ["us-west-1", "mars-1"], known, "region")
    assert error.option == "region_names[1]" and "us-east-1, us-west-1" in error.msg
    assert refusal(lambda_platform.check_in_catalogue, "region", "mars-1", known, "region").option == "region"
