# -*- coding: utf-8 -*-
# Copyright: Sophia Intel AI platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The drift report: what a check-mode run of sophia.ops.fly_service found different, one entry per resource."""

from __future__ import annotations

import json

from ansible.errors import AnsibleFilterError

# The same comparison rules the machine module decides with, so the report names what made it act.
from ansible_collections.sophia.ops.plugins.module_utils.fly_machine_config import (
    EXACT_KEY_MAPS,
    PRIVATE_METADATA,
    config_matches,
    is_empty,
)
from ansible_collections.sophia.ops.plugins.module_utils.fly_rollout import GROUP_KEY

ABSENT = "(absent)"
# Machine metadata the roles keep the previous release in (roles/fly_service/tasks/machines.yml).
RELEASE_RECORD = "sophia_previous_image"
# What would be done (check mode), and what was done (drift_fix).
VERBS = {
    "create": ("would create", "created"),
    "set": ("would set", "set"),
    "assign": ("would assign", "assigned"),
    "release": ("would release", "released"),
    "request": ("would request", "requested"),
    "update": ("would update", "updated"),
    "start": ("would start", "started"),
    "destroy": ("would destroy", "destroyed"),
    "extend": ("would extend", "extended"),
    "wait": ("not healthy", "not healthy"),
    "error": ("could not be checked", "could not be corrected"),
}


def _show(value):
    if value is None:
        return ABSENT
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    return str(value)


def _changed(result):
    return isinstance(result, dict) and bool(result.get("changed")) and not result.get("skipped")


def config_differences(wanted, actual, path=""):
    """``[(path, found, wanted)]`` for each field of ``wanted`` that ``actual`` does not match, by the
    module's rules: fields not asked for are the platform's, maps of user data (env, metadata, checks)
    must have exactly the wanted keys, lists are compared item by item when their lengths agree."""
    differences = []
    for name, value in (wanted or {}).items():
        differences.extend(_field_differences(value, (actual or {}).get(name), _join(path, name), name))
    return differences


def _join(path, name):
    return "%s.%s" % (path, name) if path else str(name)


def _field_differences(wanted, actual, path, key):
    if is_empty(wanted):
        return [] if is_empty(actual) else [(path, actual, None)]
    if isinstance(wanted, dict) and isinstance(actual, dict):
        if key == "metadata":
            actual = dict((k, v) for k, v in actual.items() if k not in PRIVATE_METADATA)
        found = []
        for name, value in wanted.items():
            found.extend(_field_differences(value, actual.get(name), _join(path, name), name))
        if key in EXACT_KEY_MAPS:
            found.extend((_join(path, name), value, None) for name, value in sorted(actual.items())
                         if name not in wanted and not is_empty(value))
        return found
    if isinstance(wanted, list) and isinstance(actual, list) and len(wanted) == len(actual):
        found = []
        for index, (item, current) in enumerate(zip(wanted, actual)):
            found.extend(_field_differences(item, current, "%s[%d]" % (path, index), key))
        return found
    # A leaf is compared under its own key, so the module's rules for that key (autostop's booleans) hold.
    return [] if config_matches({key: wanted}, {key: actual}) else [(path, actual, wanted)]


class _Report:
    def __init__(self, results, fixed):
        self.fixed = fixed
        self.service = results.get("service") or "?"
        self.app_name = ((results.get("app") or {}).get("fly_app") or {}).get("name") or ""
        self.entries = []

    def add(self, resource, name, change, what, group=None, field=None, found=None, wanted=None):
        verb = VERBS[change][1 if self.fixed else 0]
        self.entries.append({
            "service": self.service, "app": self.app_name, "group": group, "resource": resource, "name": name,
            "change": change, "field": field, "found": found, "wanted": wanted,
            # The main process group goes without saying; another one (monitoring's alertmanager) is named.
            "message": "%s%s: %s (%s)" % (self.service, "/%s" % group if group not in (None, "app") else "", what, verb),
        })


def _app(report, result):
    if _changed(result):
        report.add("app", report.app_name, "create", "app %s missing" % report.app_name)
        return True
    return False


def _secrets(report, result):
    if not _changed(result):
        return
    fly_secret = result.get("fly_secret") or {}
    before = (result.get("diff") or {}).get("before") or {}
    listed = set(s.get("name") for s in fly_secret.get("secrets") or [])
    for name in fly_secret.get("changed_names") or []:
        # The diff (digests, never values) says whether it existed; without it, the listing (check mode: before).
        missing = before.get(name) == ABSENT if name in before else name not in listed
        report.add("secret", name, "set", "secret %s %s" % (name, "missing" if missing else "differs from the vault"),
                   found=None if missing else "(other value)", wanted="(vault value)")


# The order the report names address kinds in.
IP_KINDS = ("private_v6", "v6", "shared_v4", "v4")


def _ips(report, result):
    """The one fly_ip task of a service (types, exclusive): what it assigned and released."""
    if not _changed(result):
        return
    ips = result.get("fly_ip") or {}
    assigned = {body["type"] for body in ips.get("assigned") or []}
    released = {}
    for address in ips.get("released") or []:
        released.setdefault(address["type"], []).append(address["ip"])
    for kind in IP_KINDS:
        if kind in assigned:
            report.add("ip", kind, "assign", "IP %s missing" % kind, wanted=kind)
        if kind in released:
            report.add("ip", kind, "release", "IP %s (%s) present, not wanted" % (kind, ", ".join(released[kind])),
                       found=released[kind])


def _certificates(report, result):
    for item in (result or {}).get("results") or []:
        if _changed(item):
            hostname = item.get("item")
            report.add("certificate", hostname, "request", "certificate for %s missing" % hostname, wanted=hostname)


def _with_group(wanted, actual):
    """The module adds the process group's key to the metadata it is given; so does the comparison."""
    group = (((actual or {}).get("metadata")) or {}).get(GROUP_KEY)
    if group is None or "metadata" not in wanted:
        return wanted
    return dict(wanted, metadata=dict(wanted.get("metadata") or {}, **{GROUP_KEY: group}))


def _machines(report, group, kept):
    """One process group: ``kept`` holds its wanted config, the machines before and the task's result."""
    result = kept.get("result")
    if not isinstance(result, dict) or result.get("skipped") or not result.get("summary"):
        return
    summary = result["summary"]
    wanted = kept.get("wanted") or {}
    current = kept.get("current")
    # The machines as they were before the task: its own answer in check mode, the role's reading otherwise.
    before = (current or {}).get("machines") if isinstance(current, dict) and not current.get("skipped") else None
    machines = dict((m.get("id"), m) for m in (before if before is not None else result.get("machines") or []))
    diff = result.get("diff") or {}
    planned = (diff.get("after") or {}).get("machines") or {}

    def machine(resource_id, change, what, **fields):
        report.add("machine", resource_id, change, "machine %s" % what, group=group, **fields)

    for new in summary.get("created") or []:
        # In check mode new machines are named new-1, new-2, ... and the diff gives their regions.
        region = (planned.get(new) or {}).get("region") or (machines.get(new) or {}).get("region")
        machine(new, "create", "missing%s" % (" in %s" % region if region else ""), wanted=region)
    for machine_id in summary.get("updated") or []:
        config = (machines.get(machine_id) or {}).get("config")
        differences = config_differences(_with_group(wanted, config), config)
        if any(path == "image" for path, dummy, dummy in differences):
            # The release record follows the image (it names the one before): not a difference of its own.
            differences = [d for d in differences if d[0] != "metadata.%s" % RELEASE_RECORD]
        if not differences:
            machine(machine_id, "update", "%s config differs" % machine_id)
        for path, found, value in differences:
            machine(machine_id, "update", "%s %s %s -> %s" % (machine_id, path, _show(found), _show(value)),
                    field=path, found=found, wanted=value)
    for machine_id in summary.get("started") or []:
        state = (machines.get(machine_id) or {}).get("state") or "not running"
        machine(machine_id, "start", "%s is %s" % (machine_id, state), field="state", found=state, wanted="started")
    for machine_id in summary.get("destroyed") or []:
        region = (machines.get(machine_id) or {}).get("region")
        machine(machine_id, "destroy", "%s%s not wanted" % (machine_id, " in %s" % region if region else ""),
                found=region)
    for machine_id in summary.get("unhealthy") or []:
        machine(machine_id, "wait", "%s runs the wanted config and fails its checks" % machine_id, field="checks",
                found="failing", wanted="passing")
    for volume_id in summary.get("grown_volumes") or []:
        report.add("volume", volume_id, "extend", "volume %s smaller than the wanted size" % volume_id,
                   group=group, field="size_gb")
    volumes_before = (diff.get("before") or {}).get("volumes") or {}
    volumes_after = (diff.get("after") or {}).get("volumes") or {}
    for volume_id in summary.get("volumes_updated") or []:
        settings = volumes_after.get(volume_id) or {}
        if not settings:
            report.add("volume", volume_id, "update", "volume %s snapshot settings differ" % volume_id, group=group)
        for key, value in sorted(settings.items()):
            found = (volumes_before.get(volume_id) or {}).get(key)
            report.add("volume", volume_id, "update", "volume %s %s %s -> %s" % (volume_id, key, _show(found),
                                                                                 _show(value)),
                       group=group, field=key, found=found, wanted=value)


def drift_report(results, fixed=False):
    """Report entries from the registered results of sophia.ops.fly_service, one dict per service."""
    if not isinstance(results, (list, tuple)):
        raise AnsibleFilterError("drift_report expects a list of per-service results, got %s" % type(results).__name__)
    entries = []
    for service_results in results:
        if not isinstance(service_results, dict):
            raise AnsibleFilterError("drift_report: each item must be a dict of one service's results")
        report = _Report(service_results, bool(fixed))
        error = service_results.get("error")
        if error:
            # What was read before the failure is still reported below it.
            report.add("service", report.service, "error", "%s%s" % (
                "%s: " % error["task"] if error.get("task") else "", error.get("msg") or "failed"))
        # A missing app takes everything in it along: one entry says it all.
        if not _app(report, service_results.get("app")):
            _secrets(report, service_results.get("secrets"))
            _ips(report, service_results.get("ips"))
            _certificates(report, service_results.get("certificates"))
            for group, kept in sorted((service_results.get("groups") or {}).items()):
                _machines(report, group, kept or {})
        entries.extend(report.entries)
    return entries


class FilterModule:
    def filters(self):
        return {"drift_report": drift_report}
