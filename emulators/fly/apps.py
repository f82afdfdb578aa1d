"""Apps: ``/apps`` and ``/apps/{app_name}``."""

from __future__ import annotations

import string

from emulators.common.server import HTTPError
from emulators.fly.lifecycle import is_running
from emulators.fly.platform import APP_NAME
from emulators.fly.shared import (APP, BOOLEAN, QUERY_BOOLEAN, QUERY_STRING, STRING, iso, flag, obj, query,
                                  random_id, route)

# CreateAppRequest; ``app_name`` is the docs' name for the document's ``name``.
CREATE_APP = obj(app_name=STRING, name=STRING, enable_subdomains=BOOLEAN, network=STRING, org_slug=STRING)


def render_app(state, app):
    machines = state.live_machines(app["name"])
    volumes = state.store.list("volume", app["name"])
    organization = {"name": app["org_slug"], "slug": app["org_slug"]}
    return {"id": app["id"], "name": app["name"], "status": "deployed" if machines else "pending",
            "network": app.get("network") or "default", "organization": organization,
            "machine_count": len(machines), "volume_count": len(volumes)}


# --- handlers -----------------------------------------------------------------------------------------
def list_apps(state, request):
    org = request.arg("org_slug")
    if not org:
        raise HTTPError(400, "org_slug is required")
    # Emulated apps have no role (postgres cluster, ...): a role filter finds none.
    apps = [] if request.arg("app_role") else [render_app(state, a) for a in state.org_apps(org)]
    return 200, {"total_apps": len(apps), "apps": apps}


def create_app(state, request):
    body = request.json()
    name = body.get("app_name") or body.get("name")  # docs: app_name; spec: name
    if not name or not APP_NAME.match(name):
        raise HTTPError(400, "app_name must be 3-63 lowercase letters, digits and dashes")
    if not body.get("org_slug"):
        raise HTTPError(400, "org_slug is required")
    if state.store.get("app", name):
        raise HTTPError(422, "Name has already been taken")
    state.store.put("app", name, {"id": random_id(16, string.ascii_lowercase + string.digits), "name": name,
                                  "org_slug": body["org_slug"], "network": body.get("network"),
                                  "created_at": iso(), "secrets_version": 0})
    # The docs show a {"id", "created_at"} body; the document declares none, and the contract check has no
    # deviation for it, so the answer is empty (clients read the app back).
    return 201, None


def get_app(state, request, app_name):
    return 200, render_app(state, state.app(app_name))


def delete_app(state, request, app_name):
    state.app(app_name)
    # Docs: machines should be stopped first; force stops and deletes them.
    running = [m for m in state.live_machines(app_name) if is_running(m)]
    if running and not flag(request, "force"):
        raise HTTPError(412, "failed_precondition: app has machines that are not stopped (%s); "
                             "stop them first or use force" % ", ".join(m["id"] for m in running))
    # Listed before the records go: a backend that runs containers removes theirs, and the volumes' files.
    machines, volumes = state.store.list("machine", app_name), state.store.list("volume", app_name)
    state.store.delete_children(app_name)
    state.store.delete("app", app_name)
    state.backend.app_deleted(app_name, machines, volumes)
    return 202, None


ROUTES = [
    route("GET", r"/apps", list_apps, query=query(required=["org_slug"], org_slug=QUERY_STRING,
                                                  app_role=QUERY_STRING)),
    route("POST", r"/apps", create_app, body=CREATE_APP),
    route("GET", APP, get_app),
    # force is the emulator's (and flyctl's): the docs ask for stopped machines first.
    route("DELETE", APP, delete_app, query=query(force=QUERY_BOOLEAN)),
]
