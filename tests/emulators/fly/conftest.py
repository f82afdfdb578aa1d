"""Fixtures of the Fly emulator's tests: the session emulator (tests/support/emulators.py)
with a fast clock, and an app to work in."""

from __future__ import annotations

import pytest

from tests.emulators.fly.helpers import APP, ok


@pytest.fixture
def fly(fly_api):
    """Fast clock; rate limits off except in the tests about them."""
    fly_api.settings(transition_seconds=0.05, rate_limits=False)
    return fly_api


@pytest.fixture
def app(fly):
    ok(fly.api("POST", "/apps", json={"app_name": APP, "org_slug": "personal"}), 201)
    return APP
