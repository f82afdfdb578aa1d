"""IP assignments: ``/apps/{app_name}/ip_assignments[/{ip}]``."""

from __future__ import annotations

import random

from emulators.common.server import HTTPError
from emulators.fly.platform import check_region
from emulators.fly.shared import APP, STRING, iso, obj, route

IP_TYPES = ("v4", "v6", "shared_v4", "private_v6")

# assignIPRequest
ASSIGN_IP = obj(network=STRING, org_slug=STRING, region=STRING, service_name=STRING, type=STRING)


def render_ip(ip):
    return {key: ip[key] for key in ("ip", "region", "service_name", "shared", "created_at")}


def list_ips(state, request, app_name):
    state.app(app_name)
    return 200, {"ips": [render_ip(ip) for ip in state.store.list("ip", app_name)]}


def assign_ip(state, request, app_name):
    state.app(app_name)
    body = request.json()
    kind = body.get("type")
    if kind not in IP_TYPES:
        raise HTTPError(400, "type must be one of %s" % ", ".join(IP_TYPES))
    region = check_region(body.get("region") or "global", also=("global",))
    octets = [random.randint(1, 254) for dummy in range(2)]
    address = {
        "v4": "137.66.%d.%d" % tuple(octets),
        "shared_v4": "66.241.124.%d" % octets[0],
        "v6": "2a09:8280:1::%x:%x" % tuple(octets),
        "private_v6": "fdaa:0:1:0::%x:%x" % tuple(octets),
    }[kind]
    ip = {"id": address, "key": address, "ip": address, "region": region,
          "service_name": body.get("service_name") or "", "shared": kind == "shared_v4",
          "type": kind, "created_at": iso()}
    state.store.put("ip", address, ip, parent=app_name)
    return 200, render_ip(ip)


def release_ip(state, request, app_name, ip):
    state.app(app_name)
    found = state.store.get("ip", ip)
    if not found or found["id"] not in [i["id"] for i in state.store.list("ip", app_name)]:
        raise HTTPError(404, "ip assignment not found")
    state.store.delete("ip", ip)
    return 204, None


ROUTES = [
    route("GET", APP + r"/ip_assignments", list_ips),
    route("POST", APP + r"/ip_assignments", assign_ip, body=ASSIGN_IP),
    route("DELETE", APP + r"/ip_assignments/(?P<ip>[^/]+)", release_ip),
]
