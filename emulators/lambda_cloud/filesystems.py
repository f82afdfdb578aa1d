"""``/file-systems`` and ``/filesystems``: shared storage of a region, in use while a live instance mounts it."""

from __future__ import annotations

from emulators.lambda_cloud import schemas
from emulators.lambda_cloud.catalog import REGIONS, region
from emulators.lambda_cloud.errors import does_not_exist, error, invalid
from emulators.lambda_cloud.state import ID, hex_id, iso


def render(state, fs):
    in_use = any(fs["name"] in i["file_system_names"] for i in state.live())
    return {"id": fs["id"], "name": fs["name"], "mount_point": "/lambda/nfs/" + fs["name"],
            "created": fs["created"], "is_in_use": in_use, "region": region(fs["region"]), "bytes_used": 0,
            "created_by": {"id": "0" * 32, "email": "ops@sophia-intel.example", "status": "active"}}


def list_filesystems(state, request):
    return 200, {"data": [render(state, fs) for fs in state.store.list("filesystem")]}


def create_filesystem(state, request):
    body = request.json()
    name, region_name = body["name"], body["region"]
    if region_name not in REGIONS:
        raise invalid("region %s does not exist" % region_name, "List the regions with GET /regions.")
    if any(fs["name"] == name for fs in state.store.list("filesystem")):
        raise error(400, "global/duplicate", "A filesystem named %s already exists." % name, "Choose another name.")
    fs = {"id": hex_id(), "name": name, "region": region_name, "created": iso()}
    state.store.put("filesystem", fs["id"], fs)
    return 200, {"data": render(state, fs)}


def delete_filesystem(state, request, fs_id):
    fs = state.store.get("filesystem", fs_id)
    if fs is None:
        raise does_not_exist("Filesystem was not found.", "List the filesystems with GET /file-systems.")
    if render(state, fs)["is_in_use"]:
        raise error(400, "filesystems/filesystem-in-use", "Filesystem %s is mounted by an instance." % fs["name"],
                    "Terminate the instances that use it first.")
    state.store.delete("filesystem", fs_id)
    return 200, {"data": {"deleted_ids": [fs_id]}}


ROUTES = [
    ("GET", r"/file-systems", list_filesystems, "list_filesystems", {}),
    ("POST", r"/filesystems", create_filesystem, "create_filesystem", {"body": schemas.CREATE_FILESYSTEM}),
    ("DELETE", r"/filesystems/" + ID.format("fs_id"), delete_filesystem, "delete_filesystem", {}),
]
