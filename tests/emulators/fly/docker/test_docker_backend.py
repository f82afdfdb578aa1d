"""The Fly emulator's Docker backend (``--backend docker``): machines run as containers, volumes are
Docker volumes, checks really run, and the proxy balances, autostarts and autostops.

One emulator process for the module, on a stack of its own (everything removed at the end); each test
works in apps of its own. Machines run the stand-in image (images/standin, a test fixture): it serves
/health, /env (names only) and PUT/GET /data/<key> on its volume at /data.
"""

from __future__ import annotations

import subprocess
import threading
import time
import uuid

import pytest
import requests

from tests.emulators.fly.helpers import eventually, ok
from tests.support.docker import ensure_image, own_stack
from tests.support.emulators import FlyEmulator, contract_checked_run

pytestmark = pytest.mark.docker

STANDIN = "sophia-local/standin:latest"
ORG = "dorg"
STARTED_AT = time.monotonic()


class DockerFly(FlyEmulator):
    def __init__(self, data_dir, stack):
        super().__init__(data_dir)
        self.stack = stack
        self.extra_args += ["--backend", "docker", "--stack", stack, "--proxy-autostop-seconds", "2"]


@pytest.fixture(scope="module")
def stack():
    yield from own_stack()


@pytest.fixture(scope="module")
def fly(stack, tmp_path_factory):
    ensure_image(stack, STANDIN, "standin")
    emulator = DockerFly(tmp_path_factory.mktemp("fly-docker"), stack.stack)
    yield from contract_checked_run(emulator, rate_limits=False)
    print("\nfly docker backend module: %.1f s" % (time.monotonic() - STARTED_AT))


def new_app(fly, org=ORG):
    name = "d-" + uuid.uuid4().hex[:8]
    ok(fly.api("POST", "/apps", json={"app_name": name, "org_slug": org}), 201)
    return name


def standin(**config):
    base = {"image": STANDIN, "guest": {"cpus": 1, "memory_mb": 256}}
    base.update(config)
    return base


def launch(fly, app, config, wait_for="started", **body):
    machine = ok(fly.api("POST", "/apps/%s/machines" % app, json=dict(body, region="iad", config=config)))
    if wait_for:
        ok(fly.api("GET", "/apps/%s/machines/%s/wait" % (app, machine["id"]),
                   params={"state": wait_for, "timeout": 30}))
    return machine


def get_machine(fly, app, machine):
    return ok(fly.api("GET", "/apps/%s/machines/%s" % (app, machine["id"])))


def container(stack, machine):
    return stack.inspect("%s-m-%s" % (stack.stack, machine["id"]))


def org_ip(stack, machine, org=ORG):
    return container(stack, machine)["NetworkSettings"]["Networks"]["%s-org-%s" % (stack.stack, org)]["IPAddress"]


def in_machine(stack, machine, code):
    """Run Python in the machine's container; (exit code, output)."""
    exit_code, output = stack.exec_run("%s-m-%s" % (stack.stack, machine["id"]), ["python3", "-c", code])
    return exit_code, output.decode("utf-8", "replace")


def serving(stack, machine):
    """The machine's address on the org network, once its service answers there (bounded wait)."""
    address = org_ip(stack, machine)
    eventually(lambda: answers("http://%s:8080/health" % address), bool, deadline_seconds=20)
    return address


def http(method, url, **kwargs):
    return requests.request(method, url, timeout=10, proxies={"http": None}, **kwargs)


def answers(url):
    try:
        return http("GET", url).status_code == 200
    except requests.RequestException:
        return False


def events(fly, app, machine):
    return ok(fly.api("GET", "/apps/%s/machines/%s/events" % (app, machine["id"]), params={"limit": 50}))


# --- a machine as a container -----------------------------------------------------------------------------
def test_machine_runs_with_env_secrets_files_and_volume(fly, stack):
    app = new_app(fly)
    values = {"API_SECRET": "s3cr3t-value", "CERT_FILE": "Y2VydGlmaWNhdGU="}
    ok(fly.api("POST", "/apps/%s/secrets" % app, json={"values": values}))
    volume = ok(fly.api("POST", "/apps/%s/volumes" % app, json={"name": "data", "region": "iad"}))
    config = standin(env={"GREETING": "hello"}, mounts=[{"volume": volume["id"], "path": "/data"}],
                     files=[{"guest_path": "/etc/sophia/app.conf", "raw_value": "bW9kZT1sb2NhbA=="},
                            {"guest_path": "/etc/sophia/cert.pem", "secret_name": "CERT_FILE"}],
                     checks={"health": {"type": "http", "port": 8080, "path": "/health", "interval": "1s"}})
    machine = launch(fly, app, config)

    info = container(stack, machine)
    env = dict(item.split("=", 1) for item in info["Config"]["Env"])
    assert info["State"]["Running"]
    assert env["GREETING"] == "hello" and env["API_SECRET"] == "s3cr3t-value"
    assert env["FLY_APP_NAME"] == app and env["FLY_MACHINE_ID"] == machine["id"] and env["FLY_REGION"] == "iad"
    assert env["FLY_IMAGE_REF"] == STANDIN and env["PRIMARY_REGION"] == "iad"
    labels = info["Config"]["Labels"]
    assert labels["sophia.stack"] == stack.stack and labels["sophia.fly.app"] == app
    assert labels["sophia.fly.instance"] == machine["instance_id"]
    assert [m["Name"] for m in info["Mounts"]] == ["%s-v-%s" % (stack.stack, volume["id"])]
    code, output = in_machine(stack, machine, "print(open('/etc/sophia/app.conf').read(), "
                                              "open('/etc/sophia/cert.pem').read())")
    assert code == 0 and output.split() == ["mode=local", "certificate"], output

    # What the service writes lands on the Docker volume.
    assert http("PUT", "http://%s:8080/data/k1" % serving(stack, machine), data=b"kept").status_code in (200, 201)
    code, output = in_machine(stack, machine, "import os; print(sorted(os.listdir('/data')))")
    assert "k1" in output, output

    checks = eventually(lambda: get_machine(fly, app, machine)["checks"],
                        lambda c: c and c[0]["status"] == "passing", deadline_seconds=20)
    assert checks[0]["name"] == "health" and "200" in checks[0]["output"]


def test_apps_of_one_org_reach_each_other_as_internal(fly, stack):
    server_app, client_app = new_app(fly), new_app(fly)
    server = launch(fly, server_app, standin())
    client = launch(fly, client_app, standin())
    serving(stack, server)
    code, output = in_machine(stack, client, (
        "import socket, urllib.request; print(socket.gethostbyname('%s.internal')); "
        "print(urllib.request.urlopen('http://%s.internal:8080/health', timeout=5).status)")
        % (server_app, server_app))
    assert code == 0, output
    assert output.split() == [org_ip(stack, server), "200"]
    code, output = in_machine(stack, client, "import socket; print(socket.gethostbyname('%s.vm.%s.internal'))"
                                             % (server["id"], server_app))
    assert code == 0 and output.strip() == org_ip(stack, server), output


@pytest.mark.fault("a machine whose check port never answers", checks="its check turns critical, not passing")
def test_check_goes_critical_when_the_port_never_answers(fly, stack):
    app = new_app(fly)
    config = standin(init={"exec": ["python3", "-c", "import time; time.sleep(600)"]},
                     checks={"alive": {"type": "tcp", "port": 8080, "interval": "1s", "timeout": "1s"},
                             "http": {"type": "http", "port": 8080, "path": "/health", "interval": "1s"}})
    machine = launch(fly, app, config)
    checks = eventually(lambda: get_machine(fly, app, machine)["checks"],
                        lambda c: all(check["output"] != "waiting for the first check" for check in c),
                        deadline_seconds=20)
    assert [check["status"] for check in checks] == ["critical", "critical"], checks
    assert get_machine(fly, app, machine)["state"] == "started"


@pytest.mark.fault("a machine of an image that does not exist locally",
                   checks="the machine ends failed with an event saying the image was not found, no container")
def test_missing_image_ends_failed(fly, stack):
    app = new_app(fly)
    image = "sophia-local/missing-%s:1" % uuid.uuid4().hex[:6]
    machine = launch(fly, app, standin(image=image), wait_for="failed")
    assert get_machine(fly, app, machine)["state"] == "failed"
    failure = [event for event in events(fly, app, machine) if event["status"] == "failed"]
    assert failure and "not found" in failure[0]["request"]["error"] and image in failure[0]["request"]["error"]
    assert container(stack, machine) is None


@pytest.mark.fault("a container that exits on its own (restart policy no, and on-failure with retries)",
                   checks="machine stopped with an exit event carrying the exit code; on-failure restarts as many "
                          "times as max_retries")
def test_container_that_exits_stops_the_machine(fly, stack):
    app = new_app(fly)
    exits = {"exec": ["python3", "-c", "import sys, time; time.sleep(0.3); sys.exit(3)"]}
    machine = launch(fly, app, standin(init=exits, restart={"policy": "no"}))
    eventually(lambda: get_machine(fly, app, machine)["state"], lambda s: s == "stopped", deadline_seconds=20)
    exit_events = [e for e in events(fly, app, machine) if e["type"] == "exit"]
    assert exit_events[0]["status"] == "stopped" and exit_events[0]["source"] == "flyd"
    assert exit_events[0]["request"]["exit_event"]["exit_code"] == 3

    retried = launch(fly, app, standin(init=exits, restart={"policy": "on-failure", "max_retries": 2}))
    eventually(lambda: get_machine(fly, app, retried)["state"], lambda s: s == "stopped", deadline_seconds=30)
    kinds = [e["type"] for e in events(fly, app, retried)]
    assert kinds.count("restart") == 2 and kinds.count("exit") == 3, kinds


def test_update_replaces_the_container_and_the_volume_keeps_its_data(fly, stack):
    app = new_app(fly)
    volume = ok(fly.api("POST", "/apps/%s/volumes" % app, json={"name": "data", "region": "iad"}))
    config = standin(mounts=[{"volume": volume["id"], "path": "/data"}])
    machine = launch(fly, app, config)
    before = container(stack, machine)["Id"]
    assert http("PUT", "http://%s:8080/data/note" % serving(stack, machine), data=b"survives").status_code < 300

    config["env"] = {"RELEASE": "2"}
    updated = ok(fly.api("POST", "/apps/%s/machines/%s" % (app, machine["id"]), json={"config": config}))
    assert updated["instance_id"] != machine["instance_id"]
    ok(fly.api("GET", "/apps/%s/machines/%s/wait" % (app, machine["id"]),
               params={"state": "started", "version": updated["instance_id"], "timeout": 30}))
    after = container(stack, machine)
    assert after["Id"] != before and after["Config"]["Labels"]["sophia.fly.instance"] == updated["instance_id"]
    assert "RELEASE=2" in after["Config"]["Env"]
    assert http("GET", "http://%s:8080/data/note" % serving(stack, machine)).content == b"survives"


def test_stop_start_suspend_destroy_act_on_the_container(fly, stack):
    app = new_app(fly)
    machine = launch(fly, app, standin(stop_config={"timeout": "3s", "signal": "SIGTERM"}))
    path = "/apps/%s/machines/%s" % (app, machine["id"])
    assert container(stack, machine)["Config"]["StopSignal"] == "SIGTERM"

    ok(fly.api("POST", path + "/stop"))
    assert not container(stack, machine)["State"]["Running"]
    assert get_machine(fly, app, machine)["state"] == "stopped"
    ok(fly.api("POST", path + "/start"))
    assert container(stack, machine)["State"]["Running"]
    ok(fly.api("POST", path + "/suspend"))
    assert container(stack, machine)["State"]["Paused"]
    ok(fly.api("POST", path + "/start"))
    state = container(stack, machine)["State"]
    assert state["Running"] and not state["Paused"]
    serving(stack, machine)
    ok(fly.api("POST", path + "/stop"))
    ok(fly.api("DELETE", path))
    assert container(stack, machine) is None
    assert get_machine(fly, app, machine)["state"] == "destroyed"


def test_snapshot_and_fork_carry_the_data(fly, stack, tmp_path):
    app = new_app(fly)
    volume = ok(fly.api("POST", "/apps/%s/volumes" % app, json={"name": "data", "region": "iad"}))
    machine = launch(fly, app, standin(mounts=[{"volume": volume["id"], "path": "/data"}]))
    assert http("PUT", "http://%s:8080/data/drill" % serving(stack, machine), data=b"restore-me").status_code < 300

    ok(fly.api("POST", "/apps/%s/volumes/%s/snapshots" % (app, volume["id"])))
    snapshot = ok(fly.api("GET", "/apps/%s/volumes/%s/snapshots" % (app, volume["id"])))[0]
    assert snapshot["size"] > 0
    restored = ok(fly.api("POST", "/apps/%s/volumes" % app, json={"name": "restored", "region": "iad",
                                                                  "snapshot_id": snapshot["id"]}))
    forked = ok(fly.api("POST", "/apps/%s/volumes" % app, json={"name": "forked", "region": "iad",
                                                                "source_volume_id": volume["id"]}))
    for copy in (restored, forked):
        reader = launch(fly, app, standin(mounts=[{"volume": copy["id"], "path": "/data"}]))
        assert http("GET", "http://%s:8080/data/drill" % serving(stack, reader)).content == b"restore-me", \
            copy["name"]

    # Every object made carries the stack's name and label (what remove_stack finds at the end).
    assert all(c["Names"][0].startswith("/%s-" % stack.stack) for c in stack.containers(sophia__fly__app=app))
    assert {"%s-v-%s" % (stack.stack, v["id"]) for v in (volume, restored, forked)} <= \
        {v["Name"] for v in stack.volumes(sophia__emulator="fly")}
    assert "%s-org-%s" % (stack.stack, ORG) in {n["Name"] for n in stack.networks()}


# --- the proxy ------------------------------------------------------------------------------------------------
def web_service(**extra):
    service = {"protocol": "tcp", "internal_port": 8080, "ports": [{"port": 80, "handlers": ["http"]}]}
    service.update(extra)
    return [service]


def public_address(fly, app):
    """What makes an app answer on the proxy's public side: a public IP of its own."""
    ok(fly.api("POST", "/apps/%s/ip_assignments" % app, json={"type": "shared_v4"}))


def proxy_address(fly, app, kind="public", port="80"):
    view = eventually(lambda: fly.control("GET", "proxy")["apps"].get(app, {}).get(kind, {}),
                      lambda entry: port in entry)
    return view[port]


def started_count(fly, app):
    return sum(1 for m in fly.machines_now(app) if m["state"] == "started")


def test_proxy_balances_over_the_started_machines(fly, stack):
    app = new_app(fly)
    for tag in ("A", "B"):
        launch(fly, app, standin(env={"WHO_" + tag: "1"}, services=web_service()))
    public_address(fly, app)
    address = proxy_address(fly, app)
    seen = set()
    for dummy in range(12):
        names = http("GET", "http://%s/env" % address, headers={"Connection": "close"}).json()["names"]
        seen.update(name for name in names if name.startswith("WHO_"))
    assert seen == {"WHO_A", "WHO_B"}


def test_proxy_autostarts_under_load_and_autostops_when_idle(fly, stack):
    app = new_app(fly)
    services = web_service(autostart=True, autostop="stop", min_machines_running=1,
                           concurrency={"type": "connections", "soft_limit": 2, "hard_limit": 25})
    # Each answer takes 300 ms, so that the load keeps connections in flight.
    config = standin(env={"SOPHIA_LATENCY_MS": "300"}, services=services)
    # Autostop held off while the machines are made: on a loaded machine three launches take longer than
    # its 2 s, and it would stop the first machine before the test does (leaving which one runs to chance).
    fly.settings(proxy_autostop_seconds=3600)
    try:
        machines = [launch(fly, app, config) for dummy in range(3)]
        for machine in machines[1:]:
            ok(fly.api("POST", "/apps/%s/machines/%s/stop" % (app, machine["id"])))
    finally:
        fly.settings(proxy_autostop_seconds=2)
    public_address(fly, app)
    address = proxy_address(fly, app)
    before = started_count(fly, app)

    statuses, started = [], time.monotonic()

    def worker():
        for dummy in range(4):
            try:
                statuses.append(http("GET", "http://%s/health" % address, headers={"Connection": "close"}).status_code)
            except requests.RequestException as error:
                statuses.append(repr(error))

    threads = [threading.Thread(target=worker) for dummy in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    during = started_count(fly, app)
    print("\nautostart: %d -> %d started machines, %d requests in %.1f s"
          % (before, during, len(statuses), time.monotonic() - started))
    assert before == 1 and during > 1
    assert statuses == [200] * 32, statuses
    starts = [e for m in machines[1:] for e in events(fly, app, m) if e["type"] == "start"]
    assert starts and all(e["source"] == "flyd" for e in starts)

    # proxy_autostop_seconds is 2 here: idle machines stop back to min_machines_running.
    idle_since = time.monotonic()
    eventually(lambda: started_count(fly, app), lambda count: count == 1, deadline_seconds=30)
    print("autostop: back to 1 started machine %.1f s after the load" % (time.monotonic() - idle_since))
    time.sleep(3)  # and not below the minimum, a period later
    assert started_count(fly, app) == 1


def test_flycast_address_answers_from_another_apps_machine(fly, stack):
    app, other = new_app(fly), new_app(fly)
    ok(fly.api("POST", "/apps/%s/ip_assignments" % app, json={"type": "private_v6"}))
    launch(fly, app, standin(services=web_service()))
    flycast = proxy_address(fly, app, kind="flycast")
    client = launch(fly, other, standin())
    code, output = in_machine(stack, client, (
        "import socket, urllib.request, json; print(socket.gethostbyname('%s.flycast')); "
        "print(urllib.request.urlopen('http://%s.flycast:80/health', timeout=10).status)") % (app, app))
    assert code == 0, output
    assert output.split() == [flycast.split(":")[0], "200"]
    # A private app (no public address) answers only there, never on the proxy's public side.
    assert fly.control("GET", "proxy")["apps"][app]["public"] == {}

    # Deleting the app takes its address off the bridge and its listeners away.
    ok(fly.api("DELETE", "/apps/%s" % app, params={"force": "true"}), 202)
    assert app not in fly.control("GET", "proxy")["apps"]
    bridge = "br-" + stack.call("GET", "/networks/%s-org-%s" % (stack.stack, ORG))[1]["Id"][:12]
    addresses = subprocess.run(["ip", "-o", "addr", "show", "dev", bridge], capture_output=True, text=True,
                               check=False).stdout
    assert flycast.split(":")[0] + "/32" not in addresses
    assert not stack.containers(sophia__fly__app=app)


def test_machine_output_is_published_on_nats_as_flys_log_stream(fly, stack):
    """The line a request produced reaches a subscriber of logs.> on the org network's NATS, in Fly's shape."""
    import json
    import socket

    app = new_app(fly)
    machine = launch(fly, app, standin(services=web_service()))
    address = serving(stack, machine)
    gateway = stack.call("GET", "/networks/%s-org-%s" % (stack.stack, ORG))[1]["IPAM"]["Config"][0]["Gateway"]
    with socket.create_connection((gateway, 4223), timeout=10) as nats:
        reader = nats.makefile("rb")
        reader.readline()  # INFO
        nats.sendall(b'CONNECT {"verbose":false}\r\nSUB logs.%s.> 1\r\nPING\r\n' % app.encode())
        assert reader.readline().strip() == b"PONG"
        request_id = "nats-" + uuid.uuid4().hex[:10]
        assert http("GET", "http://%s:8080/health" % address, headers={"X-Request-Id": request_id}).status_code == 200
        found = None
        for dummy in range(200):  # bounded: the socket's timeout ends a silent stream
            line = reader.readline()
            if line.startswith(b"MSG "):
                subject = line.split()[1].decode()
                record = json.loads(reader.read(int(line.split()[-1]) + 2)[:-2])
                if request_id in record["message"]:
                    found = subject, record
                    break
    assert found, "no log line with %s" % request_id
    subject, record = found
    assert subject == "logs.%s.%s.%s" % (app, machine["region"], machine["id"])
    assert record["fly"] == {"app": {"instance": machine["id"], "name": app}, "region": machine["region"]}
    assert record["log"]["level"] == "info" and record["timestamp"].endswith("Z")


def test_record_backend_stays_the_default(tmp_path):
    """Without --backend the emulator runs nothing: its proxy view is empty."""
    emulator = FlyEmulator(tmp_path)
    emulator.start()
    try:
        assert emulator.control("GET", "proxy") == {"apps": {}}
    finally:
        emulator.stop()
