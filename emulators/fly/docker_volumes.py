"""The Docker backend's volume data: a Fly volume is the Docker volume ``<stack>-v-<volume_id>``, a snapshot a
tar of its files under ``<data-dir>/snapshots/``, read and written through a helper container that is never
started (so the volume's files are reached without a running machine)."""

from __future__ import annotations

import os
import uuid

# Creates no process: only mounts a volume so that its files can be read or written as a tar.
HELPER_IMAGE = "sophia-local/base:latest"


class VolumeData:
    def __init__(self, engine, stack, data_dir, labels):
        self.engine = engine
        self.stack = stack
        self.snapshot_dir = os.path.join(data_dir, "snapshots")
        self.labels = labels  # **extra -> the labels of the Fly emulator's objects in this stack

    def volume_name(self, volume_id):
        return "%s-v-%s" % (self.stack, volume_id)

    def ensure(self, volume_id, app_name):
        self.engine.create_volume(self.volume_name(volume_id), sophia__emulator="fly", sophia__fly__app=app_name,
                                  sophia__fly__volume=volume_id)

    def helper(self, volume_id):
        """A container (never started) with the volume at /v, for reading or writing its files as a tar."""
        name = "%s-vh-%s" % (self.stack, uuid.uuid4().hex[:10])
        self.engine.create_container(name, {
            "Image": HELPER_IMAGE, "Cmd": ["/bin/true"], "NetworkDisabled": True,
            "Labels": self.labels(sophia__fly__role="volume-helper"),
            "HostConfig": {"Mounts": [{"Type": "volume", "Source": self.volume_name(volume_id), "Target": "/v"}]}})
        return name

    def tar(self, volume_id):
        name = self.helper(volume_id)
        try:
            return self.engine.get_archive(name, "/v")
        finally:
            self.engine.remove(name)

    def fill(self, volume_id, tar_bytes):
        name = self.helper(volume_id)
        try:
            self.engine.put_archive(name, "/", tar_bytes)  # the tar's top directory is "v"
        finally:
            self.engine.remove(name)

    def snapshot_path(self, snapshot_id):
        return os.path.join(self.snapshot_dir, "%s.tar" % snapshot_id)

    def create(self, volume, snapshot=None, source=None):
        """The volume, empty, or with a snapshot's files (restore) or another volume's (fork)."""
        self.ensure(volume["id"], volume["app"])
        data = None
        if snapshot is not None and os.path.exists(self.snapshot_path(snapshot["id"])):
            with open(self.snapshot_path(snapshot["id"]), "rb") as stream:
                data = stream.read()
        elif source is not None:
            data = self.tar(source["id"])
        if data:
            self.fill(volume["id"], data)

    def delete(self, volume):
        self.engine.remove_volume(self.volume_name(volume["id"]))
        for snapshot in volume.get("snapshots") or []:
            try:
                os.remove(self.snapshot_path(snapshot["id"]))
            except OSError:
                pass

    def snapshot(self, volume, snapshot):
        data = self.tar(volume["id"])
        os.makedirs(self.snapshot_dir, exist_ok=True)
        partial = self.snapshot_path(snapshot["id"]) + ".part"
        with open(partial, "wb") as stream:
            stream.write(data)
        os.replace(partial, self.snapshot_path(snapshot["id"]))
        snapshot["size"] = len(data)

    def reset(self):
        """Every volume and snapshot of the Fly emulator in this stack, gone."""
        for volume in self.engine.volumes(sophia__emulator="fly"):
            self.engine.remove_volume(volume["Name"])
        for name in os.listdir(self.snapshot_dir) if os.path.isdir(self.snapshot_dir) else ():
            os.remove(os.path.join(self.snapshot_dir, name))
