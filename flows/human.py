"""Holds and approvals: a person decides from the Prefect UI form or ``odin decide``.

A hold pauses the flow run with ``pause_flow_run(wait_for_input=...)`` so the UI shows a form.
Prefect fails a run whose pause times out, so odin never lets that happen: a background thread
keeps watching the service (``monitor``) and resolves the hold itself — ``rollback`` when the
numbers escalate, the policy's default at the deadline — by resuming the run with that input,
before Prefect's own timeout (set with a margin) could fire. Whoever resumes first decides.

Who decided: the form's ``by`` is a name anyone can type. ``odin decide`` also records the
identity it can check (``odin_drills.steps.identity``: the Prefect Cloud account of its API key,
else the OS user). It is not a form field (the UI would let anyone type one): just before resuming,
``odin decide`` stores it as a flow-run input of its own beside the paused run's response key
(``<response key>-odin-verified``), together with the decision it vouches for. The flow takes it
only when that decision is the one it received; a decision from the UI form is recorded as not
verified. Odin's own resolutions (deadline, escalation) record ``odin (this flow run)``.

A signal while waiting (SIGTERM, Ctrl-C: ``odin_drills.steps.stop``): a hold can last hours, and
the signal handler only *asks* the run to stop, so without help the stop would wait for the hold's
deadline. With ``on_stop`` set, a stop request ends the wait within seconds the same way the
deadline does — by resuming the paused run ourselves — and what that resume means is the caller's
choice: ``interrupt`` leaves the hold undecided (:class:`HoldInterrupted` is raised, the caller
journals it and the run ends ``interrupted``); ``default`` applies the default at once (a rollback
grace: a confirmed rollback is not cancelled by a signal). Whoever resumes first still decides: a
person's answer that arrives before the signal's resume is taken as given.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Literal

from pydantic import Field, PrivateAttr

from prefect.flow_runs import pause_flow_run, resume_flow_run
from prefect.input import RunInput
from prefect.runtime import flow_run as runtime_flow_run

from odin_drills.steps import stop as stop_request
from odin_drills.steps.identity import ODIN_ITSELF, UNVERIFIED_FORM, verified_identity

PAUSE_MARGIN_SECONDS = 120
POLL_SECONDS = 1
RETRY_FIRST_SECONDS = 0.5
RETRY_MAX_SECONDS = 5.0
MONITOR_LET_GO_SECONDS = 1.0
"""How long an interrupted hold waits for its monitor's window in flight before letting it go."""
log = logging.getLogger(__name__)

OnStop = Literal["interrupt", "default"]
DEADLINE_BY = "odin (deadline)"
"""The ``by`` of a hold its deadline decided."""
INTERRUPTED_BY = "odin (interrupted)"
"""The ``by`` of the resume a stop request sends to end an ``interrupt`` wait; never journaled as a decision."""


class HoldInterrupted(stop_request.StopRequested):
    """A stop request ended the wait before anyone decided: the hold is still open."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, "the hold was decided")


class HumanDecision(RunInput):
    """The form a person fills in to end a hold."""

    action: Literal["proceed", "rollback"]
    reason: str
    by: str = Field(description="your name (free text; odin records separately what it could verify)")
    _verified: str = PrivateAttr(default=UNVERIFIED_FORM)

    @property
    def verified(self) -> str:
        """What the journal records beside ``by``: the identity vouched for this decision, if any."""
        return self._verified


IDENTITY_SUFFIX = "-odin-verified"


def _vouch(flow_run_id: str, decision: dict[str, str], verified: str) -> None:
    """Store who (as odin checked) sends ``decision``, keyed to the run's current pause.

    Written before the resume, so the flow finds it when it wakes; a leftover from an attempt whose
    resume failed is replaced, and one that vouches for another decision is ignored by the flow."""
    from prefect.client.orchestration import get_client
    from prefect.input.actions import create_flow_run_input, delete_flow_run_input

    with get_client(sync_client=True) as client:
        state = client.read_flow_run(flow_run_id).state  # type: ignore[arg-type]
    keyset = state.state_details.run_input_keyset if state is not None and state.is_paused() else None
    if not keyset:
        return
    key = keyset["response"] + IDENTITY_SUFFIX
    try:
        delete_flow_run_input(key, flow_run_id=flow_run_id)  # type: ignore[arg-type]
    except Exception:  # noqa: BLE001 - none there: the usual case
        pass
    create_flow_run_input(key, {**decision, "verified_as": verified}, flow_run_id=flow_run_id)  # type: ignore[arg-type]


def _vouched_for(decision: HumanDecision, flow_run_id: str) -> str:
    """The identity stored for exactly this decision at this pause, or :data:`UNVERIFIED_FORM`."""
    from prefect.input.actions import read_flow_run_input

    try:
        record = read_flow_run_input(decision.metadata.key + IDENTITY_SUFFIX, flow_run_id=flow_run_id)  # type: ignore[arg-type]
    except Exception:  # noqa: BLE001 - no record, or the API blipped: nothing verified
        return UNVERIFIED_FORM
    if isinstance(record, dict) and all(record.get(k) == getattr(decision, k) for k in ("action", "reason", "by")):
        return str(record.get("verified_as") or UNVERIFIED_FORM)
    return UNVERIFIED_FORM


def _resume_when_paused(flow_run_id: str, action: str, reason: str, by: str, stop: threading.Event) -> bool:
    """Resume the run with this decision once it is paused; give up if the hold ends first.

    The deadline can fall before the flow has finished pausing (a hold of a few seconds under a
    fast clock), so a "not paused" answer means "try again shortly" until the hold is over.

    A Prefect API error (a blip, a restart, a 5xx on the resume) never ends this: it is logged and
    retried with backoff until the run is resumed — by us or by someone who decided first, which
    ends the hold and sets ``stop`` — so the policy default is applied even when the API blipped at
    the deadline, and well before Prefect's own pause timeout (``PAUSE_MARGIN_SECONDS`` later).
    """
    from prefect.client.orchestration import get_client

    backoff = RETRY_FIRST_SECONDS
    resumed = False
    while not stop.is_set():
        try:
            with get_client(sync_client=True) as client:
                state = client.read_flow_run(flow_run_id).state  # type: ignore[arg-type]
            if state is not None and state.is_paused():
                # a resume the server did not take (its input schema not saved yet, a 5xx) leaves the
                # run paused: the next read finds it so and this tries again, until the hold ends
                decision = {"action": action, "reason": reason, "by": by}
                _vouch(flow_run_id, decision, ODIN_ITSELF)
                resume_flow_run(flow_run_id, run_input=decision)  # type: ignore[arg-type]
                resumed = True
            backoff = RETRY_FIRST_SECONDS
        except Exception as exc:  # noqa: BLE001 - the API blipped, or someone resumed first: look again
            log.warning("hold of flow run %s: could not apply %r yet (%s: %s); retrying in %.1f s",
                        flow_run_id, action, exc.__class__.__name__, exc, backoff)
            stop.wait(backoff)
            backoff = min(backoff * 2, RETRY_MAX_SECONDS)
            continue
        stop.wait(0.2)
    return resumed


def _on_stop_request(flow_run_id: str, on_stop: OnStop, default: str, hold_over: threading.Event) -> None:
    """Wait for a stop request while the hold lasts; then end the wait as ``on_stop`` says.

    Runs in its own thread because the flow thread is inside ``pause_flow_run``'s polling loop and
    the signal handler (main thread) must not call the Prefect API itself: resuming the run is the
    only way to end that loop early, and the same retrying resume the deadline uses does it."""
    asked = stop_request.event()
    while not hold_over.wait(0.2):
        if not asked.is_set():
            continue
        why = stop_request.requested() or "a stop request"
        if on_stop == "default":
            _resume_when_paused(flow_run_id, default, f"{why} during the wait: applying the default now ({default})",
                                f"odin ({why})", hold_over)
        else:
            _resume_when_paused(flow_run_id, default, f"{why}: the wait ends, the hold stays undecided",
                                INTERRUPTED_BY, hold_over)
        return


def wait_for_decision(
    *,
    deadline_wall_seconds: float,
    default: Literal["proceed", "rollback"],
    monitor: Callable[[threading.Event], str | None] | None = None,
    key: str | None = None,
    on_stop: OnStop | None = None,
) -> tuple[HumanDecision, datetime]:
    """Pause until a person (or the monitor, or the deadline) decides; return the decision and when.

    ``on_stop`` (see the module's docstring): ``None`` keeps waiting through a stop request (the
    caller acts on it at its next safe point), ``interrupt`` raises :class:`HoldInterrupted` within
    seconds of one, ``default`` returns the default within seconds of one, decided ``by`` the signal."""
    flow_run_id = str(runtime_flow_run.id)
    stop = threading.Event()

    def deadline() -> None:
        end = time.monotonic() + deadline_wall_seconds
        while not stop.wait(timeout=min(0.2, max(0.0, end - time.monotonic()))):
            if time.monotonic() >= end:
                _resume_when_paused(flow_run_id, default, "hold deadline reached: applying the policy default",
                                    DEADLINE_BY, stop)
                return

    def escalate() -> None:
        assert monitor is not None
        try:
            reason = monitor(stop)
        except Exception:  # noqa: BLE001 - a broken monitor must not end the hold; the deadline still applies
            if not stop.is_set():  # else the hold is over and the monitor was let go (its source closed under it)
                log.exception("hold monitor of flow run %s failed; the deadline still applies", flow_run_id)
            return
        if reason and not stop.is_set():
            _resume_when_paused(flow_run_id, "rollback", f"escalation during the hold: {reason}", "odin (escalation)", stop)

    threads = [threading.Thread(target=deadline, name="odin-hold-deadline", daemon=True)]
    if monitor is not None:
        threads.append(threading.Thread(target=escalate, name="odin-hold-monitor", daemon=True))
    if on_stop is not None:
        threads.append(threading.Thread(target=_on_stop_request, args=(flow_run_id, on_stop, default, stop),
                                        name="odin-hold-stop", daemon=True))
    for thread in threads:
        thread.start()
    decision: HumanDecision | None = None
    try:
        decision = pause_flow_run(
            wait_for_input=HumanDecision,
            timeout=int(deadline_wall_seconds) + PAUSE_MARGIN_SECONDS,
            poll_interval=POLL_SECONDS,
            key=key,
        )  # type: ignore[assignment]
    finally:
        stop.set()
        why = stop_request.requested()
        # our own resume (a person typing that name without a signal decides as usual)
        interrupted = on_stop == "interrupt" and why is not None and getattr(decision, "by", None) == INTERRUPTED_BY
        for thread in threads:
            # interrupted: the monitor's window in flight (minutes long at --time-scale 1) is not
            # waited for — it decides nothing now, and the caller's monitor journals nothing once
            # the hold is over by a signal (``ask_person``)
            thread.join(timeout=MONITOR_LET_GO_SECONDS if interrupted else 30)
    if interrupted:
        raise HoldInterrupted(why)  # type: ignore[arg-type]
    assert decision is not None
    decision._verified = _vouched_for(decision, flow_run_id)  # type: ignore[union-attr]
    return decision, datetime.now(timezone.utc)  # type: ignore[return-value]


def decide(flow_run_id: str, action: str, reason: str, by: str, verified_as: str | None = None) -> str:
    """``odin decide``: resume a held run with a person's decision and the identity odin verified
    for them (computed here unless given); returns that identity."""
    verified = verified_as or verified_identity()
    decision = {"action": action, "reason": reason, "by": by}
    _vouch(flow_run_id, decision, verified)
    resume_flow_run(flow_run_id, run_input=decision)  # type: ignore[arg-type]
    return verified
