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


class Apps:
    ROUTES = [
        route("GET", r"/apps", "list_apps", query=query(required=["org_slug"], org_slug=QUERY_STRING,
                                                        app_role=QUERY_STRING)),
        route("POST", r"/apps", "create_app", body=CREATE_APP),
        route("GET", APP, "get_app"),
        # force is the emulator's (and flyctl's): the docs ask for stopped machines first.
        route("DELETE", APP, "delete_app", query=query(force=QUERY_BOOLEAN)),
    ]

    # --- lookups and presentation ------------------------------------------------------------
    def app(self, app_name):
        app = self.store.get("app", app_name)
        if app is None:
            raise HTTPError(404, "app not found")
        return app

    def render_app(self, app):
        machines = self.live_machines(app["name"])
        volumes = self.store.list("volume", app["name"])
        organization = {"name": app["org_slug"], "slug": app["org_slug"]}
        return {"id": app["id"], "name": app["name"], "status": "deployed" if machines else "pending",
                "network": app.get("network") or "default", "organization": organization,
                "machine_count": len(machines), "volume_count": len(volumes)}

    def org_apps(self, org_slug):
        return [app for app in self.store.list("app") if app["org_slug"] == org_slug]

    # --- handlers -------------------------------------------------------------------------------
    def list_apps(self, request):
        org = request.arg("org_slug")
        if not org:
            raise HTTPError(400, "org_slug is required")
        # Emulated apps have no role (postgres cluster, ...): a role filter finds none.
        apps = [] if request.arg("app_role") else [self.render_app(a) for a in self.org_apps(org)]
        return 200, {"total_apps": len(apps), "apps": apps}

    def create_app(self, request):
        body = request.json()
        name = body.get("app_name") or body.get("name")  # docs: app_name; spec: name
        if not name or not APP_NAME.match(name):
            raise HTTPError(400, "app_name must be 3-63 lowercase letters, digits and dashes")
        if not body.get("org_slug"):
            raise HTTPError(400, "org_slug is required")
        if self.store.get("app", name):
            raise HTTPError(422, "Name has already been taken")
        self.store.put("app", name, {"id": random_id(16, string.ascii_lowercase + string.digits), "name": name,
                                     "org_slug": body["org_slug"], "network": body.get("network"),
                                     "created_at": iso(), "secrets_version": 0})
        # The docs show a {"id", "created_at"} body; the document declares none, and the contract check has no
        # deviation for it, so the answer is empty (clients read the app back).
        return 201, None

    def get_app(self, request, app_name):
        return 200, self.render_app(self.app(app_name))

    def delete_app(self, request, app_name):
        self.app(app_name)
        # Docs: machines should be stopped first; force stops and deletes them.
        running = [m for m in self.live_machines(app_name) if is_running(m)]
        if running and not flag(request, "force"):
            raise HTTPError(412, "failed_precondition: app has machines that are not stopped (%s); "
                                 "stop them first or use force" % ", ".join(m["id"] for m in running))
        self.store.delete_children(app_name)
        self.store.delete("app", app_name)
        return 202, None
