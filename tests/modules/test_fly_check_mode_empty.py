"""``--check`` against an empty environment: the app a service needs does not exist yet.

fly_app would create it earlier in the same run, so the modules that list
things inside the app predict as if it were empty instead of failing with a
404. Outside check mode, a missing app is a clear failure.
"""

from __future__ import annotations

import json

import pytest

from tests.support.ansible_cli import run_playbook
from tests.support.modules import call_module

APP = "check-mode-empty-app"

PLAY = [{
    "name": "A new service, in check mode",
    "hosts": "localhost",
    "connection": "local",
    "gather_facts": False,
    "vars": {"ansible_python_interpreter": "{{ ansible_playbook_python }}"},
    "module_defaults": {"group/sophia.ops.fly": {"api_url": "{{ fly_api_url }}", "api_token": "{{ fly_api_token }}"}},
    "tasks": [
        {"name": "app", "sophia.ops.fly_app": {"name": APP}},
        {"name": "secret", "sophia.ops.fly_secret": {"app": APP, "secrets": {"API_KEY": "check-mode-api-key"},
                                                     "restart_machines": True}},
        {"name": "ip", "sophia.ops.fly_ip": {"app": APP, "type": "shared_v4"}},
        {"name": "volume", "sophia.ops.fly_volume": {"app": APP, "name": "data", "region": "iad", "size_gb": 2}},
        {"name": "machines", "sophia.ops.fly_machine": {
            "app": APP, "group": "app", "count": 2, "regions": ["iad"], "config": {"image": "nginx:1.27"},
            "volume": {"name": "data", "path": "/data", "size_gb": 2}}},
    ],
}]


@pytest.mark.fault("--check of a new service whose app does not exist yet",
                   checks="every task predicts changed with a warning; no write; the app is not created")
def test_check_mode_predicts_every_create_without_writing(fly, tmp_path):
    playbook = tmp_path / "new_service.yml"
    playbook.write_text(json.dumps(PLAY))  # JSON is YAML

    seq = fly.last_seq()
    returncode, output, stderr = run_playbook(playbook, inventory="localhost,", check=True,
                                              extra_vars={"fly_api_url": fly.url, "fly_api_token": fly.token})
    assert returncode == 0, (output, stderr)
    results = dict((task["task"]["name"], task["hosts"]["localhost"]) for task in output["plays"][0]["tasks"])
    assert list(results) == ["app", "secret", "ip", "volume", "machines"]
    for name, result in results.items():
        assert result["changed"] and not result.get("failed"), (name, result)
    for name in ("secret", "ip", "volume", "machines"):
        assert any("does not exist yet" in warning for warning in results[name]["warnings"]), name
    assert results["machines"]["summary"]["created"] == ["new-1", "new-2"]
    assert fly.writes_since(seq) == []
    assert fly.api("GET", "/apps/" + APP).status_code == 404


@pytest.mark.parametrize("module, args", [
    ("fly_secret", {"secrets": {"API_KEY": "missing-app-api-key"}}),
    ("fly_ip", {"type": "shared_v4"}),
    ("fly_volume", {"name": "data", "region": "iad"}),
])
@pytest.mark.fault("fly_secret, fly_ip or fly_volume on an app that does not exist",
                   checks="fails naming the app, not changed, no write")
def test_outside_check_mode_a_missing_app_fails_naming_it(fly, module, args):
    seq = fly.last_seq()
    failed = call_module(module, fly.module_args(app=APP, **args))
    assert failed.failed and not failed.changed
    assert "app %s does not exist" % APP in failed["msg"]
    assert fly.writes_since(seq) == []
