"""Backups of the platform: snapshot settings converged with the machines, a snapshot before a new image
rolls out, the database dump of playbooks/advanced.yml, and playbooks/restore_drill.yml."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest

from emulators.stack import free_port

NEW_IMAGE = "semitechnologies/weaviate:1.33.0"
SNAPSHOT_TASK = "Volumes are snapshotted before a new image rolls out"
MACHINES_TASK = "Process group runs the wanted machines"


class Postgres:
    """A throwaway PostgreSQL on a free loopback port, standing in for Neon: role and database
    ``sophia`` (CREATEDB, as Neon's owner role has) with a random password."""

    def __init__(self):
        self.bin = Path(sorted(Path("/usr/lib/postgresql").glob("*/bin"))[-1])
        # initdb refuses root: as root the cluster belongs to Debian's postgres user.
        self.owner = "postgres" if os.getuid() == 0 else None
        self.dir = Path(tempfile.mkdtemp(prefix="sophia-backup-pg-"))
        self.port = free_port()
        self.password = uuid.uuid4().hex

    def run(self, *cmd, **kwargs):
        if self.owner:
            cmd = ("runuser", "-u", self.owner, "--") + cmd
        return subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=60, **kwargs)

    def start(self):
        if self.owner:
            shutil.chown(self.dir, self.owner)
        os.chmod(self.dir, 0o700)
        data = str(self.dir / "data")
        self.run(str(self.bin / "initdb"), "-D", data, "-U", "postgres", "-E", "UTF8", "--no-locale",
                 "--auth-local=peer", "--auth-host=scram-sha-256")
        self.run(str(self.bin / "pg_ctl"), "start", "-D", data, "-l", str(self.dir / "log"), "-w", "-t", "30", "-o",
                 "-c listen_addresses=127.0.0.1 -p %d -c unix_socket_directories=%s" % (self.port, self.dir))
        self.admin("CREATE ROLE sophia LOGIN CREATEDB PASSWORD '%s';" % self.password)
        self.admin("CREATE DATABASE sophia OWNER sophia;")
        return self

    def admin(self, sql):
        return self.run(str(self.bin / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", str(self.dir), "-p",
                        str(self.port), "-U", "postgres", "-d", "postgres", "-c", sql)

    def sql(self, sql, database="sophia"):
        """Run ``sql`` as sophia over TCP, as the playbooks connect; answers psql's unaligned output."""
        env = dict(os.environ, PGPASSWORD=self.password)
        return subprocess.run(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p",
                               str(self.port), "-U", "sophia", "-d", database, "-c", sql], env=env, check=True,
                              capture_output=True, text=True, timeout=60).stdout

    def stop(self):
        self.run(str(self.bin / "pg_ctl"), "stop", "-D", str(self.dir / "data"), "-m", "immediate", "-w", "-t", "30")
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def backup_env(platform, tmp_path):
    """The platform pointed at a PostgreSQL of its own and a backup directory of its own."""
    postgres = Postgres().start()
    postgres.sql("CREATE TABLE memories (id serial PRIMARY KEY, body text);"
                 "INSERT INTO memories (body) SELECT 'memory ' || g || E'\\nsecond line' FROM generate_series(1, 40) g;"
                 "CREATE SCHEMA app; CREATE TABLE app.\"Sessions\" (k int); INSERT INTO app.\"Sessions\" VALUES (1), (2);"
                 "CREATE TABLE empty_table (x int);")
    platform.env.update(SOPHIA_POSTGRES_HOST="127.0.0.1", SOPHIA_POSTGRES_PORT=str(postgres.port),
                        SOPHIA_BACKUP_DIR=str(tmp_path / "backups"))
    platform.backup_vars = {"vault_postgres_password": postgres.password}
    platform.postgres = postgres
    platform.backup_dir = tmp_path / "backups"
    yield platform
    postgres.stop()


def volumes(platform, service="weaviate"):
    return platform.fly.api("GET", "/apps/%s/volumes" % platform.app(service)).json()


def snapshots(platform, volume_id, service="weaviate"):
    return platform.fly.api("GET", "/apps/%s/volumes/%s/snapshots" % (platform.app(service), volume_id)).json()


def test_a_deploy_with_a_new_image_snapshots_the_volumes_first(converged_site, converged_platform):
    # The first deploy (the session's site.yml from empty) had no earlier image to keep a snapshot of.
    platform = converged_platform
    assert [r.get("skipped") for h, n, r in converged_site.results(SNAPSHOT_TASK, host="weaviate")] == [True]
    [volume] = volumes(platform)
    # The role's snapshot settings reached the volume.
    assert (volume["snapshot_retention"], volume["auto_backup_enabled"]) == (14, True)
    assert snapshots(platform, volume["id"]) == []

    # The same image again: nothing to snapshot, nothing written.
    seq = platform.fly.last_seq()
    again = platform.play("playbooks/deploy.yml", limit="weaviate")
    assert again.rc == 0 and again.changed == 0, again.explain()
    assert platform.fly.writes_since(seq) == []

    # A new image: predicted in check mode without a write, then the snapshot comes before any machine changes.
    seq = platform.fly.last_seq()
    predicted = platform.play("playbooks/deploy.yml", limit="weaviate", check=True,
                              extra_vars={"weaviate_image": NEW_IMAGE})
    assert predicted.rc == 0, predicted.explain()
    assert [r.get("changed") for h, n, r in predicted.results(SNAPSHOT_TASK)] == [True]
    assert platform.fly.writes_since(seq) == []

    seq = platform.fly.last_seq()
    rolled = platform.play("playbooks/deploy.yml", limit="weaviate", extra_vars={"weaviate_image": NEW_IMAGE})
    assert rolled.rc == 0, rolled.explain()
    [taken] = [r for h, n, r in rolled.results(SNAPSHOT_TASK)]
    assert taken["changed"] and [s["volume_id"] for s in taken["snapshots"]] == [volume["id"]]
    assert [s["id"] for s in snapshots(platform, volume["id"])] == [taken["snapshots"][0]["id"]]
    writes = platform.fly.writes_since(seq)
    first_write = writes[0]
    assert first_write["method"] == "POST" and first_write["path"].endswith("/volumes/%s/snapshots" % volume["id"])
    assert any("/machines/" in w["path"] for w in writes[1:]), "the machines were not updated after the snapshot"
    assert {m["config"]["image"] for m in platform.fly.machines_now(platform.app("weaviate"))} == {NEW_IMAGE}

    # Rolled out: the next deploy of that image takes no snapshot.
    steady = platform.play("playbooks/deploy.yml", limit="weaviate", extra_vars={"weaviate_image": NEW_IMAGE})
    assert steady.rc == 0 and steady.changed == 0, steady.explain()
    assert len(snapshots(platform, volume["id"])) == 1


@pytest.mark.fault("volume snapshot retention changed out of band",
                   checks="check mode finds it with no write; a run puts it back; then clean")
def test_a_volume_retention_changed_out_of_band_is_found_and_put_back(converged_platform):
    platform = converged_platform
    [volume] = volumes(platform)
    platform.fly.api("PUT", "/apps/%s/volumes/%s" % (platform.app("weaviate"), volume["id"]),
                     json={"snapshot_retention": 3})

    seq = platform.fly.last_seq()
    predicted = platform.play("playbooks/deploy.yml", limit="weaviate", check=True, diff=True)
    assert predicted.rc == 0, predicted.explain()
    [found] = [r for h, n, r in predicted.results(MACHINES_TASK)]
    assert found["changed"] and found["summary"]["volumes_updated"] == [volume["id"]]
    assert found["diff"]["before"]["volumes"] == {volume["id"]: {"snapshot_retention": 3}}
    assert platform.fly.writes_since(seq) == []

    fixed = platform.play("playbooks/deploy.yml", limit="weaviate")
    assert fixed.rc == 0 and fixed.changed == 1, fixed.explain()
    assert volumes(platform)[0]["snapshot_retention"] == 14

    seq = platform.fly.last_seq()
    clean = platform.play("playbooks/deploy.yml", limit="weaviate", check=True)
    assert clean.rc == 0 and clean.changed == 0, clean.explain()
    assert platform.fly.writes_since(seq) == []


def test_the_database_dump_keeps_a_dump_only_when_the_database_changed(backup_env):
    platform = backup_env
    platform.env["ANSIBLE_RUN_TAGS"] = "backup"

    def dumps():
        return sorted(p.name for p in platform.backup_dir.glob("sophia-*.sql"))

    predicted = platform.play("playbooks/advanced.yml", limit="control", check=True,
                              extra_vars=platform.backup_vars)
    assert predicted.rc == 0 and predicted.changed == 0, predicted.explain()
    assert not platform.backup_dir.exists()

    first = platform.play("playbooks/advanced.yml", limit="control", extra_vars=platform.backup_vars)
    assert first.rc == 0 and first.changed >= 1, first.explain()
    assert len(dumps()) == 1
    assert oct(platform.backup_dir.stat().st_mode & 0o777) == "0o700"

    unchanged = platform.play("playbooks/advanced.yml", limit="control", extra_vars=platform.backup_vars)
    assert unchanged.rc == 0 and unchanged.changed == 0, unchanged.explain()
    assert len(dumps()) == 1

    platform.postgres.sql("INSERT INTO memories (body) VALUES ('one more');")
    kept = platform.play("playbooks/advanced.yml", limit="control",
                         extra_vars=dict(platform.backup_vars, backup_keep_dumps=1))
    assert kept.rc == 0 and kept.changed >= 1, kept.explain()
    [newest] = dumps()
    assert "one more" in (platform.backup_dir / newest).read_text()
    assert not list(platform.backup_dir.glob(".*partial*"))


@pytest.mark.fault("restore drill, then a dump that does not restore",
                   checks="snapshot and dump restored and checked; a broken dump fails it, scratch database dropped")
def test_the_restore_drill_restores_a_snapshot_and_a_dump_and_checks_both(converged_platform, backup_env):
    # The drill's volume is Weaviate's, as site.yml leaves it; its database is backup_env's own.
    platform = backup_env
    [volume] = volumes(platform)

    seq = platform.fly.last_seq()
    drill = platform.play("playbooks/restore_drill.yml", extra_vars=platform.backup_vars)
    assert drill.rc == 0, drill.explain()
    # No snapshot yet: one was taken first, then restored to a new volume, checked and deleted.
    [taken] = snapshots(platform, volume["id"])
    writes = [(w["method"], w["path"].split("/v1/apps/%s" % platform.app("weaviate"))[-1])
              for w in platform.fly.writes_since(seq)]
    created = [path for method, path in writes if method == "POST" and path == "/volumes"]
    deleted = [path for method, path in writes if method == "DELETE" and path.startswith("/volumes/")]
    assert writes[0] == ("POST", "/volumes/%s/snapshots" % volume["id"])
    assert len(created) == 1 and len(deleted) == 1
    [checked] = [r for h, n, r in drill.results("The restored volume has the snapshot's size, region and data")]
    assert taken["id"] in checked["msg"] and "20 GB in iad" in checked["msg"]
    assert [v["id"] for v in volumes(platform)] == [volume["id"]]
    [restored] = [r for h, n, r in drill.results("The scratch database holds every table of the dump with its rows")]
    assert "3 table(s), 42 row(s)" in restored["msg"], restored["msg"]
    assert platform.postgres.sql("SELECT count(*) FROM pg_database WHERE datname = 'sophia_restore_drill'") == "0\n"
    assert len(list(platform.backup_dir.glob("sophia-*.sql"))) == 1

    # Again: the latest snapshot and the newest dump are there now, so nothing new is taken.
    seq = platform.fly.last_seq()
    again = platform.play("playbooks/restore_drill.yml", extra_vars=platform.backup_vars)
    assert again.rc == 0, again.explain()
    assert len(snapshots(platform, volume["id"])) == 1
    assert not [w for w in platform.fly.writes_since(seq) if w["path"].endswith("/snapshots")]
    assert [v["id"] for v in volumes(platform)] == [volume["id"]]

    # A dump that does not restore fails the drill, and the scratch database is still dropped.
    [dump] = platform.backup_dir.glob("sophia-*.sql")
    dump.write_text(dump.read_text().replace("CREATE TABLE public.memories", "CREATE TABLE public.memories broken"))
    broken = platform.play("playbooks/restore_drill.yml", extra_vars=dict(platform.backup_vars,
                                                                          backup_drill_parts=["database"]))
    assert broken.rc != 0
    assert platform.postgres.sql("SELECT count(*) FROM pg_database WHERE datname = 'sophia_restore_drill'") == "0\n"
