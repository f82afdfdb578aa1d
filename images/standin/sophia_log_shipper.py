"""TEST FIXTURE: a stand-in for Fly's log shipper (Vector subscribed to the organisation's NATS log stream),
for the local Docker stack only. It is not the product and not Fly's shipper.

It reads what roles/log_shipper gives the real one: ORG, SUBJECT, QUEUE and ACCESS_TOKEN (NATS), and a sink's
settings — Loki (LOKI_URL, LOKI_USERNAME, LOKI_PASSWORD) or HTTP (HTTP_URL, HTTP_TOKEN). Every message on
SUBJECT (shared with the other shippers through QUEUE) goes to the sink, in small batches. NATS_URL names the
stream (default: the Docker backend's nats.flyio.internal:4223, standing in for Fly's [fdaa::3]:4223).
Serves /health on 8686 (Vector's API port) and /metrics on 9598 (Vector's exporter port).
Standard library only.
"""

from __future__ import annotations

import base64
import json
import os
import queue
import signal
import socket
import sys
import threading
import time
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

COUNTS = {"received": 0, "shipped": 0, "errors": 0, "connected": 0}
LINES = queue.Queue(maxsize=10000)


def log(text):
    print("log-shipper: %s" % text, flush=True)


def nats_messages(url, subject, group, token, org):
    """(subject, payload) of every message, reconnecting with a bounded back-off."""
    parsed = urllib.parse.urlparse(url)
    delay = 0.5
    while True:
        try:
            sock = socket.create_connection((parsed.hostname, parsed.port or 4222), timeout=30)
            reader = sock.makefile("rb")
            reader.readline()  # INFO
            connect = {"verbose": False, "pedantic": False, "name": "log-shipper", "user": org, "pass": token}
            subscribe = (json.dumps(connect).encode(), subject.encode(), group.encode())
            sock.sendall(b"CONNECT %s\r\nSUB %s %s 1\r\n" % subscribe)
            COUNTS["connected"] = 1
            delay = 0.5
            log("subscribed to %s (queue %s) at %s" % (subject, group, url))
            while True:
                line = reader.readline()
                if not line:
                    raise OSError("stream closed")
                if line.startswith(b"PING"):
                    sock.sendall(b"PONG\r\n")
                elif line.startswith(b"MSG "):
                    parts = line.split()
                    payload = reader.read(int(parts[-1]) + 2)[:-2]
                    yield parts[1].decode(), payload.decode("utf-8", "replace")
        except OSError as error:
            COUNTS["connected"] = 0
            log("NATS %s: %s; again in %.1f s" % (url, error, delay))
            time.sleep(delay)
            delay = min(delay * 2, 10)


def receive(url, subject, group, token, org):
    for subject_seen, payload in nats_messages(url, subject, group, token, org):
        COUNTS["received"] += 1
        try:
            LINES.put_nowait((subject_seen, payload))
        except queue.Full:
            COUNTS["errors"] += 1


def loki_body(batch):
    streams = {}
    for subject, payload in batch:
        try:
            record = json.loads(payload)
        except ValueError:
            record = {"message": payload}
        fly = record.get("fly") or {}
        labels = (("app", (fly.get("app") or {}).get("name", "")), ("region", fly.get("region", "")),
                  ("instance", (fly.get("app") or {}).get("instance", "")), ("subject", subject))
        streams.setdefault(labels, []).append([str(time.time_ns()), record.get("message", payload)])
    return {"streams": [{"stream": dict(labels), "values": values} for labels, values in streams.items()]}


def http_body(batch):
    return [json.loads(payload) if payload.startswith("{") else {"message": payload} for dummy, payload in batch]


def ship_forever():
    if os.environ.get("LOKI_URL"):
        url = os.environ["LOKI_URL"].rstrip("/") + "/loki/api/v1/push"
        credentials = "%s:%s" % (os.environ.get("LOKI_USERNAME", ""), os.environ.get("LOKI_PASSWORD", ""))
        headers = {"Authorization": "Basic " + base64.b64encode(credentials.encode()).decode()}
        encode = loki_body
    elif os.environ.get("HTTP_URL"):
        url = os.environ["HTTP_URL"]
        headers = {"Authorization": "Bearer " + os.environ.get("HTTP_TOKEN", "")}
        encode = http_body
    else:
        log("no sink configured (LOKI_URL or HTTP_URL): lines are counted and dropped")
        url = None
    while True:
        batch = [LINES.get()]
        deadline = time.monotonic() + 0.5
        while len(batch) < 500 and time.monotonic() < deadline:
            try:
                batch.append(LINES.get(timeout=max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                break
        if url is None:
            continue
        request = urllib.request.Request(url, data=json.dumps(encode(batch)).encode(), method="POST",
                                         headers=dict(headers, **{"Content-Type": "application/json"}))
        for attempt in range(3):
            try:
                urllib.request.urlopen(request, timeout=10).read()
                COUNTS["shipped"] += len(batch)
                break
            except OSError as error:
                if attempt == 2:
                    COUNTS["errors"] += len(batch)
                    log("sink %s: %s (%d lines dropped)" % (url, error, len(batch)))
                time.sleep(0.5 * (attempt + 1))


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path.split("?")[0] == "/health":
            body, kind = json.dumps({"ok": True, "connected": bool(COUNTS["connected"])}), "application/json"
        elif self.path.split("?")[0] == "/metrics":
            body = "".join("# TYPE log_shipper_%s counter\nlog_shipper_%s_total %d\n" % (k, k, v)
                           for k, v in COUNTS.items() if k != "connected")
            body += "# TYPE log_shipper_connected gauge\nlog_shipper_connected %d\n" % COUNTS["connected"]
            kind = "text/plain; version=0.0.4"
        else:
            self.send_error(404)
            return
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):  # the health checks would drown the lines that matter
        pass


def serve(port):
    ThreadingHTTPServer(("0.0.0.0", port), Handler).serve_forever()


def main():
    signal.signal(signal.SIGTERM, lambda *args: sys.exit(0))
    org = os.environ.get("ORG", "personal")
    for port in (int(os.environ.get("PORT", "8686")), int(os.environ.get("METRICS_PORT", "9598"))):
        threading.Thread(target=serve, args=(port,), daemon=True).start()
    threading.Thread(target=ship_forever, daemon=True).start()
    receive(os.environ.get("NATS_URL", "nats://nats.flyio.internal:4223"), os.environ.get("SUBJECT", "logs.>"),
            os.environ.get("QUEUE", "log-shipper"), os.environ.get("ACCESS_TOKEN", ""), org)


if __name__ == "__main__":
    main()
