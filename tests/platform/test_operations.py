"""The operations playbooks on a running local platform: drift, rollback, scale, secret rotation, teardown."""

from __future__ import annotations

import hashlib
import json

import pytest

IMAGE_A = "registry.fly.io/sophia-unified-api:1.0.0"
IMAGE_B = "registry.fly.io/sophia-unified-api:1.1.0"


def messages(run, task_name):
    """What a debug or assert task said (its msg), on every host it ran on."""
    return [result.get("msg") for dummy, dummy, result in run.results(task_name)]


def volumes(platform, service):
    return platform.fly.api("GET", "/apps/%s/volumes" % platform.app(service)).json()


@pytest.mark.fault("five changes out of band: secret, guest size, machine destroyed, volume retention, IP",
                   checks="drift.yml names each, writes nothing and fails; drift_fix=true puts all back, writing to "
                          "those services only; then no drift on them")
def test_drift_names_each_change_made_behind_its_back_then_corrects_them(converged_platform, tmp_path):
    platform = converged_platform
    fly = platform.fly
    api_app, ui_app, mcp_app = platform.app("unified_api"), platform.app("agent_ui"), platform.app("mcp_server")
    # Five changes made out of band, as another operator or a crash would.
    fly.api("POST", "/apps/%s/secrets" % api_app, json={"values": {"JWT_SECRET": None}})
    weaviate = fly.machines_now(platform.app("weaviate"))[0]
    fly.drift_machine(platform.app("weaviate"), weaviate["id"], config={"guest": {"memory_mb": 1024}})
    fly.drift_machine(ui_app, fly.machines_now(ui_app)[0]["id"], state="destroyed")
    [vector_volume] = volumes(platform, "vector_store")
    fly.api("PUT", "/apps/%s/volumes/%s" % (platform.app("vector_store"), vector_volume["id"]),
            json={"snapshot_retention": 3})
    [private_ip] = [a["ip"] for a in fly.api("GET", "/apps/%s/ip_assignments" % mcp_app).json()["ips"]]
    fly.api("DELETE", "/apps/%s/ip_assignments/%s" % (mcp_app, private_ip))

    report_path = tmp_path / "drift.json"
    seq = fly.last_seq()
    found = platform.play("playbooks/drift.yml", extra_vars={"drift_report_path": str(report_path)})
    assert found.rc != 0, found.explain()
    assert fly.writes_since(seq) == []
    wanted = {
        "unified_api: secret JWT_SECRET missing (would set)",
        "weaviate: machine %s guest.memory_mb 1024 -> 2048 (would update)" % weaviate["id"],
        "agent_ui: machine missing in iad (would create)",
        "vector_store: volume %s snapshot_retention 3 -> 14 (would update)" % vector_volume["id"],
        "mcp_server: IP private_v6 missing (would assign)",
    }
    [report] = messages(found, "Report")
    assert report[0] == "5 drifted resource(s) in local (found -> wanted, nothing changed):"
    assert set(report[1:]) == wanted
    [failure] = messages(found, "No drift left and every service checked")
    assert "5 drifted resource(s)" in failure and "drift_fix=true" in failure
    written = json.loads(report_path.read_text())
    assert (written["environment"], written["fixed"], written["drifted"], written["errors"]) == ("local", False, 5, 0)
    assert {entry["message"] for entry in written["entries"]} == wanted
    [memory] = [e for e in written["entries"] if e["resource"] == "machine" and e["change"] == "update"]
    assert (memory["service"], memory["field"], memory["found"], memory["wanted"]) == (
        "weaviate", "guest.memory_mb", 1024, 2048)
    # The secret's entry names it, never a value.
    [secret] = [e for e in written["entries"] if e["resource"] == "secret"]
    assert (secret["name"], secret["found"]) == ("JWT_SECRET", None)

    seq = fly.last_seq()
    fixed = platform.play("playbooks/drift.yml", extra_vars={"drift_fix": True, "drift_report_path": str(report_path)})
    assert fixed.rc == 0, fixed.explain()
    # The fix wrote to the five drifted services' apps and nowhere else.
    drifted = ["unified_api", "weaviate", "agent_ui", "vector_store", "mcp_server"]
    touched = {w["path"].split("/")[3] for w in fly.writes_since(seq)}
    assert touched == {platform.app(service) for service in drifted}, touched
    assert json.loads(report_path.read_text())["fixed"] is True
    secrets = fly.api("GET", "/apps/%s/secrets" % api_app).json()["secrets"]
    assert "JWT_SECRET" in {s["name"] for s in secrets}
    assert fly.machines_now(platform.app("weaviate"))[0]["config"]["guest"]["memory_mb"] == 2048
    assert len(fly.machines_now(ui_app)) == 1
    assert volumes(platform, "vector_store")[0]["snapshot_retention"] == 14
    assert [a["ip"] for a in fly.api("GET", "/apps/%s/ip_assignments" % mcp_app).json()["ips"]]

    # Those five compared again find no drift (the others were not written to).
    seq = fly.last_seq()
    clean = platform.play("playbooks/drift.yml", limit=":".join(drifted),
                          extra_vars={"drift_report_path": str(report_path)})
    assert clean.rc == 0, clean.explain()
    assert fly.writes_since(seq) == []
    assert messages(clean, "Report")[0][0].startswith("No drift in local")
    assert json.loads(report_path.read_text())["entries"] == []


@pytest.mark.fault("scale outside the environment's range; rollback with no earlier release",
                   checks="both refused, nothing written; then rollback and rotation restart machines one by one")
def test_scale_rollback_and_secret_rotation_of_one_service(converged_platform):
    platform = converged_platform
    fly = platform.fly
    app = platform.app("unified_api")

    # Scale: outside the range of the environment (2..4 locally), refused before any request.
    seq = fly.last_seq()
    refused = platform.play("playbooks/scale.yml", extra_vars={"service": "unified_api", "count": 5})
    assert refused.rc != 0
    assert fly.requests_since(seq) == []
    assert any("runs 2 to 4 machines in local" in m and "count=5 is outside" in m
               for m in messages(refused, "The count is within the plan's range for the environment"))

    # Rollback: nothing deployed before this release, so nothing to return to; refused, nothing written.
    seq = fly.last_seq()
    refused = platform.play("playbooks/rollback.yml", limit="unified_api")
    assert refused.rc != 0
    assert fly.writes_since(seq) == []
    assert any("no previous release recorded" in m for m in messages(refused, "One named service has a release to return to"))

    # Release B over A, then back to A: the machines run A again, B is now the recorded previous release,
    # and the volumes were snapshotted before the rollback.
    deployed = platform.play("playbooks/deploy.yml", limit="unified_api", extra_vars={"unified_api_image": IMAGE_B})
    assert deployed.rc == 0, deployed.explain()
    assert {m["config"]["image"] for m in fly.machines_now(app)} == {IMAGE_B}
    snapshots_before = sum(len(fly.api("GET", "/apps/%s/volumes/%s/snapshots" % (app, v["id"])).json())
                           for v in volumes(platform, "unified_api"))
    rolled = platform.play("playbooks/rollback.yml", extra_vars={"service": "unified_api"})
    assert rolled.rc == 0, rolled.explain()
    machines = fly.machines_now(app)
    assert {m["config"]["image"] for m in machines} == {IMAGE_A}
    assert {m["config"]["metadata"]["sophia_previous_image"] for m in machines} == {IMAGE_B}
    assert all(m["state"] == "started" for m in machines) and len(machines) == 4
    snapshots_after = sum(len(fly.api("GET", "/apps/%s/volumes/%s/snapshots" % (app, v["id"])).json())
                          for v in volumes(platform, "unified_api"))
    assert snapshots_after == snapshots_before + len(volumes(platform, "unified_api"))
    [summary] = messages(rolled, "What was rolled back")
    assert summary.startswith("unified_api: %s -> %s" % (IMAGE_B, IMAGE_A))

    # Rotation: a new value in the vault reaches the app, and each machine is restarted in turn.
    new_value = "rotated-jwt-secret-for-the-test"
    rotated_vars = {"sophia_secrets": "{{ vault_sophia_secrets | combine({'JWT_SECRET': '%s'}) }}" % new_value}
    seq = fly.last_seq()
    rotated = platform.play("playbooks/rotate_secrets.yml", limit="unified_api", extra_vars=rotated_vars)
    assert rotated.rc == 0, rotated.explain()
    [jwt] = [s for s in fly.api("GET", "/apps/%s/secrets" % app).json()["secrets"] if s["name"] == "JWT_SECRET"]
    assert jwt["digest"] == hashlib.sha256(new_value.encode()).hexdigest()[:16]
    actions = [(w["path"].rsplit("/", 2)[-2], w["path"].rsplit("/", 1)[-1]) for w in fly.writes_since(seq)
               if w["path"].endswith(("/stop", "/start"))]
    ids = [m["id"] for m in machines]
    # One machine stopped and started again before the next one stops.
    one_by_one = ([(i, s) for i in ids for s in ("stop", "start")],
                  [(i, s) for i in reversed(ids) for s in ("stop", "start")])
    assert actions in one_by_one, actions
    assert any("4 healthy machine(s)" in m for m in messages(rotated, "Rotation summary"))
    # The machines now run with the newest secrets: a second rotation changes nothing.
    again = platform.play("playbooks/rotate_secrets.yml", limit="unified_api", extra_vars=rotated_vars)
    assert again.rc == 0 and again.changed == 0, again.explain()


@pytest.mark.fault("teardown without the environment's name, and with the wrong one",
                   checks="refused with no request; a confirmed teardown keeps volumes (snapshotted) unless told")
def test_teardown_needs_the_environment_name_and_keeps_volumes_unless_told(converged_platform):
    platform = converged_platform
    fly = platform.fly
    # Weaviate with its volume; the log shipper, which has none, to show an app with nothing to keep goes.
    weaviate, shipper = platform.app("weaviate"), platform.app("log_shipper")
    assert volumes(platform, "log_shipper") == []
    [volume] = volumes(platform, "weaviate")
    snapshots = "/apps/%s/volumes/%s/snapshots" % (weaviate, volume["id"])
    snapshots_before = len(fly.api("GET", snapshots).json())

    for confirm in ({}, {"teardown_confirm": "prod"}):
        seq = fly.last_seq()
        refused = platform.play("playbooks/teardown.yml", extra_vars=confirm)
        assert refused.rc != 0
        assert fly.requests_since(seq) == []
        [why] = messages(refused, "The environment's name is given as confirmation")
        assert "-e teardown_confirm=local" in why and "Nothing was changed" in why

    done = platform.play("playbooks/teardown.yml", limit="weaviate,log_shipper",
                         extra_vars={"teardown_confirm": "local"})
    assert done.rc == 0, done.explain()
    assert fly.machines_now(weaviate) == [] and fly.api("GET", "/apps/%s" % shipper).status_code == 404
    assert fly.machines_now(platform.app("agent_ui")), "a service outside the limit was torn down"
    # Weaviate's app stays: it holds the volume, untouched, with a snapshot taken before anything went.
    assert [v["id"] for v in volumes(platform, "weaviate")] == [volume["id"]]
    assert len(fly.api("GET", snapshots).json()) == snapshots_before + 1

    everything = {"teardown_confirm": "local", "teardown_volumes": True, "service": "weaviate"}
    gone = platform.play("playbooks/teardown.yml", extra_vars=everything)
    assert gone.rc == 0, gone.explain()
    assert fly.api("GET", "/apps/%s" % weaviate).status_code == 404
