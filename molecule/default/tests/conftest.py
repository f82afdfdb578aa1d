"""What the verify tests share: the scenario's running stack (its state directory gives the ports), the Fly and
Lambda APIs of its emulators, the Fly proxy's addresses, and the machines' containers.

Every wait is bounded; a figure is printed, never held against a clock.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

PROJECT = Path(os.environ.get("MOLECULE_PROJECT_DIRECTORY") or Path(__file__).resolve().parents[3])
sys.path.insert(0, str(PROJECT))

from emulators.common.docker_engine import DockerEngine  # noqa: E402  (the project's own client)

STATE = Path(os.environ["SOPHIA_EMULATOR_DIR"])
PREFIX = "sophia-local-"
SERVICES = ["weaviate", "mcp_server", "vector_store", "unified_api", "agno_bridge", "agent_ui"]
FLY_TOKEN = os.environ.get("FLY_API_TOKEN") or "local-dev-fly-token"
LAMBDA_KEY = os.environ.get("LAMBDA_API_KEY") or "local-dev-lambda-key"


def app_of(service):
    return PREFIX + service.replace("_", "-")


def port(name):
    return int((STATE / ("%s.port" % name)).read_text().strip())


def stack_name():
    import hashlib
    return os.environ.get("SOPHIA_STACK") or "sophia-" + hashlib.sha1(
        os.path.realpath(STATE).encode()).hexdigest()[:10]


def http(method, url, body=None, headers=None, timeout=10, attempts=8):
    """(status, parsed JSON or text) of one request; connection failures come back as status 0. A 429 (the
    emulator keeps Fly's rate limits) is tried again after its Retry-After, a bounded number of times."""
    for attempt in range(attempts):
        status, answer, retry_after = one_request(method, url, body, headers, timeout)
        if status != 429 or attempt == attempts - 1:
            return status, answer
        time.sleep(min(float(retry_after or 1), 5))
    return status, answer


def one_request(method, url, body, headers, timeout):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
    if data is not None:
        request.add_header("Content-Type", "application/json")
    retry_after = None
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            status, raw = answer.status, answer.read()
    except urllib.error.HTTPError as error:
        status, raw, retry_after = error.code, error.read(), error.headers.get("Retry-After")
    except OSError as error:
        return 0, str(error), None
    try:
        return status, json.loads(raw or b"null"), retry_after
    except ValueError:
        return status, raw.decode("utf-8", "replace"), retry_after


def until(what, check, timeout, interval=1.0):
    """``check()``'s first truthy value within ``timeout`` seconds; fails naming ``what`` otherwise."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = check()
        if last:
            return last
        if time.monotonic() >= deadline:
            pytest.fail("%s: not within %s s (last: %r)" % (what, timeout, last))
        time.sleep(interval)


class Fly:
    def __init__(self):
        self.root = "http://127.0.0.1:%d" % port("fly")

    def api(self, method, path, body=None):
        return http(method, self.root + "/v1" + path, body, {"Authorization": "Bearer " + FLY_TOKEN})

    def machines(self, service):
        status, machines = self.api("GET", "/apps/%s/machines" % app_of(service))
        assert status == 200, machines
        return machines

    def started(self, service):
        return [m for m in self.machines(service) if m["state"] == "started"]

    def proxy(self):
        status, answer = http("GET", self.root + "/_emulator/proxy", headers={"Authorization": "Bearer " + FLY_TOKEN})
        assert status == 200, answer
        return answer["apps"]

    def public_url(self, service):
        ports = self.proxy()[app_of(service)]["public"]
        return "http://" + (ports.get("443") or ports.get("80") or next(iter(ports.values())))

    def flycast_url(self, service):
        ports = self.proxy()[app_of(service)]["flycast"]
        return "http://" + (ports.get("80") or next(iter(ports.values())))


class Lambda:
    def __init__(self):
        self.root = "http://127.0.0.1:%d/api/v1" % port("lambda")

    def instances(self):
        status, answer = http("GET", self.root + "/instances", headers={"Authorization": "Bearer " + LAMBDA_KEY})
        assert status == 200, answer
        return answer["data"]


@pytest.fixture(scope="session")
def fly():
    return Fly()


@pytest.fixture(scope="session")
def lambda_cloud():
    return Lambda()


@pytest.fixture(scope="session")
def engine():
    return DockerEngine(stack_name())


def container_of(machine):
    return "%s-m-%s" % (stack_name(), machine["id"])


def playbook(*args, timeout=900):
    """ansible-playbook from the project root against inventories/local, as an operator runs it."""
    command = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", "inventories/local"] + list(args)
    # Plain text (Molecule's environment forces colours on).
    env = dict(os.environ, ANSIBLE_CONFIG=str(PROJECT / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    started = time.monotonic()
    done = subprocess.run(command, cwd=PROJECT, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    done.stdout = re.sub(r"\x1b\[[0-9;]*m", "", done.stdout)
    print("%s: rc %d in %.0f s" % (" ".join(args), done.returncode, time.monotonic() - started))
    return done
