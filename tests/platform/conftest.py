"""The platform as code, driven through ``ansible-playbook`` against the session emulators.

The ``platform`` fixture (an empty local environment: the session's emulators, loopback PostgreSQL and Redis, and
the environment that points ``inventories/local`` at them) lives in tests/support/platform.py, registered for the
whole suite by tests/conftest.py; its names are re-exported here for the tests of this folder.

``canary_runs`` is an environment of a test's own in which every secret is a canary: site.yml runs there at -vvvv as
an operator would see them, and ``CanaryRuns.scan`` then looks for the canaries in everything the runs left.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.support.ansible_cli import REPO_ROOT, ansible_env
from tests.support.emulators import FlyEmulator, LambdaEmulator, empty_lambda
from tests.support.platform import LOCAL_INVENTORY, SERVICES, LocalDatabases, Platform, PlayRun
from tests.support.secrets import Scanner, canary, local_vault_secret

__all__ = ["LOCAL_INVENTORY", "SERVICES", "LocalDatabases", "Platform", "PlayRun", "CanaryRuns"]

VAULT = REPO_ROOT / "vaults" / "local.yml"
LOCAL = REPO_ROOT / "inventories" / "local"
CALLBACKS = REPO_ROOT / "tests" / "support" / "callback_plugins"


class CanaryRuns:
    """site.yml at -vvvv on emulators and databases of the test's own, whose credentials are canaries, with a vault
    of canaries: the Fly token and the Lambda key (the emulators' credentials), the database passwords (with which
    the databases are started) and each service's app secrets. The screen is the default callback's, what an
    operator reads; each run's task results are also kept as JSON (tests/support/callback_plugins) for the test
    to judge. Every file a run writes is pointed into the test's directory, where ``scan`` looks."""

    def __init__(self, tmp_path, fly, lam, databases, values, vault_file):
        self.fly, self.lam, self.databases, self.values = fly, lam, databases, values
        self.artifacts, self.temps = tmp_path / "artifacts", tmp_path / "temp"
        home = tmp_path / "ansible-home"
        for directory in (self.artifacts / "ssh", self.artifacts / "backups", self.artifacts / "inventory-cache",
                          self.temps / "tmp", self.temps / "local", self.temps / "remote", home):
            directory.mkdir(parents=True)
        self.home = home

        # The whole local inventory, the fleet plugin included, its cache under the test's directory.
        self.inventory = tmp_path / "inventory"
        self.inventory.mkdir()
        (self.inventory / "hosts.yml").symlink_to(LOCAL / "hosts.yml")
        (self.inventory / "group_vars").symlink_to(LOCAL / "group_vars")
        fleet = yaml.safe_load((LOCAL / "fleet.yml").read_text())
        fleet.update(cache=True, cache_connection=str(self.artifacts / "inventory-cache"))
        (self.inventory / "fleet.yml").write_text(yaml.safe_dump(fleet))

        self.env = ansible_env(dict(
            databases.env,
            FLY_API_URL=fly.url, FLY_API_TOKEN=fly.token, LAMBDA_API_URL=lam.url, LAMBDA_API_KEY=lam.token,
            SOPHIA_BACKUP_DIR=str(self.artifacts / "backups"),
            TMPDIR=str(self.temps / "tmp"), ANSIBLE_LOCAL_TEMP=str(self.temps / "local"),
            ANSIBLE_REMOTE_TEMP=str(self.temps / "remote"), ANSIBLE_HOME=str(home),
            ANSIBLE_LOG_PATH=str(self.artifacts / "ansible.log"),
            # What an operator reads: the default callback, not the tests' JSON one; the results beside it.
            ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default",
            ANSIBLE_CALLBACK_PLUGINS=str(CALLBACKS), ANSIBLE_CALLBACKS_ENABLED="results_file"))
        self.env.pop("SOPHIA_FAULT_RECORDS", None)
        self.extra = ["-e", "@%s" % vault_file,
                      "-e", json.dumps({"lambda_ssh_key_dir": str(self.artifacts / "ssh"),
                                        "lambda_launch_interval": 0.1})]
        self.outputs = {}
        self.started = time.time()

    def canaries(self):
        values = self.values
        found = {"Fly API token": self.fly.token, "Lambda API key": self.lam.token,
                 "vault_postgres_password": values["vault_postgres_password"],
                 "vault_redis_password": values["vault_redis_password"]}
        found.update(("app secret %s" % name, value) for name, value in values["vault_sophia_secrets"].items())
        return found

    def command(self, label, argv):
        """A command of the ansible CLI in this environment; its output kept (under ``label``) for the scan."""
        proc = subprocess.run([str(Path(sys.executable).parent / argv[0])] + list(argv[1:]), cwd=REPO_ROOT,
                              env=self.env, capture_output=True, text=True, timeout=600, check=False)
        self.outputs[label] = proc
        return proc

    def site(self, label, *args):
        """site.yml at -vvvv: the process (its screen output) and its task results (a PlayRun)."""
        results = self.artifacts / ("%s.json" % label)
        self.env["SOPHIA_RESULTS_FILE"] = str(results)
        proc = self.command(label, ["ansible-playbook", "site.yml", "-i", str(self.inventory), "-vvvv"]
                            + self.extra + list(args))
        output = json.loads(results.read_text()) if results.exists() else {"raw": proc.stdout[-3000:]}
        return proc, PlayRun(proc.returncode, output, proc.stderr)

    def scan(self, more=None, skip=()):
        """Every canary (and ``more``) looked for in every output, file, log, cache and temporary file the runs
        left, in the emulators' logs and every answer they gave, and in the databases' logs, data and backups."""
        scan = Scanner(dict(self.canaries(), **(more or {})))
        for label, proc in self.outputs.items():
            scan.text("stdout of the %s run" % label, proc.stdout)
            scan.text("stderr of the %s run" % label, proc.stderr)
        scan.tree(self.artifacts, skip=set(skip))
        for directory in (self.temps, self.home):
            scan.tree(directory)
        for emulator in (self.fly, self.lam):
            scan.tree(emulator.data_dir)  # its log and every answer it gave
            scan.text("%s emulator request log" % emulator.name, json.dumps(emulator.requests_since(0)))
        scan.tree(self.databases.state_dir)  # the databases' logs and data, the backups
        # Nothing the runs wrote in the checkout (they were pointed elsewhere; a default path would land here).
        cache = REPO_ROOT / ".cache"
        for path in cache.rglob("*") if cache.exists() else ():
            try:
                fresh = path.is_file() and not path.is_symlink() and path.stat().st_mtime >= self.started
            except OSError:
                continue
            if fresh:
                scan.tree(path)
        return scan


@pytest.fixture
def canary_runs(tmp_path):
    """A ``CanaryRuns`` on emulators and databases started for the test, stopped after it."""
    secret = local_vault_secret()
    from ansible.parsing.vault import VaultLib

    vault = VaultLib(secret)
    plain = yaml.safe_load(vault.decrypt(VAULT.read_bytes()))
    values = {
        "vault_postgres_password": canary("postgres-password"),
        "vault_redis_password": canary("redis-password"),
        "vault_sophia_secrets": {name: canary("secret-" + name.lower().replace("_", "-"))
                                 for name in plain["vault_sophia_secrets"]},
    }
    assert set(values) == set(plain), "a new vault value needs its canary here: %s" % sorted(set(plain) - set(values))
    vault_file = tmp_path / "canary-vault.yml"
    vault_file.write_bytes(vault.encrypt(yaml.safe_dump(values), secret=secret[0][1], vault_id="local"))

    fly, lam = FlyEmulator(tmp_path / "fly"), LambdaEmulator(tmp_path / "lambda")
    fly.token, lam.token = canary("fly-token"), canary("lambda-key")
    databases = LocalDatabases()
    databases.env["SOPHIA_LOCAL_VAULT"] = str(vault_file)
    started = []
    try:
        for part in (fly, lam, databases):
            part.start()
            started.append(part)
        fly.settings(transition_seconds=0.05)
        empty_lambda(lam)
        yield CanaryRuns(tmp_path, fly, lam, databases, values, vault_file)
    finally:
        for part in reversed(started):
            part.stop()
