"""sophia.ops.fly_secret through the ansible CLI against the emulator."""

from __future__ import annotations

import json
import uuid

from ansible_collections.sophia.ops.plugins.module_utils.fly_api import secret_digest
from tests.support.ansible_cli import run_playbook
from tests.support.modules import call_module

DB_URL = "postgres://sophia:very-secret-db-password@neon.internal/sophia"
REDIS_URL = "redis://default:very-secret-redis-password@redis.internal:6379"


def secret_args(fly, app, secrets, **args):
    return fly.module_args(app=app, secrets=secrets, **args)


def test_lifecycle(fly, app):
    wanted = {"DATABASE_URL": DB_URL, "REDIS_URL": REDIS_URL}

    seq = fly.last_seq()
    predicted = call_module("fly_secret", secret_args(fly, app, wanted), check=True)
    assert predicted.changed and not predicted.failed
    assert predicted["fly_secret"]["changed_names"] == ["DATABASE_URL", "REDIS_URL"]
    assert fly.writes_since(seq) == []

    created = call_module("fly_secret", secret_args(fly, app, wanted))
    assert created.changed
    assert sorted(s["name"] for s in created["fly_secret"]["secrets"]) == ["DATABASE_URL", "REDIS_URL"]
    assert created["fly_secret"]["version"] >= 1

    seq = fly.last_seq()
    again = call_module("fly_secret", secret_args(fly, app, wanted))
    assert not again.changed
    assert fly.writes_since(seq) == []

    rotated = dict(wanted, REDIS_URL=REDIS_URL + "-rotated")
    seq = fly.last_seq()
    predicted = call_module("fly_secret", secret_args(fly, app, rotated), check=True, diff=True)
    assert predicted.changed
    assert predicted["fly_secret"]["changed_names"] == ["REDIS_URL"]
    assert fly.writes_since(seq) == []

    changed = call_module("fly_secret", secret_args(fly, app, rotated), diff=True)
    assert changed.changed
    assert changed["diff"] == {"before": {"REDIS_URL": secret_digest(REDIS_URL)},
                               "after": {"REDIS_URL": secret_digest(REDIS_URL + "-rotated")}}
    listed = fly.api("GET", "/apps/%s/secrets" % app).json()["secrets"]
    assert {s["name"]: s["digest"] for s in listed}["REDIS_URL"] == secret_digest(REDIS_URL + "-rotated")

    removed = call_module("fly_secret", secret_args(fly, app, {}, names=["REDIS_URL", "NEVER_SET"], state="absent"),
                          diff=True)
    assert removed.changed and removed["fly_secret"]["changed_names"] == ["REDIS_URL"]
    assert removed["diff"]["after"] == {"REDIS_URL": "(absent)"}
    assert [s["name"] for s in removed["fly_secret"]["secrets"]] == ["DATABASE_URL"]

    seq = fly.last_seq()
    assert not call_module("fly_secret", secret_args(fly, app, {}, names=["REDIS_URL"], state="absent")).changed
    assert fly.writes_since(seq) == []


def test_values_never_leave_the_module(fly, app):
    predicted = call_module("fly_secret", secret_args(fly, app, {"DATABASE_URL": DB_URL}), check=True, diff=True)
    result = call_module("fly_secret", secret_args(fly, app, {"DATABASE_URL": DB_URL}), diff=True)
    assert predicted.changed and result.changed
    assert result["diff"]["after"] == {"DATABASE_URL": secret_digest(DB_URL)}
    for output in (predicted, result, fly.requests_since(0)):
        assert "very-secret-db-password" not in json.dumps(output)


def test_update_modes(fly, app):
    first, second = {"API_KEY": "first-generated-api-key"}, {"API_KEY": "second-generated-api-key"}
    call_module("fly_secret", secret_args(fly, app, first))

    kept = call_module("fly_secret", secret_args(fly, app, second, update_mode="on_create"))
    assert not kept.changed
    same = call_module("fly_secret", secret_args(fly, app, first))
    assert not same.changed  # the first value is still what the app holds

    forced = call_module("fly_secret", secret_args(fly, app, first, update_mode="always"))
    assert forced.changed


def test_restart_machines_after_a_change(fly, app):
    machine = fly.api("POST", "/apps/%s/machines" % app, json={"config": {"image": "nginx:1.27"}}).json()
    fly.api("GET", "/apps/%s/machines/%s/wait" % (app, machine["id"]), params={"state": "started"})

    token = {"TOKEN": "restart-me-token-value"}
    result = call_module("fly_secret", secret_args(fly, app, token, restart_machines=True))
    assert result["fly_secret"]["restarted_machines"] == [machine["id"]]
    events = fly.api("GET", "/apps/%s/machines/%s" % (app, machine["id"])).json()["events"]
    assert events[0]["type"] == "restart"

    unchanged = call_module("fly_secret", secret_args(fly, app, token, restart_machines=True))
    assert not unchanged.changed and unchanged["fly_secret"]["restarted_machines"] == []


def test_the_role_shows_secret_errors_but_never_values(fly, tmp_path):
    """The fly_service role's secrets task has no task-level no_log: a failure says what went wrong,
    and the module's own masking keeps the value out of everything, even at -vvv with --diff."""
    canary = "canary-" + uuid.uuid4().hex
    service = "role-secret-canary"
    playbook = tmp_path / "service.yml"
    playbook.write_text(json.dumps([{
        "hosts": "localhost", "connection": "local", "gather_facts": False,
        "vars": {"ansible_python_interpreter": "{{ ansible_playbook_python }}"},
        "module_defaults": {"group/sophia.ops.fly": {"api_url": fly.url, "api_token": fly.token}},
        "roles": [{"role": "fly_service", "vars": {
            "fly_service_app": service, "fly_service_image": "nginx:1.27", "fly_service_count": 0,
            "fly_service_secrets": {"CANARY_TOKEN": canary}}}],
    }]))
    verbose = {"ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.default", "ANSIBLE_VERBOSITY": "3"}

    fly.add_fault(status=422, count=1, method="POST", path_regex=r"/secrets$")
    returncode, output, stderr = run_playbook(playbook, inventory="localhost,", diff=True, env=verbose)
    shown = output["raw"] + stderr
    assert returncode != 0
    assert "POST /apps/%s/secrets: HTTP 422" % service in shown and "injected fault" in shown
    assert "output has been hidden" not in shown
    assert canary not in shown

    returncode, output, stderr = run_playbook(playbook, inventory="localhost,", diff=True, env=verbose)
    shown = output["raw"] + stderr
    assert returncode == 0, shown[-4000:]
    listed = fly.api("GET", "/apps/%s/secrets" % service).json()["secrets"]
    assert [(s["name"], s["digest"]) for s in listed] == [("CANARY_TOKEN", secret_digest(canary))]
    assert secret_digest(canary) in shown  # the diff, by digest
    assert canary not in shown
