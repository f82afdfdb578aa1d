"""Certificates: ``/apps/{app_name}/certificates[/acme|/custom|/{hostname}[/check|/acme|/custom]]``.

One record per hostname, holding an ACME request and/or an uploaded (custom)
certificate. Validation completes a few clock steps after the request, as DNS
would: ACME certificates turn from ``pending_validation``, custom ones from
``pending_ownership``, to ``active``.
"""

from __future__ import annotations

import re

from emulators.common.server import HTTPError
from emulators.fly.lifecycle import now
from emulators.fly.shared import APP, CERT, QUERY_INTEGER, QUERY_STRING, STRING, iso, obj, page, query, route

HOSTNAME = re.compile(r"^(\*\.)?([a-z0-9-]+\.)+[a-z]{2,}$")
VALIDATION_STEPS = 3
# The document: "default 25, max 500".
DEFAULT_PAGE, MAX_PAGE = 25, 500
PEM_CERTIFICATE = re.compile(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.DOTALL)
PEM_PRIVATE_KEY = re.compile(r"-----BEGIN ([A-Z]+ )?PRIVATE KEY-----.+?-----END ([A-Z]+ )?PRIVATE KEY-----", re.DOTALL)

# createAcmeCertificateRequest, createCustomCertificateRequest; the docs: every field is required.
CREATE_ACME = obj(required=["hostname"], hostname=STRING)
CREATE_CUSTOM = obj(required=["hostname", "fullchain", "private_key"], fullchain=STRING, hostname=STRING,
                    private_key=STRING)
LIST_QUERY = query(filter=QUERY_STRING, cursor=QUERY_STRING, limit=QUERY_INTEGER)


# --- the record and what it shows ---------------------------------------------------------------
def certificate(state, app_name, hostname):
    state.app(app_name)
    cert = state.store.get("certificate", "%s/%s" % (app_name, hostname))
    if cert is None:
        raise HTTPError(404, "certificate not found")
    return cert


def validated(state, since):
    return now() >= since + VALIDATION_STEPS * state.backend.step


def acme_requested(cert):
    return cert.get("acme_requested", True)  # records from before custom certificates were all ACME


def entries(state, cert):
    """(the certificates served for the hostname, the validation flags that hold)."""
    served, flags = [], set()
    if acme_requested(cert) and validated(state, cert["requested_at"]):
        expires = iso(cert["requested_at"] + 90 * 86400)
        served.append({"source": "fly", "status": "active", "issuer": "Let's Encrypt",
                       "created_at": cert["created_at"], "expires_at": expires,
                       "issued": [{"type": "ecdsa", "certificate_authority": "lets_encrypt",
                                   "expires_at": expires}]})
        flags |= {"dns_configured", "alpn_configured", "http_configured", "ownership_txt_configured"}
    custom = cert.get("custom")
    if custom:
        active = validated(state, custom["uploaded_at"])
        served.append({"source": "custom", "status": "active" if active else "pending_ownership",
                       "issuer": "Custom certificate", "created_at": iso(custom["uploaded_at"]),
                       "expires_at": iso(custom["uploaded_at"] + 365 * 86400), "issued": []})
        if active:
            flags |= {"dns_configured", "ownership_txt_configured"}
    return served, flags


def cert_status(state, cert):
    served, dummy = entries(state, cert)
    if any(entry["status"] == "active" for entry in served):
        return "active"
    if acme_requested(cert):
        return "pending_validation"
    return "pending_ownership" if cert.get("custom") else "inactive"


def render_certificate(state, cert, app_name):
    served, flags = entries(state, cert)
    status = cert_status(state, cert)
    ips = [ip["ip"] for ip in state.store.list("ip", app_name)]
    return {"hostname": cert["hostname"], "configured": status == "active",
            "acme_requested": acme_requested(cert), "status": status, "dns_provider": "emulated",
            "certificates": served,
            "validation": {name: name in flags for name in ("dns_configured", "alpn_configured",
                                                            "http_configured", "ownership_txt_configured")},
            "dns_requirements": {
                "a": [ip for ip in ips if "." in ip], "aaaa": [ip for ip in ips if ":" in ip],
                "cname": "%s.fly.dev" % app_name,
                "acme_challenge": {"name": "_acme-challenge." + cert["hostname"],
                                   "target": "%s.%s.flydns.net" % (cert["hostname"], app_name)},
                "ownership": {"name": "_fly-ownership." + cert["hostname"], "app_value": "app-" + app_name,
                              "org_value": "org-emulated"}},
            "validation_errors": []}


def check_hostname(hostname):
    if not HOSTNAME.match(hostname):
        raise HTTPError(422, "hostname is not a valid domain name")
    return hostname


# --- handlers -----------------------------------------------------------------------------------------
def list_certificates(state, request, app_name):
    state.app(app_name)
    certs = state.store.list("certificate", app_name)
    wanted = request.arg("filter")
    if wanted:
        certs = [c for c in certs if wanted in c["hostname"]]
    chosen, cursor = page(certs, request, DEFAULT_PAGE, MAX_PAGE)
    summaries = []
    for cert in chosen:
        served, flags = entries(state, cert)
        summaries.append({"hostname": cert["hostname"], "status": cert_status(state, cert),
                          "configured": cert_status(state, cert) == "active",
                          "acme_requested": acme_requested(cert),
                          "acme_dns_configured": "dns_configured" in flags and acme_requested(cert),
                          "acme_alpn_configured": "alpn_configured" in flags,
                          "acme_http_configured": "http_configured" in flags,
                          "ownership_txt_configured": "ownership_txt_configured" in flags,
                          "has_custom_certificate": bool(cert.get("custom")),
                          "has_fly_certificate": any(e["source"] == "fly" for e in served),
                          "dns_provider": "emulated", "created_at": cert["created_at"],
                          "updated_at": cert.get("updated_at") or cert["created_at"]})
    answer = {"certificates": summaries, "total_count": len(certs)}
    if cursor:
        answer["next_cursor"] = cursor
    return 200, answer


def request_certificate(state, request, app_name):
    state.app(app_name)
    hostname = check_hostname(request.json()["hostname"])
    key = "%s/%s" % (app_name, hostname)
    cert = state.store.get("certificate", key)
    if cert and acme_requested(cert):
        raise HTTPError(422, "hostname %s already has a certificate on this app" % hostname)
    cert = cert or {"key": key, "hostname": hostname, "created_at": iso()}
    cert.update(acme_requested=True, requested_at=now(), updated_at=iso())
    state.store.put("certificate", key, cert, parent=app_name)
    return 201, render_certificate(state, cert, app_name)


def import_certificate(state, request, app_name):
    state.app(app_name)
    body = request.json()
    hostname = check_hostname(body["hostname"])
    if not PEM_CERTIFICATE.search(body["fullchain"]):
        raise HTTPError(422, "fullchain is not a PEM-encoded certificate chain")
    if not PEM_PRIVATE_KEY.search(body["private_key"]):
        raise HTTPError(422, "private_key is not a PEM-encoded private key")
    key = "%s/%s" % (app_name, hostname)
    cert = state.store.get("certificate", key) or {"key": key, "hostname": hostname, "created_at": iso(),
                                                   "acme_requested": False}
    # Only when it was uploaded is kept: the key itself is never stored nor answered.
    cert.update(custom={"uploaded_at": now()}, updated_at=iso())
    state.store.put("certificate", key, cert, parent=app_name)
    return 201, render_certificate(state, cert, app_name)


def get_certificate(state, request, app_name, hostname):
    return 200, render_certificate(state, certificate(state, app_name, hostname), app_name)


def check_certificate(state, request, app_name, hostname):
    answer = render_certificate(state, certificate(state, app_name, hostname), app_name)
    answer["dns_records"] = {"a": answer["dns_requirements"]["a"], "aaaa": answer["dns_requirements"]["aaaa"],
                             "cname": [answer["dns_requirements"]["cname"]] if answer["configured"] else []}
    return 200, answer


def delete_certificate(state, request, app_name, hostname):
    cert = certificate(state, app_name, hostname)
    state.store.delete("certificate", cert["key"])
    return 204, None


def delete_acme_certificate(state, request, app_name, hostname):
    """Stops ACME issuance; a custom certificate goes on being served, the hostname stays."""
    cert = certificate(state, app_name, hostname)
    if not acme_requested(cert):
        raise HTTPError(404, "hostname %s has no ACME certificate" % hostname)
    cert.update(acme_requested=False, updated_at=iso())
    state.store.put("certificate", cert["key"], cert, parent=app_name)
    return 200, render_certificate(state, cert, app_name)


def delete_custom_certificate(state, request, app_name, hostname):
    """Removes the uploaded certificate; ACME certificates go on being served, the hostname stays."""
    cert = certificate(state, app_name, hostname)
    if not cert.get("custom"):
        raise HTTPError(404, "hostname %s has no custom certificate" % hostname)
    cert.pop("custom")
    cert["updated_at"] = iso()
    state.store.put("certificate", cert["key"], cert, parent=app_name)
    return 200, render_certificate(state, cert, app_name)


ROUTES = [
    route("GET", APP + r"/certificates", list_certificates, query=LIST_QUERY),
    route("POST", APP + r"/certificates/acme", request_certificate, "acme_certificate", body=CREATE_ACME),
    route("POST", APP + r"/certificates/custom", import_certificate, "custom_certificate", body=CREATE_CUSTOM),
    route("GET", CERT, get_certificate),
    route("POST", CERT + "/check", check_certificate),
    route("DELETE", CERT, delete_certificate),
    route("DELETE", CERT + "/acme", delete_acme_certificate),
    route("DELETE", CERT + "/custom", delete_custom_certificate),
]
