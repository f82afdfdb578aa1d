"""An empty local environment for playbook runs: the session's emulators, loopback PostgreSQL and Redis, and the
environment variables that point ``inventories/local`` at them.

Registered for the whole suite as a plugin by tests/conftest.py (the ``local_databases`` and ``platform``
fixtures), so that the platform tests (tests/platform) and the AWX job templates' runs (tests/awx) stand on the
same environment. Every run uses ``inventories/local/hosts.yml`` (its group_vars and the local vault come with it)
and points the API endpoints at this session's emulators through the environment, the way an operator points an
inventory elsewhere; the fleet plugin's cache is left out so that two runs never share it.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from emulators.stack import free_port
from tests.support.ansible_cli import REPO_ROOT, playbook_stats, run_playbook
from tests.support.emulators import empty_lambda

LOCAL_INVENTORY = REPO_ROOT / "inventories" / "local" / "hosts.yml"
SERVICES = ["weaviate", "mcp_server", "vector_store", "unified_api", "agno_bridge", "agent_ui"]


class Platform:
    """One local environment: the emulators and the environment variables that point at them."""

    def __init__(self, fly, lam, databases=None):
        self.fly = fly
        self.lam = lam
        self.databases = databases
        self.env = {
            "FLY_API_URL": fly.url, "FLY_API_TOKEN": fly.token,
            "LAMBDA_API_URL": lam.url, "LAMBDA_API_KEY": lam.token,
        }
        if databases:
            self.env.update(databases.env)

    def app(self, service):
        return "sophia-local-" + service.replace("_", "-")

    def play(self, playbook, *, check=False, diff=False, extra_vars=None, limit=None, timeout=900):
        """Run a playbook of the project; returns a PlayRun."""
        vars_ = dict(extra_vars or {})
        env = dict(self.env)
        # --limit itself: Ansible has no environment variable for it.
        rc, output, stderr = run_playbook(REPO_ROOT / playbook, inventory=LOCAL_INVENTORY, extra_vars=vars_ or None,
                                          check=check, diff=diff, env=env, timeout=timeout, limit=limit)
        return PlayRun(rc, output, stderr)


class PlayRun:
    def __init__(self, rc, output, stderr):
        self.rc = rc
        self.output = output
        self.stderr = stderr
        self.stats = playbook_stats(output)

    @property
    def changed(self):
        return sum(host.get("changed", 0) for host in self.stats.values())

    @property
    def failed(self):
        return sum(host.get("failures", 0) + host.get("unreachable", 0) for host in self.stats.values())

    def results(self, task_name=None, host=None):
        """(host, task name, result) for every task result, optionally of one task or host."""
        for play in self.output.get("plays", []):
            for task in play.get("tasks", []):
                # A role's tasks are named "<role> : <task>".
                name = task["task"]["name"].split(" : ")[-1]
                if task_name and name != task_name:
                    continue
                for host_name, result in task.get("hosts", {}).items():
                    if host and host_name != host:
                        continue
                    yield host_name, name, result

    def explain(self):
        failed = [(h, n, r.get("msg")) for h, n, r in self.results() if r.get("failed")]
        return "rc=%s stats=%s failed=%s\nstderr:\n%s\nraw:\n%s" % (
            self.rc, self.stats, failed[:10], self.stderr[-3000:], str(self.output.get("raw", ""))[-3000:])


class LocalDatabases:
    """The loopback PostgreSQL and Redis of the local stack (emulators/stack.py), on free ports and a state directory
    of their own, with the local vault's passwords (the preflight of every run checks them)."""

    def __init__(self):
        # Not under pytest's 0700 temp root: as root, PostgreSQL runs as the postgres user, who must reach it.
        self.state_dir = tempfile.mkdtemp(prefix="sophia-db-")
        os.chmod(self.state_dir, 0o755)
        self.postgres_port, self.redis_port = free_port(), free_port()
        self.env = {"SOPHIA_POSTGRES_HOST": "127.0.0.1", "SOPHIA_POSTGRES_PORT": str(self.postgres_port),
                    "SOPHIA_REDIS_HOST": "127.0.0.1", "SOPHIA_REDIS_PORT": str(self.redis_port),
                    # Database dumps of the runs stay with this session, out of the checkout.
                    "SOPHIA_BACKUP_DIR": os.path.join(self.state_dir, "backups")}

    def script(self, command):
        env = dict(os.environ, SOPHIA_EMULATOR_DIR=self.state_dir, SOPHIA_LOCAL_BACKEND="record", **self.env)
        return subprocess.run([sys.executable, "-m", "emulators.stack", command, "postgres", "redis"],
                              cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)

    def start(self):
        done = self.script("start")
        if done.returncode:
            self.stop()
            raise RuntimeError("local databases did not start:\n%s%s" % (done.stdout, done.stderr))
        return self

    def stop(self):
        self.script("stop")
        shutil.rmtree(self.state_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def local_databases():
    databases = LocalDatabases().start()
    yield databases
    databases.stop()


@pytest.fixture
def platform(fly_api, lambda_api, local_databases):
    """An empty local environment on this session's emulators and databases."""
    return Platform(fly_api, lambda_api, local_databases)


CONVERGED = "converged"


@pytest.fixture(scope="session")
def converged_site(fly_emulator, lambda_emulator, local_databases, tmp_path_factory, worker_id):
    """site.yml from empty, once per session: the first worker that needs it converges its own emulators and
    leaves what the run made for the others (both emulators' records, the database dump it kept, the run
    itself for tests/platform/test_site.py, which judges it), which take it in milliseconds. Either way the
    records end up saved on this worker's emulators for ``converged_platform``."""
    # Under xdist every worker's temporary root sits in the session's one.
    root = tmp_path_factory.getbasetemp() if worker_id == "master" else tmp_path_factory.getbasetemp().parent
    shared = root / "converged-site"
    backups = Path(local_databases.env["SOPHIA_BACKUP_DIR"])
    with open(root / "converged-site.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a worker that comes while another converges waits for its records
        if (shared / "run.json").exists():
            fly_emulator.import_state(CONVERGED, json.loads((shared / "fly.json").read_text()))
            lambda_emulator.import_state(CONVERGED, json.loads((shared / "lambda.json").read_text()))
            # The next run's backup step finds the dump it would keep already kept (the same empty database).
            shutil.copytree(shared / "backups", backups, dirs_exist_ok=True)
            return PlayRun(**json.loads((shared / "run.json").read_text()))
        run = converge_from_empty(fly_emulator, lambda_emulator, local_databases)
        shared.mkdir()
        (shared / "fly.json").write_text(json.dumps(fly_emulator.export_state(CONVERGED)))
        (shared / "lambda.json").write_text(json.dumps(lambda_emulator.export_state(CONVERGED)))
        shutil.copytree(backups, shared / "backups")
        (shared / "run.json").write_text(json.dumps({"rc": run.rc, "output": run.output, "stderr": run.stderr}))
        return run


def converge_from_empty(fly_emulator, lambda_emulator, local_databases):
    """site.yml on emptied emulators, its records then saved on both as CONVERGED."""
    fly_emulator.reset()
    empty_lambda(lambda_emulator)
    # The machines' clock fast while converging, then back to what every test starts with.
    usual = fly_emulator.control("GET", "settings")["transition_seconds"]
    fly_emulator.settings(transition_seconds=0.05)
    run = Platform(fly_emulator, lambda_emulator, local_databases).play("site.yml")
    assert run.rc == 0, run.explain()
    fly_emulator.settings(transition_seconds=usual)
    fly_emulator.save_state(CONVERGED)
    lambda_emulator.save_state(CONVERGED)
    return run


@pytest.fixture
def converged_platform(platform, converged_site):
    """The whole platform as site.yml leaves it, put back on the emulators in milliseconds for each test
    that starts from it, instead of converged again. The loopback PostgreSQL and Redis are not put back: they
    are the session's (``local_databases``), which site.yml only checks and no test writes to (the
    backup tests, which need data in a database, start a PostgreSQL of their own: tests/platform/test_backups.py)."""
    platform.fly.restore_state(CONVERGED)
    platform.lam.restore_state(CONVERGED)
    return platform
