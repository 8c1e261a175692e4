"""The stakeholder-update cadence of a failover: initial at T+0, updates at T+15/60/90, resolution.

Minutes are plan minutes on the run's clock, so under ``ScaledClock(scale=600)`` T+90 comes 9 wall
seconds after the start. Each message asks ``state_provider()`` for the state at the moment it is
due. Every channel has its own queue and sender thread: its messages leave in order (T+60 never
overtakes T+15, the resolution is always last), and a dead webhook retrying never delays the others.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any

import httpx

from odin_drills.steps.comms.delivery import Channel, DeliveryResult, RetryPolicy, deliver
from odin_drills.steps.comms.templates import UPDATE_MINUTES, IncidentState, Message, Template, render

THREAD_NAME = "odin-comms"


@dataclass
class _Outgoing:
    message: Message
    cancel: threading.Event | None
    done: Future[DeliveryResult] = field(default_factory=Future)


class _ChannelSender:
    """One channel's outbox: a FIFO queue drained by one thread."""

    def __init__(self, channel: Channel, send: Callable[[Channel, _Outgoing], DeliveryResult]) -> None:
        self.channel = channel
        self._send = send
        self._outbox: queue.SimpleQueue[_Outgoing | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=f"{THREAD_NAME}:{channel.name}", daemon=True)
        self._thread.start()

    def submit(self, message: Message, cancel: threading.Event | None) -> Future[DeliveryResult]:
        item = _Outgoing(message, cancel)
        self._outbox.put(item)
        return item.done

    def close(self) -> None:
        """Send what is queued, then end the thread."""
        self._outbox.put(None)
        if self._thread is not threading.current_thread():
            self._thread.join()

    def _run(self) -> None:
        while (item := self._outbox.get()) is not None:
            try:
                item.done.set_result(self._send(self.channel, item))
            except BaseException as exc:  # never leave a resolve() waiting
                item.done.set_exception(exc)


class CommsSchedule:
    """Sends the incident messages on schedule from background threads. Thread-safe.

    The first of ``minutes`` is the initial notification, the others are updates.
    ``start()`` begins the cadence; ``resolve(state)`` sends the resolution now and cancels the
    updates still pending; ``stop()`` cancels them without a resolution. Both join every thread
    they started. Usable as a context manager (start on enter, stop on exit). Delivery failures
    are journaled, never raised.
    """

    def __init__(
        self,
        channels: Iterable[Channel],
        clock: Any,
        journal: Any,
        state_provider: Callable[[], IncidentState],
        minutes: Sequence[int] = UPDATE_MINUTES,
        *,
        client: httpx.Client | None = None,
        retry: RetryPolicy | None = None,
        phase: str | None = None,
    ) -> None:
        self.channels = list(channels)
        self.minutes = tuple(sorted({int(m) for m in minutes}))
        if not self.minutes or self.minutes[0] < 0:
            raise ValueError("comms minutes must be a non-empty list of minutes >= 0")
        names = [c.name for c in self.channels]
        if len(set(names)) != len(names):
            raise ValueError("comms channel names must be unique: entries and results are keyed by name")
        self.clock = clock
        self.journal = journal
        self.state_provider = state_provider
        self.retry = retry or RetryPolicy()
        self.phase = phase
        self._client = client  # made on first use when not given, and closed by stop()
        self._owns_client = client is None
        self._lock = threading.Lock()  # guards the fields below
        self._send_lock = threading.RLock()  # render + enqueue is one step; resolution comes last
        self._halt = threading.Event()  # no more updates (resolved or stopped)
        self._closed = threading.Event()  # stopped: also abandon retries of a resolution
        self._thread: threading.Thread | None = None
        self._senders: list[_ChannelSender] = []
        self._origin: datetime | None = None
        self._results: list[DeliveryResult] = []
        self._sent_minutes: list[int] = []
        self._skipped_minutes: list[int] = []
        self._resolution: list[DeliveryResult] | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self, origin: datetime | None = None) -> None:
        """Begin the cadence. T+0 is ``origin`` (plan time; default now).

        With an ``origin`` in the past, the initial message goes out now and updates already due
        by then are skipped (the initial says when the next one comes).
        """
        with self._lock:
            if self._thread is not None or self._halt.is_set():
                raise RuntimeError("a comms schedule starts once")
            self._origin = origin or self.clock.now()
            self._open_senders()
            self._thread = threading.Thread(target=self._run, name=THREAD_NAME, daemon=True)
            self._thread.start()

    def resolve(self, state: IncidentState | None = None) -> list[DeliveryResult]:
        """Send the resolution now (``state``, or the provider's), cancel pending updates, stop.

        Returns once every channel has the resolution or gave up on it. Resolving twice sends
        nothing more and returns the first resolution's results.
        """
        self._halt.set()
        with self._send_lock:
            with self._lock:
                if self._resolution is not None:
                    return list(self._resolution)
                if self._origin is None:
                    self._origin = self.clock.now()
                self._open_senders()
            # after stop(), nothing else will cancel this one: let it use its retries
            cancel = None if self._closed.is_set() else self._closed
            futures = self._enqueue("resolution", state, cancel=cancel)
            results = [future.result() for future in futures]  # _deliver never raises
            with self._lock:
                self._resolution = results
        self._note_cancelled()
        self.stop()
        return results

    def stop(self) -> None:
        """Cancel pending updates, let queued messages go, join every thread. Idempotent."""
        self._halt.set()
        self._closed.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()
        with self._lock:
            senders, self._senders = self._senders, []
        for sender in senders:
            sender.close()
        if self._owns_client and (thread is None or not thread.is_alive()):
            with self._send_lock, self._lock:
                if not self._senders and self._client is not None:
                    self._client.close()

    def __enter__(self) -> CommsSchedule:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    # -- what happened -----------------------------------------------------------------------

    @property
    def results(self) -> list[DeliveryResult]:
        """Every delivery so far, in the order they finished (one per message per channel)."""
        with self._lock:
            return list(self._results)

    @property
    def running(self) -> bool:
        thread = self._thread
        return thread is not None and thread.is_alive()

    # -- the cadence -------------------------------------------------------------------------

    def _run(self) -> None:
        origin = self._origin
        assert origin is not None
        initial_sent_at: datetime | None = None
        for index, minute in enumerate(self.minutes):
            due = origin + timedelta(minutes=minute)
            if index > 0 and initial_sent_at is not None and due <= initial_sent_at:
                with self._lock:
                    self._skipped_minutes.append(minute)  # already overdue when the initial went out
                continue
            if not self._wait_until(due):
                return
            with self._send_lock:
                if self._halt.is_set():
                    return
                sent_at = self.clock.now()
                self._enqueue("initial" if index == 0 else "update", None, cancel=self._halt, minute=minute)
            if index == 0:
                initial_sent_at = sent_at

    def _wait_until(self, due: datetime) -> bool:
        """Wait for plan time ``due``; False if halted first."""
        while not self._halt.is_set():
            remaining = (due - self.clock.now()).total_seconds()
            if remaining <= 0:
                return True
            wall = self.clock.wall_seconds(remaining)
            if wall <= 0:
                self.clock.sleep(remaining)  # a manual clock moves when slept on
            else:
                self._halt.wait(wall)
        return False

    def _enqueue(
        self,
        template: Template,
        state: IncidentState | None,
        *,
        cancel: threading.Event | None,
        minute: int | None = None,
    ) -> list[Future[DeliveryResult]]:
        """Render from the state as it is now and queue it for every channel. Never raises."""
        origin = self._origin
        assert origin is not None
        now = self.clock.now()
        if minute is None:
            minute = max(0, int((now - origin).total_seconds() // 60))
        with self._lock:
            if template != "resolution":
                self._sent_minutes.append(minute)
        try:
            state = state or self.state_provider()
            message = render(template, state, minute, next_minute=self._next_minute(template, now), origin=origin, now=now)
        except Exception as exc:  # no state, no message: record it and keep the cadence
            self._journal("comms", channel=", ".join(c.name for c in self.channels), template=template,
                          minute=minute, status="failed", http_status=None, attempts=0,
                          detail=f"message not rendered: {type(exc).__name__}: {exc}")
            return []
        with self._lock:
            senders = list(self._senders)
        return [sender.submit(message, cancel) for sender in senders]

    def _deliver(self, channel: Channel, item: _Outgoing) -> DeliveryResult:
        client = self._client
        assert client is not None  # made before any sender exists
        try:
            result = deliver(channel, item.message, client, self.journal, retry=self.retry,
                             cancel=item.cancel, phase=self.phase)
        except Exception as exc:  # e.g. the journal itself failed; the runbook goes on
            result = DeliveryResult(channel=channel.name, channel_kind=channel.kind, template=item.message.template,
                                    minute=item.message.minute, status="failed", attempts=0, detail=type(exc).__name__)
        with self._lock:
            self._results.append(result)
        return result

    def _open_senders(self) -> None:
        """Start the per-channel senders (caller holds ``_lock``); again after stop() for a late resolve()."""
        if self._senders:
            return
        if self._client is None or (self._owns_client and self._client.is_closed):
            self._client = httpx.Client()
        self._senders = [_ChannelSender(channel, self._deliver) for channel in self.channels]

    def _next_minute(self, template: Template, now: datetime) -> int | None:
        if template == "resolution":
            return None
        origin = self._origin
        assert origin is not None
        return next((m for m in self.minutes if origin + timedelta(minutes=m) > now), None)

    def _note_cancelled(self) -> None:
        with self._lock:
            done = set(self._sent_minutes) | set(self._skipped_minutes)
            pending = [m for m in self.minutes if m not in done] if self._thread is not None else []
        if pending:
            self._journal("note", message="comms: resolved; updates cancelled: " + ", ".join(f"T+{m}" for m in pending))

    def _journal(self, kind: str, **data: Any) -> None:
        try:
            self.journal.append(kind, phase=self.phase, **data)
        except Exception:
            pass

