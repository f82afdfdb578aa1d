"""scripts/local-emulators on a shared machine: a port someone else holds is refused by name, a port of 0
takes a free one and says which, and a start only succeeds when the server answering is the one it started.

Every run has a state directory of its own (SOPHIA_EMULATOR_DIR) and is stopped at the end, so nothing
here touches .cache/emulators or the session's emulators."""

from __future__ import annotations

import http.server
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from tests.support.ansible_cli import REPO_ROOT

SCRIPT = str(REPO_ROOT / "scripts" / "local-emulators")
VARIABLES = {"fly": "FLY_EMULATOR_PORT", "lambda": "LAMBDA_EMULATOR_PORT", "postgres": "SOPHIA_POSTGRES_PORT",
             "redis": "SOPHIA_REDIS_PORT"}


class Local:
    """The script with a state directory of its own."""

    def __init__(self, state_dir, **env):
        self.state_dir = Path(state_dir)
        self.env = dict(os.environ, SOPHIA_EMULATOR_DIR=str(state_dir), PYTHON=sys.executable, **env)

    def run(self, *args, **env):
        return subprocess.run([SCRIPT] + list(args), cwd=REPO_ROOT, env=dict(self.env, **env), capture_output=True,
                              text=True, timeout=120, check=False)

    def pid(self, name):
        path = self.state_dir / ("%s.pid" % name)
        return int(path.read_text()) if path.exists() else None


@pytest.fixture
def local(tmp_path):
    local = Local(tmp_path / "state")
    yield local
    local.run("stop", "fly", "lambda")


class Health(http.server.BaseHTTPRequestHandler):
    """Another program's server that answers every GET with 200, health checks included."""

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"status": "ok"}')

    def log_message(self, *args):
        pass


@pytest.fixture
def stranger():
    """A server of someone else's on a free loopback port (another checkout's emulator, say)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Health)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def gone(pid, seconds=10):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.1)
    return False


@pytest.mark.fault("start with another program's server on the port, answering health checks",
                   checks="exit non-zero naming the port and the variable to change; nothing started")
@pytest.mark.parametrize("name", ["fly", "lambda", "redis", "postgres"])
def test_a_port_another_process_holds_is_refused_naming_the_variable(local, stranger, name):
    if name == "postgres" and not list(Path("/usr/lib/postgresql").glob("*/bin")):
        pytest.skip("PostgreSQL is not installed (scripts/system-packages)")
    done = local.run("start", name, **{VARIABLES[name]: str(stranger)})
    assert done.returncode != 0, done.stdout + done.stderr
    message = done.stderr
    assert "port %d" % stranger in message and VARIABLES[name] in message, message
    assert "already taken" in message and "pid %d" % os.getpid() in message, message
    assert local.pid(name) is None and not (local.state_dir / ("%s.port" % name)).exists()
    assert "running" not in local.run("status", name).stdout.split(":", 1)[1]


WRAPPER = """#!/usr/bin/env bash
# Stands in for Python: an emulator that dies at start-up, while a stranger's server takes its port.
if [ "$1" = -m ]; then
  while [ "$1" != --port ]; do shift; done
  "{python}" -c '
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.end_headers(); self.wfile.write(b"{{}}")
    def log_message(self, *args):
        pass
server = http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H)
open(sys.argv[2], "w").write("ready")
server.serve_forever()
' "$2" "{ready}" </dev/null >/dev/null 2>&1 &
  echo $! >"{stranger_pid}"
  for _ in $(seq 1 100); do [ -f "{ready}" ] && break; sleep 0.1; done
  exit 1
fi
exec "{python}" "$@"
"""


@pytest.mark.fault("the started emulator dies while a stranger's server takes its port and answers health checks",
                   checks="start fails saying the emulator exited; no pid or port file left claiming it")
def test_a_health_answer_from_a_process_not_ours_is_no_start(local, tmp_path):
    wrapper, stranger_pid, ready = tmp_path / "python", tmp_path / "stranger.pid", tmp_path / "ready"
    wrapper.write_text(WRAPPER.format(python=sys.executable, stranger_pid=stranger_pid, ready=ready))
    wrapper.chmod(0o755)
    try:
        done = local.run("start", "fly", PYTHON=str(wrapper), FLY_EMULATOR_PORT="0")
        assert ready.exists(), done.stderr  # the stranger did answer on the port
        assert done.returncode != 0, done.stdout + done.stderr
        assert "fly emulator" in done.stderr and "exited during start-up" in done.stderr, done.stderr
        assert local.pid("fly") is None and not (local.state_dir / "fly.port").exists()
    finally:
        if stranger_pid.exists():
            pid = int(stranger_pid.read_text())
            os.kill(pid, 15)
            assert gone(pid)


def test_port_zero_takes_free_ports_writes_them_and_stop_cleans_up(local):
    started = local.run("start", "fly", "lambda", FLY_EMULATOR_PORT="0", LAMBDA_EMULATOR_PORT="0")
    assert started.returncode == 0, started.stdout + started.stderr
    ports = {name: int((local.state_dir / ("%s.port" % name)).read_text()) for name in ("fly", "lambda")}
    pids = {name: local.pid(name) for name in ("fly", "lambda")}
    assert ports["fly"] != ports["lambda"] and all(alive(pid) for pid in pids.values())
    for name, port in ports.items():
        assert "127.0.0.1:%d" % port in started.stdout
        assert requests.get("http://127.0.0.1:%d/_emulator/health" % port, timeout=5).ok

    env = local.run("env", "fly", "lambda").stdout
    assert "FLY_API_URL=http://127.0.0.1:%d/v1" % ports["fly"] in env
    assert "LAMBDA_API_URL=http://127.0.0.1:%d/api/v1" % ports["lambda"] in env

    # A second start finds them running and leaves them be.
    again = local.run("start", "fly", "lambda", FLY_EMULATOR_PORT="0", LAMBDA_EMULATOR_PORT="0")
    assert again.returncode == 0 and again.stdout.count("already running") == 2, again.stdout + again.stderr
    assert {name: local.pid(name) for name in ("fly", "lambda")} == pids

    stopped = local.run("stop", "fly", "lambda")
    assert stopped.returncode == 0, stopped.stderr
    assert all(gone(pid) for pid in pids.values())
    assert sorted(p.name for p in local.state_dir.glob("*.p*")) == []  # no pid or port file left
    for port in ports.values():
        with socket.socket() as sock:
            assert sock.connect_ex(("127.0.0.1", port)) != 0
