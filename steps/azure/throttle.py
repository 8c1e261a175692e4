"""One ARM write budget per subscription, shared by every client in the process.

ARM limits each subscription's writes with a token bucket and answers 429 + ``Retry-After`` when
it is empty. Each failover action builds its own ``AzureSession``, and the SDK's retry policy
honours a ``Retry-After`` only for the request that got it: sixteen parallel actions would keep
writing while one of them waits, each write adding to the throttle. This policy makes the budget
shared: it sits in every ARM client's pipeline after the SDK's ``RetryPolicy`` (so it sees each of
the SDK's attempts, and the SDK's retries of 5xx, connection errors and any 429 this policy hands
on still work as they did) and, per subscription:

- **after a 429**, holds every write of that subscription until its ``Retry-After`` has elapsed,
  then sends the throttled write again itself (up to ``THROTTLED_ATTEMPTS`` times, then the 429
  goes on to the SDK's retry policy; a 429 without Retry-After goes on at once, to the SDK's
  backoff): throttling then costs no attempt of the SDK's small retry budget for bad statuses (3),
  which a busy subscription would exhaust for some unlucky write;
- **paces by the budget ARM reports** (``x-ms-ratelimit-remaining-subscription-writes``, on every
  write's answer): no more writes in flight than the remaining budget less the writes still in
  flight (a conservative estimate), and when that is used up, one write at a time until an answer
  says there is budget again. Without this, writes already on the wire when the bucket empties
  arrive after the 429 — before its Retry-After. When an answer says the budget is spent, the
  next write waits one refill interval, learned from the last 429 (its Retry-After plus the time
  since an answer said the budget was spent), instead of drawing a certain 429. A subscription whose
  answers carry no such header is only held after 429s.

Reads (GET, HEAD; LRO polls are reads) pass straight through: ARM's read limit is separate.
The budget is keyed by ARM endpoint and subscription, so sessions of one process share it; tests
reset it with ``reset_budgets()``.
"""

from __future__ import annotations

import email.utils
import threading
import time
from collections.abc import Callable
from typing import Any

from azure.core.pipeline import PipelineRequest, PipelineResponse
from azure.core.pipeline.policies import HTTPPolicy

WRITE_METHODS = frozenset({"PUT", "PATCH", "POST", "DELETE"})
THROTTLED_ATTEMPTS = 30
"""Sends of one write this policy makes while it is throttled, before the SDK's retry policy sees the 429."""
REMAINING_HEADER = "x-ms-ratelimit-remaining-subscription-writes"
MAX_REFILL_INTERVAL = 60.0
"""The longest pause between writes the pacing ever makes on its own (a Retry-After is always honoured)."""


class SubscriptionBudget:
    """The write budget of one subscription as this process knows it."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._changed = threading.Condition()
        self._hold_until = 0.0
        self._remaining: int | None = 0  # unknown at first: the first write probes alone; None: ARM reports none
        self._in_flight = 0
        self._refill_interval: float | None = None  # how long one write's budget takes to come back
        self._spent_at: float | None = None  # when an answer last said the budget was spent
        self.held_seconds = 0.0  # total time writes waited here (for benches)
        self.throttled = 0  # 429s seen

    def acquire(self) -> None:
        """Wait until a write may be sent: past every Retry-After, and within the known budget."""
        started = self._clock()
        with self._changed:
            while True:
                now = self._clock()
                if now < self._hold_until:
                    self._changed.wait(self._hold_until - now)
                    continue
                if self._remaining is None or self._remaining > 0 or self._in_flight == 0:
                    break
                self._changed.wait(1.0)  # an answer (or a hold ending) notifies; the timeout only guards
            if self._remaining is not None:
                self._remaining -= 1
            self._in_flight += 1
            self.held_seconds += self._clock() - started

    def release(self, status: int | None, headers: Any) -> None:
        """Account for a write's answer (None: it never got one)."""
        with self._changed:
            self._in_flight -= 1
            reported = _int(_header(headers, REMAINING_HEADER))
            if status == 429:
                self.throttled += 1
                wait = retry_after_seconds(headers)
                if wait is not None:
                    self._hold_until = max(self._hold_until, self._clock() + wait)
                    self._refill_interval = self._learn_interval(wait)
                self._remaining = 0  # after the hold, one write probes the refilled bucket
            elif reported is not None:
                self._remaining = reported - self._in_flight  # the others may not be counted in it yet
                self._spent_at = self._clock() if reported <= 0 else None
                if self._remaining <= 0 and self._refill_interval:  # spent: pace instead of drawing a 429
                    self._hold_until = max(self._hold_until, self._clock() + self._refill_interval)
            elif status is not None and status < 400:
                self._remaining = None  # this endpoint reports no budget: only 429s hold
            self._changed.notify_all()

    def _learn_interval(self, wait: float) -> float | None:
        """One write's refill time: a 429's Retry-After plus the time since the bucket was seen
        empty (the part of the refill that had already happened), else the Retry-After alone."""
        if self._spent_at is not None:
            return min(wait + (self._clock() - self._spent_at), MAX_REFILL_INTERVAL)
        return min(max(wait, self._refill_interval or 0.0), MAX_REFILL_INTERVAL) or None


class SharedThrottlePolicy(HTTPPolicy):
    """The azure-core policy: every write passes through its subscription's ``SubscriptionBudget``."""

    def __init__(self, budget: SubscriptionBudget) -> None:
        super().__init__()
        self.budget = budget

    def send(self, request: PipelineRequest) -> PipelineResponse:
        if request.http_request.method.upper() not in WRITE_METHODS:
            return self.next.send(request)
        body = request.http_request.body
        attempts = 1 if hasattr(body, "read") else THROTTLED_ATTEMPTS  # a stream cannot be sent twice here
        for attempt in range(1, attempts + 1):
            self.budget.acquire()  # waits out the shared hold, the last 429's included
            status: int | None = None
            headers: Any = {}
            try:
                response = self.next.send(request)
                status, headers = response.http_response.status_code, response.http_response.headers
            finally:
                self.budget.release(status, headers)
            if status != 429 or attempt == attempts or retry_after_seconds(headers) is None:
                return response  # without a Retry-After the SDK's backoff decides when to try again
        raise AssertionError("unreachable")


_budgets: dict[tuple[str, str], SubscriptionBudget] = {}
_budgets_lock = threading.Lock()


def budget_for(endpoint: str | None, subscription_id: str) -> SubscriptionBudget:
    """The one budget of ``subscription_id`` at ``endpoint`` (None: public ARM) in this process."""
    key = ((endpoint or "management.azure.com").rstrip("/").lower(), subscription_id.lower())
    with _budgets_lock:
        if key not in _budgets:
            _budgets[key] = SubscriptionBudget()
        return _budgets[key]


def shared_throttle_policy(endpoint: str | None, subscription_id: str) -> SharedThrottlePolicy:
    """A policy for one client; every client of the same subscription shares the budget."""
    return SharedThrottlePolicy(budget_for(endpoint, subscription_id))


def reset_budgets() -> None:
    """Forget every budget (tests: a fresh sandbox has a full bucket)."""
    with _budgets_lock:
        _budgets.clear()


def retry_after_seconds(headers: Any) -> float | None:
    """``Retry-After`` (seconds, possibly fractional, or an HTTP date), else ``retry-after-ms`` /
    ``x-ms-retry-after-ms``: the headers azure-core's retry policy reads, in its order."""
    value = _header(headers, "retry-after")
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            pass
        try:
            return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            pass
    for name in ("retry-after-ms", "x-ms-retry-after-ms"):
        millis = _header(headers, name)
        if millis:
            try:
                return max(0.0, float(millis) / 1000.0)
            except ValueError:
                continue
    return None


def _header(headers: Any, name: str) -> str | None:
    if not headers:
        return None
    value = headers.get(name)
    if value is None and hasattr(headers, "items"):  # a plain dict: look case-insensitively
        value = next((v for k, v in headers.items() if k.lower() == name), None)
    return value


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
