"""Session fixtures for the whole suite.

The API emulators' fixtures (``fly_emulator``, ``fly_api``, ``lambda_emulator``,
``lambda_api``) and classes live in tests/support/emulators.py, registered here as a
plugin, so that the emulators' own tests need nothing of the collection.
"""

from __future__ import annotations

import sys

import pytest

# Imported here before pytest loads it as a plugin: its asserts are rewritten all the same.
pytest.register_assert_rewrite("tests.support.emulators", "tests.support.platform")

from tests.support.ansible_cli import REPO_ROOT  # noqa: E402

# Fault records (SOPHIA_FAULT_RECORDS) for docs/reliability.md: tests marked @pytest.mark.fault.
# The emulators and their fixtures: tests/support/emulators.py.
# Docker-marked tests (skip or fail without an engine) and their own stacks: tests/support/docker.py.
# The local environment of the playbook runs (``platform``, ``local_databases``): tests/support/platform.py.
# The CPU each test costs (--cpu-report): tests/support/cpu_report.py.
pytest_plugins = ["tests.support.fault_records", "tests.support.cpu_report", "tests.support.emulators",
                  "tests.support.docker", "tests.support.platform"]

# The collection's Python (module_utils) is importable as
# ansible_collections.sophia.ops.*, the way Ansible itself loads it.
sys.path.insert(0, str(REPO_ROOT / "collections"))


def pytest_collection_modifyitems(items):
    """The few tests marked slow (minutes each) first: xdist hands tests out in order, so they start on the
    workers at once and the run does not end with one worker busy and the others idle."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
