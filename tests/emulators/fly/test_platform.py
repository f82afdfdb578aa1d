"""The platform's rules (regions, guest sizes, volume sizes) and the /platform operations."""

from __future__ import annotations

import pytest

from tests.emulators.fly.helpers import IMAGE, machine_path, make_machine, make_volume, ok, refused

# The brief's list: Fly's public regions.
REGIONS = ("ams arn atl bog bom bos cdg den dfw ewr eze fra gdl gig gru hkg iad jnb lax lhr mad mia nrt ord otp "
           "phx qro scl sea sin sjc syd waw yul yyz").split()


def test_the_region_list_is_served_in_the_documents_shape(fly):
    answer = ok(fly.api("GET", "/platform/regions"))
    assert answer["nearest"] == "iad"
    assert [r["code"] for r in answer["regions"]] == REGIONS
    iad = [r for r in answer["regions"] if r["code"] == "iad"][0]
    assert iad["name"] == "Ashburn, Virginia (US)" and iad["geo_region"] == "na"
    assert isinstance(iad["latitude"], float) and isinstance(iad["longitude"], float)
    assert {type(r["gateway_available"]) for r in answer["regions"]} == {bool}


@pytest.mark.fault("a machine, a volume and an IP in region mars", checks="400 naming the region and the list; none made")
def test_unknown_regions_are_refused(fly, app):
    machine = fly.api("POST", "/apps/%s/machines" % app, json={"region": "mars", "config": {"image": IMAGE}})
    assert "invalid region: 'mars' is not a Fly.io region; one of ams, arn" in refused(machine)
    assert "invalid region" in refused(fly.api("POST", "/apps/%s/volumes" % app, json={"name": "d", "region": "mars"}))
    ip = fly.api("POST", "/apps/%s/ip_assignments" % app, json={"type": "v4", "region": "mars"})
    assert "one of global, ams" in refused(ip)
    assert ok(fly.api("GET", "/apps/%s/machines" % app)) == []
    assert ok(fly.api("GET", "/apps/%s/volumes" % app)) == []
    assert ok(fly.api("GET", "/apps/%s/ip_assignments" % app))["ips"] == []
    assert ok(fly.api("POST", "/apps/%s/ip_assignments" % app, json={"type": "v4", "region": "global"}))["ip"]
    assert make_machine(fly, app, region="syd")["region"] == "syd"


BAD_GUESTS = [
    ({"cpu_kind": "weird", "cpus": 3, "memory_mb": 100}, "cpu_kind 'weird' is not offered; cpu_kind is one of shared, "
                                                         "performance"),
    ({"cpu_kind": "shared", "cpus": 3, "memory_mb": 768}, "3 CPUs are not offered with cpu_kind shared; cpus is one "
                                                          "of 1, 2, 4, 6, 8"),
    ({"cpu_kind": "performance", "cpus": 6, "memory_mb": 12288}, "cpus is one of 1, 2, 4, 8, 16"),
    ({"cpu_kind": "shared", "cpus": 1, "memory_mb": 100}, "memory_mb 100 is not a multiple of 256; memory_mb from "
                                                          "256 to 2048 in steps of 256 for 1 shared CPU"),
    ({"cpu_kind": "shared", "cpus": 2, "memory_mb": 4352}, "memory_mb 4352 is out of range; memory_mb from 512 to "
                                                           "4096 in steps of 256 for 2 shared CPUs"),
    ({"cpu_kind": "performance", "cpus": 1, "memory_mb": 1024}, "memory_mb from 2048 to 8192"),
    ({"cpus": 2}, "memory_mb 256 is out of range"),  # left out: 256 MB, too little for two CPUs
]


@pytest.mark.fault("guests the platform does not offer: an unknown CPU kind, CPU counts not offered, memory off "
                   "the 256 MB steps or out of the per-CPU bounds",
                   checks="400 'invalid guest: <why>; <accepted values>'; nothing made")
@pytest.mark.parametrize("guest, why", BAD_GUESTS, ids=[repr(g) for g, dummy in BAD_GUESTS])
def test_guests_the_platform_does_not_offer_are_refused(fly, app, guest, why):
    answer = fly.api("POST", "/apps/%s/machines" % app,
                     json={"region": "iad", "config": {"image": IMAGE, "guest": guest}})
    message = refused(answer)
    assert message.startswith("invalid guest: ") and why in message, message
    assert ok(fly.api("GET", "/apps/%s/machines" % app)) == []


@pytest.mark.parametrize("guest", [{"cpu_kind": "shared", "cpus": 8, "memory_mb": 16384},
                                   {"cpu_kind": "performance", "cpus": 16, "memory_mb": 131072},
                                   {"cpu_kind": "performance", "cpus": 1, "memory_mb": 2048},
                                   {"memory_mb": 2048}])
def test_the_bounds_of_each_cpu_kind_are_offered(fly, app, guest):
    machine = make_machine(fly, app, config={"image": IMAGE, "guest": guest})
    assert {k: machine["config"]["guest"][k] for k in guest} == guest


@pytest.mark.fault("an update to a guest the platform does not offer", checks="400; the machine keeps its config")
def test_an_update_to_a_bad_guest_changes_nothing(fly, app):
    machine = make_machine(fly, app)
    answer = fly.api("POST", machine_path(app, machine), json={"config": {"image": IMAGE, "guest": {"cpus": 3}}})
    assert refused(answer).startswith("invalid guest: 3 CPUs")
    shown = ok(fly.api("GET", machine_path(app, machine)))
    assert shown["instance_id"] == machine["instance_id"] and shown["config"] == machine["config"]


@pytest.mark.fault("volumes of 0 and 501 GB, an extension to 501 GB, a volume compute guest not offered",
                   checks="400 with the bounds; a 0 GB volume is refused, not made 1 GB")
def test_volume_sizes_are_bounded(fly, app):
    assert refused(fly.api("POST", "/apps/%s/volumes" % app, json={"name": "data", "size_gb": 0})) == (
        "invalid size_gb: 0 is out of range; size_gb from 1 to 500 GB")
    assert "out of range" in refused(fly.api("POST", "/apps/%s/volumes" % app, json={"name": "data", "size_gb": 501}))
    compute = {"cpu_kind": "performance", "cpus": 3}
    assert refused(fly.api("POST", "/apps/%s/volumes" % app, json={"name": "data", "compute": compute})).startswith(
        "invalid guest: ")
    assert ok(fly.api("GET", "/apps/%s/volumes" % app)) == []
    volume = make_volume(fly, app, size_gb=500)
    assert volume["size_gb"] == 500
    smallest = make_volume(fly, app, name="small", size_gb=1)
    extend = "/apps/%s/volumes/%s/extend" % (app, smallest["id"])
    assert "out of range" in refused(fly.api("PUT", extend, json={"size_gb": 501}))
    assert ok(fly.api("PUT", extend, json={"size_gb": 500}))["volume"]["size_gb"] == 500


def test_placements_fill_the_preferred_region_first(fly):
    placed = ok(fly.api("POST", "/platform/placements", json={"org_slug": "personal", "region": "lhr,eu", "count": 3}))
    assert placed == {"regions": [{"region": "lhr", "count": 3, "concurrency": 3}]}
    spread = ok(fly.api("POST", "/platform/placements",
                        json={"org_slug": "personal", "region": "syd,sin", "count": 150}))
    assert [(r["region"], r["count"]) for r in spread["regions"]] == [("syd", 100), ("sin", 50)]
    limits = ok(fly.api("POST", "/platform/placements", json={"org_slug": "personal", "region": "oc,af"}))
    assert [(r["region"], r["count"]) for r in limits["regions"]] == [("syd", 100), ("jnb", 100)]
    default = ok(fly.api("POST", "/platform/placements", json={"org_slug": "personal", "count": 1}))
    assert default["regions"][0]["region"] == "iad"


@pytest.mark.fault("placements in an unknown region or alias, for a negative count, or more than the regions hold",
                   checks="400 naming the regions and aliases; 422 for the capacity")
def test_placements_refuse_what_cannot_be_placed(fly):
    unknown = fly.api("POST", "/platform/placements", json={"org_slug": "personal", "region": "iad,moon"})
    assert "'moon' is neither a Fly.io region nor an alias" in refused(unknown)
    negative = fly.api("POST", "/platform/placements", json={"org_slug": "personal", "count": -1})
    assert "count" in refused(negative)
    too_many = fly.api("POST", "/platform/placements", json={"org_slug": "personal", "region": "iad", "count": 101})
    assert "not enough capacity" in refused(too_many, 422)
