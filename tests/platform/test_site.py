"""site.yml takes an empty local environment to the whole platform, and a second run changes nothing."""

from __future__ import annotations

import pytest

from tests.platform.conftest import SERVICES


@pytest.mark.fault("failover drill: a healthy machine of the multi-machine service stopped during hardening",
                   checks="drilled on unified_api only; every machine started again; a second run writes nothing")
def test_site_converges_from_empty_then_changes_nothing(converged_site, converged_platform):
    # The run from empty is the worker's one converge (tests/support/platform.py), judged here; the tests
    # that start from a converged platform get its records back instead of converging again.
    platform, first = converged_platform, converged_site
    assert first.changed > 0
    # The service roles' own defaults reach the machines: sizes, environment, volumes, autoscaling.
    api = platform.fly.machines_now(platform.app("unified_api"))
    # The top of its local range (2-4): four machines, spread over the two regions.
    assert len(api) == 4 and {m["region"] for m in api} == {"iad", "ord"}
    config = api[0]["config"]
    assert config["guest"] == {"cpu_kind": "shared", "cpus": 4, "memory_mb": 4096}
    assert config["env"]["MCP_SERVER_URL"] == "http://sophia-local-mcp-server.flycast"
    assert config["mounts"][0]["path"] == "/data"
    assert config["services"][0]["min_machines_running"] == 2
    assert config["services"][0]["concurrency"] == {"type": "requests", "soft_limit": 4, "hard_limit": 16}
    assert [p["port"] for p in config["services"][0]["ports"]] == [443]
    for service in SERVICES:
        assert platform.fly.machines_now(platform.app(service)), service
    secrets = platform.fly.api("GET", "/apps/%s/secrets" % platform.app("unified_api")).json()
    assert "JWT_SECRET" in {s["name"] for s in secrets.get("secrets", secrets)}

    # Hardening drilled failover on the multi-machine service it had just deployed, and only there.
    drilled = {h for h, _n, r in first.results("One healthy machine is stopped") if r.get("changed")}
    assert drilled == {"unified_api"}
    assert len(platform.fly.machines_now(platform.app("unified_api"))) == 4
    assert {m["state"] for m in platform.fly.machines_now(platform.app("unified_api"))} == {"started"}

    fly_seq, lambda_seq = platform.fly.last_seq(), platform.lam.last_seq()
    second = platform.play("site.yml")
    assert second.rc == 0, second.explain()
    assert second.changed == 0, [(h, n) for h, n, r in second.results() if r.get("changed")]
    assert platform.fly.writes_since(fly_seq) == []
    assert platform.lam.writes_since(lambda_seq) == []


@pytest.mark.fault("site.yml --check --diff at -vvvv on an empty environment, every secret a canary",
                   checks="no Fly or Lambda write; every app and process group predicted as created; no canary "
                          "in anything the run left")
def test_check_mode_on_an_empty_environment_predicts_the_creates(canary_runs):
    # On an environment of its own whose secrets are canaries (tests/platform/conftest.py), so that the one run
    # is also the secret scan's check run (tests/platform/test_secret_scan.py scans the others).
    fly, lam = canary_runs.fly, canary_runs.lam
    fly_seq, lambda_seq = fly.last_seq(), lam.last_seq()
    proc, run = canary_runs.site("check", "--check", "--diff")
    assert run.rc == 0, run.explain()
    assert fly.writes_since(fly_seq) == []
    assert lam.writes_since(lambda_seq) == []
    assert fly.api("GET", "/apps?org_slug=personal").json()["total_apps"] == 0
    created_apps = {h for h, n, r in run.results("Fly app exists") if r.get("changed")}
    # The six services and the observability layer's apps (monitoring, log shipper).
    assert created_apps == set(SERVICES) | {"monitoring", "log_shipper"}
    # ... and every service's machines, as many as its range's top.
    groups = {h: r for h, _n, r in run.results("Process group runs the wanted machines")}
    assert set(SERVICES) <= set(groups)
    assert all(groups[s].get("changed") for s in SERVICES)
    assert len(groups["unified_api"]["summary"]["created"]) == 4
    # What the operator saw is the same run.
    assert "changed: [unified_api]" in proc.stdout

    scan = canary_runs.scan()
    assert scan.scanned > 20
    assert not scan.found, "secrets left behind:\n" + "\n".join(scan.found)


@pytest.mark.fault("agent_ui_max_machines: many (not a number)",
                   checks="site.yml fails naming the variable; no Fly write")
def test_bad_service_variables_fail_before_any_write_naming_the_option(platform):
    seq = platform.fly.last_seq()
    run = platform.play("site.yml", extra_vars={"agent_ui_max_machines": "many"})
    assert run.rc != 0
    messages = " ".join(str(r.get("msg")) for _h, _n, r in run.results() if r.get("failed"))
    assert "agent_ui_max_machines" in messages
    assert platform.fly.writes_since(seq) == []


@pytest.mark.fault("vector_store_min_machines 3 above vector_store_max_machines 2",
                   checks="site.yml fails naming both values; no Fly write")
def test_an_autoscale_range_upside_down_fails_before_any_write(platform):
    seq = platform.fly.last_seq()
    run = platform.play("site.yml", extra_vars={"vector_store_min_machines": 3, "vector_store_max_machines": 2})
    assert run.rc != 0
    messages = " ".join(str(r.get("msg")) for _h, _n, r in run.results() if r.get("failed"))
    assert "vector_store_min_machines (3)" in messages
    assert platform.fly.writes_since(seq) == []
