"""Machine leases: ``/apps/{app_name}/machines/{machine_id}/lease``.

A lease is a field of its machine's record; while it holds, every change to the
machine needs its nonce in the ``fly-machine-lease-nonce`` header (``require_nonce``).
Answers use the docs' ``{"status": "success", "data": {...}}`` envelope.
"""

from __future__ import annotations

import math
import secrets as random_tokens

from emulators.common.server import HTTPError
from emulators.fly.lifecycle import now
from emulators.fly.shared import INTEGER, MACHINE, STRING, obj, route

NONCE_HEADER = "fly-machine-lease-nonce"

# CreateLeaseRequest
CREATE_LEASE = obj(description=STRING, ttl=INTEGER)


# --- the lease as other resources see it ----------------------------------------------------------
def lease_of(machine):
    lease = machine.get("lease")
    if lease and lease["expires_at"] > now():
        return lease
    return None


def require_nonce(machine, request):
    lease = lease_of(machine)
    if lease and request.headers.get(NONCE_HEADER) != lease["nonce"]:
        raise HTTPError(409, "machine %s is leased by another process; send the lease nonce in the %s header"
                             % (machine["id"], NONCE_HEADER))


def new_lease(state, machine, ttl, description):
    ttl = max(1, min(int(ttl or 30), state.settings["lease_ttl_max"]))
    # Whole seconds, rounded up: a lease never ends before its TTL has passed.
    return {"nonce": random_tokens.token_hex(6), "expires_at": int(math.ceil(now() + ttl)),
            "owner": "emulator@sophia.ops", "description": description or "", "version": machine["instance_id"]}


# --- handlers -----------------------------------------------------------------------------------------
def get_lease(state, request, app_name, machine_id):
    lease = lease_of(state.machine(app_name, machine_id))
    if not lease:
        raise HTTPError(404, "lease not found")
    return 200, {"status": "success", "data": lease}


def acquire_lease(state, request, app_name, machine_id):
    machine = state.machine(app_name, machine_id, include_destroyed=False)
    body = request.json()
    held = lease_of(machine)
    if held and request.headers.get(NONCE_HEADER) != held["nonce"]:
        raise HTTPError(409, "lease currently held by %s until %s" % (held["owner"], held["expires_at"]))
    lease = new_lease(state, machine, body.get("ttl"), body.get("description"))
    if held:  # refreshing keeps the nonce the holder already knows
        lease["nonce"] = held["nonce"]
    machine["lease"] = lease
    state.save_machine(machine)
    # The document and the docs: 201 Created.
    return 201, {"status": "success", "data": lease}


def release_lease(state, request, app_name, machine_id):
    machine = state.machine(app_name, machine_id)
    held = lease_of(machine)
    if held and request.headers.get(NONCE_HEADER) != held["nonce"]:
        raise HTTPError(409, "the lease nonce does not match")
    machine.pop("lease", None)
    state.save_machine(machine)
    return 200, {"status": "success", "data": {"ok": True}}


ROUTES = [
    route("GET", MACHINE + "/lease", get_lease),
    route("POST", MACHINE + "/lease", acquire_lease, body=CREATE_LEASE),
    route("DELETE", MACHINE + "/lease", release_lease),
]
