"""Looking for secrets where none should be: distinctive canary values, and a scanner that finds them in texts
and files, plain or base64-encoded wherever they start in a longer encoded text.

Shared by the secret scan of the platform runs (tests/platform/test_secret_scan.py) and of the AWX job
templates' runs (tests/awx)."""

from __future__ import annotations

import base64
import re
import subprocess
import uuid
from pathlib import Path

from tests.support.ansible_cli import REPO_ROOT

# The emulators' own state (a provider keeps what it is given) is not a leak; their logs would be.
EMULATOR_STATE = re.compile(r"state\.sqlite3(-wal|-shm|-journal)?$")


def canary(kind):
    # Long and unique: no_log masking cannot confuse it with ordinary output, no other test can print it.
    return "canary-%s-%s" % (kind, uuid.uuid4().hex)


def encodings(value):
    """The value, and every run of base64 characters that encodes it wherever it starts in a longer
    encoded text (three alignments, standard and URL-safe alphabets)."""
    raw = value.encode()
    found = {raw}
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + raw)
        start, end = (0, 2, 3)[shift], (shift + len(raw)) // 3 * 4
        for text in (encoded, base64.urlsafe_b64encode(b"\0" * shift + raw)):
            if end - start >= 16:
                found.add(text[start:end])
    return found


class Scanner:
    """Looks for every canary, in any of its encodings, in texts and files; remembers where."""

    def __init__(self, canaries):
        self.canaries = canaries  # label -> value
        needles = {}
        for label, value in canaries.items():
            for needle in encodings(value):
                needles[needle] = label
        self.needles = needles
        self.pattern = re.compile(b"|".join(re.escape(n) for n in sorted(needles, key=len, reverse=True)))
        self.found = []
        self.scanned = 0

    def text(self, where, data):
        if isinstance(data, str):
            data = data.encode("utf-8", "replace")
        self.scanned += 1
        labels = sorted({self.needles[match.group(0)] for match in self.pattern.finditer(data)})
        for label in labels:
            self.found.append("%s holds %s" % (where, label))

    def tree(self, root, skip=()):
        root = Path(root)
        if not root.exists():
            return
        for path in sorted([root] if root.is_file() else root.rglob("*")):
            if path.is_symlink() or not path.is_file() or path in skip or EMULATOR_STATE.search(path.name):
                continue
            try:
                self.text(str(path), path.read_bytes())
            except OSError as exc:
                self.found.append("%s could not be read: %s" % (path, exc))


def private_key_lines(text):
    """The lines of an OpenSSH private key's body that are this key's own, as canaries. The first line of
    every unencrypted ed25519 key is the same (the format's magic, "none" cipher and kdf, the key type), so
    any other key written anywhere would hold it: a line found in a freshly made key's body (its lines
    joined, as their width differs between ssh-keygen and cryptography) is left out."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    def body(key_text):
        return [line for line in key_text.splitlines() if line and not line.startswith("-----")]

    other = "".join(body(Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()).decode()))
    return [(number, line) for number, line in enumerate(body(text), 1) if line not in other]


def local_vault_secret():
    """The local vault's id and password, as scripts/vault-password-client gives them."""
    from ansible.parsing.vault import VaultSecret

    password = subprocess.run([str(REPO_ROOT / "scripts" / "vault-password-client"), "--vault-id", "local"],
                              cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=True).stdout.strip()
    return [("local", VaultSecret(password.encode()))]
