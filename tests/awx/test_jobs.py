"""The AWX job templates of awx/, run the way AWX runs a job (tests/support/awx.py: a private data directory per
job, ansible_runner.run with AWX's parameters, credentials injected from our credential types' definitions)
against this session's emulators and loopback databases, on one environment from empty to torn down:

from empty, the workflow's nodes in its order (phases 1-4, then a clean drift check); site.yml, which finds nothing
to do; a drift made out of band, which the drift check (at -vvvv) reports and fails on and the drift fix corrects;
the GPU node bootstrap (the record-only emulator's nodes are left alone, and the job still succeeds). And, side by
side with that on another worker, from the platform site.yml converged (``converged_platform``): a scale within the
survey's range; a rollback; a secret rotation; a teardown refused without the environment's name, then done.
Each job's inventory is what the inventory source's sync stored at its launch, as AWX hands it over: the GPU
nodes play must take a pool the same job launched from Lambda itself.

Every credential value is a canary (the emulators' token and key, a vault password the local vault is encrypted
with for the test, the GPU pool's private key) and none may appear in anything a job leaves: its output, events,
artifacts, env/, caches, temporary files; nor in what the syncs stored, which holds none of the vault's values
either. Two tests, because within each every step stands on the one before."""

from __future__ import annotations

import json
import os
import re
import time

import pytest
import requests
import yaml

from tests.support import awx
from tests.support.ansible_cli import REPO_ROOT
from tests.support.platform import SERVICES
from tests.support.secrets import Scanner, canary, local_vault_secret, private_key_lines

IMAGE_A = "registry.fly.io/sophia-unified-api:1.0.0"
IMAGE_B = "registry.fly.io/sophia-unified-api:1.1.0"
NOT_HERE = "not bootstrapped here (lambda_bootstrap_nodes is false)"
VAULT = REPO_ROOT / "vaults" / "local.yml"


def canary_vault():
    """The local vault's values encrypted again under its id with a canary password: only the vault
    credential's answer to AWX's prompt opens it (the committed password ansible.cfg gives does not)."""
    from ansible.parsing.vault import VaultLib, VaultSecret

    plain = VaultLib(local_vault_secret()).decrypt(VAULT.read_bytes())
    password = canary("vault-password")
    encrypted = VaultLib().encrypt(plain, secret=VaultSecret(password.encode()), vault_id="local")
    with pytest.raises(Exception):
        VaultLib(local_vault_secret()).decrypt(encrypted)
    return password, encrypted


def canary_ssh_key():
    """A new ed25519 pair's private key, as an operator pastes it in AWX (no trailing newline)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return Ed25519PrivateKey.generate().private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                                      serialization.NoEncryption()).decode().strip()


def scan_job(scan, job, credentials_env):
    """Everything the job left, and what ansible-runner handed back, against the canaries."""
    scan.text("%s: events" % job.name, json.dumps(job.events))
    scan.text("%s: stdout" % job.name, job.stdout)
    command = job.artifacts / "command"
    recorded = json.loads(command.read_text())
    # ansible-runner records the process environment it started the job with, the injected credentials with it
    # (that is what injecting them means); AWX keeps only a masked copy (job_env) and removes the directory.
    # Everything else of that file is scanned.
    assert {k: recorded["env"].get(k) for k in credentials_env} == credentials_env, job.name
    scan.text("%s: %s (command, cwd)" % (job.name, command), json.dumps([recorded["command"], recorded["cwd"]]))
    scan.tree(job.private_data_dir, skip=set(job.credential_files) | {command})


class AwxRuns:
    """Job templates run as AWX runs them on this test's platform, with canaries for every credential; each job's
    leavings scanned as it ends, the inventory syncs' in ``finish``."""

    def __init__(self, platform, tmp_path, monkeypatch):
        self.started = time.monotonic()
        # Only what AWX gives a job reaches it: nothing of this process's Ansible settings or credentials.
        for name in list(os.environ):
            if name.startswith(("ANSIBLE_", "SOPHIA_", "FLY_", "LAMBDA_", "CONTROLLER_")):
                monkeypatch.delenv(name)
        self.plan = awx.render_plan("local", tmp_path / "plan.json")
        fly, lam = platform.fly, platform.lam
        # Machines change state quickly (the next test's reset puts the setting back).
        fly.settings(transition_seconds=0.05)
        vault_password, vault_file = canary_vault()
        self.ssh_key = canary_ssh_key()
        self.jobs = awx.AwxJobs(
            self.plan, tmp_path,
            credential_inputs={
                "Sophia Fly.io API token": {"fly_api_token": fly.token},
                "Sophia Lambda Cloud API key": {"lambda_api_key": lam.token},
                "Sophia GPU pool SSH key": {"ssh_private_key": self.ssh_key},
                "Sophia fleet inventory": {"fly_api_token": fly.token, "lambda_api_key": lam.token},
                "Vault": {"vault_password": vault_password},
            },
            # AWX's "extra environment variables": where the emulators and databases answer. Nothing secret.
            task_env=dict(platform.databases.env, FLY_API_URL=fly.url, LAMBDA_API_URL=lam.url),
            project_overrides={"vaults/local.yml": vault_file})
        self.credentials_env = {"FLY_API_TOKEN": fly.token, "LAMBDA_API_KEY": lam.token}
        self.canaries = {"Fly API token": fly.token, "Lambda API key": lam.token, "vault password": vault_password}
        self.canaries.update(("GPU pool private key, line %d" % n, line) for n, line in private_key_lines(self.ssh_key))
        self.scan = Scanner(self.canaries)
        self.took = []

    def run(self, suffix, expect="successful", **launch):
        begun = time.monotonic()
        job = self.jobs.run(self.jobs.template(suffix), **launch)
        self.took.append((job.name, job.status, round(time.monotonic() - begun)))
        assert job.status == expect, job.explain()
        assert (job.rc == 0) is (expect == "successful"), job.explain()
        # The vault opened with the prompt AWX answers, the collection resolved in the copy of the project.
        assert "--vault-id local@prompt" in job.cmdline
        assert (job.private_data_dir / "project" / "collections" / "ansible_collections" / "sophia" / "ops").resolve() \
            == (job.private_data_dir / "project").resolve()
        scan_job(self.scan, job, self.credentials_env)
        return job

    def finish(self):
        """What AWX keeps of the inventory, every sync's output: no credential, and none of the vault's values
        (the vault is the plays' to open, in the job; the syncs had no password for it)."""
        for sync_dir, done in self.jobs.syncs:
            self.scan.text("inventory sync %s: output" % sync_dir.name, done.stdout + done.stderr)
            self.scan.tree(sync_dir)
        stored = [inventory for _when, inventory in self.jobs.stored.values()]
        assert not [name for name in awx.keys_of(stored) if name.startswith("vault_")]
        assert not [value for value in vault_values() if value in json.dumps(stored)]
        summary = "\n".join("%4ds  %-10s %s" % (seconds, status, name) for name, status, seconds in self.took)
        print("\nAWX jobs (%d s in all):\n%s" % (time.monotonic() - self.started, summary))
        assert self.scan.scanned > 10 * len(self.took)
        assert not self.scan.found, "credentials left behind:\n" + "\n".join(self.scan.found)


@pytest.mark.slow
def test_the_workflow_from_empty_then_site_drift_and_the_gpu_bootstrap(platform, tmp_path, monkeypatch):
    awx_runs = AwxRuns(platform, tmp_path, monkeypatch)
    jobs, run, fly, lam = awx_runs.jobs, awx_runs.run, platform.fly, platform.lam

    # The workflow's nodes in the workflow's own order, from an empty environment.
    [workflow] = awx_runs.plan["workflow_job_templates"]
    ran = jobs.workflow(workflow["name"], lambda template: run(template["name"].split(": ", 1)[1]))
    phases = ["playbooks/prepare.yml", "playbooks/deploy.yml", "playbooks/advanced.yml", "playbooks/harden.yml"]
    assert [job.template["playbook"] for job in ran] == phases + ["playbooks/drift.yml"]
    for service in SERVICES:
        assert fly.machines_now(platform.app(service)), service
    assert len(fly.machines_now(platform.app("unified_api"))) == 4
    # Every job began with a sync. Phase 3's copy is from before its pool existed, and reading it again in the job
    # reads the same copy: the GPU nodes play took the new instance from Lambda's listing. The next job's has it.
    instances = lam.api("GET", "/instances").json()["data"]
    assert len(instances) == 1
    assert len(jobs.syncs) == len(ran)
    assert "gpu_workers" not in groups_of(ran[2].inventory) and "gpu_workers" in groups_of(ran[3].inventory)
    joined = [r["add_host"]["host_name"] for _h, _n, r in ran[2].results("Pool instances the inventory lacks join gpu_workers")
              if "add_host" in r]
    assert joined == [instances[0]["name"]]
    # The pool's key is the credential's: the registered public key is the canary key's.
    keys = lam.api("GET", "/ssh-keys").json()["data"]
    assert len(keys) == 1 and keys[0]["public_key"].split()[1] in _public_key(awx_runs.ssh_key)
    assert ran[-1].messages("Report")[0][0].startswith("No drift in local")
    # The one file that holds the key by design (the injector's, mode 0600) is what the scan would find it in.
    [key_file] = ran[2].credential_files
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    probe = Scanner(awx_runs.canaries)
    probe.tree(key_file)
    assert probe.found, "the scan would not see the key where it is"

    # site.yml again in a fresh job: no request that writes, on either provider. What it reports changed is only
    # what every job's fresh copy of the project must make again (the pool key's directory). Every play runs; the
    # limit (the control host, the first layer's service and the last's) keeps it to what the job adds (the
    # project's copy, the credentials, the vault), since tests/platform/test_site.py judges the whole second run.
    fly_seq, lambda_seq = fly.last_seq(), lam.last_seq()
    site = run(": site", limit="localhost:weaviate:agent_ui")
    assert fly.writes_since(fly_seq) == [] and lam.writes_since(lambda_seq) == []
    assert hosts_run_on(site) == {"localhost", "weaviate", "agent_ui"}, site.stats
    changed = sorted({name for _h, name, r in site.results() if r.get("changed")})
    assert changed == ["Directory of the pool's private key"], changed

    # Drift made out of band: the check (at -vvvv, what an operator asks for when debugging) finds it and fails,
    # writing nothing; the fix corrects it.
    api_app, weaviate_app = platform.app("unified_api"), platform.app("weaviate")
    fly.api("POST", "/apps/%s/secrets" % api_app, json={"values": {"JWT_SECRET": None}})
    weaviate = fly.machines_now(weaviate_app)[0]
    fly.drift_machine(weaviate_app, weaviate["id"], config={"guest": {"memory_mb": 1024}})
    # Limited on launch (every template but teardown prompts for a limit) to the two services that drifted:
    # the workflow's own drift check has just compared all of them.
    drifted = "unified_api:weaviate"
    fly_seq = fly.last_seq()
    found = run(": drift check", expect="failed", verbosity=4, limit=drifted)
    assert fly.writes_since(fly_seq) == []
    assert "-vvvv" in found.cmdline and "-l %s" % drifted in found.cmdline
    assert hosts_run_on(found) == {"unified_api", "weaviate"}, found.stats
    [report] = found.messages("Report")
    assert report[0] == "2 drifted resource(s) in local (found -> wanted, nothing changed):", report
    assert set(report[1:]) == {"unified_api: secret JWT_SECRET missing (would set)",
                               "weaviate: machine %s guest.memory_mb 1024 -> 2048 (would update)" % weaviate["id"]}
    run(": drift fix", limit=drifted)
    assert "JWT_SECRET" in {s["name"] for s in fly.api("GET", "/apps/%s/secrets" % api_app).json()["secrets"]}
    assert fly.machines_now(weaviate_app)[0]["config"]["guest"]["memory_mb"] == 2048

    # GPU bootstrap: the pool's instance is a host of the play (listed by the sync or by Lambda in the job), and
    # since the record-only emulator's instances answer no SSH, the inventory has it left alone.
    bootstrap = run(": GPU node bootstrap")
    assert bootstrap.tasks_started()[-2:] == ["Node left alone", "Node left alone ends here"], bootstrap.explain()
    assert bootstrap.messages("Node left alone") == [instances[0]["name"] + ": " + NOT_HERE], bootstrap.explain()
    awx_runs.finish()


@pytest.mark.slow
def test_scale_rollback_rotation_and_teardown_on_a_converged_platform(converged_platform, tmp_path, monkeypatch):
    platform = converged_platform
    awx_runs = AwxRuns(platform, tmp_path, monkeypatch)
    jobs, run, fly = awx_runs.jobs, awx_runs.run, platform.fly
    api_app, weaviate_app = platform.app("unified_api"), platform.app("weaviate")

    # Scale: the survey refuses a count outside the environment's range before any job; one within it runs.
    with pytest.raises(ValueError, match="above the maximum"):
        jobs.run(jobs.template(": scale"), answers={"service": "unified_api", "count": 9})
    run(": scale", answers={"service": "unified_api", "count": 3})
    assert len(fly.machines_now(api_app)) == 3

    # Rollback: a release B deployed over A (recorded on the machines as a deploy records it), then rolled back.
    for machine in fly.machines_now(api_app):
        fly.drift_machine(api_app, machine["id"], config={"image": IMAGE_B, "metadata": {"sophia_previous_image": IMAGE_A}})
    rolled = run(": rollback", answers={"service": "unified_api"})
    assert {m["config"]["image"] for m in fly.machines_now(api_app)} == {IMAGE_A}
    assert rolled.messages("What was rolled back")[0].startswith("unified_api: %s -> %s" % (IMAGE_B, IMAGE_A))

    # Rotation with the survey's default (every service): the vault's values are already set, so only checks.
    rotated = run(": rotate secrets")
    assert len(rotated.messages("Rotation summary")) == len(SERVICES) + 2  # with monitoring and the log shipper

    # Teardown: a wrong confirmation is refused before the playbook makes any request (the fleet inventory's listing
    # is all the emulator sees); the environment's name tears it down, volumes kept (snapshotted first) with the
    # apps that hold them.
    fly_seq = fly.last_seq()
    refused = run(": teardown", expect="failed", answers={"teardown_confirm": "prod"})
    listing = re.compile(r"^/v1/apps(/[a-z0-9-]+/machines)?$")
    made = [(r["method"], r["path"]) for r in fly.requests_since(fly_seq)]
    assert made and all(method == "GET" and listing.match(path) for method, path in made), made
    [why] = refused.messages("The environment's name is given as confirmation")
    assert "-e teardown_confirm=local" in why and "Nothing was changed" in why
    run(": teardown", answers={"teardown_confirm": "local"})
    for service in SERVICES:
        assert machines_left(fly, platform.app(service)) == [], service
    assert fly.api("GET", "/apps/%s/volumes" % weaviate_app).json(), "the volumes were to be kept"
    awx_runs.finish()


def hosts_run_on(job):
    """The hosts a job's plays reached, whatever came of their tasks."""
    return set().union(*(job.stats.get(kind) or {} for kind in ("ok", "changed", "failures", "skipped")))


def groups_of(inventory):
    """The groups with hosts or children in an inventory as a sync stores it."""
    return {group for group, body in inventory.items() if group != "_meta" and (body.get("hosts") or body.get("children"))}


def vault_values():
    """Every value of the local vault, at any depth, but the stand-ins the local inventory also holds in plain (the
    emulators' default key)."""
    from ansible.parsing.vault import VaultLib

    def leaves(data):
        if isinstance(data, dict):
            return [v for value in data.values() for v in leaves(value)]
        return [str(data)]

    plain = "".join(path.read_text() for path in (REPO_ROOT / "inventories" / "local").rglob("*.yml"))
    values = leaves(yaml.safe_load(VaultLib(local_vault_secret()).decrypt(VAULT.read_bytes())))
    return [value for value in values if len(value) > 5 and value not in plain]


def machines_left(fly, app):
    try:
        return fly.machines_now(app)
    except requests.HTTPError as exc:
        if exc.response is not None and exc.response.status_code == 404:
            return []  # the app itself is gone
        raise


def _public_key(private_key):
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_ssh_private_key(private_key.encode(), password=None)
    return key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()
