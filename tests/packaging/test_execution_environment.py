"""The project's execution environment: `ansible-builder create` writes a build context for it (no image is built:
the base image cannot be pulled here), the galaxy stage's install of sophia.ops works from that context, and the
build's introspection of the installed collection finds the collection's own requirements only."""

from __future__ import annotations

import shutil

import pytest
import yaml

from tests.packaging.conftest import VENV_BIN, build_collection, explain, install_collection, pinned, run, tarball_name
from tests.support.ansible_cli import REPO_ROOT

EE_FILE = REPO_ROOT / "execution-environment.yml"


def ee_definition():
    return yaml.safe_load(EE_FILE.read_text())


def requirement_lines(path):
    return [line.split("#")[0].strip() for line in path.read_text().splitlines() if line.split("#")[0].strip()]


@pytest.fixture(scope="module")
def build_context(tmp_path_factory):
    """`ansible-builder create` for execution-environment.yml, after the collection build README.md gives, in a
    copy of its own (the definition's relative paths resolve beside it); the context directory."""
    root = tmp_path_factory.mktemp("ee")
    shutil.copy(EE_FILE, root / EE_FILE.name)
    build_collection(root / "build" / "ee-collection")
    context = root / "context"
    created = run([VENV_BIN / "ansible-builder", "create", "-f", EE_FILE.name, "--context", context,
                   "--output-filename", "Containerfile"], cwd=root, timeout=120)
    assert created.returncode == 0, explain(created)
    return context


def test_the_definition_is_version_3_with_the_project_pins():
    ee = ee_definition()
    assert ee["version"] == 3
    assert ee["dependencies"]["ansible_core"]["package_pip"] == "ansible-core==%s" % pinned("ansible-core")
    assert ee["dependencies"]["ansible_runner"]["package_pip"] == "ansible-runner==%s" % pinned("ansible-runner")
    for requirement in ee["dependencies"]["python"]:
        name, version = requirement.split("==")
        assert version == pinned(name), requirement


def test_the_galaxy_requirements_cover_the_projects_and_sophia_ops():
    wanted = {c["name"] for c in yaml.safe_load((REPO_ROOT / "collections" / "requirements.yml").read_text())
              ["collections"] if c.get("type") != "dir"}
    collections = ee_definition()["dependencies"]["galaxy"]["collections"]
    assert wanted <= {c["name"] for c in collections}
    # sophia.ops from the tarball of the version galaxy.yml has now (a release that moves one moves the other).
    assert {"name": "collections/" + tarball_name(), "type": "file"} in collections


def test_create_writes_a_build_context(build_context):
    containerfile = (build_context / "Containerfile").read_text()
    base_image = ee_definition()["images"]["base_image"]["name"]
    assert 'ARG EE_BASE_IMAGE="%s"' % base_image in containerfile
    assert "FROM $EE_BASE_IMAGE AS base" in containerfile
    assert "ansible-core==%s" % pinned("ansible-core") in containerfile
    assert "ansible-galaxy collection install" in containerfile
    assert "introspect" in containerfile

    build = build_context / "_build"
    copied = yaml.safe_load((build / "requirements.yml").read_text())
    assert copied["collections"] == ee_definition()["dependencies"]["galaxy"]["collections"]
    assert requirement_lines(build / "requirements.txt") == ee_definition()["dependencies"]["python"]
    assert (build / "collections" / tarball_name()).is_file()
    assert (build / "scripts" / "introspect.py").is_file()


def test_the_galaxy_stage_installs_sophia_ops_from_the_context(build_context, tmp_path):
    """The Containerfile runs `ansible-galaxy collection install -r requirements.yml` in the context's _build folder
    (copied to /build). The same, here, for the sophia.ops entry; the others need Galaxy, unreachable here."""
    requirements = yaml.safe_load((build_context / "_build" / "requirements.yml").read_text())
    local = [c for c in requirements["collections"] if c.get("type") == "file"]
    assert len(local) == 1
    only_local = tmp_path / "requirements-local.yml"
    only_local.write_text(yaml.safe_dump({"collections": local}))
    collections_path = tmp_path / "collections"
    install_collection(None, collections_path, build_context / "_build", "-r", only_local)
    installed = collections_path / "ansible_collections" / "sophia" / "ops"
    assert (installed / "meta" / "execution-environment.yml").is_file()

    # The build's introspection of it: only the collection's own requirements, none of the project's pins.
    introspected = run([VENV_BIN / "ansible-builder", "introspect", collections_path], cwd=tmp_path, timeout=120)
    assert introspected.returncode == 0, explain(introspected)
    found = yaml.safe_load(introspected.stdout.split("---", 1)[1])
    python = [line.split("#")[0].strip() for line in found["python"]]
    system = [line.split("#")[0].strip() for line in found["system"]]
    assert python == requirement_lines(REPO_ROOT / "meta" / "ee-requirements.txt")
    assert system == requirement_lines(REPO_ROOT / "meta" / "ee-bindep.txt")
    assert all(line.endswith("# from collection sophia.ops") for line in found["python"] + found["system"])
    assert "requests" in python
    for project_only in ("ansible-runner", "jmespath", "psycopg2-binary", "redis", "ansible-core"):
        assert not [line for line in python if line.startswith(project_only)], project_only
