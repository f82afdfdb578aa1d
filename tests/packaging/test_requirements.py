"""collections/requirements.yml as AWX's project sync uses it: from the project root (its ansible.cfg read, as AWX
leaves it), `ansible-galaxy collection install -r collections/requirements.yml` into a collections path of its own
that ANSIBLE_COLLECTIONS_PATH also names. Galaxy is unreachable here, so the run is --offline: the Galaxy entries
are then satisfied only by the `ansible` package's copies (which also holds their versions to the pinned package),
and sophia.ops is built from the project's source."""

from __future__ import annotations

import json
import os

import yaml

from tests.packaging.conftest import VENV_BIN, explain, galaxy_meta, outside_env, run
from tests.support.ansible_cli import REPO_ROOT
from tests.support.project import copy_project

SELF_LINK = "collections/ansible_collections/sophia/ops"


def test_requirements_pin_awx_and_install_sophia_ops_from_source():
    entries = yaml.safe_load((REPO_ROOT / "collections" / "requirements.yml").read_text())["collections"]
    by_name = dict((entry["name"], entry) for entry in entries)
    assert by_name["awx.awx"]["version"] == "24.6.1"
    assert by_name["."] == {"name": ".", "type": "dir"}


def test_awx_project_sync_installs_sophia_ops(tmp_path):
    project = copy_project(tmp_path / "project")
    assert (project / SELF_LINK).is_symlink()
    stage = tmp_path / "requirements_collections"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "FLY_", "LAMBDA_", "SOPHIA_"))}
    env.update({"ANSIBLE_COLLECTIONS_PATH": str(stage), "ANSIBLE_HOME": str(tmp_path / "ansible-home"),
                "ANSIBLE_LOCAL_TEMP": str(tmp_path / "local-tmp"), "ANSIBLE_NOCOLOR": "1"})
    synced = run([VENV_BIN / "ansible-galaxy", "collection", "install", "-r", "collections/requirements.yml",
                  "--collections-path", stage, "--offline"], cwd=project, env=env, timeout=300)
    assert synced.returncode == 0, explain(synced)
    assert "sophia.ops:%s was installed successfully" % galaxy_meta()["version"] in synced.stdout, explain(synced)
    lines = synced.stdout.splitlines()
    for name in ("community.general", "community.postgresql", "awx.awx"):
        assert [line for line in lines if line.startswith("'%s:" % name) and "is already installed" in line], \
            explain(synced)

    installed = stage / "ansible_collections" / "sophia" / "ops"
    assert (installed / "MANIFEST.json").is_file()
    assert (installed / "plugins" / "modules" / "fly_machine.py").is_file()
    # Built as `ansible-galaxy collection build` builds: galaxy.yml's build_ignore held, the self-link not followed.
    for left_out in ("tests", "inventories", "emulators", "collections", "Makefile", "ansible.cfg"):
        assert not (installed / left_out).exists(), left_out
    files = json.loads((installed / "FILES.json").read_text())["files"]
    assert not [f["name"] for f in files if "ansible_collections" in f["name"]]

    # Usable from anywhere the collections path is set, with no checkout in sight.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    doc = run([VENV_BIN / "ansible-doc", "--json", "sophia.ops.fly_machine"], cwd=elsewhere,
              env=outside_env(stage, tmp_path / "doc-home"), timeout=120)
    assert doc.returncode == 0, explain(doc)
    assert json.loads(doc.stdout)["sophia.ops.fly_machine"]["doc"]["filename"].startswith(str(installed))
