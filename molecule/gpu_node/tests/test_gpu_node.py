"""What the gpu_node role promises, checked over SSH (testinfra's ansible backend, the scenario's inventory) and
from outside the node, as an operator and the monitoring app reach it.

Every wait is bounded; a figure is printed, never held against a clock.
"""

from __future__ import annotations

import json
import shlex
import socket
import subprocess
import time
import urllib.request
import uuid

import pytest

WORKER_USER = "sophia-gpu-worker"
EXPORTER_USER = "sophia-gpu-exporter"


@pytest.fixture(scope="module")
def node(host):
    """(address, private key, private IP on the stack's public network) of the node."""
    variables = host.ansible.get_variables()
    private_ip = host.check_output("hostname -I").split()[0]
    return variables["ansible_host"], variables["ansible_private_key_file"], private_ip


def ssh(address, key, user, *options, command="true"):
    """ssh from this machine to the node; (exit code, stderr)."""
    done = subprocess.run(["ssh", "-i", key, "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
                           "-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=10", "-o", "LogLevel=ERROR",
                           *options, "%s@%s" % (user, address), command],
                          capture_output=True, text=True, timeout=60, check=False)
    return done.returncode, done.stderr


def test_ssh_takes_the_key_of_ubuntu_and_nothing_else(node):
    address, key, dummy = node
    assert ssh(address, key, "ubuntu") == (0, "")
    # Passwords: the server offers public keys only (sshd's own answer lists the methods it takes).
    code, stderr = ssh(address, key, "ubuntu", "-o", "PubkeyAuthentication=no",
                       "-o", "PreferredAuthentications=password,keyboard-interactive")
    assert code == 255 and "Permission denied (publickey)" in stderr, stderr
    # Root: refused even with the key that ubuntu accepts.
    code, stderr = ssh(address, key, "root")
    assert code == 255 and "Permission denied" in stderr, stderr


def test_sshd_effective_settings(host):
    with host.sudo():
        effective = host.check_output("/usr/sbin/sshd -T").splitlines()
    for line in ("passwordauthentication no", "kbdinteractiveauthentication no", "permitrootlogin no",
                 "authenticationmethods publickey"):
        assert line in effective


def test_firewall_drops_inbound_but_ssh_and_scrapes_from_the_networks_named(host):
    with host.sudo():
        rules = host.check_output("nft list table inet sophia_host")
    assert "policy drop;" in rules
    assert "tcp dport 22 ip saddr @ssh_sources accept" in rules
    assert "tcp dport { 9100, 9835 } ip saddr @monitoring_sources accept" in rules
    assert host.service("sophia-firewall").is_enabled


def test_a_port_nobody_allowed_is_dropped_from_outside(host, node):
    """A listener the role knows nothing of answers on the node itself and not from the network."""
    dummy, dummy, private_ip = node
    port = 18000
    with host.sudo():
        host.run("systemd-run --unit sophia-probe-%d --collect python3 -m http.server %d" % (port, port))
    try:
        deadline = time.monotonic() + 20
        while host.run("python3 -c \"import urllib.request; urllib.request.urlopen('http://127.0.0.1:%d/', "
                       "timeout=2)\"" % port).rc != 0:
            assert time.monotonic() < deadline, "the probe listener did not start on the node"
            time.sleep(0.5)
        with pytest.raises(OSError):
            socket.create_connection((private_ip, port), timeout=3).close()
    finally:
        with host.sudo():
            host.run("systemctl stop sophia-probe-%d" % port)


@pytest.mark.parametrize("port, expected", [(9100, "node_cpu_seconds_total"), (9835, "sophia_gpu_present 0")])
def test_exporters_answer_the_monitoring_network(node, port, expected):
    """From this machine: its address on the stack's public network (the gateway) is a monitoring network."""
    dummy, dummy, private_ip = node
    with urllib.request.urlopen("http://%s:%d/metrics" % (private_ip, port), timeout=10) as answer:
        assert answer.status == 200
        assert expected in answer.read().decode()


@pytest.mark.parametrize("unit, user", [("sophia-gpu-worker", WORKER_USER), ("sophia-gpu-exporter", EXPORTER_USER),
                                        ("prometheus-node-exporter", "prometheus")])
def test_services_run_enabled_as_their_own_users(host, unit, user):
    service = host.service(unit)
    assert service.is_running and service.is_enabled
    pid = host.check_output("systemctl show -p MainPID --value %s" % unit)
    assert host.check_output("ps -o user= -p %s" % pid) == user
    if user != "prometheus":  # Debian's package makes that one; ours have no login
        assert host.user(user).shell == "/usr/sbin/nologin"


def test_worker_secret_file_is_roots_alone(host):
    env = host.file("/etc/sophia/gpu-worker.env")
    assert (env.user, env.group, env.mode) == ("root", "root", 0o600)
    unit = host.file("/etc/systemd/system/sophia-gpu-worker.service").content_string
    for option in ("NoNewPrivileges=yes", "ProtectSystem=strict", "Restart=on-failure", "CapabilityBoundingSet="):
        assert option in unit


def test_a_job_pushed_on_redis_is_done_by_the_worker(host):
    """The job goes on the queue as the Unified API puts it there (RPUSH of {id, payload}) and its result comes
    back under sophia:gpu:results:<id>, written by this node's worker."""
    job_id = uuid.uuid4().hex
    script = """
import json, os, sys, time, redis
url = [l.split("=", 1)[1].strip() for l in open("/etc/sophia/gpu-worker.env") if l.startswith("REDIS_URL=")][0]
client = redis.Redis.from_url(url, socket_timeout=10)
client.rpush("sophia:gpu:jobs", json.dumps({"id": sys.argv[1], "payload": {"prompt": "molecule"}}))
deadline = time.monotonic() + 30
while time.monotonic() < deadline:
    stored = client.get("sophia:gpu:results:" + sys.argv[1])
    if stored:
        print(json.dumps({"result": json.loads(stored), "ttl": client.ttl("sophia:gpu:results:" + sys.argv[1])}))
        break
    time.sleep(0.2)
"""
    started = time.monotonic()
    with host.sudo():
        out = host.check_output("python3 -c %s %s" % (shlex.quote(script), job_id))
    print("\njob done in %.2f s" % (time.monotonic() - started))
    assert out, "no result within 30 s"
    answer = json.loads(out)
    result = answer["result"]
    assert result["id"] == job_id and result["status"] == "done"
    assert result["worker"] == host.check_output("hostname")
    assert result["gpu"] == "none" and result["finished_at"] and result["result"]["payload_sha256"]
    assert 0 < answer["ttl"] <= 3600
