"""Volumes and their snapshots: ``/apps/{app_name}/volumes[/{volume_id}[/extend|/snapshots]]``,
and the organisation-wide listing (``/orgs/{org_slug}/volumes``).

A volume is pinned to its region and attached to at most one live machine (the
machine's ``config.mounts`` say which). Snapshots live in their volume's record;
a volume create with ``snapshot_id`` restores one, with ``source_volume_id`` forks a volume.
"""

from __future__ import annotations

import hashlib
import math
import string

from emulators.common.server import HTTPError
from emulators.fly.platform import (GUEST, VOLUME_NAME, VOLUME_SIZE_GB, check_guest, check_region,
                                    check_snapshot_retention, check_volume_size)
from emulators.fly.shared import (APP, BOOLEAN, DEFAULT_REGION, INTEGER, ORG, QUERY_BOOLEAN, QUERY_INTEGER,
                                  QUERY_STRING, STRING, VOLUME, flag, iso, obj, org_listing, page, parse_iso, query,
                                  random_id, route)

# What a fresh volume's file system takes, and what a snapshot of it holds.
EMPTY_VOLUME_BYTES = 4 * 1024 ** 2
DEFAULT_SIZE_GB = 3
MAX_ORG_VOLUMES = 1000
# What a summary listing leaves out (the document: "omit blocks, block size, etc").
SUMMARY_OMITS = ("blocks", "blocks_free", "blocks_avail", "block_size", "bytes_total", "bytes_used")

# CreateVolumeRequest; the docs: name is required.
CREATE_VOLUME = obj(required=["name"], auto_backup_enabled=BOOLEAN, compute=GUEST, compute_image=STRING,
                    encrypted=BOOLEAN, fstype=STRING, name=STRING, region=STRING, require_unique_zone=BOOLEAN,
                    size_gb=INTEGER, snapshot_id=STRING, snapshot_retention=INTEGER, source_volume_id=STRING,
                    unique_zone_app_wide=BOOLEAN)
UPDATE_VOLUME = obj(auto_backup_enabled=BOOLEAN, snapshot_retention=INTEGER)
EXTEND_VOLUME = obj(required=["size_gb"], size_gb=INTEGER)
SUMMARY_QUERY = query(summary=QUERY_BOOLEAN)
ORG_LIST_QUERY = query(include_deleted=QUERY_BOOLEAN, region=QUERY_STRING, state=QUERY_STRING,
                       summary=QUERY_BOOLEAN, updated_after=QUERY_STRING, cursor=QUERY_STRING, limit=QUERY_INTEGER)


# --- lookups and presentation --------------------------------------------------------------------
def volume_of(state, app_name, volume_id):
    state.app(app_name)
    volume = state.store.get("volume", volume_id)
    if volume is None or volume["app"] != app_name:
        raise HTTPError(404, "volume not found")
    return volume


def snapshot_of(state, app_name, snapshot_id):
    """A snapshot of one of the app's volumes."""
    for volume in state.store.list("volume", app_name):
        for snapshot in volume["snapshots"]:
            if snapshot["id"] == snapshot_id:
                return snapshot
    raise HTTPError(404, "snapshot %s not found" % snapshot_id)


def render_volume(state, volume, summary=False):
    out = {key: value for key, value in volume.items() if key not in ("app", "snapshots", "updated_at")}
    attached = state.attached_machine(volume["id"])
    if attached:  # the document types these as plain strings: absent, not null, when free
        out["attached_machine_id"] = attached["id"]
        out["attached_alloc_id"] = attached["instance_id"]
    out["blocks"] = volume["size_gb"] * 262144
    out["blocks_free"] = out["blocks_avail"] = out["blocks"] - 1024
    out["bytes_total"] = volume["size_gb"] * 1024 ** 3
    out["bytes_used"] = volume.get("bytes_used", EMPTY_VOLUME_BYTES)
    if summary:
        for key in SUMMARY_OMITS:
            out.pop(key, None)
    return out


def save_volume(state, volume):
    volume["updated_at"] = iso()
    state.store.put("volume", volume["id"], volume, parent=volume["app"])


# --- handlers -----------------------------------------------------------------------------------------
def list_volumes(state, request, app_name):
    state.app(app_name)
    return 200, [render_volume(state, v, flag(request, "summary")) for v in state.store.list("volume", app_name)]


def create_volume(state, request, app_name):
    state.app(app_name)
    body = request.json()
    if not VOLUME_NAME.match(body["name"]):
        raise HTTPError(400, "name must be 1-30 lowercase letters, digits and underscores")
    if body.get("region"):
        check_region(body["region"])
    if body.get("compute") is not None:
        check_guest(body["compute"])
    source, forked = None, None
    if body.get("snapshot_id") is not None:
        source = snapshot_of(state, app_name, body["snapshot_id"])
        # A restore is at least as large as the volume the snapshot was taken of, and that is its default size.
        least = int(math.ceil(source["volume_size"] / 1024.0 ** 3))
    elif body.get("source_volume_id") is not None:
        forked = volume_of(state, app_name, body["source_volume_id"])
        least = forked["size_gb"]
    else:
        least = VOLUME_SIZE_GB[0]
    size = body.get("size_gb", least if (source or forked) else DEFAULT_SIZE_GB)
    check_volume_size(size)
    if size < least:
        raise HTTPError(400, "size_gb must be at least %d, the size of the volume %s" % (
            least, "snapshot %s was taken of" % source["id"] if source else "%s it forks" % forked["id"]))
    retention = check_snapshot_retention(body.get("snapshot_retention", 5))
    region = body.get("region") or (forked["region"] if forked else DEFAULT_REGION)
    if forked and region != forked["region"]:
        raise HTTPError(400, "a fork of volume %s is made in its region %s, not %s"
                             % (forked["id"], forked["region"], region))
    if source:
        bytes_used = source["size"]
    else:  # a new volume holds only its empty file system
        bytes_used = forked.get("bytes_used", EMPTY_VOLUME_BYTES) if forked else EMPTY_VOLUME_BYTES
    volume = {"id": "vol_" + random_id(16, string.ascii_lowercase + string.digits), "app": app_name,
              "name": body["name"], "region": region, "size_gb": size, "state": "created",
              "encrypted": body.get("encrypted", True), "snapshot_retention": retention,
              "auto_backup_enabled": body.get("auto_backup_enabled", True),
              "fstype": body.get("fstype") or "ext4", "block_size": 4096, "type": "local", "zone": random_id(4),
              "host_status": "ok", "created_at": iso(), "snapshots": [], "bytes_used": bytes_used}
    state.backend.create_volume(volume, snapshot=source, source=forked)
    save_volume(state, volume)
    return 200, render_volume(state, volume)


def get_volume(state, request, app_name, volume_id):
    return 200, render_volume(state, volume_of(state, app_name, volume_id))


def update_volume(state, request, app_name, volume_id):
    volume = volume_of(state, app_name, volume_id)
    body = request.json()
    unknown = set(body) - {"snapshot_retention", "auto_backup_enabled"}
    if unknown:
        raise HTTPError(400, "only snapshot_retention and auto_backup_enabled can be updated, not %s"
                             % ", ".join(sorted(unknown)))
    if "snapshot_retention" in body:
        volume["snapshot_retention"] = check_snapshot_retention(body["snapshot_retention"])
    if "auto_backup_enabled" in body:
        volume["auto_backup_enabled"] = body["auto_backup_enabled"]
    save_volume(state, volume)
    return 200, render_volume(state, volume)


def extend_volume(state, request, app_name, volume_id):
    volume = volume_of(state, app_name, volume_id)
    size = check_volume_size(request.json()["size_gb"])
    if size <= volume["size_gb"]:
        raise HTTPError(400, "size_gb must be greater than the current size (%d GB); volumes cannot shrink"
                             % volume["size_gb"])
    volume["size_gb"] = size
    save_volume(state, volume)
    return 200, {"needs_restart": state.attached_machine(volume_id) is not None,
                 "volume": render_volume(state, volume)}


def delete_volume(state, request, app_name, volume_id):
    volume = volume_of(state, app_name, volume_id)
    holder = state.attached_machine(volume_id)
    if holder:
        raise HTTPError(412, "failed_precondition: volume %s is attached to machine %s; destroy the machine "
                             "first" % (volume_id, holder["id"]))
    rendered = render_volume(state, volume)
    rendered["state"] = "destroyed"
    state.backend.delete_volume(volume)
    state.store.delete("volume", volume_id)
    return 200, rendered


def list_snapshots(state, request, app_name, volume_id):
    return 200, volume_of(state, app_name, volume_id)["snapshots"]


def create_snapshot(state, request, app_name, volume_id):
    """An on-demand snapshot, listed at once (the real one takes a few moments)."""
    volume = volume_of(state, app_name, volume_id)
    snapshot = {"id": "vs_" + random_id(12), "created_at": iso(), "status": "created",
                "size": volume.get("bytes_used", EMPTY_VOLUME_BYTES),
                "volume_size": volume["size_gb"] * 1024 ** 3,
                "retention_days": volume["snapshot_retention"],
                "digest": hashlib.md5(volume_id.encode()).hexdigest() + "-1"}
    state.backend.snapshot_volume(volume, snapshot)  # a backend with real volumes keeps the files
    volume["snapshots"].append(snapshot)
    save_volume(state, volume)
    return 200, None


def list_org_volumes(state, request, org_slug):
    """Every volume of the organisation's apps, least recently updated first. Destroyed volumes
    are not kept, so include_deleted adds none."""
    volumes = [v for app in state.org_apps(org_slug) for v in state.store.list("volume", app["name"])]
    if request.arg("region"):
        volumes = [v for v in volumes if v["region"] == request.arg("region")]
    if request.arg("state"):
        volumes = [v for v in volumes if v["state"] in request.arg("state").split(",")]
    after = request.arg("updated_after")
    if after and not request.arg("cursor"):  # the document: the cursor takes precedence
        since = parse_iso(after)
        if since is None:
            raise HTTPError(400, "updated_after must be an RFC 3339 timestamp, such as 2026-01-02T15:04:05Z")
        volumes = [v for v in volumes if parse_iso(v.get("updated_at") or v["created_at"]) > since]
    volumes.sort(key=lambda v: parse_iso(v.get("updated_at") or v["created_at"]))
    chosen, cursor = page(volumes, request, MAX_ORG_VOLUMES, MAX_ORG_VOLUMES)
    rows = [dict(render_volume(state, v, flag(request, "summary")), app_name=v["app"],
                 updated_at=v.get("updated_at") or v["created_at"]) for v in chosen]
    return org_listing("volume", rows, cursor)


ROUTES = [
    route("GET", APP + r"/volumes", list_volumes, query=SUMMARY_QUERY),
    route("POST", APP + r"/volumes", create_volume, body=CREATE_VOLUME),
    route("GET", VOLUME, get_volume),
    route("PUT", VOLUME, update_volume, body=UPDATE_VOLUME),
    route("DELETE", VOLUME, delete_volume),
    route("PUT", VOLUME + "/extend", extend_volume, body=EXTEND_VOLUME),
    route("GET", VOLUME + "/snapshots", list_snapshots),
    route("POST", VOLUME + "/snapshots", create_snapshot),
    route("GET", ORG + r"/volumes", list_org_volumes, query=ORG_LIST_QUERY),
]
