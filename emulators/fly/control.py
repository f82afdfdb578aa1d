"""The Fly part of the ``/_emulator/`` control surface (outside the API, for tests):

- ``POST images`` ``{"image", "healthy", "start"}``: how machines running an image behave;
- ``POST apps/{app}/machines/{id}`` ``{"state", "config", "metadata"}``: drift, a change
  behind the API's back (another operator, a crash);
- ``GET apps/{app}/machines``: the app's live machines as a watcher sees them, outside the
  rate limits and the request log;
- ``GET proxy``: where the Docker backend's proxy listens, ``{"apps": {app: {"public": {port: "127.0.0.1:P"},
  "flycast": {port: "A:port"}}}}``.

The generic part (health, reset, requests, faults, settings) is common/server.py's.
"""

from __future__ import annotations

import copy

from emulators.common.server import HTTPError
from emulators.fly.lifecycle import now
from emulators.fly.machines import image_ref
from emulators.fly.shared import instance_id


def deep_merge(base, changes):
    merged = copy.deepcopy(base)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


class Control:
    def image_rule(self, image):
        rules = self.store.get_meta("images", {})
        return dict({"healthy": True, "start": True}, **rules.get(image or "", {}))

    def control(self, method, parts, request):
        if parts == ["images"] and method == "POST":
            body = request.json()
            if not isinstance(body.get("image"), str):
                raise HTTPError(400, "image is required")
            rules = self.store.get_meta("images", {})
            rules[body["image"]] = {"healthy": bool(body.get("healthy", True)), "start": bool(body.get("start", True))}
            self.store.put_meta("images", rules)
            return 200, rules
        if parts == ["proxy"] and method == "GET":
            # The Docker backend's proxy: each app's listeners (none with the record backend).
            return 200, self.backend.proxy_view()
        if len(parts) == 4 and parts[0] == "apps" and parts[2] == "machines" and method == "POST":
            return 200, self.drift(parts[1], parts[3], request.json())
        if len(parts) == 3 and parts[0] == "apps" and parts[2] == "machines" and method == "GET":
            return 200, [self.render_machine(m) for m in self.live_machines(parts[1])]
        raise HTTPError(404, "unknown control endpoint")

    def drift(self, app_name, machine_id, changes):
        """Change a machine behind the API's back, as another operator or a crash would."""
        machine = self.machine(app_name, machine_id)
        if "config" in changes:
            merged = deep_merge(machine["config"], changes["config"])
            machine["config"] = merged
            machine["instance_id"] = instance_id()
            machine["versions"].insert(0, {"version": machine["instance_id"], "user_config": copy.deepcopy(merged)})
            machine["image_ref"] = image_ref(merged.get("image"))
        if "metadata" in changes:
            machine["config"]["metadata"] = dict(machine["config"].get("metadata") or {}, **changes["metadata"])
        if "state" in changes:
            machine["timeline"] = [[changes["state"], now()]]
            self.event(machine, "exit" if changes["state"] != "started" else "start", changes["state"], "flyd")
        self.save_machine(machine)
        return self.render_machine(machine)
