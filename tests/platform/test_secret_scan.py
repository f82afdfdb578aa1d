"""No secret left behind: canary values for every kind of secret go through the whole platform, and
nothing the runs leave (output, logs, artifacts, the inventory cache, temporary files, the emulators'
logs) holds any of them, plain or base64-encoded.

The canaries: the Fly token and the Lambda key (this test's own emulators take them as their
credentials), every vault value (the database passwords, with which this test's own PostgreSQL and
Redis are started, and each service's app secrets), and the SSH key pair the GPU pool generates. Three
runs of site.yml at -vvvv: --check --diff on the empty environment, a run that fails in the deploy
phase (the Fly secrets endpoint refuses every write), and the full run. Then the fleet inventory is
listed with its cache on, and each Lambda instance's Jupyter token joins the canaries for the listing
and the cache (instance credentials stay out of hostvars unless asked for)."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.platform.conftest import LocalDatabases
from tests.support.ansible_cli import REPO_ROOT, ansible_env
from tests.support.emulators import FlyEmulator, LambdaEmulator, empty_lambda
from tests.support.secrets import Scanner, canary, local_vault_secret, private_key_lines

VAULT = REPO_ROOT / "vaults" / "local.yml"
LOCAL = REPO_ROOT / "inventories" / "local"


@pytest.fixture
def canary_env(tmp_path):
    """Emulators and databases of this test's own, whose credentials are canaries, and the canary vault."""
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
        yield {"fly": fly, "lambda": lam, "databases": databases, "vault_file": vault_file, "values": values}
    finally:
        for part in reversed(started):
            part.stop()


def canaries_of(env):
    values = env["values"]
    found = {"Fly API token": env["fly"].token, "Lambda API key": env["lambda"].token,
             "vault_postgres_password": values["vault_postgres_password"],
             "vault_redis_password": values["vault_redis_password"]}
    found.update(("app secret %s" % name, value) for name, value in values["vault_sophia_secrets"].items())
    return found


@pytest.mark.slow
@pytest.mark.fault("canaries for every secret through site.yml at -vvvv: --check --diff, a run failing in deploy, "
                   "a full run; then the fleet inventory listed with its cache",
                   checks="no canary, nor its base64, in any output, log, artifact, cache, temp file or emulator "
                          "log; nor Jupyter tokens in the listing or cache", area="Secrets")
def test_no_secret_is_left_anywhere(canary_env, tmp_path):
    fly, lam, databases = canary_env["fly"], canary_env["lambda"], canary_env["databases"]
    artifacts, temps, home = tmp_path / "artifacts", tmp_path / "temp", tmp_path / "ansible-home"
    for directory in (artifacts / "ssh", artifacts / "backups", artifacts / "inventory-cache",
                      temps / "tmp", temps / "local", temps / "remote", home):
        directory.mkdir(parents=True)

    # The whole local inventory, the fleet plugin included, its cache under this test's directory.
    inventory = tmp_path / "inventory"
    inventory.mkdir()
    (inventory / "hosts.yml").symlink_to(LOCAL / "hosts.yml")
    (inventory / "group_vars").symlink_to(LOCAL / "group_vars")
    fleet = yaml.safe_load((LOCAL / "fleet.yml").read_text())
    fleet.update(cache=True, cache_connection=str(artifacts / "inventory-cache"))
    (inventory / "fleet.yml").write_text(yaml.safe_dump(fleet))

    env = ansible_env(dict(
        databases.env,
        FLY_API_URL=fly.url, FLY_API_TOKEN=fly.token, LAMBDA_API_URL=lam.url, LAMBDA_API_KEY=lam.token,
        SOPHIA_BACKUP_DIR=str(artifacts / "backups"),
        TMPDIR=str(temps / "tmp"), ANSIBLE_LOCAL_TEMP=str(temps / "local"), ANSIBLE_REMOTE_TEMP=str(temps / "remote"),
        ANSIBLE_HOME=str(home), ANSIBLE_LOG_PATH=str(artifacts / "ansible.log"),
        # What an operator reads: the default callback, not the tests' JSON one.
        ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default"))
    env.pop("SOPHIA_FAULT_RECORDS", None)
    extra = ["-e", "@%s" % canary_env["vault_file"],
             "-e", json.dumps({"lambda_ssh_key_dir": str(artifacts / "ssh"), "lambda_launch_interval": 0.1})]
    bin_dir = Path(sys.executable).parent
    outputs = {}

    def run(label, *args):
        proc = subprocess.run([str(bin_dir / "ansible-playbook"), "site.yml", "-i", str(inventory), "-vvvv"]
                              + extra + list(args), cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                              timeout=600, check=False)
        outputs[label] = proc
        (artifacts / ("%s.out" % label)).write_text(proc.stdout + "\n--- stderr ---\n" + proc.stderr)
        return proc

    started = time.time()
    checked = run("check", "--check", "--diff")
    assert checked.returncode == 0, checked.stdout[-3000:] + checked.stderr[-3000:]

    fly.add_fault(status=422, count=1000, method="POST", path_regex=r"/secrets$")
    try:
        failed = run("failing")
    finally:
        fly.clear_faults()
    assert failed.returncode != 0
    # It failed where the secrets are written, on the injected answer.
    assert "FAILED!" in failed.stdout and "injected fault" in failed.stdout, failed.stdout[-3000:]
    assert "App secrets are set" in failed.stdout

    full = run("full")
    assert full.returncode == 0, full.stdout[-3000:] + full.stderr[-3000:]
    # The canaries are what the platform runs on (the databases took theirs, or the preflight had failed).
    jwt = canary_env["values"]["vault_sophia_secrets"]["JWT_SECRET"]
    deployed = fly.api("GET", "/apps/sophia-local-unified-api/secrets").json()["secrets"]
    assert {"JWT_SECRET": hashlib.sha256(jwt.encode()).hexdigest()[:16]}.items() <= {
        s["name"]: s["digest"] for s in deployed}.items()
    assert lam.api("GET", "/instances").json()["data"], "the GPU pool was not made: its key never tried"

    listed = subprocess.run([str(bin_dir / "ansible-inventory"), "-i", str(inventory / "fleet.yml"), "--list",
                             "-vvvv"], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300,
                            check=False)
    assert listed.returncode == 0, listed.stderr[-3000:]
    assert list((artifacts / "inventory-cache").iterdir()), "the fleet inventory wrote no cache"

    # The canaries, and the SSH key pair the pool generated: every line of its private key's body.
    canaries = canaries_of(canary_env)
    [key] = [p for p in (artifacts / "ssh").iterdir() if not p.name.endswith((".pub", ".previous"))]
    body = private_key_lines(key.read_text())
    assert body, "no private key was generated"
    canaries.update(("generated SSH private key, line %d" % n, line) for n, line in body)
    scan = Scanner(canaries)
    for label, proc in outputs.items():
        scan.text("stdout of the %s run" % label, proc.stdout)
        scan.text("stderr of the %s run" % label, proc.stderr)
    scan.text("ansible-inventory --list output", listed.stdout + listed.stderr)
    private_keys = {p for p in (artifacts / "ssh").iterdir() if not p.name.endswith(".pub")}
    scan.tree(artifacts, skip=private_keys | {artifacts / ("%s.out" % label) for label in outputs})
    for directory in (temps, home):
        scan.tree(directory)
    for emulator in (fly, lam):
        scan.tree(emulator.data_dir)  # its log and every answer it gave
        scan.text("%s emulator request log" % emulator.name, json.dumps(emulator.requests_since(0)))
    scan.tree(databases.state_dir)  # the databases' logs and data, the backups
    # Nothing the runs wrote in the checkout (they were pointed elsewhere; a default path would land here).
    for path in (REPO_ROOT / ".cache").rglob("*") if (REPO_ROOT / ".cache").exists() else ():
        try:
            fresh = path.is_file() and not path.is_symlink() and path.stat().st_mtime >= started
        except OSError:
            continue
        if fresh:
            scan.tree(path)

    # Instance credentials: never in the listing or the cache unless asked for.
    tokens = {"Jupyter token of %s" % i["name"]: i["jupyter_token"] for i in lam.api("GET", "/instances").json()["data"]
              if i.get("jupyter_token")}
    assert tokens
    credentials = Scanner(tokens)
    credentials.text("ansible-inventory --list output", listed.stdout)
    credentials.tree(artifacts / "inventory-cache")

    assert scan.scanned > 20
    assert not scan.found + credentials.found, "secrets left behind:\n" + "\n".join(scan.found + credentials.found)


def test_the_scanner_finds_a_canary_however_it_is_encoded(tmp_path):
    value = canary("probe")
    scan = Scanner({"probe": value})
    for shift in range(3):
        wrapped = ("x" * shift + "user:" + value + ":tail").encode()
        scan.text("standard %d" % shift, b"Authorization: Basic " + base64.b64encode(wrapped))
        scan.text("url-safe %d" % shift, base64.urlsafe_b64encode(b"\xfb\xff" + wrapped))
    (tmp_path / "deep" / "er").mkdir(parents=True)
    (tmp_path / "deep" / "er" / "left.json").write_text(json.dumps({"password": value}))
    (tmp_path / "deep" / "state.sqlite3").write_text(value)  # an emulator's own state: not a leak
    scan.tree(tmp_path)
    scan.text("clean", "nothing here but " + value[:-1])
    assert sorted(scan.found) == sorted(["standard %d holds probe" % n for n in range(3)]
                                        + ["url-safe %d holds probe" % n for n in range(3)]
                                        + ["%s holds probe" % (tmp_path / "deep" / "er" / "left.json")])


def test_the_canaries_of_a_private_key_are_its_own_lines_only():
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    def new_key():
        return Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()).decode()

    one, two = new_key(), new_key()
    assert one.splitlines()[1] == two.splitlines()[1]  # the format's header: every such key holds it
    lines = private_key_lines(one)
    assert [number for number, _line in lines] == list(range(2, len(one.splitlines()) - 1))
    scan = Scanner(dict(("line %d" % number, line) for number, line in lines))
    scan.text("another key", two)
    scan.text("the key itself", one)
    assert scan.found == ["the key itself holds line %d" % number for number, _line in lines]
