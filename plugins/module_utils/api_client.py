# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Sophia Intel AI platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The HTTP core under the provider clients (fly_api.FlyClient, lambda_api.LambdaClient).

It owns what every cloud API call needs the same way: a pooled session,
timeouts, retries with capped, full-jitter exponential backoff on 408, 429,
5xx and connection errors (a server's ``Retry-After`` is a floor), bounded in
attempts and in total time; writes made safe to retry through ``before_retry``;
requests paced within the provider's documented rate limits.
A provider client names its error class, how its error bodies read, and where
its request ids are.
"""

from __future__ import annotations

import random
import threading
import time

try:
    import requests
    import requests.adapters
    HAS_REQUESTS = True
    REQUESTS_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - reported by the modules
    HAS_REQUESTS = False
    REQUESTS_IMPORT_ERROR = exc

# Statuses worth another attempt: the request timed out, was throttled, or the
# platform failed. Anything else is an answer about the request itself.
RETRYABLE_STATUSES = frozenset((408, 429, 500, 502, 503, 504))


class APIError(Exception):
    """An answer the caller did not ask for, or no answer at all."""

    api_name = "API"
    request_id_label = "request id"

    def __init__(self, message, status=None, method=None, path=None, request_id=None, body=None, code=None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.method = method
        self.path = path
        self.request_id = request_id
        self.body = body
        self.code = code

    def __str__(self):
        where = "%s %s" % (self.method, self.path) if self.method else self.api_name
        status = "HTTP %s" % self.status if self.status else "no answer"
        text = "%s: %s: %s" % (where, status, self.message)
        if self.code:
            text += " [%s]" % self.code
        if self.request_id:
            text += " (%s %s)" % (self.request_id_label, self.request_id)
        return text

    def to_dict(self):
        return {"status": self.status, "method": self.method, "path": self.path, "code": self.code,
                "request_id": self.request_id, "error": self.message}


def backoff_delay(attempt, base=0.5, cap=10.0, retry_after=None):
    """Full-jitter exponential backoff; a server's Retry-After is a floor."""
    delay = random.uniform(0, min(cap, base * (2 ** attempt)))
    if retry_after is not None:
        delay = max(delay, min(retry_after, cap * 3))
    return delay


def retry_after_seconds(response):
    value = response.headers.get("Retry-After") if response is not None else None
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


class RateLimiter:
    """Client-side token buckets, so that requests stay within a provider's documented limits
    instead of learning them from 429s. ``rules(method, path)`` answers the buckets a request
    draws from: ``[(key, rate per second, burst), ...]``. Thread-safe: one client serves the
    worker threads of a concurrent rollout."""

    def __init__(self, rules, clock=time.monotonic, sleep=time.sleep):
        self.rules = rules
        self.clock = clock
        self.sleep = sleep
        self.lock = threading.Lock()
        self.buckets = {}

    def reserve(self, method, path):
        """Take a token from each bucket the request draws from; answer the seconds to wait
        before sending it (the tokens are taken now, so concurrent callers queue up)."""
        wait = 0.0
        with self.lock:
            now = self.clock()
            for key, rate, burst in self.rules(method, path):
                tokens, stamp = self.buckets.get(key, (float(burst), now))
                tokens = min(float(burst), tokens + (now - stamp) * rate)
                wait = max(wait, (1.0 - tokens) / rate if tokens < 1.0 else 0.0)
                self.buckets[key] = (tokens - 1.0, now)
        return wait

    def acquire(self, method, path):
        wait = self.reserve(method, path)
        if wait > 0:
            self.sleep(wait)


def no_limits(method, path):
    return []


class RetryingClient:
    """One client per module run; it keeps a pooled HTTP session.

    Writes: a write whose answer is lost (a timeout, a 5xx, a dropped connection) may
    have taken effect. Before such a write is sent again, ``before_retry`` looks at the
    state; when it answers something, the write is taken as done and nothing is re-sent.
    A 429 is an answer that the request was not processed, so it is simply sent again.
    ``state_changes`` counts the writes that did, or may have, changed something, so a
    failed task can still say ``changed`` truthfully.
    """

    error_class = APIError
    request_id_header = None

    def __init__(self, api_url, headers, timeout=30.0, max_retries=6, max_retry_seconds=120.0, sleep=time.sleep,
                 clock=time.monotonic, limits=no_limits):
        if not HAS_REQUESTS:
            raise RuntimeError("the Python library 'requests' is required: %s" % REQUESTS_IMPORT_ERROR)
        self.api_url = api_url.rstrip("/")
        self.timeout = timeout
        self.max_retries = max_retries
        self.max_retry_seconds = max_retry_seconds
        self.last_request_id = None
        self._sleep = sleep
        self._clock = clock
        self.limiter = RateLimiter(limits, clock=clock, sleep=sleep)
        self.state_changes = 0
        self._count_lock = threading.Lock()
        self.session = requests.Session()
        # Room for a rollout's worker threads to keep their connections.
        adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=16)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers.update(headers)

    def retry_floor(self, method, path, response):
        """Least seconds to wait before retrying this answer; providers with documented limits say more."""
        return retry_after_seconds(response)

    def request(self, method, path, params=None, json=None, headers=None, ok=(200, 201, 202, 204),
                retry_statuses=RETRYABLE_STATUSES, before_retry=None, timeout=None, changes_state=None):
        """Send one request, retrying transient failures; answers the decoded body.

        ``before_retry`` is called before a write is sent again after an answer that was
        lost; if it returns something other than None, that is taken as the answer (the
        earlier attempt did succeed) and nothing is re-sent. ``changes_state`` (default:
        any method but GET) says whether the request counts in ``state_changes``.
        """
        if changes_state is None:
            changes_state = method != "GET"
        url = self.api_url + path
        started = self._clock()
        attempt = 0
        maybe_applied = False
        while True:
            response = None
            self.limiter.acquire(method, path)
            try:
                response = self.session.request(
                    method, url, params=params, json=json, headers=headers,
                    timeout=timeout or self.timeout)
            except requests.RequestException as exc:
                error = self.error_class("connection failed: %s" % exc, method=method, path=path)
                retryable = True
                # Only a connection never made is sure not to have reached the server.
                maybe_applied = maybe_applied or not isinstance(exc, requests.ConnectTimeout)
            else:
                if self.request_id_header:
                    self.last_request_id = response.headers.get(self.request_id_header)
                if response.status_code in ok:
                    self._count(changes_state)
                    return self._decode(response)
                error = self._error(method, path, response)
                retryable = response.status_code in retry_statuses
                maybe_applied = maybe_applied or (retryable and response.status_code != 429)

            elapsed = self._clock() - started
            if not retryable or attempt >= self.max_retries or elapsed >= self.max_retry_seconds:
                self._count(changes_state and maybe_applied)
                raise error
            delay = backoff_delay(attempt, retry_after=self.retry_floor(method, path, response))
            self._sleep(min(delay, max(0.0, self.max_retry_seconds - elapsed)))
            attempt += 1
            if before_retry is not None and maybe_applied:
                try:
                    found = before_retry()
                except Exception:
                    self._count(changes_state)  # the write may have been applied; nobody could tell
                    raise
                if found is not None:
                    self._count(changes_state)
                    return found

    def _count(self, changed):
        if changed:
            with self._count_lock:
                self.state_changes += 1

    @staticmethod
    def _decode(response):
        if response.status_code == 204 or not response.content:
            return {}
        try:
            return response.json()
        except ValueError:
            return {"raw": response.text}

    def error_details(self, body):
        """(message, code) from a decoded error body; None where the provider's shape is absent."""
        if isinstance(body, dict):
            return body.get("error") or body.get("message"), None
        return None, None

    def _error(self, method, path, response):
        message = response.reason or "error"
        code = None
        body = None
        try:
            body = response.json()
        except ValueError:
            if response.text:
                message = response.text.strip()[:500]
        found, code = self.error_details(body)
        request_id = response.headers.get(self.request_id_header) if self.request_id_header else None
        return self.error_class(str(found or message), status=response.status_code, method=method, path=path,
                                request_id=request_id, body=body, code=code)

    def get_or_none(self, path, params=None):
        """GET that answers None on 404, for lookups of things that may not exist."""
        try:
            return self.request("GET", path, params=params)
        except self.error_class as exc:
            if exc.status == 404:
                return None
            raise
