"""Tests that need a Docker engine: ``@pytest.mark.docker``.

Such a test is skipped, saying why, when no engine answers on the socket, unless SOPHIA_REQUIRE_DOCKER
is set (CI, Molecule): then it fails, so that a missing engine never passes for a green run. The
``docker_stack`` fixture gives a test its own stack (a unique name, every object labelled with it)
and removes all of it afterwards, whatever the test left.
Registered for the whole suite as a plugin by tests/conftest.py.
"""

from __future__ import annotations

import os
import subprocess
import uuid

import pytest

from emulators.common.docker_engine import DockerEngine, socket_path
from tests.support.ansible_cli import REPO_ROOT

_ENGINE_ANSWERS = {}


def engine_answers():
    """Whether a Docker engine answers on its socket (asked once a session)."""
    if "answer" not in _ENGINE_ANSWERS:
        _ENGINE_ANSWERS["answer"] = DockerEngine("probe").ping()
    return _ENGINE_ANSWERS["answer"]


def pytest_runtest_setup(item):
    if item.get_closest_marker("docker") is None or engine_answers():
        return
    reason = "no Docker engine answers on %s (scripts/docker-engine starts one)" % socket_path()
    if os.environ.get("SOPHIA_REQUIRE_DOCKER"):
        pytest.fail("SOPHIA_REQUIRE_DOCKER is set but " + reason, pytrace=False)
    pytest.skip(reason)


def own_stack():
    """A DockerEngine for a stack of the caller's own; everything labelled with it is removed at the end."""
    engine = DockerEngine("t-" + uuid.uuid4().hex[:8])
    try:
        yield engine
    finally:
        engine.remove_stack()


def ensure_image(engine, image, name):
    """The local image ``name`` built (scripts/images) when ``image`` is not there yet."""
    if not engine.image_exists(image):
        subprocess.run([str(REPO_ROOT / "scripts" / "images"), "build", name], check=True, timeout=900)


@pytest.fixture
def docker_stack():
    """A stack of this test's own, removed at the end."""
    yield from own_stack()
