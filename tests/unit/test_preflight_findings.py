"""The preflight's verdict on what its checks returned (sophia.ops.preflight_findings)."""

from __future__ import annotations

from ansible_collections.sophia.ops.plugins.filter.preflight import lambda_down, preflight_findings

ALL = ["fly", "lambda", "postgres", "redis", "secrets", "limits", "cost"]
SKIPPED = {"skipped": True, "changed": False}


def passing(**changes):
    found = {
        "plan": [{"name": "unified_api", "secret_names": ["JWT_SECRET", "DB_URL"]},
                 {"name": "weaviate", "secret_names": None}],
        "extra_apps": [{"name": "monitoring"}],
        "plan_problems": [],
        "fly": {"apps": [{"name": "a"}, {"name": "b"}]},
        "fly_org": "personal",
        "fly_api_url": "http://127.0.0.1:1/v1",
        "lambda": {"instances": []},
        "lambda_key_set": True,
        "lambda_api_url": "http://127.0.0.1:2/api/v1",
        "postgres": {"host": "db", "port": 5432, "user": "sophia", "database": "sophia"},
        "postgres_ping": {"is_available": True, "server_version": {"full": "16.4"}},
        "redis": {"host": "cache", "port": 6379, "tls": False},
        "redis_info": {"info": {"redis_version": "7.2.4"}},
        "missing_secrets": {},
        "limits": [{"what": "Fly.io machines", "planned": 12, "limit": 50, "over": False, "source": "fly_account_limits.machines"},
                   {"what": "Fly.io volumes", "planned": 3, "limit": None, "over": False, "source": "fly_account_limits.volumes"}],
        "cost": {"budget": {"status": "within", "message": "$120.00 a month, within the budget"}},
        "budget_override": False,
    }
    found.update(changes)
    return found


def by_check(found, checks=None):
    return dict((f["check"], f) for f in preflight_findings(found, ALL if checks is None else checks))


def test_everything_in_order_passes_and_reads_as_the_report_shows_it():
    findings = preflight_findings(passing(), ALL)
    assert [f["check"] for f in findings] == ["plan"] + ALL and all(f["ok"] is True for f in findings)
    texts = [f["text"] for f in findings]
    assert texts == [
        "Plan: 3 Fly apps, every range and size in order",
        "Fly.io organisation personal at http://127.0.0.1:1/v1: ok, 2 apps",
        "Lambda Cloud at http://127.0.0.1:2/api/v1: ok, 0 instances",
        "PostgreSQL sophia@db:5432/sophia: ok, PostgreSQL 16.4",
        "Redis cache:6379: ok, Redis 7.2.4",
        "Secrets: 2 names needed by 2 services, all present in sophia_secrets",
        "Account limits (the plan at full scale): Fly.io machines 12 of 50, Fly.io volumes 3 of no limit set",
        "Cost guard: $120.00 a month, within the budget",
    ]


def test_only_the_checks_asked_for_and_the_plan_are_weighed():
    # The results of checks not asked for are not even looked at.
    assert [f["check"] for f in preflight_findings(passing(fly=None, cost=None), ["secrets", "redis"])] == [
        "plan", "redis", "secrets"]


def test_a_plan_that_does_not_hold_together_holds_back_the_counts_and_the_price():
    found = by_check(passing(plan_problems=["weaviate_min_machines: 3 above weaviate_max_machines 2", "x"],
                             limits=[], cost={}))
    assert not found["plan"]["ok"] and found["plan"]["text"] == (
        "Plan: weaviate_min_machines: 3 above weaviate_max_machines 2; x")
    assert found["limits"] == {"check": "limits", "ok": True,
                               "text": "Account limits (the plan at full scale): not counted until the plan holds together"}
    assert found["cost"] == {"check": "cost", "ok": True, "text": "Cost guard: not estimated until the plan holds together"}


def test_a_refused_fly_token_fails_with_the_apis_words():
    found = by_check(passing(fly={"failed": True, "msg": "HTTP 401: unauthorized"}))["fly"]
    assert not found["ok"] and found["text"].endswith(": the token or the organisation is refused: HTTP 401: unauthorized")
    assert by_check(passing(fly=SKIPPED, fly_api_url="the API"))["fly"]["text"] == (
        "Fly.io organisation personal at the API: the token or the organisation is refused: no answer")


def test_lambda_down_passes_a_refused_key_fails_no_key_is_not_checked():
    down = {"failed": True, "msg": "connection refused"}
    assert lambda_down(down) and lambda_down({"api_error": {"status": 503}}) and lambda_down({"api_error": None})
    assert not lambda_down({"api_error": {"status": 401}}) and not lambda_down(SKIPPED)
    found = by_check(passing(**{"lambda": down}))["lambda"]
    assert found["ok"] and found["text"].endswith(": down, the GPU pool will fail (connection refused)")
    refused = by_check(passing(**{"lambda": {"failed": True, "msg": "HTTP 401", "api_error": {"status": 401}}}))["lambda"]
    assert not refused["ok"] and refused["text"].endswith(": the API key is refused: HTTP 401")
    unset = by_check(passing(lambda_key_set=False, **{"lambda": SKIPPED}))["lambda"]
    assert unset["ok"] and unset["text"].endswith(": not checked: no API key, and no GPU pool needs one")


def test_databases_name_what_is_unset_or_why_they_do_not_answer():
    found = by_check(passing(postgres={}, postgres_ping=SKIPPED, redis={}, redis_info=SKIPPED))
    assert found["postgres"] == {"check": "postgres", "ok": False, "text": "PostgreSQL ?@?:?/?: sophia_postgres is not set"}
    assert found["redis"] == {"check": "redis", "ok": False, "text": "Redis ?:? (TLS): sophia_redis is not set"}
    found = by_check(passing(postgres_ping={"is_available": False, "conn_err_msg": " timeout expired\n"},
                             redis_info={"failed": True, "msg": "invalid username-password pair "}))
    assert found["postgres"]["text"].endswith("/sophia: not reachable with its credentials: timeout expired")
    assert found["redis"]["text"] == "Redis cache:6379: not reachable with its password: invalid username-password pair"
    # No connection error of its own: the module's message.
    found = by_check(passing(postgres_ping={"is_available": False, "conn_err_msg": "", "msg": "boom"}))
    assert found["postgres"]["text"].endswith(": not reachable with its credentials: boom")


def test_missing_secrets_are_named_by_service_never_by_value():
    found = by_check(passing(missing_secrets={"unified_api": ["DB_URL", "JWT_SECRET"], "agent_ui": ["KEY"]}))["secrets"]
    assert not found["ok"] and found["text"] == (
        "Secrets: 2 names needed by 2 services, missing or empty in sophia_secrets (the vault): "
        "unified_api needs DB_URL, JWT_SECRET; agent_ui needs KEY")


def test_limits_over_the_quota_name_the_variable_to_raise():
    limits = [{"what": "Fly.io machines", "planned": 12, "limit": 3, "over": True, "source": "fly_account_limits.machines"},
              {"what": "Lambda GPU instances", "planned": 0, "limit": 10, "over": False,
               "source": "lambda_account_limits.instances"}]
    found = by_check(passing(limits=limits))["limits"]
    assert not found["ok"] and found["text"] == (
        "Account limits (the plan at full scale): Fly.io machines 12 of 3 (TOO MANY: have the provider raise the "
        "quota, then fly_account_limits.machines), Lambda GPU instances 0 of 10")


def test_above_the_hard_cap_fails_unless_overridden():
    cost = {"budget": {"status": "over_hard_cap", "message": "$300.00 a month, ABOVE the hard cap of $100.00"}}
    found = by_check(passing(cost=cost))["cost"]
    assert not found["ok"] and found["text"] == (
        "Cost guard: $300.00 a month, ABOVE the hard cap of $100.00; lower the plan, raise sophia_budget.hard_cap, "
        "or run with -e sophia_budget_override=true")
    found = by_check(passing(cost=cost, budget_override=True))["cost"]
    assert found["ok"] and found["text"].endswith("; sophia_budget_override=true, going on")
    over_budget = {"budget": {"status": "over_budget", "message": "above the monthly budget"}}
    assert by_check(passing(cost=over_budget))["cost"] == {
        "check": "cost", "ok": True, "text": "Cost guard: above the monthly budget"}
