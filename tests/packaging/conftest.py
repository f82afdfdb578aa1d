"""The collection as users get it: the tarball ``ansible-galaxy collection build`` makes, installed into an empty
folder and used from a directory outside the checkout, so that neither the checkout's ansible.cfg nor its link to
itself (collections/ansible_collections/sophia/ops) can stand in for the install.

Each xdist worker builds its own tarball into its own temporary folder. The one thing shared between workers and
runs is the virtualenv with the lowest ansible-core the collection claims (``lowest_core_python``): it takes a
PyPI install, so it is made once under tests/output, behind a lock.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.support.ansible_cli import REPO_ROOT

VENV_BIN = Path(sys.executable).parent

# The newest patch release of the lowest ansible-core minor that meta/runtime.yml claims; the test of the claim
# (test_installed_collection.py) fails when requires_ansible names another minor.
LOWEST_CORE = "2.17.14"
LOWEST_CORE_SETUP_SECONDS = 600


def galaxy_meta():
    return yaml.safe_load((REPO_ROOT / "galaxy.yml").read_text())


def tarball_name():
    meta = galaxy_meta()
    return "%s-%s-%s.tar.gz" % (meta["namespace"], meta["name"], meta["version"])


def pinned(package):
    """The version requirements.txt pins ``package`` to."""
    for line in (REPO_ROOT / "requirements.txt").read_text().splitlines():
        name, sep, version = line.split("#")[0].strip().partition("==")
        if sep and name.lower() == package.lower():
            return version
    raise AssertionError("requirements.txt pins no %s" % package)


def run(cmd, *, cwd, env=None, timeout=300):
    """A command's CompletedProcess; its output comes with any failed assertion on it (``explain``)."""
    return subprocess.run([str(c) for c in cmd], cwd=str(cwd), env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)


def explain(proc):
    return "rc=%s\nstdout:\n%s\nstderr:\n%s" % (proc.returncode, proc.stdout[-6000:], proc.stderr[-4000:])


def outside_env(collections_path, home, extra=None):
    """The environment of an ansible command run outside the checkout: nothing inherited that points Ansible at
    the checkout or at an API, the collections path set the way AWX and ansible-navigator set it (the `ansible`
    package's collections in site-packages are found besides, as always), and an empty configuration and Ansible
    home of the test's own in ``home``."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("ANSIBLE_", "FLY_", "LAMBDA_", "SOPHIA_"))}
    home = Path(home)
    home.mkdir(parents=True, exist_ok=True)
    config = home / "ansible.cfg"
    if not config.exists():
        config.write_text("# No settings: a fresh controller's defaults.\n")
    env.update({
        "ANSIBLE_CONFIG": str(config),
        "ANSIBLE_HOME": str(home),
        "ANSIBLE_COLLECTIONS_PATH": str(collections_path),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_DEPRECATION_WARNINGS": "0",
        "PYTHONWARNINGS": "ignore",
    })
    env.update(extra or {})
    return env


def build_collection(output_dir):
    """``ansible-galaxy collection build`` of the checkout into ``output_dir``; the tarball's path."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    built = run([VENV_BIN / "ansible-galaxy", "collection", "build", "--force", "--output-path", output_dir],
                cwd=REPO_ROOT, timeout=120)
    assert built.returncode == 0, explain(built)
    tarball = output_dir / tarball_name()
    assert tarball.is_file(), explain(built)
    return tarball


def install_collection(source, collections_path, workdir, *extra_args):
    """``ansible-galaxy collection install`` of ``source`` (a tarball, or -r and a requirements file) into the
    empty ``collections_path``, run from ``workdir`` without Galaxy."""
    installed = run([VENV_BIN / "ansible-galaxy", "collection", "install", "--offline", *extra_args,
                     *([source] if source else []), "-p", collections_path],
                    cwd=workdir, env=outside_env(collections_path, Path(collections_path).parent / "ansible-home"),
                    timeout=180)
    assert installed.returncode == 0, explain(installed)
    return installed


@pytest.fixture(scope="session")
def collection_tarball(tmp_path_factory):
    """This worker's build of the collection."""
    return build_collection(tmp_path_factory.mktemp("collection-build"))


@pytest.fixture(scope="session")
def collection_files(collection_tarball):
    """The paths in the tarball (directories without their trailing slash)."""
    listing = run(["tar", "-tzf", collection_tarball], cwd=collection_tarball.parent, timeout=60)
    assert listing.returncode == 0, explain(listing)
    return {line.rstrip("/") for line in listing.stdout.splitlines() if line.strip()}


@pytest.fixture(scope="session")
def installed_collection(collection_tarball, tmp_path_factory):
    """The tarball installed into an empty collections folder; that folder (the ANSIBLE_COLLECTIONS_PATH to use)."""
    root = tmp_path_factory.mktemp("installed")
    collections_path, workdir = root / "collections", root / "work"
    collections_path.mkdir()
    workdir.mkdir()
    install_collection(collection_tarball, collections_path, workdir)
    assert (collections_path / "ansible_collections" / "sophia" / "ops" / "MANIFEST.json").is_file()
    return collections_path


def lowest_core_venv_path():
    return REPO_ROOT / "tests" / "output" / "packaging" / ("ansible-core-%s" % LOWEST_CORE)


@pytest.fixture(scope="session")
def lowest_core_python():
    """The Python of a virtualenv with ansible-core LOWEST_CORE and the collection's requirement (requests, at the
    project's pin), and nothing else: no `ansible` package, no other collection. Made once, under a lock that
    the other xdist workers wait on (bounded), and kept for later runs (``make clean`` removes it)."""
    venv = lowest_core_venv_path()
    requirements = ["ansible-core==%s" % LOWEST_CORE, "requests==%s" % pinned("requests")]
    marker = venv / "sophia-packaging-requirements.txt"
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(venv.parent / (venv.name + ".lock"), "w", encoding="utf-8") as lock:
        deadline = time.monotonic() + LOWEST_CORE_SETUP_SECONDS
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    pytest.fail("another worker held %s for over %d s" % (lock.name, LOWEST_CORE_SETUP_SECONDS))
                time.sleep(1)
        try:
            if not (marker.is_file() and marker.read_text().split() == requirements):
                shutil.rmtree(venv, ignore_errors=True)
                made = run([sys.executable, "-m", "venv", venv], cwd=venv.parent, timeout=120)
                assert made.returncode == 0, explain(made)
                pip = run([venv / "bin" / "python", "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                           *requirements], cwd=venv.parent, timeout=LOWEST_CORE_SETUP_SECONDS)
                assert pip.returncode == 0, explain(pip)
                marker.write_text("\n".join(requirements) + "\n")
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    version = run([venv / "bin" / "ansible", "--version"], cwd=venv.parent, timeout=60)
    assert re.search(r"core %s\]" % re.escape(LOWEST_CORE), version.stdout), explain(version)
    return venv / "bin" / "python"
