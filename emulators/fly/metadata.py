"""Machine metadata: ``/apps/{app_name}/machines/{machine_id}/metadata[/{key}]``.

Metadata lives in the machine's ``config.metadata``; changing it makes no new
machine version (as the real API does), but needs the lease nonce while a lease holds.
"""

from __future__ import annotations

from emulators.common.server import HTTPError
from emulators.fly.leases import require_nonce
from emulators.fly.shared import MACHINE, STRING, obj, route

# updateMetadataRequest: the document types values as strings, and says "Null values and empty
# strings remove keys".
UPDATE_METADATA = obj(machine_version=STRING, updated_at=STRING,
                      metadata={"type": "object", "additionalProperties": {"type": ["string", "null"]}})
# upsertMetadataKeyRequest; the docs: value is required.
UPSERT_METADATA_KEY = obj(required=["value"], updated_at=STRING, value=STRING)

KEY = MACHINE + "/metadata/(?P<key>[^/]+)"


def changed_metadata(state, machine, changes):
    """Set (a string) or remove (null or "") each key; saved on the machine."""
    metadata = dict(machine["config"].get("metadata") or {})
    for key, value in changes.items():
        if value in (None, ""):
            metadata.pop(key, None)
        else:
            metadata[key] = value
    machine["config"]["metadata"] = metadata
    state.save_machine(machine)


def get_metadata(state, request, app_name, machine_id):
    return 200, dict(state.machine(app_name, machine_id)["config"].get("metadata") or {})


def update_metadata(state, request, app_name, machine_id):
    machine = state.machine(app_name, machine_id, include_destroyed=False)
    require_nonce(machine, request)
    body = request.json()
    version = body.get("machine_version")
    if version and version != machine["instance_id"]:
        raise HTTPError(412, "failed_precondition: machine_version %s is not the current version %s"
                             % (version, machine["instance_id"]))
    changed_metadata(state, machine, body.get("metadata") or {})
    return 204, None


def get_metadata_key(state, request, app_name, machine_id, key):
    metadata = state.machine(app_name, machine_id)["config"].get("metadata") or {}
    if key not in metadata:
        raise HTTPError(404, "metadata key not found")
    return 200, {"value": metadata[key]}


def set_metadata_key(state, request, app_name, machine_id, key):
    machine = state.machine(app_name, machine_id, include_destroyed=False)
    require_nonce(machine, request)
    metadata = dict(machine["config"].get("metadata") or {}, **{key: request.json()["value"]})
    machine["config"]["metadata"] = metadata
    state.save_machine(machine)
    return 204, None


def delete_metadata_key(state, request, app_name, machine_id, key):
    machine = state.machine(app_name, machine_id, include_destroyed=False)
    require_nonce(machine, request)
    (machine["config"].get("metadata") or {}).pop(key, None)
    state.save_machine(machine)
    return 204, None


ROUTES = [
    route("GET", MACHINE + "/metadata", get_metadata),
    route("PUT", MACHINE + "/metadata", update_metadata, body=UPDATE_METADATA),
    route("PATCH", MACHINE + "/metadata", update_metadata, body=UPDATE_METADATA),
    route("GET", KEY, get_metadata_key, "get_metadata"),
    route("POST", KEY, set_metadata_key, "set_metadata", body=UPSERT_METADATA_KEY),
    route("DELETE", KEY, delete_metadata_key, "delete_metadata"),
]
