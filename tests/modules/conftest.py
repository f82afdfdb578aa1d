"""Fixtures for module tests: a fast emulator clock and an app to work in."""

from __future__ import annotations

import pytest


@pytest.fixture
def fly(fly_api):
    fly_api.settings(transition_seconds=0.05)
    return fly_api


@pytest.fixture
def app(fly):
    name = "module-test-app"
    answer = fly.api("POST", "/apps", json={"app_name": name, "org_slug": "personal"})
    assert answer.status_code == 201, answer.text
    return name
