# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Sophia Intel AI platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Machine leases held the way flyctl holds them.

A lease is taken with a short TTL and refreshed in the background while the
work goes on, so a run that is killed leaves a lease that ends within one TTL.
Every lease is released when the ``Leases`` block ends, on every exit path.

The description names the run (``sophia.ops <run id>``): a lost answer on
acquisition is found by it, and a lease left behind by an earlier, killed run
of this collection is recognised by its prefix and waited out, within a
bound, instead of failing the task. Anyone else's lease is respected and named
in the error.
"""

from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.sophia.ops.plugins.module_utils.fly_api import FlyAPIError

DESCRIPTION_PREFIX = "sophia.ops"
# Leases refreshed at the same time (flyctl works on eight machines at a time).
WORKERS = 8


class LeaseHeld(FlyAPIError):
    """The machine is leased by someone else, or by an earlier run for longer than we may wait."""


def held_by(lease):
    return "%s (%s), until %s" % (lease.get("owner") or "someone", lease.get("description") or "no description",
                                  time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(lease.get("expires_at") or 0)))


class Leases:
    """The leases one module run holds on the machines of one app.

    ``ttl``: seconds each lease lasts unless refreshed (refreshed every third of it).
    ``wait_timeout``: how long to wait for a lease left by an earlier run of this collection.
    """

    def __init__(self, client, app, ttl=30, wait_timeout=90, wall_clock=time.time):
        self.client = client
        self.app = app
        self.ttl = max(5, int(ttl))
        self.wait_timeout = wait_timeout
        self.wall_clock = wall_clock
        self.description = "%s %s" % (DESCRIPTION_PREFIX, uuid.uuid4().hex[:12])
        self.held = {}  # machine ID -> nonce
        self.lock = threading.Lock()
        self.problems = []  # refresh or release failures, for the task's warnings
        self._stop = threading.Event()
        self._refresher = None
        self._background = ThreadPoolExecutor(max_workers=1)
        self._releases = []

    # ----------------------------------------------------------- the block
    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()
        return False

    def close(self):
        """Stop refreshing and release every lease still held."""
        self._stop.set()
        if self._refresher is not None:
            self._refresher.join(timeout=self.client.timeout + 5)
        self._background.shutdown(wait=True)
        for machine_id in list(self.held):
            self.release(machine_id)

    # ------------------------------------------------------------ one lease
    def acquire(self, machine_id):
        """The nonce of a lease on the machine, taken now (or already held by this run)."""
        if machine_id in self.held:
            return self.held[machine_id]
        deadline = self.client.waiter.deadline_in(self.wait_timeout)
        while True:
            try:
                nonce = self.client.acquire_lease(self.app, machine_id, self.ttl, self.description)
            except FlyAPIError as exc:
                if exc.status != 409:
                    raise
                nonce = self._wait_out(machine_id, deadline)
            if nonce:
                break
            if self.client.waiter.remaining(deadline) <= 0:
                raise LeaseHeld("machine %s stayed leased for %ss (lease_wait_timeout)"
                                % (machine_id, self.wait_timeout),
                                status=409, path="/apps/%s/machines/%s/lease" % (self.app, machine_id))
        with self.lock:
            self.held[machine_id] = nonce
            if self._refresher is None:
                self._refresher = threading.Thread(target=self._refresh_loop, name="lease-refresher", daemon=True)
                self._refresher.start()
        return nonce

    def _wait_out(self, machine_id, deadline):
        """Someone holds the lease: our own from a lost answer (answer its nonce), an earlier run of
        this collection (wait until it expires, answer None to try again), anyone else (fail)."""
        lease = self.client.get_lease(self.app, machine_id)
        if lease is None:
            return None  # it ended meanwhile
        if lease.get("description") == self.description:
            return lease["nonce"]
        if not str(lease.get("description") or "").startswith(DESCRIPTION_PREFIX):
            raise LeaseHeld("machine %s is leased by %s; not changing it under someone else's lease"
                            % (machine_id, held_by(lease)), status=409, path="/apps/%s/machines/%s/lease"
                            % (self.app, machine_id))
        left = max(0.0, float(lease.get("expires_at") or 0) - self.wall_clock()) + 0.5
        if left > self.client.waiter.remaining(deadline):
            raise LeaseHeld("machine %s is leased by an earlier sophia.ops run, %s; that is longer than "
                            "lease_wait_timeout (%ss) allows to wait" % (machine_id, held_by(lease), self.wait_timeout),
                            status=409, path="/apps/%s/machines/%s/lease" % (self.app, machine_id))
        self.client.waiter.sleep(left)
        return None

    def release(self, machine_id):
        with self.lock:
            nonce = self.held.pop(machine_id, None)
        if nonce is None:
            return
        try:
            self.client.release_lease(self.app, machine_id, nonce)
        except FlyAPIError as exc:
            self.problems.append("the lease on machine %s was not released (%s); it ends within %ss"
                                 % (machine_id, exc, self.ttl))

    def release_soon(self, machine_ids):
        """Release these leases in the background while the work goes on; ``wait_released`` (and
        ``close``) wait for it."""
        if machine_ids:
            self._releases.append(self._background.submit(lambda: [self.release(i) for i in machine_ids]))

    def acquire_soon(self, machine_ids):
        """Take these leases in the background, ahead of the work that needs them (the next batch of a
        rollout); ``acquire`` then finds them held. A lease that cannot be taken now is left for
        ``acquire`` to report."""
        def take():
            for machine_id in machine_ids:
                try:
                    self.acquire(machine_id)
                except FlyAPIError:
                    pass

        if machine_ids:
            self._background.submit(take)

    def wait_released(self):
        """Before the same machines are leased again (a rollback), the releases under way must be done."""
        for release in self._releases:
            release.result()
        self._releases = []

    # ------------------------------------------------------------ refreshes
    def _refresh_loop(self):
        while not self._stop.wait(self.ttl / 3.0):
            self.refresh()

    def refresh(self):
        """Extend every held lease by another TTL (the holder posts again with its nonce), side by side."""
        with self.lock:
            held = list(self.held.items())

        def extend(lease):
            machine_id, nonce = lease
            try:
                self.client.acquire_lease(self.app, machine_id, self.ttl, self.description, nonce=nonce)
            except FlyAPIError as exc:
                self.problems.append("refreshing the lease on machine %s failed: %s" % (machine_id, exc))

        if held:
            with ThreadPoolExecutor(max_workers=min(WORKERS, len(held))) as pool:
                list(pool.map(extend, held))
