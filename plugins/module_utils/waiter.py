# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Sophia Intel AI platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one waiter every sophia.ops wait goes through.

A wait is a probe called until it answers something other than ``None``, a
deadline, and a schedule of pauses. A probe ends a wait early by raising
(``WaitFailed`` when what it waits for can no longer come). The clock and the
sleep are injectable so the unit tests run waits of minutes in microseconds.
"""

from __future__ import annotations

import time


class WaitTimeout(Exception):
    """The deadline passed before the probe answered."""


class WaitFailed(Exception):
    """What the wait was for cannot happen any more (a machine failed, an instance went unhealthy)."""

    def __init__(self, message, last=None):
        super().__init__(message)
        self.last = last


class Waiter:
    """``until(probe, timeout)``: call ``probe(remaining)`` until it answers, pausing between calls.

    The first call comes after ``delay``; pauses start at ``interval`` and grow by ``backoff`` up to
    ``max_interval``. A probe that
    long-polls (Fly's ``/wait``) uses ``remaining`` as its own timeout and is run with
    ``interval=0``.
    """

    def __init__(self, clock=time.monotonic, sleep=time.sleep):
        self.clock = clock
        self.sleep = sleep

    def until(self, probe, timeout, what="the wait", interval=0.5, max_interval=5.0, backoff=1.5, delay=0.0):
        deadline = self.clock() + timeout
        pause = interval
        if delay > 0:  # what is waited for cannot be there sooner
            self.sleep(min(delay, timeout))
        while True:
            remaining = deadline - self.clock()
            answer = probe(max(0.0, remaining))
            if answer is not None:
                return answer
            remaining = deadline - self.clock()
            if remaining <= 0:
                raise WaitTimeout("%s did not end within %ss" % (what, timeout))
            if pause > 0:
                self.sleep(min(pause, remaining))
                pause = min(pause * backoff, max_interval)

    def deadline_in(self, seconds):
        """An absolute deadline on this waiter's clock."""
        return self.clock() + seconds

    def remaining(self, deadline):
        return max(0.0, deadline - self.clock())
