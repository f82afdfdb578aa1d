"""TEST FIXTURE: a stand-in for the log store the log shipper delivers to (Loki's push API), for the local
Docker stack only: it keeps every pushed line, so that a test finds the line a request produced.

    POST /loki/api/v1/push   Loki's JSON push body, with Basic credentials (refused without)
    GET  /lines?contains=X   the lines kept that contain X (JSON: [{labels, line, user}])
    GET  /ready              200

Lines are appended to SINK_FILE (default /data/lines.jsonl). Standard library only; port PORT (3100).
"""

from __future__ import annotations

import base64
import json
import os
import signal
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SINK_FILE = os.environ.get("SINK_FILE", "/data/lines.jsonl")
LOCK = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    def answer(self, status, payload):
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        if self.path != "/loki/api/v1/push":
            return self.answer(404, {"error": "no such path"})
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Basic "):
            return self.answer(401, {"error": "credentials required"})
        user = base64.b64decode(auth[6:]).decode("utf-8", "replace").split(":", 1)[0]
        try:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            rows = [{"labels": stream.get("stream", {}), "line": value[1], "user": user}
                    for stream in body["streams"] for value in stream["values"]]
        except (ValueError, KeyError, TypeError, IndexError):
            return self.answer(400, {"error": "not a Loki push body"})
        with LOCK, open(SINK_FILE, "a", encoding="utf-8") as out:
            for row in rows:
                out.write(json.dumps(row) + "\n")
        self.send_response(204)
        self.end_headers()

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        if url.path == "/ready":
            return self.answer(200, {"ready": True})
        if url.path != "/lines":
            return self.answer(404, {"error": "no such path"})
        wanted = urllib.parse.parse_qs(url.query).get("contains", [""])[0]
        found = []
        with LOCK:
            if os.path.exists(SINK_FILE):
                with open(SINK_FILE, encoding="utf-8") as lines:
                    found = [json.loads(row) for row in lines if wanted in row]
        return self.answer(200, found[-1000:])

    def log_message(self, *args):
        pass


def main():
    signal.signal(signal.SIGTERM, lambda *args: sys.exit(0))
    os.makedirs(os.path.dirname(SINK_FILE), exist_ok=True)
    ThreadingHTTPServer(("0.0.0.0", int(os.environ.get("PORT", "3100"))), Handler).serve_forever()


if __name__ == "__main__":
    main()
