"""The Lambda emulator's Docker backend (``--backend docker``): a launched instance is a GPU-node container
(systemd, sshd, user ubuntu) whose ``ip`` is a loopback address of its own with sshd on port 22 there, the
launch's key installed for ubuntu; it is ``active`` once sshd answers, and terminate removes it.

Each test runs its own emulator on a stack of its own (``docker_stack``), removed whatever the test left.
"""

from __future__ import annotations

import os
import stat
import subprocess
import time

import pytest

from emulators.lambda_cloud.docker_backend import IMAGE, sshd_answers
from tests.emulators.lambda_cloud.helpers import A100, ok
from tests.support.docker import ensure_image
from tests.support.emulators import LambdaEmulator, contract_checked_run

pytestmark = pytest.mark.docker


class DockerLambda(LambdaEmulator):
    def __init__(self, data_dir, stack):
        super().__init__(data_dir)
        self.extra_args += ["--backend", "docker", "--stack", stack]


@pytest.fixture
def lam(docker_stack, tmp_path):
    ensure_image(docker_stack, IMAGE, "gpu-node")
    emulator = DockerLambda(tmp_path / "lambda", docker_stack.stack)
    yield from contract_checked_run(emulator, rate_limits=False)


@pytest.fixture
def key(tmp_path, lam):
    """A key pair made here, its public half registered as "ops"."""
    path = tmp_path / "id_ops"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "ops", "-f", str(path)], check=True)
    ok(lam.api("POST", "/ssh-keys", json={"name": "ops", "public_key": (tmp_path / "id_ops.pub").read_text()}))
    return path


def launch(lam, name):
    body = {"region_name": "us-east-1", "instance_type_name": A100, "ssh_key_names": ["ops"], "name": name}
    return ok(lam.api("POST", "/instance-operations/launch", json=body))["instance_ids"][0]


def get(lam, instance_id):
    return ok(lam.api("GET", "/instances/%s" % instance_id))


def until_active(lam, instance_id, deadline_seconds=90):
    """The instance once active (bounded wait); the time it took is printed."""
    started = time.monotonic()
    deadline = started + deadline_seconds
    while True:
        instance = get(lam, instance_id)
        if instance["status"] == "active":
            print("\n%s active after %.1f s" % (instance_id, time.monotonic() - started))
            return instance
        assert instance["status"] == "booting", instance
        assert time.monotonic() < deadline, "not active within %d s" % deadline_seconds
        time.sleep(0.3)


def ssh(address, key, *options, user="ubuntu", env=None):
    done = subprocess.run(["ssh", "-i", str(key), "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                           "-o", "ConnectTimeout=10", "-o", "LogLevel=ERROR", *options, "%s@%s" % (user, address),
                           "id -un; sudo -n true && echo sudo"],
                          capture_output=True, text=True, timeout=60, check=False, env=env)
    return done.returncode, done.stdout, done.stderr


def container(stack, instance_id):
    return stack.inspect("%s-gpu-%s" % (stack.stack, instance_id))


def test_launch_is_a_container_with_the_key_active_once_sshd_answers(lam, key, docker_stack):
    instance_id = launch(lam, "gpu-a")
    record = container(docker_stack, instance_id)
    assert record is not None and record["State"]["Running"]
    assert record["Config"]["Image"] == IMAGE
    assert record["Config"]["Labels"]["sophia.stack"] == docker_stack.stack
    assert record["Config"]["Labels"]["sophia.lambda.instance"] == instance_id
    # Before active: no public address in the API, as Lambda answers a booting instance.
    booting = get(lam, instance_id)
    assert booting["status"] == "active" or "ip" not in booting

    code, listing = docker_stack.exec_run(record["Id"], ["stat", "-c", "%U %a %n", "/home/ubuntu/.ssh",
                                                         "/home/ubuntu/.ssh/authorized_keys"])
    assert code == 0 and listing.decode().split("\n")[:2] == ["ubuntu 700 /home/ubuntu/.ssh",
                                                              "ubuntu 600 /home/ubuntu/.ssh/authorized_keys"]
    code, keys = docker_stack.exec_run(record["Id"], ["cat", "/home/ubuntu/.ssh/authorized_keys"])
    assert keys.decode().strip() == (key.parent / "id_ops.pub").read_text().strip()

    instance = until_active(lam, instance_id)
    address = instance["ip"]
    assert address.startswith("127.0.0.") and address != "127.0.0.1"
    assert sshd_answers(address)
    network = "%s-public" % docker_stack.stack
    assert instance["private_ip"] == container(docker_stack, instance_id)["NetworkSettings"]["Networks"][network][
        "IPAddress"]


def test_ssh_takes_the_key_and_refuses_a_password(lam, key, tmp_path):
    instance = until_active(lam, launch(lam, "gpu-b"))
    code, out, err = ssh(instance["ip"], key, "-o", "BatchMode=yes")
    assert (code, out.split()) == (0, ["ubuntu", "sudo"]), err
    # A password, really typed (through SSH_ASKPASS), and no key offered: refused.
    askpass = tmp_path / "askpass"
    askpass.write_text("#!/bin/sh\necho ubuntu\n")
    askpass.chmod(stat.S_IRWXU)
    env = dict(os.environ, SSH_ASKPASS=str(askpass), SSH_ASKPASS_REQUIRE="force", DISPLAY=":0")
    code, out, err = ssh(instance["ip"], key, "-o", "PubkeyAuthentication=no", "-o", "PreferredAuthentications=password",
                         "-o", "NumberOfPasswordPrompts=1", env=env)
    assert code == 255 and "Permission denied" in err, (code, out, err)
    # And another key is refused.
    other = tmp_path / "id_other"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    code, out, err = ssh(instance["ip"], other, "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes")
    assert code == 255 and "Permission denied" in err, err


def test_two_instances_get_their_own_address_and_terminate_removes_the_container(lam, key, docker_stack):
    first, second = launch(lam, "gpu-c"), launch(lam, "gpu-d")
    a, b = until_active(lam, first), until_active(lam, second)
    assert a["ip"] != b["ip"] and a["private_ip"] != b["private_ip"]
    assert sshd_answers(a["ip"]) and sshd_answers(b["ip"])

    ok(lam.api("POST", "/instance-operations/terminate", json={"instance_ids": [first]}))
    assert container(docker_stack, first) is None
    assert not sshd_answers(a["ip"])
    assert container(docker_stack, second)["State"]["Running"]
    deadline = time.monotonic() + 10
    while any(i["id"] == first for i in ok(lam.api("GET", "/instances"))):
        assert time.monotonic() < deadline, "the terminated instance is still listed"
        time.sleep(0.2)


def test_restart_reboots_the_container_and_waits_for_sshd_again(lam, key, docker_stack):
    instance_id = launch(lam, "gpu-e")
    until_active(lam, instance_id)
    before = container(docker_stack, instance_id)["State"]["StartedAt"]
    restarted = ok(lam.api("POST", "/instance-operations/restart", json={"instance_ids": [instance_id]}))
    assert restarted["restarted_instances"][0]["status"] == "booting"
    assert container(docker_stack, instance_id)["State"]["StartedAt"] != before
    assert sshd_answers(until_active(lam, instance_id)["ip"])


def test_reset_removes_every_instance_container(lam, key, docker_stack):
    launch(lam, "gpu-f")
    assert docker_stack.containers(sophia__emulator="lambda")
    lam.reset()
    assert docker_stack.containers(sophia__emulator="lambda") == []
