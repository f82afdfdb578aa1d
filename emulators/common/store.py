"""SQLite state for an emulator: JSON documents by kind and key, plus the request log.

Everything an emulator knows lives in one file under its data directory, so a
restart of the server loses nothing. Callers hold the service lock; the
connection is shared across the server's threads for that reason.
"""

from __future__ import annotations

import json
import os
import sqlite3

SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    kind TEXT NOT NULL, key TEXT NOT NULL, parent TEXT, body TEXT NOT NULL,
    seq INTEGER NOT NULL, PRIMARY KEY (kind, key));
CREATE INDEX IF NOT EXISTS documents_parent ON documents (kind, parent);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS saved_documents (
    name TEXT NOT NULL, kind TEXT NOT NULL, key TEXT NOT NULL, parent TEXT, body TEXT NOT NULL, seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS saved_meta (name TEXT NOT NULL, key TEXT NOT NULL, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS requests (seq INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL);
"""


class Store:
    def __init__(self, data_dir, filename="state.sqlite3"):
        os.makedirs(data_dir, exist_ok=True)
        self.db = sqlite3.connect(os.path.join(data_dir, filename), check_same_thread=False,
                                  isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        # WAL stays consistent when the process dies; only an OS crash could lose the last writes,
        # which an emulator can afford, and each request no longer waits for an fsync.
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)
        self._counter = self.db.execute("SELECT COALESCE(MAX(seq), 0) FROM documents").fetchone()[0]

    # --- documents --------------------------------------------------------------
    def get(self, kind, key):
        row = self.db.execute("SELECT body FROM documents WHERE kind=? AND key=?", (kind, key)).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, kind, key, body, parent=None):
        """Insert or replace; insertion order is kept for listings."""
        existing = self.db.execute("SELECT seq FROM documents WHERE kind=? AND key=?", (kind, key)).fetchone()
        if existing:
            seq = existing[0]
        else:
            self._counter += 1
            seq = self._counter
        self.db.execute("INSERT OR REPLACE INTO documents (kind, key, parent, body, seq) VALUES (?, ?, ?, ?, ?)",
                        (kind, key, parent, json.dumps(body), seq))
        return body

    def delete(self, kind, key):
        self.db.execute("DELETE FROM documents WHERE kind=? AND key=?", (kind, key))

    def list(self, kind, parent=None):
        if parent is None:
            rows = self.db.execute("SELECT body FROM documents WHERE kind=? ORDER BY seq", (kind,))
        else:
            rows = self.db.execute("SELECT body FROM documents WHERE kind=? AND parent=? ORDER BY seq",
                                   (kind, parent))
        return [json.loads(row[0]) for row in rows]

    def delete_children(self, parent):
        self.db.execute("DELETE FROM documents WHERE parent=?", (parent,))

    # --- meta (settings, counters) ----------------------------------------------
    def get_meta(self, name, default=None):
        row = self.db.execute("SELECT body FROM meta WHERE name=?", (name,)).fetchone()
        return json.loads(row[0]) if row else default

    def put_meta(self, name, body):
        self.db.execute("INSERT OR REPLACE INTO meta (name, body) VALUES (?, ?)", (name, json.dumps(body)))

    # --- request log --------------------------------------------------------
    def log_request(self, entry):
        self.db.execute("INSERT INTO requests (body) VALUES (?)", (json.dumps(entry),))

    def requests_since(self, since, limit=None):
        sql = "SELECT seq, body FROM requests WHERE seq > ? ORDER BY seq"
        args = [since]
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        return [dict(json.loads(body), seq=seq) for seq, body in self.db.execute(sql, args)]

    def last_seq(self):
        return self.db.execute("SELECT COALESCE(MAX(seq), 0) FROM requests").fetchone()[0]

    # --- saved states (a test's converged platform, restored in milliseconds) ------------------------
    def save(self, name):
        """Keep a copy of every document and meta entry under ``name`` (in the same file)."""
        self.db.execute("DELETE FROM saved_documents WHERE name=?", (name,))
        self.db.execute("DELETE FROM saved_meta WHERE name=?", (name,))
        self.db.execute("INSERT INTO saved_documents SELECT ?, kind, key, parent, body, seq FROM documents", (name,))
        self.db.execute("INSERT INTO saved_meta SELECT ?, name, body FROM meta", (name,))

    def export_saved(self, name):
        """What ``save(name)`` kept, as JSON-ready lists; None when nothing was saved under that name."""
        documents = [list(row) for row in self.db.execute(
            "SELECT kind, key, parent, body, seq FROM saved_documents WHERE name=? ORDER BY seq", (name,))]
        meta = [list(row) for row in self.db.execute("SELECT key, body FROM saved_meta WHERE name=?", (name,))]
        if not documents and not meta:
            return None
        return {"documents": documents, "meta": meta}

    def import_saved(self, name, state):
        """Keep ``state`` (another store's ``export_saved``) under ``name``, as if ``save(name)`` had made it
        here: one emulator's converged platform restored on another's. All of it or, raising ValueError,
        nothing."""
        try:
            documents = [(name, str(kind), str(key), None if parent is None else str(parent), json.dumps(json.loads(body)),
                          int(seq)) for kind, key, parent, body, seq in state["documents"]]
            meta = [(name, str(key), json.dumps(json.loads(body))) for key, body in state["meta"]]
        except (TypeError, ValueError) as exc:
            raise ValueError("a saved state's rows are [kind, key, parent, body, seq] and [key, body], "
                             "each body JSON text: %s" % exc) from None
        self.db.execute("BEGIN")
        try:
            self.db.execute("DELETE FROM saved_documents WHERE name=?", (name,))
            self.db.execute("DELETE FROM saved_meta WHERE name=?", (name,))
            self.db.executemany("INSERT INTO saved_documents VALUES (?, ?, ?, ?, ?, ?)", documents)
            self.db.executemany("INSERT INTO saved_meta VALUES (?, ?, ?)", meta)
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def restore(self, name):
        """Put back what ``save(name)`` kept; False when nothing was saved under that name. The request log
        goes on, as after a reset."""
        if not self.db.execute("SELECT 1 FROM saved_meta WHERE name=? UNION SELECT 1 FROM saved_documents "
                               "WHERE name=? LIMIT 1", (name, name)).fetchone():
            return False
        self.db.execute("DELETE FROM documents")
        self.db.execute("DELETE FROM meta")
        self.db.execute("INSERT INTO documents SELECT kind, key, parent, body, seq FROM saved_documents WHERE name=?",
                        (name,))
        self.db.execute("INSERT INTO meta SELECT key, body FROM saved_meta WHERE name=?", (name,))
        self._counter = max(self._counter, self.db.execute("SELECT COALESCE(MAX(seq), 0) FROM documents").fetchone()[0])
        return True

    def reset(self):
        """Forget all documents and meta. The request log's numbering keeps going so that
        a test's ``since`` marker taken before a reset stays meaningful."""
        self.db.execute("DELETE FROM documents")
        self.db.execute("DELETE FROM meta")
        self.db.execute("DELETE FROM requests")
