"""GPU metrics for Prometheus (installed by the sophia.ops.gpu_node role): python3 only.

Serves ``/metrics`` on ``SOPHIA_GPU_EXPORTER_ADDRESS`` (default ``:9835``). Each scrape asks nvidia-smi
for every GPU's utilisation, memory, temperature and power; ``sophia_gpu_present`` is 1 when it lists a
GPU and 0 when there is none (no driver, no device), so a node without a GPU is visible as such rather
than as a failed scrape.
"""

from __future__ import annotations

import os
import subprocess
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FIELDS = ("index", "name", "uuid", "utilization.gpu", "memory.used", "memory.total", "temperature.gpu",
          "power.draw")
# (metric, help, the field it comes from, scale to the base unit)
GAUGES = (
    ("sophia_gpu_utilization_ratio", "GPU utilisation, 0 to 1.", "utilization.gpu", 0.01),
    ("sophia_gpu_memory_used_bytes", "GPU memory in use.", "memory.used", 1024 * 1024),
    ("sophia_gpu_memory_total_bytes", "GPU memory in all.", "memory.total", 1024 * 1024),
    ("sophia_gpu_temperature_celsius", "GPU temperature.", "temperature.gpu", 1),
    ("sophia_gpu_power_watts", "GPU power draw.", "power.draw", 1),
)


def query():
    """One dict per GPU, or [] without a GPU or a working nvidia-smi."""
    try:
        done = subprocess.run(["nvidia-smi", "--query-gpu=" + ",".join(FIELDS), "--format=csv,noheader,nounits"],
                              capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return []
    if done.returncode != 0:
        return []
    gpus = []
    for line in done.stdout.splitlines():
        values = [value.strip() for value in line.split(",")]
        if len(values) == len(FIELDS):
            gpus.append(dict(zip(FIELDS, values)))
    return gpus


def label(value):
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")


def render(gpus):
    lines = ["# HELP sophia_gpu_present 1 when nvidia-smi lists a GPU on this node, else 0.",
             "# TYPE sophia_gpu_present gauge", "sophia_gpu_present %d" % (1 if gpus else 0),
             "# HELP sophia_gpu_count GPUs nvidia-smi lists.", "# TYPE sophia_gpu_count gauge",
             "sophia_gpu_count %d" % len(gpus)]
    if gpus:
        lines += ["# HELP sophia_gpu_info The GPUs, by index.", "# TYPE sophia_gpu_info gauge"]
        lines += ['sophia_gpu_info{gpu="%s",name="%s",uuid="%s"} 1' % (label(g["index"]), label(g["name"]),
                                                                       label(g["uuid"])) for g in gpus]
    for metric, help_text, field, scale in GAUGES:
        samples = []
        for gpu in gpus:
            try:
                samples.append('%s{gpu="%s"} %s' % (metric, label(gpu["index"]), float(gpu[field]) * scale))
            except ValueError:  # "[N/A]" on boards that do not report it
                continue
        if samples:
            lines += ["# HELP %s %s" % (metric, help_text), "# TYPE %s gauge" % metric] + samples
    return "\n".join(lines) + "\n"


class Handler(BaseHTTPRequestHandler):
    server_version = "sophia-gpu-exporter"

    def do_GET(self):  # noqa: N802 - http.server's name
        if self.path.split("?")[0] != "/metrics":
            body, status, kind = b"see /metrics\n", 404, "text/plain; charset=utf-8"
        else:
            body, status, kind = render(query()).encode(), 200, "text/plain; version=0.0.4; charset=utf-8"
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass  # scrapes every few seconds: no access log


def main():
    host, dummy, port = os.environ.get("SOPHIA_GPU_EXPORTER_ADDRESS", ":9835").rpartition(":")
    server = ThreadingHTTPServer((host, int(port)), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
