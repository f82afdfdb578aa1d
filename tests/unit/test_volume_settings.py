"""A process group's volume snapshot settings: which volumes are the group's, what differs, and what a
rollout sends (the settings go in place, before any machine is touched)."""

from __future__ import annotations

from ansible_collections.sophia.ops.plugins.module_utils.fly_rollout import GroupPlan, GroupRollout
from tests.unit.test_group_rollout import member

WANTED = {"name": "data", "path": "/data", "snapshot_retention": 14, "auto_backup_enabled": True}


def volume(volume_id, name="data", holder=None, retention=14, backups=True, state="created"):
    found = {"id": volume_id, "name": name, "size_gb": 1, "region": "iad", "state": state,
             "snapshot_retention": retention, "auto_backup_enabled": backups}
    if holder:
        found["attached_machine_id"] = holder
    return found


def plan(machines, volumes, wanted=None, count=None):
    return GroupPlan(machines, "app", len(machines) if count is None else count, ["iad"], {"image": "img:1"},
                     volume=wanted or WANTED, volumes=volumes)


def test_only_the_groups_volumes_that_differ_are_retuned():
    machines = [member("a", volume="v-a"), member("b", volume="v-b")]
    volumes = [volume("v-a", holder="a"), volume("v-b", holder="b", retention=5),
               # Free ones of the group's name are the group's (new machines take them)...
               volume("v-free", backups=False),
               # ... but not another name's, nor one that another machine mounts, nor one being destroyed.
               volume("v-other", name="scratch", retention=1), volume("v-theirs", holder="stranger", retention=1),
               volume("v-gone", retention=1, state="pending_destroy")]
    planned = plan(machines, volumes)
    assert [(v["id"], changes) for v, changes in planned.retune] == [
        ("v-b", {"snapshot_retention": 14}), ("v-free", {"auto_backup_enabled": True})]
    assert planned.changes and planned.actions == {}
    assert planned.summary()["volumes_updated"] == ["v-b", "v-free"]


def test_a_mounted_volume_of_another_name_is_still_the_members():
    planned = plan([member("a", volume="v-a")], [volume("v-a", name="legacy", holder="a", retention=3)])
    assert [v["id"] for v, dummy in planned.retune] == ["v-a"]


def test_settings_not_given_are_not_compared():
    planned = plan([member("a", volume="v-a")], [volume("v-a", holder="a", retention=3, backups=False)],
                   wanted={"name": "data", "path": "/data"})
    assert planned.retune == [] and not planned.changes


class RecordingClient:
    """Just enough of FlyClient for the volume steps of a rollout."""

    def __init__(self):
        self.calls = []

    def update_volume(self, app, volume_id, body):
        self.calls.append(("update", volume_id, body))
        return dict(volume(volume_id), **body)

    def create_volume(self, app, body, known_ids=None):
        self.calls.append(("create", body["name"], body))
        return dict(volume("v-new"), **body)


class Ops:
    app = "app"

    def __init__(self, client):
        self.client = client


def test_a_rollout_retunes_first_and_new_volumes_get_the_settings():
    client = RecordingClient()
    planned = plan([member("a", volume="v-a")], [volume("v-a", holder="a", retention=3)])
    rollout = GroupRollout(Ops(client), planned)
    rollout.retune_volumes()
    assert client.calls == [("update", "v-a", {"snapshot_retention": 14})]
    assert rollout.summary["volumes_updated"] == ["v-a"] and rollout.summary["progress"]

    assert rollout.volumes.claim("iad") == "v-new"
    assert client.calls[-1] == ("create", "data", {"name": "data", "region": "iad", "size_gb": 1,
                                                   "snapshot_retention": 14, "auto_backup_enabled": True})
