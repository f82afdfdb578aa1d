# -*- coding: utf-8 -*-
# Copyright: Sophia Intel AI platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The preflight's verdict: what each check found, from the results the preflight role gathered.

The role reads (API listings, database pings, the plan, the price table) and hands the results here;
each check becomes one finding, ``{check, ok, text}``, in a fixed order. Pure, so each wording and
each verdict is unit-tested without a play.
"""

from __future__ import annotations

NO_ANSWER = "no answer"


def _int(value):
    """A number as Jinja's ``int`` filter reads it: 0 when it is none."""
    try:
        return int(value)
    except (TypeError, ValueError):
        try:
            return int(float(value))
        except (TypeError, ValueError):
            return 0


def _text(value):
    # As Jinja's ~ joins: None is "None".
    return str(value)


def _flatten(items):
    for item in items:
        if isinstance(item, (list, tuple)):
            yield from _flatten(item)
        elif item is not None and item != "None":
            yield item


def _planned(found):
    return len(found.get("plan_problems") or []) == 0


def _plan(found):
    apps = list(found.get("plan") or []) + list(found.get("extra_apps") or [])
    planned = _planned(found)
    text = ("%d Fly apps, every range and size in order" % len(apps) if planned
            else "; ".join(_text(problem) for problem in found["plan_problems"]))
    return planned, "Plan: " + text


def _fly(found):
    fly = found.get("fly") or {}
    if "apps" in fly:
        outcome = "ok, %d apps" % len(fly["apps"])
    else:
        outcome = "the token or the organisation is refused: %s" % _text(fly.get("msg", NO_ANSWER))
    return "apps" in fly, "Fly.io organisation %s at %s: %s" % (
        _text(found.get("fly_org")), _text(found.get("fly_api_url", "the API")), outcome)


def lambda_down(result):
    """No answer, or a 5xx: Lambda is down, which is not the Fly platform's problem (a refused key is)."""
    if "instances" in result or "skipped" in result:
        return False
    api_error = result.get("api_error")
    status = api_error.get("status") if isinstance(api_error, dict) else None
    return status is None or _int(status) >= 500


def _lambda(found):
    result = found.get("lambda") or {}
    unset = not found.get("lambda_key_set")
    down = lambda_down(result)
    msg = _text(result.get("msg", NO_ANSWER))
    if "instances" in result:
        outcome = "ok, %d instances" % len(result["instances"])
    elif unset:
        outcome = "not checked: no API key, and no GPU pool needs one"
    elif down:
        outcome = "down, the GPU pool will fail (%s)" % msg
    else:
        outcome = "the API key is refused: %s" % msg
    return ("instances" in result or down or unset,
            "Lambda Cloud at %s: %s" % (_text(found.get("lambda_api_url", "the API")), outcome))


def _postgres(found):
    target = found.get("postgres") or {}
    ping = found.get("postgres_ping") or {}
    ok = bool(ping.get("is_available", False))
    if ok:
        outcome = "ok, PostgreSQL %s" % _text(ping["server_version"]["full"])
    elif "host" not in target:
        outcome = "sophia_postgres is not set"
    else:
        why = ping.get("conn_err_msg") or ping.get("msg", NO_ANSWER)
        outcome = "not reachable with its credentials: %s" % _text(why).strip()
    return ok, "PostgreSQL %s@%s:%s/%s: %s" % (
        _text(target.get("user", "?")), _text(target.get("host", "?")), _text(target.get("port", "?")),
        _text(target.get("database", "?")), outcome)


def _redis(found):
    target = found.get("redis") or {}
    info = found.get("redis_info") or {}
    ok = "info" in info
    if ok:
        outcome = "ok, Redis %s" % _text(info["info"]["redis_version"])
    elif "host" not in target:
        outcome = "sophia_redis is not set"
    else:
        outcome = "not reachable with its password: %s" % _text(info.get("msg", NO_ANSWER)).strip()
    return ok, "Redis %s:%s%s: %s" % (_text(target.get("host", "?")), _text(target.get("port", "?")),
                                      " (TLS)" if target.get("tls", True) else "", outcome)


def _secrets(found):
    plan = found.get("plan") or []
    missing = found.get("missing_secrets") or {}
    names = set(_flatten([service.get("secret_names") or [] for service in plan]))
    text = "Secrets: %d names needed by %d services, " % (len(names), len(plan))
    if not missing:
        text += "all present in sophia_secrets"
    else:
        text += "missing or empty in sophia_secrets (the vault): " + "; ".join(
            "%s needs %s" % (service, ", ".join(_text(name) for name in needed)) for service, needed in missing.items())
    return not missing, text


def _limits(found):
    planned = _planned(found)
    rows = list(found.get("limits") or []) if planned else []
    text = "Account limits (the plan at full scale): "
    if not planned:
        text += "not counted until the plan holds together"
    text += ", ".join("%s %s of %s%s" % (
        _text(row["what"]), _text(row["planned"]),
        _text(row["limit"]) if row["limit"] is not None else "no limit set",
        " (TOO MANY: have the provider raise the quota, then %s)" % _text(row["source"]) if row["over"] else "")
        for row in rows)
    return not planned or not any(row["over"] for row in rows), text


def _cost(found):
    if not _planned(found):
        return True, "Cost guard: not estimated until the plan holds together"
    budget = found["cost"]["budget"]
    over_cap = budget["status"] == "over_hard_cap"
    override = found.get("budget_override")
    text = "Cost guard: %s" % _text(budget["message"])
    if over_cap and override:
        text += "; sophia_budget_override=true, going on"
    elif over_cap:
        text += "; lower the plan, raise sophia_budget.hard_cap, or run with -e sophia_budget_override=true"
    return not over_cap or bool(override), text


CHECKS = (("plan", _plan), ("fly", _fly), ("lambda", _lambda), ("postgres", _postgres), ("redis", _redis),
          ("secrets", _secrets), ("limits", _limits), ("cost", _cost))


def preflight_findings(found, checks):
    """One finding per check asked for (the plan always), in a fixed order: ``{check, ok, text}``."""
    wanted = ["plan"] + list(checks or [])
    findings = []
    for check, weigh in CHECKS:
        if check in wanted:
            ok, text = weigh(found)
            findings.append({"check": check, "ok": bool(ok), "text": text})
    return findings


class FilterModule:
    def filters(self):
        return {"preflight_findings": preflight_findings}
