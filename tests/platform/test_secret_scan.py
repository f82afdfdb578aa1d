"""No secret left behind: canary values for every kind of secret go through the whole platform, and
nothing the runs leave (output, logs, artifacts, the inventory cache, temporary files, the emulators'
logs) holds any of them, plain or base64-encoded.

The canaries (tests/platform/conftest.py, ``canary_runs``): the Fly token and the Lambda key, every vault
value, and the SSH key pair the GPU pool generates. Two runs of site.yml at -vvvv: one that fails in the
deploy phase (the Fly secrets endpoint refuses every write), then the full run. Then the fleet inventory is
listed with its cache on, and each Lambda instance's Jupyter token joins the canaries for the listing and
the cache (instance credentials stay out of hostvars unless asked for). The third run, --check --diff on the
empty environment, is tests/platform/test_site.py's check-mode test, scanned the same way."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest

from tests.support.secrets import Scanner, canary, private_key_lines


@pytest.mark.slow
@pytest.mark.fault("canaries for every secret through site.yml at -vvvv: a run failing in deploy, a full run; "
                   "then the fleet inventory listed with its cache",
                   checks="no canary, nor its base64, in any output, log, artifact, cache, temp file or emulator "
                          "log; nor Jupyter tokens in the listing or cache", area="Secrets")
def test_no_secret_is_left_anywhere(canary_runs):
    runs, fly, lam = canary_runs, canary_runs.fly, canary_runs.lam
    fly.add_fault(status=422, count=1000, method="POST", path_regex=r"/secrets$")
    try:
        failed, _results = runs.site("failing")
    finally:
        fly.clear_faults()
    assert failed.returncode != 0
    # It failed where the secrets are written, on the injected answer.
    assert "FAILED!" in failed.stdout and "injected fault" in failed.stdout, failed.stdout[-3000:]
    assert "App secrets are set" in failed.stdout

    full, _results = runs.site("full")
    assert full.returncode == 0, full.stdout[-3000:] + full.stderr[-3000:]
    # The canaries are what the platform runs on (the databases took theirs, or the preflight had failed).
    jwt = runs.values["vault_sophia_secrets"]["JWT_SECRET"]
    deployed = fly.api("GET", "/apps/sophia-local-unified-api/secrets").json()["secrets"]
    assert {"JWT_SECRET": hashlib.sha256(jwt.encode()).hexdigest()[:16]}.items() <= {
        s["name"]: s["digest"] for s in deployed}.items()
    assert lam.api("GET", "/instances").json()["data"], "the GPU pool was not made: its key never tried"

    listed = runs.command("inventory", ["ansible-inventory", "-i", str(runs.inventory / "fleet.yml"), "--list",
                                        "-vvvv"])
    assert listed.returncode == 0, listed.stderr[-3000:]
    cache = runs.artifacts / "inventory-cache"
    assert list(cache.iterdir()), "the fleet inventory wrote no cache"

    # The canaries, and the SSH key pair the pool generated: every line of its private key's body (the key's
    # own files hold it by design, and are not scanned).
    ssh = runs.artifacts / "ssh"
    [key] = [p for p in ssh.iterdir() if not p.name.endswith((".pub", ".previous"))]
    body = private_key_lines(key.read_text())
    assert body, "no private key was generated"
    scan = runs.scan(more={"generated SSH private key, line %d" % n: line for n, line in body},
                     skip={p for p in ssh.iterdir() if not p.name.endswith(".pub")})

    # Instance credentials: never in the listing or the cache unless asked for.
    tokens = {"Jupyter token of %s" % i["name"]: i["jupyter_token"] for i in lam.api("GET", "/instances").json()["data"]
              if i.get("jupyter_token")}
    assert tokens
    credentials = Scanner(tokens)
    credentials.text("ansible-inventory --list output", listed.stdout)
    credentials.tree(cache)

    assert scan.scanned > 20
    assert not scan.found + credentials.found, "secrets left behind:\n" + "\n".join(scan.found + credentials.found)


def test_the_scanner_finds_a_canary_however_it_is_encoded(tmp_path):
    value = canary("probe")
    scan = Scanner({"probe": value})
    for shift in range(3):
        wrapped = ("x" * shift + "user:" + value + ":tail").encode()
        scan.text("standard %d" % shift, b"Authorization: Basic " + base64.b64encode(wrapped))
        scan.text("url-safe %d" % shift, base64.urlsafe_b64encode(b"\xfb\xff" + wrapped))
    (tmp_path / "deep" / "er").mkdir(parents=True)
    (tmp_path / "deep" / "er" / "left.json").write_text(json.dumps({"password": value}))
    (tmp_path / "deep" / "state.sqlite3").write_text(value)  # an emulator's own state: not a leak
    scan.tree(tmp_path)
    scan.text("clean", "nothing here but " + value[:-1])
    assert sorted(scan.found) == sorted(["standard %d holds probe" % n for n in range(3)]
                                        + ["url-safe %d holds probe" % n for n in range(3)]
                                        + ["%s holds probe" % (tmp_path / "deep" / "er" / "left.json")])


def test_the_canaries_of_a_private_key_are_its_own_lines_only():
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    def new_key():
        return Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()).decode()

    one, two = new_key(), new_key()
    assert one.splitlines()[1] == two.splitlines()[1]  # the format's header: every such key holds it
    lines = private_key_lines(one)
    assert [number for number, _line in lines] == list(range(2, len(one.splitlines()) - 1))
    scan = Scanner(dict(("line %d" % number, line) for number, line in lines))
    scan.text("another key", two)
    scan.text("the key itself", one)
    assert scan.found == ["the key itself holds line %d" % number for number, _line in lines]
