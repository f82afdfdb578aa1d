# -*- coding: utf-8 -*-
# Copyright: Sophia Intel AI platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cost guard's arithmetic: an environment's monthly cost from its plan and a price table.

Pure functions over plain data (the preflight role passes the inventory's plan and
roles/preflight/vars/prices.yml), so the estimate is unit-tested without Ansible running.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError


def _number(value, what):
    try:
        return float(value)
    except (TypeError, ValueError):
        raise AnsibleFilterError("cost_estimate: %s must be a number, got %r" % (what, value))


def machine_monthly(guest, prices):
    """Monthly price of one running machine of ``guest`` (cpu_kind, cpus, memory_mb): its vCPUs, each
    with the memory included with it, plus the memory beyond that."""
    fly = prices["fly"]
    kind = guest.get("cpu_kind", "shared")
    if kind not in fly["cpu_monthly"]:
        raise AnsibleFilterError("cost_estimate: no price for cpu_kind %r (the table knows %s)"
                                 % (kind, ", ".join(sorted(fly["cpu_monthly"]))))
    cpus = _number(guest.get("cpus", 1), "cpus")
    memory_mb = _number(guest.get("memory_mb", 256), "memory_mb")
    included_mb = cpus * _number(fly["included_memory_mb_per_cpu"][kind], "included memory")
    extra_gb = max(0.0, memory_mb - included_mb) / 1024
    return cpus * _number(fly["cpu_monthly"][kind], "cpu price") + extra_gb * _number(
        fly["extra_memory_gb_monthly"], "memory price")


def size_name(guest):
    """Fly's name for a guest size, e.g. shared-cpu-2x/2048MB."""
    return "%s-cpu-%sx/%sMB" % (guest.get("cpu_kind", "shared"), guest.get("cpus", 1), guest.get("memory_mb", 256))


def gpu_hourly(instance_type, prices):
    table = prices["lambda"]["on_demand_hourly"]
    if instance_type not in table:
        raise AnsibleFilterError("cost_estimate: no price for GPU instance type %r (the table knows %s)"
                                 % (instance_type, ", ".join(sorted(table))))
    return _number(table[instance_type], "GPU price")


def _money(value):
    return round(value + 0.0, 2)


def _usd(value):
    return "${:,.2f}".format(value)


def budget_status(expected, budget):
    """``within``, ``over_budget`` (above ``monthly``) or ``over_hard_cap``; ``no_budget`` without one."""
    if not budget:
        return "no_budget"
    if budget.get("hard_cap") is not None and expected > _number(budget["hard_cap"], "hard_cap"):
        return "over_hard_cap"
    if budget.get("monthly") is not None and expected > _number(budget["monthly"], "monthly budget"):
        return "over_budget"
    return "within"


def _whole(value):
    """``value`` as a whole number, or None when it is not one (a bool is not)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def plan_problems(plan, prices=None):
    """What keeps a plan from being counted and priced, one message per problem, each naming the inventory
    variable (``<service>_min_machines`` and so on); empty when the plan holds together."""
    problems = []
    for app in plan or []:
        name = app.get("name") or "?"
        numbers = {}
        for key in ("min_machines", "max_machines", "volume_size_gb"):
            value = app.get(key)
            if value is None and key == "volume_size_gb":
                value = 0
            numbers[key] = _whole(value)
            if numbers[key] is None or numbers[key] < 0:
                problems.append("%s_%s (%r) is not a whole number of 0 or more" % (name, key, value))
        low, high = numbers["min_machines"], numbers["max_machines"]
        if low is not None and high is not None and (high < 1 or low > high):
            problems.append("%s_min_machines (%s) must lie between 0 and %s_max_machines (%s), which must be at "
                            "least 1" % (name, low, name, high))
        guest = app.get("guest")
        if not isinstance(guest, dict):
            problems.append("%s_guest (%r) is not a machine size (cpu_kind, cpus, memory_mb)" % (name, guest))
            continue
        for key in ("cpus", "memory_mb"):
            if key in guest and (_whole(guest[key]) is None or _whole(guest[key]) < 1):
                problems.append("%s_guest.%s (%r) is not a whole number of 1 or more" % (name, key, guest[key]))
        kinds = (prices or {}).get("fly", {}).get("cpu_monthly")
        if kinds and guest.get("cpu_kind", "shared") not in kinds:
            problems.append("%s_guest.cpu_kind (%r) is not one of %s" % (name, guest.get("cpu_kind"),
                                                                         ", ".join(sorted(kinds))))
    return problems


def cost_estimate(plan, prices, gpu=None, external=None, budget=None):
    """The monthly cost of an environment.

    ``plan``: the Fly apps, each ``{name, guest: {cpu_kind, cpus, memory_mb}, min_machines, max_machines,
    volume_size_gb}``. ``gpu``: ``{count, hours_per_month, instance_types}`` (types in order of preference).
    ``external``: managed services outside Fly and Lambda, a number or ``{name: usd}``. ``budget``:
    ``{monthly, hard_cap}``.

    Expected cost: every app's ``min_machines`` running all month (the rest stopped by Fly's proxy), every
    machine's volume (all ``max_machines`` have one, running or not), the GPU pool for its hours at the price of
    its first instance type, and the external services. Full scale: every machine running, and the GPU pool on
    the dearest of its types (what the capacity fallback may land on).
    """
    gpu = gpu or {}
    if isinstance(external, dict):
        external_items = {str(k): _money(_number(v, "external cost of %s" % k)) for k, v in external.items()}
    elif external in (None, ""):
        external_items = {}
    else:
        external_items = {"external services": _money(_number(external, "external cost"))}
    volume_price = _number(prices["fly"]["volume_gb_monthly"], "volume price")

    services = []
    for app in plan or []:
        guest = app.get("guest") or {}
        low = int(_number(app.get("min_machines") or 0, "min_machines of %s" % app.get("name")))
        high = int(_number(app.get("max_machines") or low, "max_machines of %s" % app.get("name")))
        if high < low:
            raise AnsibleFilterError("cost_estimate: %s has max_machines %d below min_machines %d"
                                     % (app.get("name"), high, low))
        each = machine_monthly(guest, prices)
        volumes_gb = high * _number(app.get("volume_size_gb", 0) or 0, "volume_size_gb of %s" % app.get("name"))
        volumes = volumes_gb * volume_price
        services.append({
            "name": app.get("name"), "size": size_name(guest), "machine_monthly": _money(each),
            "min_machines": low, "max_machines": high, "volumes_gb": volumes_gb, "volumes_monthly": _money(volumes),
            "expected": _money(low * each + volumes), "full_scale": _money(high * each + volumes),
        })

    count = int(_number(gpu.get("count", 0) or 0, "GPU pool count"))
    hours = _number(gpu.get("hours_per_month", 0) or 0, "GPU hours per month")
    types = list(gpu.get("instance_types") or [])
    pool = {"count": count, "hours_per_month": hours, "instance_type": None, "hourly": 0.0, "expected": 0.0,
            "full_scale_instance_type": None, "full_scale": 0.0}
    if count > 0:
        if not types:
            raise AnsibleFilterError("cost_estimate: a GPU pool of %d needs its instance types" % count)
        dearest = max(types, key=lambda name: gpu_hourly(name, prices))
        pool.update(instance_type=types[0], hourly=gpu_hourly(types[0], prices),
                    expected=_money(count * hours * gpu_hourly(types[0], prices)),
                    full_scale_instance_type=dearest, full_scale=_money(count * hours * gpu_hourly(dearest, prices)))

    external_total = _money(sum(external_items.values()))
    totals = {
        "machines_expected": _money(sum(s["expected"] - s["volumes_monthly"] for s in services)),
        "machines_full_scale": _money(sum(s["full_scale"] - s["volumes_monthly"] for s in services)),
        "volumes": _money(sum(s["volumes_monthly"] for s in services)),
        "gpu_expected": pool["expected"], "gpu_full_scale": pool["full_scale"], "external": external_total,
    }
    totals["expected"] = _money(sum(s["expected"] for s in services) + pool["expected"] + external_total)
    totals["full_scale"] = _money(sum(s["full_scale"] for s in services) + pool["full_scale"] + external_total)

    budget = dict(budget or {})
    status = budget_status(totals["expected"], budget)
    result = {
        "currency": prices.get("currency", "USD"), "as_of": str(prices.get("as_of", "")),
        "sources": [src for src in (prices.get("fly", {}).get("source"), prices.get("lambda", {}).get("source")) if src],
        "services": services, "gpu": pool, "external": external_items, "totals": totals,
        "budget": {"monthly": budget.get("monthly"), "hard_cap": budget.get("hard_cap"), "status": status,
                   "message": budget_message(totals["expected"], budget, status)},
    }
    result["report"] = report_lines(result)
    return result


def budget_message(expected, budget, status):
    if status == "no_budget":
        return "no budget set (sophia_budget): expected %s a month" % _usd(expected)
    monthly = _usd(_number(budget.get("monthly", 0), "monthly budget"))
    hard_cap = _usd(_number(budget.get("hard_cap", 0), "hard_cap"))
    limits = "monthly budget %s, hard cap %s" % (monthly, hard_cap)
    verdict = {"within": "within", "over_budget": "ABOVE the monthly budget", "over_hard_cap": "ABOVE the hard cap"}
    return "expected %s a month is %s (%s)" % (_usd(expected), verdict[status], limits)


def report_lines(estimate):
    """The estimate as aligned text lines, one per service, for the preflight's report."""
    lines = ["Estimated monthly cost (%s, list prices of %s: %s)"
             % (estimate["currency"], estimate["as_of"], ", ".join(estimate["sources"]))]
    row = "  {:<14} {:<22} {:>11} {:>8} {:>8} {:>11} {:>11}"
    lines.append(row.format("", "size", "per machine", "machines", "volumes", "expected", "full scale"))
    for svc in estimate["services"]:
        lines.append(row.format(svc["name"], svc["size"], _usd(svc["machine_monthly"]),
                                "%d-%d" % (svc["min_machines"], svc["max_machines"]), "%gGB" % svc["volumes_gb"],
                                _usd(svc["expected"]), _usd(svc["full_scale"])))
    pool = estimate["gpu"]
    if pool["count"]:
        lines.append(row.format("GPU pool", pool["instance_type"], "%s/h" % _usd(pool["hourly"]),
                                "%d" % pool["count"], "%gh" % pool["hours_per_month"], _usd(pool["expected"]),
                                _usd(pool["full_scale"])))
    for name, usd in sorted(estimate["external"].items()):
        lines.append(row.format(name, "external", "", "", "", _usd(usd), _usd(usd)))
    totals = estimate["totals"]
    lines.append(row.format("total", "", "", "", "", _usd(totals["expected"]), _usd(totals["full_scale"])))
    lines.append("  " + estimate["budget"]["message"])
    return lines


class FilterModule:
    def filters(self):
        return {"cost_estimate": cost_estimate, "plan_problems": plan_problems}
