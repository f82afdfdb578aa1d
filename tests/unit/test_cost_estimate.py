"""The cost guard's arithmetic (plugins/filter/cost.py) over the role's price table: pure, no Ansible run."""

from __future__ import annotations

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.sophia.ops.plugins.filter.cost import budget_status, cost_estimate, machine_monthly, plan_problems
from ansible_collections.sophia.ops.plugins.filter.warn import warn
from tests.support.ansible_cli import REPO_ROOT

PRICES = yaml.safe_load((REPO_ROOT / "roles" / "preflight" / "vars" / "prices.yml").read_text())["preflight_prices"]
SHARED_2X_2GB = {"cpu_kind": "shared", "cpus": 2, "memory_mb": 2048}


def app(name="weaviate", guest=None, low=1, high=4, volume=20):
    return {"name": name, "guest": guest or SHARED_2X_2GB, "min_machines": low, "max_machines": high,
            "volume_size_gb": volume}


def test_the_price_table_says_when_and_where_from():
    assert PRICES["as_of"] and PRICES["fly"]["source"].startswith("https://fly.io/")
    assert PRICES["lambda"]["source"].startswith("https://")


@pytest.mark.parametrize("guest, monthly", [
    ({"cpu_kind": "shared", "cpus": 1, "memory_mb": 256}, 1.94),        # shared-cpu-1x, memory included
    ({"cpu_kind": "shared", "cpus": 1, "memory_mb": 1024}, 1.94 + 0.75 * 5),
    (SHARED_2X_2GB, 2 * 1.94 + 1.5 * 5),
    ({"cpu_kind": "shared", "cpus": 4, "memory_mb": 4096}, 4 * 1.94 + 3 * 5),
    ({"cpu_kind": "performance", "cpus": 1, "memory_mb": 2048}, 31.0),  # performance-1x, 2 GB included
    ({"cpu_kind": "performance", "cpus": 2, "memory_mb": 8192}, 62.0 + 4 * 5),
])
def test_a_machine_costs_its_cpus_and_the_memory_beyond_what_they_include(guest, monthly):
    assert machine_monthly(guest, PRICES) == pytest.approx(monthly)


def test_expected_runs_the_minimum_and_full_scale_the_maximum_and_every_machine_has_its_volume():
    [svc] = cost_estimate([app(low=2, high=4, volume=20)], PRICES)["services"]
    each = 2 * 1.94 + 1.5 * 5
    volumes = 4 * 20 * 0.15  # all four machines exist, each with its 20 GB volume
    assert svc["volumes_gb"] == 80
    assert svc["expected"] == pytest.approx(2 * each + volumes)
    assert svc["full_scale"] == pytest.approx(4 * each + volumes)


def test_a_service_without_a_volume_pays_for_machines_only():
    [svc] = cost_estimate([app(low=1, high=1, volume=0)], PRICES)["services"]
    assert svc["volumes_monthly"] == 0 and svc["expected"] == pytest.approx(2 * 1.94 + 1.5 * 5)


def test_the_gpu_pool_is_priced_by_hours_at_its_first_type_and_its_dearest_for_full_scale():
    estimate = cost_estimate([], PRICES, gpu={"count": 2, "hours_per_month": 100,
                                              "instance_types": ["gpu_1x_a100_sxm4", "gpu_1x_h100_pcie"]})
    pool = estimate["gpu"]
    assert (pool["instance_type"], pool["full_scale_instance_type"]) == ("gpu_1x_a100_sxm4", "gpu_1x_h100_pcie")
    assert pool["expected"] == pytest.approx(2 * 100 * 1.29)
    assert pool["full_scale"] == pytest.approx(2 * 100 * 2.49)
    assert estimate["totals"]["expected"] == pytest.approx(258.0)


def test_no_gpu_pool_costs_nothing_and_needs_no_types():
    assert cost_estimate([], PRICES, gpu={"count": 0, "hours_per_month": 730})["gpu"]["expected"] == 0


@pytest.mark.parametrize("external, total", [(None, 0), (50, 50), ({"neon_postgres": 19, "redis_cloud": 31}, 50)])
def test_external_services_are_a_number_or_named_amounts(external, total):
    assert cost_estimate([], PRICES, external=external)["totals"]["external"] == total


def test_totals_add_machines_volumes_gpu_and_external_services():
    estimate = cost_estimate([app(low=1, high=2, volume=10), app("agent_ui", {"cpus": 1, "memory_mb": 1024}, 1, 1, 5)],
                             PRICES, gpu={"count": 1, "hours_per_month": 10, "instance_types": ["gpu_1x_a10"]},
                             external={"neon": 19})
    totals = estimate["totals"]
    assert totals["expected"] == pytest.approx(
        totals["machines_expected"] + totals["volumes"] + totals["gpu_expected"] + totals["external"])
    assert totals["full_scale"] == pytest.approx(
        totals["machines_full_scale"] + totals["volumes"] + totals["gpu_full_scale"] + totals["external"])
    assert totals["full_scale"] > totals["expected"]


@pytest.mark.parametrize("expected, status", [
    (100, "within"), (200, "within"), (200.01, "over_budget"), (300, "over_budget"), (300.01, "over_hard_cap")])
def test_the_budget_warns_above_monthly_and_stops_above_the_hard_cap(expected, status):
    assert budget_status(expected, {"monthly": 200, "hard_cap": 300}) == status


def test_without_a_budget_there_is_nothing_to_hold_against():
    estimate = cost_estimate([app()], PRICES)
    assert estimate["budget"]["status"] == "no_budget"


def test_the_report_names_every_service_the_pool_the_total_and_the_verdict():
    estimate = cost_estimate([app(), app("unified_api", low=2, high=20, volume=15)], PRICES,
                             gpu={"count": 1, "hours_per_month": 40, "instance_types": ["gpu_1x_a100_sxm4"]},
                             external={"redis_cloud": 31}, budget={"monthly": 100, "hard_cap": 1000})
    text = "\n".join(estimate["report"])
    for part in ("weaviate", "unified_api", "GPU pool", "redis_cloud", "total", PRICES["as_of"],
                 "ABOVE the monthly budget", "$1,000.00"):
        assert part in text


@pytest.mark.parametrize("bad, message", [
    ([app(guest={"cpu_kind": "quantum", "cpus": 1, "memory_mb": 256})], "cpu_kind 'quantum'"),
    ([app(low=3, high=2)], "below min_machines"),
    ([app(guest={"cpus": "many"})], "cpus must be a number"),
])
def test_a_plan_it_cannot_price_is_refused_naming_what(bad, message):
    with pytest.raises(AnsibleFilterError, match=message):
        cost_estimate(bad, PRICES)


def test_an_unknown_gpu_type_is_refused_naming_it():
    with pytest.raises(AnsibleFilterError, match="gpu_9x_unobtainium"):
        cost_estimate([], PRICES, gpu={"count": 1, "hours_per_month": 1, "instance_types": ["gpu_9x_unobtainium"]})


@pytest.mark.parametrize("env", ["local", "dev", "staging", "prod"])
def test_every_environment_plan_fits_under_its_hard_cap(env):
    """The inventories as shipped pass their own cost guard (the six services; the preflight adds the apps of
    other roles from their defaults)."""
    group_vars = REPO_ROOT / "inventories" / env / "group_vars" / "all"
    data = {}
    for name in ("services.yml", "lambda.yml", "external.yml", "platform.yml", "fly.yml"):
        data.update(yaml.safe_load((group_vars / name).read_text()))
    plan = [{"name": svc, "guest": data[svc + "_guest"], "min_machines": data[svc + "_min_machines"],
             "max_machines": data[svc + "_max_machines"], "volume_size_gb": data[svc + "_volume_size_gb"]}
            for svc in ("weaviate", "mcp_server", "vector_store", "unified_api", "agno_bridge", "agent_ui")]
    estimate = cost_estimate(plan, PRICES, budget=data["sophia_budget"],
                             gpu={"count": data.get("lambda_pool_count", 0),
                                  "hours_per_month": data.get("lambda_gpu_hours_per_month", 0),
                                  "instance_types": data["lambda_instance_types"]},
                             external=data.get("sophia_external_monthly_usd"))
    assert estimate["budget"]["status"] in ("within", "over_budget"), estimate["report"]
    # And the plan's machines fit the account's limits.
    assert sum(app["max_machines"] for app in plan) <= data["fly_account_limits"]["machines"]


def test_a_plan_that_holds_together_has_no_problems():
    assert plan_problems([app(), app("agent_ui", {"cpus": 1, "memory_mb": 1024}, "1", "6", None)], PRICES) == []


@pytest.mark.parametrize("bad, message", [
    (app(high="many"), "weaviate_max_machines ('many') is not a whole number"),
    (app(low=-1), "weaviate_min_machines (-1) is not a whole number of 0 or more"),
    (app(low=3, high=2), "weaviate_min_machines (3) must lie between 0 and weaviate_max_machines (2)"),
    (app(low=0, high=0), "weaviate_min_machines (0) must lie between 0 and weaviate_max_machines (0), which must be"),
    (app(volume=True), "weaviate_volume_size_gb (True) is not a whole number"),
    (app(guest="big"), "weaviate_guest ('big') is not a machine size"),
    (app(guest={"cpu_kind": "gpu", "cpus": 1}), "weaviate_guest.cpu_kind ('gpu') is not one of performance, shared"),
    (app(guest={"cpus": 0}), "weaviate_guest.cpus (0) is not a whole number of 1 or more"),
])
def test_a_plan_problem_names_the_inventory_variable(bad, message):
    problems = plan_problems([bad], PRICES)
    assert len(problems) == 1 and problems[0].startswith(message), problems


def test_warn_hands_its_message_back():
    assert warn("over budget") == "over budget"
    assert warn("") == ""
