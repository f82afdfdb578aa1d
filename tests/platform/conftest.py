"""The platform as code, driven through ``ansible-playbook`` against the session emulators.

The ``platform`` fixture (an empty local environment: the session's emulators, loopback PostgreSQL and Redis, and
the environment that points ``inventories/local`` at them) lives in tests/support/platform.py, registered for the
whole suite by tests/conftest.py; its names are re-exported here for the tests of this folder.
"""

from __future__ import annotations

from tests.support.platform import LOCAL_INVENTORY, SERVICES, LocalDatabases, Platform, PlayRun

__all__ = ["LOCAL_INVENTORY", "SERVICES", "LocalDatabases", "Platform", "PlayRun"]
