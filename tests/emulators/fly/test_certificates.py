"""Certificates: ACME and custom ones for a hostname, on the clock; their deletes; the list's pages."""

from __future__ import annotations

import time

import pytest

from tests.emulators.fly.helpers import eventually, ok, refused


def test_certificates_become_active_on_the_clock(fly, app):
    base = "/apps/%s/certificates" % app
    cert = ok(fly.api("POST", base + "/acme", json={"hostname": "api.example.com"}), 201)
    assert cert["status"] == "pending_validation" and cert["dns_requirements"]["cname"] == app + ".fly.dev"
    time.sleep(0.3)
    assert ok(fly.api("POST", base + "/api.example.com/check"))["status"] == "active"
    assert [c["hostname"] for c in ok(fly.api("GET", base))["certificates"]] == ["api.example.com"]
    ok(fly.api("DELETE", base + "/api.example.com"), 204)
    assert fly.api("GET", base + "/api.example.com").status_code == 404


CHAIN = "-----BEGIN CERTIFICATE-----\nMIIDemulated\n-----END CERTIFICATE-----\n"
KEY = "-----BEGIN PRIVATE KEY-----\nMIIEemulated-secret-key\n-----END PRIVATE KEY-----\n"


def test_a_custom_certificate_is_served_once_ownership_is_seen(fly, app):
    base = "/apps/%s/certificates" % app
    cert = ok(fly.api("POST", base + "/custom", json={"hostname": "api.example.com", "fullchain": CHAIN,
                                                      "private_key": KEY}), 201)
    assert (cert["status"], cert["acme_requested"], cert["configured"]) == ("pending_ownership", False, False)
    assert [(c["source"], c["status"]) for c in cert["certificates"]] == [("custom", "pending_ownership")]
    active = eventually(lambda: ok(fly.api("GET", base + "/api.example.com")), lambda c: c["status"] == "active")
    assert active["configured"] and active["validation"]["ownership_txt_configured"]
    assert "emulated-secret-key" not in fly.api("GET", base + "/api.example.com").text
    listed = ok(fly.api("GET", base))["certificates"][0]
    assert (listed["has_custom_certificate"], listed["has_fly_certificate"]) == (True, False)


def test_the_acme_and_custom_certificates_are_deleted_apart(fly, app):
    base = "/apps/%s/certificates" % app
    ok(fly.api("POST", base + "/acme", json={"hostname": "www.example.com"}), 201)
    ok(fly.api("POST", base + "/custom", json={"hostname": "www.example.com", "fullchain": CHAIN,
                                               "private_key": KEY}), 201)
    both = eventually(lambda: ok(fly.api("GET", base + "/www.example.com")), lambda c: len(c["certificates"]) == 2)
    assert sorted(c["source"] for c in both["certificates"]) == ["custom", "fly"]

    without_custom = ok(fly.api("DELETE", base + "/www.example.com/custom"))
    assert [c["source"] for c in without_custom["certificates"]] == ["fly"] and without_custom["acme_requested"]
    assert refused(fly.api("DELETE", base + "/www.example.com/custom"), 404) == (
        "hostname www.example.com has no custom certificate")

    ok(fly.api("POST", base + "/custom", json={"hostname": "www.example.com", "fullchain": CHAIN,
                                               "private_key": KEY}), 201)
    without_acme = ok(fly.api("DELETE", base + "/www.example.com/acme"))
    assert [c["source"] for c in without_acme["certificates"]] == ["custom"]
    assert without_acme["acme_requested"] is False
    assert refused(fly.api("DELETE", base + "/www.example.com/acme"), 404) == (
        "hostname www.example.com has no ACME certificate")
    ok(fly.api("DELETE", base + "/www.example.com/custom"))
    assert ok(fly.api("GET", base + "/www.example.com"))["status"] == "inactive"  # the hostname stays
    ok(fly.api("DELETE", base + "/www.example.com"), 204)
    assert fly.api("GET", base + "/www.example.com").status_code == 404


@pytest.mark.fault("a custom certificate whose chain or key is not PEM, or whose hostname is not a domain",
                   checks="422 saying which; nothing kept")
def test_a_custom_certificate_must_look_like_one(fly, app):
    base = "/apps/%s/certificates" % app
    not_pem = fly.api("POST", base + "/custom", json={"hostname": "a.example.com", "fullchain": "MIID",
                                                      "private_key": KEY})
    assert refused(not_pem, 422) == "fullchain is not a PEM-encoded certificate chain"
    no_key = fly.api("POST", base + "/custom", json={"hostname": "a.example.com", "fullchain": CHAIN,
                                                     "private_key": CHAIN})
    assert refused(no_key, 422) == "private_key is not a PEM-encoded private key"
    bad_host = fly.api("POST", base + "/custom", json={"hostname": "not a host", "fullchain": CHAIN,
                                                       "private_key": KEY})
    assert refused(bad_host, 422) == "hostname is not a valid domain name"
    assert ok(fly.api("GET", base)) == {"certificates": [], "total_count": 0}


def test_the_certificate_list_pages(fly, app):
    base = "/apps/%s/certificates" % app
    hostnames = ["h%d.example.com" % n for n in range(3)]
    for hostname in hostnames:
        ok(fly.api("POST", base + "/acme", json={"hostname": hostname}), 201)
    first = ok(fly.api("GET", base, params={"limit": "2"}))
    assert (len(first["certificates"]), first["total_count"]) == (2, 3)
    rest = ok(fly.api("GET", base, params={"limit": "2", "cursor": first["next_cursor"]}))
    assert [c["hostname"] for c in first["certificates"] + rest["certificates"]] == hostnames
    assert "next_cursor" not in rest
    assert [c["hostname"] for c in ok(fly.api("GET", base, params={"filter": "h1"}))["certificates"]] == [hostnames[1]]
