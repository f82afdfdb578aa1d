"""Everything a Lambda emulator knows, in one object the handlers of every resource take: the records
(``store``), the settings (boot time, launch interval, quota) and, with the Docker backend, the containers
the instances run as (``machines``); with what more than one resource reads: an instance's status on the
clock, the live instances, how an instance is answered."""

from __future__ import annotations

import random
import time

from emulators.lambda_cloud.catalog import instance_type, region
from emulators.lambda_cloud.errors import does_not_exist, invalid

# Ids are matched loosely so that an id of the wrong form is "does not exist", as the document
# answers it, rather than an unknown path.
ID = r"(?P<{}>[^/]+)"


def iso(at=None):
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(time.time() if at is None else at))


def hex_id():
    return "".join(random.choice("0123456789abcdef") for dummy in range(32))


def required_body(request):
    """The body of an operation whose document requires one (even when every field is optional)."""
    if not request.body:
        raise invalid("a JSON request body is required")
    return request.json()


def ruleset_ids(instance):
    """The ids of the rulesets an instance was launched with (state from before the launch stored them
    right reads the same)."""
    ids = []
    for entry in instance.get("firewall_rulesets") or []:
        while isinstance(entry, dict):
            entry = entry.get("id")
        if isinstance(entry, str):
            ids.append(entry)
    return ids


class LambdaState:
    def __init__(self, store, settings):
        self.store = store
        self.settings = settings  # the service's own dict, changed in place
        # None: instances are records only (the default); docker_backend.DockerInstances: they boot as containers.
        self.machines = None

    def status_of(self, instance, at=None):
        at = time.time() if at is None else at
        status = instance["status"]
        if status == "booting" and instance.get("container"):
            # A container instance is active once its sshd answers; kept, so the probe runs once.
            if self.machines is None or not self.machines.booted(instance):
                return status
            instance["status"] = "active"
            self.store.put("instance", instance["id"], instance)
            return "active"
        if status == "booting" and at >= instance["ready_at"]:
            return "active"
        if status == "terminating" and at >= instance["ready_at"]:
            return "terminated"
        return status

    def live(self):
        return [i for i in self.store.list("instance") if self.status_of(i) != "terminated"]

    def instance(self, instance_id):
        found = self.store.get("instance", instance_id)
        if found is None or self.status_of(found) == "terminated":
            raise does_not_exist("Specified instance does not exist.", "List your instances with GET /instances.")
        return found

    def render(self, instance):
        status = self.status_of(instance)
        out = {key: instance[key] for key in ("id", "name", "private_ip", "ssh_key_names", "file_system_names",
                                              "hostname", "jupyter_token", "jupyter_url", "tags")}
        out["firewall_rulesets"] = [{"id": ruleset_id} for ruleset_id in ruleset_ids(instance)]
        out["status"] = status
        if status in ("active", "unhealthy"):
            out["ip"] = instance["ip"]  # no public address until the instance has booted
        if instance["file_system_mounts"]:
            out["file_system_mounts"] = instance["file_system_mounts"]
        out["region"] = region(instance["region"])
        out["instance_type"] = instance_type(instance["instance_type"])
        busy = status in ("booting", "terminating")
        blocked = {"available": False, "reason_code": "vm-action-in-progress",
                   "reason_description": "Another operation is in progress."}
        ready = {"available": True}
        out["actions"] = {"migrate": blocked if busy else ready, "rebuild": blocked if busy else ready,
                          "restart": blocked if busy or status != "active" else ready,
                          "cold_reboot": blocked if busy else ready,
                          "terminate": blocked if status == "terminating" else ready}
        return out
