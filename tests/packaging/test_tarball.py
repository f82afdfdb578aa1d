"""What `ansible-galaxy collection build` puts in the tarball: the collection, and nothing of the project around it
(tests, emulators, images, inventories, the vaults and the local vault's password, local state), and the metadata
Galaxy and users read (license, links)."""

from __future__ import annotations

import filecmp
import os

import pytest

from tests.packaging.conftest import galaxy_meta
from tests.support.ansible_cli import REPO_ROOT

HOME = "https://github.com/sophia-intel-ai/sophia-ops"

SHIPPED = [
    "LICENSE", "README.md", "MANIFEST.json", "FILES.json",
    "meta/runtime.yml", "meta/execution-environment.yml", "meta/ee-requirements.txt", "meta/ee-bindep.txt",
    "plugins/modules/fly_machine.py", "plugins/inventory/fleet.py", "plugins/lookup/local_stack.py",
    "plugins/filter/fleet.py", "plugins/module_utils/api_client.py", "plugins/doc_fragments/fly.py",
    "roles/fly_service/tasks/main.yml", "roles/gpu_node/meta/argument_specs.yml",
    "CHANGELOG.rst", "changelogs/changelog.yaml", "changelogs/config.yaml",
    "playbooks/deploy.yml", "playbooks/layer.yml", "docs/local-stack.md",
]

# Top-level entries of the checkout that are the project's, not the collection's.
LEFT_OUT = [
    "tests", "emulators", "images", "molecule", "bench", "scripts", "inventories", "vaults", "collections", ".ci",
    ".venv", ".cache", "build", "Makefile", "ansible.cfg", "pytest.ini", "requirements.txt", "requirements-dev.txt",
    "site.yml", "execution-environment.yml", "ansible-navigator.yml", ".ansible-lint", ".gitignore", "awx",
]


@pytest.mark.parametrize("path", SHIPPED)
def test_the_collection_is_shipped(collection_files, path):
    assert path in collection_files


@pytest.mark.parametrize("top", LEFT_OUT)
def test_the_project_around_it_is_not(collection_files, top):
    assert not [f for f in collection_files if f == top or f.startswith(top + "/")]


def test_no_secret_state_or_build_output_anywhere(collection_files):
    for path in collection_files:
        name = path.rsplit("/", 1)[-1]
        assert "vault" not in name and "password" not in name, path
        assert not name.endswith((".tar.gz", ".pyc")) and "__pycache__" not in path, path
        assert not path.startswith(".") and "/." not in path, path
        # Neither the checkout's link to itself nor anything under it.
        assert "ansible_collections" not in path, path


def test_every_role_and_plugin_of_the_checkout_is_shipped(collection_files):
    roles = sorted(p.name for p in (REPO_ROOT / "roles").iterdir() if p.is_dir())
    assert roles and all("roles/%s/meta/argument_specs.yml" % role in collection_files for role in roles)
    plugins = [p.relative_to(REPO_ROOT).as_posix() for p in (REPO_ROOT / "plugins").rglob("*.py")
               if "__pycache__" not in p.parts]
    assert plugins and set(plugins) <= collection_files


def test_license_is_the_gpl_v3_every_header_names():
    text = (REPO_ROOT / "LICENSE").read_text()
    assert text.lstrip().startswith("GNU GENERAL PUBLIC LICENSE\n                       Version 3, 29 June 2007")
    assert "END OF TERMS AND CONDITIONS" in text and len(text) > 30000
    assert galaxy_meta()["license"] == ["GPL-3.0-or-later"]
    debian_copy = "/usr/share/common-licenses/GPL-3"
    if os.path.exists(debian_copy):
        assert filecmp.cmp(REPO_ROOT / "LICENSE", debian_copy, shallow=False)


def test_galaxy_links_point_at_one_home():
    meta = galaxy_meta()
    assert meta["repository"] == HOME
    assert meta["homepage"] == HOME
    assert meta["issues"] == HOME + "/issues"
    assert meta["documentation"].startswith(HOME)
    assert "example.invalid" not in (REPO_ROOT / "galaxy.yml").read_text()
    assert HOME in (REPO_ROOT / "README.md").read_text()
