"""Phase 1's preflight (roles/preflight, the first play of playbooks/prepare.yml): credentials, databases,
secret names, account limits and the cost guard, checked before anything is written.

The session's PostgreSQL and Redis (tests/platform/conftest.py) run with the local vault's passwords, so
the local inventory passes as it is; each failure case breaks one thing and the whole site.yml must stop
in the preflight, naming it, with no write in the emulator's request log."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from emulators.stack import free_port
from tests.platform.conftest import Platform
from tests.support.ansible_cli import REPO_ROOT, ansible_env

REPORT = "Preflight report"
GATE = "Every check passes"
WARNING_TASK = "Cost above the monthly budget"


def local_vault():
    shown = subprocess.run([str(Path(sys.executable).parent / "ansible-vault"), "view",
                            "vaults/local.yml"], cwd=REPO_ROOT, env=ansible_env(),
                           capture_output=True, text=True, timeout=60, check=True).stdout
    return yaml.safe_load(shown)


def report(run):
    [(host, name, result)] = list(run.results(REPORT))
    return result["msg"]


def failure(run):
    results = [result for host, name, result in run.results(GATE) if result.get("failed")]
    assert results, run.explain()
    return results[0]["msg"]


def fails_before_any_write(platform, extra_vars=None):
    """site.yml stops in the preflight: it fails, only the control host ran, and nothing was written."""
    fly_seq, lambda_seq = platform.fly.last_seq(), platform.lam.last_seq()
    run = platform.play("site.yml", extra_vars=extra_vars)
    assert run.rc != 0, run.explain()
    assert set(run.stats) == {"localhost"}, run.explain()
    assert platform.fly.writes_since(fly_seq) == []
    assert platform.lam.writes_since(lambda_seq) == []
    return failure(run)


def preflight(platform, check=False, extra_vars=None):
    """The preflight play alone (the rest of prepare.yml has no host under --limit control)."""
    fly_seq = platform.fly.last_seq()
    run = platform.play("playbooks/prepare.yml", limit="control", check=check, extra_vars=extra_vars)
    assert platform.fly.writes_since(fly_seq) == []
    return run


@pytest.mark.parametrize("check", [False, True], ids=["run", "check"])
def test_local_passes_as_it_is(platform, check):
    run = preflight(platform, check=check)
    assert run.rc == 0 and run.changed == 0, run.explain()
    lines = report(run)
    assert lines[0].endswith("all checks pass"), lines
    assert not [line for line in lines if line.startswith("FAIL")], lines
    for part in ("Fly.io organisation personal", "Lambda Cloud", "PostgreSQL sophia@127.0.0.1:%d/sophia: ok"
                 % platform.databases.postgres_port, "Redis 127.0.0.1:%d: ok" % platform.databases.redis_port,
                 "all present in sophia_secrets", "Account limits", "Cost guard: expected"):
        assert any(part in line for line in lines), (part, lines)
    # The cost report names every service and the GPU pool, with a total.
    for service in ("weaviate", "unified_api", "agent_ui", "GPU pool", "total"):
        assert any(line.strip().startswith(service) for line in lines), (service, lines)
    # Neither the database passwords nor any secret value appear in what the run printed.
    vault = local_vault()
    printed = json.dumps(run.output) + run.stderr
    for value in [vault["vault_postgres_password"], vault["vault_redis_password"]] + list(
            vault["vault_sophia_secrets"].values()):
        assert str(value) not in printed


@pytest.mark.fault("wrong Redis password",
                   checks="site.yml stops in the preflight naming Redis; no Fly or Lambda write")
def test_a_wrong_redis_password_stops_the_run(platform):
    msg = fails_before_any_write(platform, {"vault_redis_password": "not-the-password"})
    assert "Redis 127.0.0.1:%d" % platform.databases.redis_port in msg
    assert "not reachable with its password" in msg and "invalid username-password" in msg


@pytest.mark.fault("PostgreSQL down (nothing listens on its port)",
                   checks="site.yml stops in the preflight naming PostgreSQL; no write")
def test_an_unreachable_postgres_stops_the_run(platform):
    port = free_port()  # nothing listens there: the database is down
    platform.env["SOPHIA_POSTGRES_PORT"] = str(port)
    msg = fails_before_any_write(platform)
    assert "PostgreSQL sophia@127.0.0.1:%d/sophia: not reachable" % port in msg


@pytest.mark.fault("JWT_SECRET missing from sophia_secrets", checks="stops naming the secret and no value; no write")
def test_a_missing_secret_name_stops_the_run_naming_it_and_no_value(platform):
    names = sorted(local_vault()["vault_sophia_secrets"])
    assert "JWT_SECRET" in names
    secrets = {name: "stand-in-value-%d" % index for index, name in enumerate(names) if name != "JWT_SECRET"}
    msg = fails_before_any_write(platform, {"sophia_secrets": secrets})
    assert "unified_api needs JWT_SECRET" in msg
    # Only names are reported: none of the values that are there.
    assert "stand-in-value" not in msg


@pytest.mark.fault("wrong Fly token", checks="stops in the preflight naming Fly's 401; no write")
def test_a_bad_fly_token_stops_the_run(platform):
    platform.env["FLY_API_TOKEN"] = "not-a-fly-token"
    msg = fails_before_any_write(platform)
    assert "Fly.io organisation personal" in msg and "refused" in msg and "401" in msg


@pytest.mark.fault("wrong Lambda key", checks="stops in the preflight: the API key is refused; no write")
def test_a_bad_lambda_key_stops_the_run(platform):
    platform.env["LAMBDA_API_KEY"] = "not-a-lambda-key"
    msg = fails_before_any_write(platform)
    assert "Lambda Cloud" in msg and "API key is refused" in msg


@pytest.mark.fault("account machine limit (3) below the plan", checks="stops naming the limit; no write")
def test_too_many_machines_for_the_account_stops_the_run(platform):
    msg = fails_before_any_write(platform, {"fly_account_limits": {"machines": 3, "volumes": 100}})
    assert "Fly.io machines" in msg and "of 3 (TOO MANY" in msg


@pytest.mark.fault("expected monthly cost above the hard cap",
                   checks="stops naming the cap and the override variable; no write")
def test_a_cost_above_the_hard_cap_stops_the_run(platform):
    msg = fails_before_any_write(platform, {"sophia_budget": {"monthly": 50, "hard_cap": 100}})
    assert "Cost guard" in msg and "ABOVE the hard cap" in msg and "$100.00" in msg
    assert "sophia_budget_override=true" in msg


def test_the_override_passes_the_hard_cap_with_a_warning(platform):
    run = preflight(platform, extra_vars={"sophia_budget": {"monthly": 50, "hard_cap": 100},
                                          "sophia_budget_override": True})
    assert run.rc == 0, run.explain()
    [(host, name, result)] = list(run.results(WARNING_TASK))
    assert any("ABOVE the hard cap" in warning for warning in result.get("warnings", [])), result


def test_above_the_monthly_budget_warns_and_goes_on(platform):
    run = preflight(platform, extra_vars={"sophia_budget": {"monthly": 50, "hard_cap": 100000}})
    assert run.rc == 0, run.explain()
    [(host, name, result)] = list(run.results(WARNING_TASK))
    assert any("ABOVE the monthly budget" in warning for warning in result.get("warnings", [])), result
    assert [r.get("skipped") for h, n, r in run.results(GATE)] == [True]


# ------------------------------------------------------------------ credentials, before any request
def prod_site(fly, lam, inventory, cwd, **credentials):
    """site.yml -i inventories/prod[/<inventory>] with the APIs pointed at the session's emulators and the
    credentials given (None unsets one, whatever the calling shell had); returns the finished process, after
    checking that neither API was asked anything."""
    env = ansible_env(Platform(fly, lam).env)
    for name, value in credentials.items():
        env.pop(name, None)
        if value is not None:
            env[name] = value
    marks = fly.last_seq(), lam.last_seq()
    # From a scratch directory: the prod fleet.yml's cache directory is relative to it.
    proc = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), str(REPO_ROOT / "site.yml"),
                           "-i", str(REPO_ROOT / "inventories" / "prod" / inventory)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode != 0, proc.stdout[-3000:]
    assert fly.requests_since(marks[0]) == [] and lam.requests_since(marks[1]) == []
    return proc


@pytest.mark.fault("site.yml -i inventories/prod with FLY_API_TOKEN unset or empty",
                   checks="stops at once naming FLY_API_TOKEN (the fleet inventory); no request to either API")
@pytest.mark.parametrize("token", [None, ""], ids=["unset", "empty"])
def test_prod_without_the_fly_token_stops_before_any_request(fly_api, lambda_api, tmp_path, token):
    proc = prod_site(fly_api, lambda_api, "", tmp_path, FLY_API_TOKEN=token)
    assert "FLY_API_TOKEN" in proc.stderr and "fly_api_token" in proc.stderr, proc.stderr[-3000:]
    assert "nothing was requested" in proc.stderr


def credential_gate(proc):
    """The run's only failure, in the preflight's first task; nothing else ran after it."""
    plays = json.loads(proc.stdout)["plays"]
    assert set(json.loads(proc.stdout)["stats"]) == {"localhost"}
    ran = [(task["task"]["name"].split(" : ")[-1], task["hosts"]["localhost"]) for task in plays[0]["tasks"]]
    assert [name for name, result in ran if result.get("failed")] == ["API credentials are set"], ran
    assert ran[-1][0] == "API credentials are set" and len(ran) <= 2, ran  # (after the argument check)
    return ran[-1][1]["msg"]


@pytest.mark.fault("site.yml -i inventories/prod/hosts.yml (no fleet inventory) with FLY_API_TOKEN empty",
                   checks="the preflight's first task stops the run naming FLY_API_TOKEN; no request to either API")
def test_the_preflight_names_an_empty_fly_token_before_any_request(fly_api, lambda_api, tmp_path):
    msg = credential_gate(prod_site(fly_api, lambda_api, "hosts.yml", tmp_path, FLY_API_TOKEN=""))
    assert "FLY_API_TOKEN" in msg and "LAMBDA_API_KEY" not in msg
    assert fly_api.token not in msg and lambda_api.token not in msg


@pytest.mark.fault("site.yml -i inventories/prod/hosts.yml with LAMBDA_API_KEY empty and a GPU pool of 2",
                   checks="the preflight's first task stops the run naming LAMBDA_API_KEY; no request to either API")
def test_the_preflight_names_an_empty_lambda_key_the_pool_needs(fly_api, lambda_api, tmp_path):
    msg = credential_gate(prod_site(fly_api, lambda_api, "hosts.yml", tmp_path, LAMBDA_API_KEY=""))
    assert "LAMBDA_API_KEY" in msg and "lambda_pool_count 2" in msg and "FLY_API_TOKEN" not in msg


@pytest.mark.fault("preflight with no Lambda key and no GPU pool (lambda_pool_count 0)",
                   checks="passes; Lambda is reported as not checked and never asked")
def test_no_lambda_key_is_needed_without_a_gpu_pool(platform):
    seq = platform.lam.last_seq()
    run = preflight(platform, extra_vars={"lambda_api_key": "", "lambda_pool_count": 0})
    assert run.rc == 0, run.explain()
    assert any("Lambda Cloud" in line and "not checked: no API key" in line for line in report(run)), report(run)
    assert platform.lam.requests_since(seq) == []
