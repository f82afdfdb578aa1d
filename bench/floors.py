"""The floor of each scenario: the fewest API requests the job needs, and the least time the
documented rate limits, the state transitions and the per-call latency allow for them.

How each one is derived is written out in docs/performance.md ("Floors"); the
functions below are that text as arithmetic. Requests that need an earlier
answer are sequential; independent ones are counted as concurrent.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from measure import LATENCY_MS

LATENCY = LATENCY_MS / 1000.0
# Fly emulator clock (--transition-seconds): created -> starting -> started takes two steps,
# health checks pass one step after started. An update goes replacing -> starting -> started.
TRANSITION = 1.0
HEALTHY_AFTER = 3 * TRANSITION
# Fly: creates are limited per action and app to 1 a second with a burst of 3 (volume and
# machine creates are separate actions); the emulator limits app creates the same way, account-wide.
CREATE_RATE, CREATE_BURST = 1.0, 3
# Lambda: one launch every 12 seconds; the emulator's --boot-seconds as the benchmark runs it.
LAUNCH_INTERVAL = 12.0
BOOT = 3.0


@dataclass
class Floor:
    requests: dict  # method -> count
    seconds: float

    @property
    def total(self):
        return sum(self.requests.values())


def paced(nth):
    """Seconds after the first until the ``nth`` create of one bucket may be sent."""
    return max(0, nth - CREATE_BURST) / CREATE_RATE


def batch_size(max_unavailable, size):
    """Machines down at once: whole, or a fraction of the group (at least one), as fly_machine counts."""
    return int(max_unavailable) if max_unavailable >= 1 else max(1, int(max_unavailable * size))


def converge(counts):
    """Per app: look up (404), create, list machines and volumes, one volume and one machine
    create per machine, one final listing that sees every machine healthy.

    Time: the app's creates are paced by its buckets (the machine create of a volume follows
    that volume's create by one call), the last machine is healthy HEALTHY_AFTER later. App
    creates are paced account-wide, so the biggest apps go first; the slowest app is the floor.
    """
    requests = {"GET": 4 * len(counts), "POST": len(counts) + 2 * sum(counts)}
    seconds = max(LATENCY + paced(rank + 1) + LATENCY + LATENCY + paced(count) + 2 * LATENCY + HEALTHY_AFTER
                  + LATENCY for rank, count in enumerate(sorted(counts, reverse=True)))
    return Floor(requests, seconds)


def unchanged(apps):
    """No-op and check mode: per app, look the app up and list its machines and volumes (all at once)."""
    return Floor({"GET": 3 * apps}, LATENCY)


def rolling_update(size, max_unavailable):
    """Look the app up, list machines and volumes, one update per machine, one listing per batch
    that sees the batch healthy. Time: batch after batch, each an update call, HEALTHY_AFTER,
    and the listing. Leases are a safety choice, not a need of the API: not in the floor."""
    batches = math.ceil(size / batch_size(max_unavailable, size))
    return Floor({"GET": 3 + batches, "POST": size}, 2 * LATENCY + batches * (HEALTHY_AFTER + 2 * LATENCY))


def inventory_cold(apps):
    """List the apps, then every app's machines and the Lambda instances, all at once."""
    return Floor({"GET": 1 + apps + 1}, 2 * LATENCY)


def inventory_cached():
    return Floor({}, 0.0)


def lambda_pool(size):
    """List SSH keys, add the key, list instances and instance types, one launch per member,
    one final listing that sees all active. Time: launches one per LAUNCH_INTERVAL, then the
    last one boots."""
    seconds = 3 * LATENCY + (size - 1) * LAUNCH_INTERVAL + LATENCY + BOOT + LATENCY
    return Floor({"GET": 4, "POST": 1 + size}, seconds)
