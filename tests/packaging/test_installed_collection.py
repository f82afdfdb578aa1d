"""The tarball, installed into an empty folder, works from outside the checkout: modules through the action groups'
module_defaults, a service role (and fly_service under it), and the fleet inventory plugin, against the emulators.
On the ansible-core of this virtualenv, and on the lowest one meta/runtime.yml claims."""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

import pytest
import yaml

from tests.packaging.conftest import LOWEST_CORE, VENV_BIN, explain, outside_env, run
from tests.support.ansible_cli import REPO_ROOT

PLAYBOOK = Path(__file__).parent / "files" / "use_installed_collection.yml"


def test_requires_ansible_names_the_tested_lowest_core():
    """The lowest ansible-core the collection claims is the one the slow test below runs it on."""
    requires = yaml.safe_load((REPO_ROOT / "meta" / "runtime.yml").read_text())["requires_ansible"]
    assert requires == ">=%s.0" % ".".join(LOWEST_CORE.split(".")[:2])
    readme = (REPO_ROOT / "README.md").read_text()
    assert "ansible-core %s" % LOWEST_CORE in readme, "README.md names the lowest tested ansible-core"


def play_installed(python, collections_path, workdir, fly, lam):
    """Run the playbook with the ansible-playbook beside ``python`` from ``workdir``; the report of the hosts the
    fleet play ran on, and the run."""
    workdir.mkdir(parents=True, exist_ok=True)
    playbook = workdir / PLAYBOOK.name
    shutil.copy(PLAYBOOK, playbook)
    (workdir / "fleet.yml").write_text(yaml.safe_dump({
        "plugin": "sophia.ops.fleet",
        "fly_api_url": fly.url, "fly_api_token": fly.token, "fly_org_slug": "personal",
        "lambda_api_url": lam.url, "lambda_api_key": lam.token,
    }))
    report = workdir / "fleet-hosts.json"
    extra_vars = {"fly_url": fly.url, "fly_token": fly.token, "lambda_url": lam.url, "lambda_key": lam.token,
                  "key_path": str(workdir / "keys" / "pkg-key"), "report_path": str(report)}
    workdir.joinpath("keys").mkdir(exist_ok=True)
    env = outside_env(collections_path, workdir.parent / "ansible-home")
    played = run([Path(python).parent / "ansible-playbook", "-i", "fleet.yml", "-e", json.dumps(extra_vars),
                  playbook.name], cwd=workdir, env=env, timeout=600)
    return played, report


def check_the_writes(played, report, fly, lam):
    assert played.returncode == 0, explain(played)
    recap = played.stdout.split("PLAY RECAP", 1)[-1]
    assert re.search(r"localhost\s+:\s+ok=\d+\s+changed=[1-9]", recap), explain(played)
    assert not re.search(r"(failed|unreachable)=[1-9]", recap), explain(played)

    # What the emulators hold now: the modules' app and secret, the role's app, machine, volume and address.
    assert fly.api("GET", "/apps/pkg-direct").status_code == 200
    secrets = fly.api("GET", "/apps/pkg-direct/secrets").json()
    assert "PKG_SECRET" in {s["name"] for s in secrets.get("secrets", secrets)}
    machines = fly.machines_now("pkg-agent-ui")
    assert len(machines) == 1 and machines[0]["config"]["image"] == "registry.fly.io/sophia-agent-ui:1.0.0"
    assert machines[0]["config"]["mounts"][0]["path"] == "/data"
    role_secrets = fly.api("GET", "/apps/pkg-agent-ui/secrets").json()
    assert {"NEXTAUTH_SECRET", "SESSION_SECRET", "SENTRY_DSN"} <= {
        s["name"] for s in role_secrets.get("secrets", role_secrets)}
    keys = lam.api("GET", "/ssh-keys").json()["data"]
    assert [k["name"] for k in keys] == ["pkg-key"]
    assert keys[0]["public_key"].startswith("ssh-ed25519 ")

    # The fleet inventory plugin listed the role's machine as a host, and the play over its group ran on it.
    assert json.loads(report.read_text()) == ["pkg-agent-ui-%s" % machines[0]["id"]]


@pytest.mark.slow
def test_installed_collection_works_outside_the_checkout(installed_collection, fly_api, lambda_api, tmp_path):
    played, report = play_installed(sys.executable, installed_collection, tmp_path / "work", fly_api, lambda_api)
    check_the_writes(played, report, fly_api, lambda_api)


@pytest.mark.slow
def test_installed_collection_works_on_the_lowest_ansible_core(
        lowest_core_python, installed_collection, fly_api, lambda_api, tmp_path):
    """The same run with ansible-core LOWEST_CORE and requests only: no `ansible` package, no other collection."""
    workdir = tmp_path / "work"
    workdir.mkdir()
    version = run([Path(lowest_core_python).parent / "ansible-playbook", "--version"], cwd=workdir,
                  env=outside_env(installed_collection, tmp_path / "ansible-home"), timeout=60)
    assert "core %s]" % LOWEST_CORE in version.stdout, explain(version)
    played, report = play_installed(lowest_core_python, installed_collection, workdir, fly_api, lambda_api)
    check_the_writes(played, report, fly_api, lambda_api)


def test_shipped_playbooks_load_from_the_install(installed_collection, tmp_path):
    """The playbooks the tarball ships run by name from an install: every import and role they name resolves."""
    playbooks = sorted(p.stem for p in (installed_collection / "ansible_collections" / "sophia" / "ops"
                                        / "playbooks").glob("*.yml"))
    assert "deploy" in playbooks and "layer" in playbooks
    checked = run([VENV_BIN / "ansible-playbook", "--syntax-check", "-i", "localhost,"]
                  + ["sophia.ops.%s" % name for name in playbooks],
                  cwd=tmp_path, env=outside_env(installed_collection, tmp_path / "ansible-home"), timeout=300)
    assert checked.returncode == 0, explain(checked)
    assert "ERROR" not in checked.stderr, explain(checked)


def test_installed_modules_document_themselves(installed_collection, tmp_path):
    doc = run([VENV_BIN / "ansible-doc", "--json", "sophia.ops.fly_machine"], cwd=tmp_path,
              env=outside_env(installed_collection, tmp_path / "ansible-home"), timeout=120)
    assert doc.returncode == 0, explain(doc)
    rendered = json.loads(doc.stdout)["sophia.ops.fly_machine"]
    assert rendered["doc"]["filename"].startswith(str(installed_collection))
