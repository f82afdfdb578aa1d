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


def set_image_rule(state, request):
    # Kept in the store, where FlyState.image_rule reads them for the backends.
    body = request.json()
    if not isinstance(body.get("image"), str):
        raise HTTPError(400, "image is required")
    rules = state.store.get_meta("images", {})
    rules[body["image"]] = {"healthy": bool(body.get("healthy", True)), "start": bool(body.get("start", True))}
    state.store.put_meta("images", rules)
    return 200, rules


def proxy_listeners(state, request):
    # The Docker backend's proxy: each app's listeners (none with the record backend).
    return 200, state.backend.proxy_view()


def drift_machine(state, request, app_name, machine_id):
    return 200, drift(state, app_name, machine_id, request.json())


def watch_machines(state, request, app_name):
    return 200, [state.render_machine(m) for m in state.live_machines(app_name)]


def drift(state, app_name, machine_id, changes):
    """Change a machine behind the API's back, as another operator or a crash would."""
    machine = state.machine(app_name, machine_id)
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
        state.event(machine, "exit" if changes["state"] != "started" else "start", changes["state"], "flyd")
    state.save_machine(machine)
    return state.render_machine(machine)


# The path after /_emulator, as Service.add_control_route takes it; empty names match as they always did.
CONTROL_ROUTES = [
    ("POST", r"/images", set_image_rule),
    ("GET", r"/proxy", proxy_listeners),
    ("POST", r"/apps/(?P<app_name>[^/]*)/machines/(?P<machine_id>[^/]*)", drift_machine),
    ("GET", r"/apps/(?P<app_name>[^/]*)/machines", watch_machines),
]
