"""The GPU worker of a Sophia GPU node (installed by the sophia.ops.gpu_node role).

Takes jobs from the Redis list the Unified API fills (BLPOP ``SOPHIA_GPU_QUEUE``, default
``sophia:gpu:jobs``; a job is JSON ``{"id": ..., "payload": ...}``) and writes each result as JSON to
``<SOPHIA_GPU_RESULT_PREFIX><id>`` (default ``sophia:gpu:results:``) with a time to live
(``SOPHIA_GPU_RESULT_TTL``, default 3600 s): id, status, worker (this host's name), result, gpu (the
GPU's name, or "none") and finished_at.

The Redis server is ``REDIS_URL`` (redis:// or rediss://, password included), read from the
environment that systemd gives the service; it is never printed. Debian's python3-redis is the only
dependency. A lost connection is retried with a capped backoff; systemd restarts the program if it dies.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time

import redis

QUEUE = os.environ.get("SOPHIA_GPU_QUEUE", "sophia:gpu:jobs")
RESULT_PREFIX = os.environ.get("SOPHIA_GPU_RESULT_PREFIX", "sophia:gpu:results:")
RESULT_TTL = int(os.environ.get("SOPHIA_GPU_RESULT_TTL", "3600"))
# BLPOP's wait: short enough that a stop request is noticed within it.
POLL_SECONDS = 5
MAX_BACKOFF_SECONDS = 30
stopping = False


def log(message, **fields):
    print(json.dumps(dict(fields, msg=message, worker=socket.gethostname())), flush=True)


def gpu_name():
    """The first GPU's name as nvidia-smi reports it, or "none" without a GPU (or a driver)."""
    try:
        done = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True,
                              text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "none"
    names = [line.strip() for line in done.stdout.splitlines() if line.strip()]
    return names[0] if done.returncode == 0 and names else "none"


def run_job(payload):
    """The work itself. Without a model to serve here, a job's result is a digest of its payload: enough
    for the pipeline's end-to-end check that the worker took that very job."""
    encoded = json.dumps(payload, sort_keys=True).encode()
    return {"payload_sha256": hashlib.sha256(encoded).hexdigest(), "payload_bytes": len(encoded)}


def handle(client, raw, gpu):
    try:
        job = json.loads(raw)
        job_id = str(job["id"])
    except (ValueError, TypeError, KeyError):
        log("job dropped: not JSON with an id", bytes=len(raw))
        return
    started = time.monotonic()
    try:
        result, status = run_job(job.get("payload")), "done"
    except Exception as error:  # a bad job must not end the worker
        result, status = {"error": type(error).__name__}, "failed"
    record = {"id": job_id, "status": status, "worker": socket.gethostname(), "result": result, "gpu": gpu,
              "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    client.set(RESULT_PREFIX + job_id, json.dumps(record), ex=RESULT_TTL)
    log("job " + status, id=job_id, seconds=round(time.monotonic() - started, 3))


def stop(signum, frame):
    global stopping
    stopping = True


def main():
    url = os.environ.get("REDIS_URL", "")
    if not url:
        log("REDIS_URL is not set; nothing to work on")
        return 2
    signal.signal(signal.SIGTERM, stop)
    gpu = gpu_name()
    client = redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=POLL_SECONDS + 5,
                                  health_check_interval=30)
    log("worker started", queue=QUEUE, gpu=gpu)
    backoff = 1
    while not stopping:
        try:
            popped = client.blpop([QUEUE], timeout=POLL_SECONDS)
            backoff = 1
        except redis.RedisError as error:
            # The message names the error's kind only: the URL (with its password) stays out of the log.
            log("redis unavailable, retrying", error=type(error).__name__, retry_in=backoff)
            time.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
            continue
        if popped:
            try:
                handle(client, popped[1], gpu)
            except redis.RedisError as error:
                log("result not stored", error=type(error).__name__)
    log("worker stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
