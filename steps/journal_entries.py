"""One model per journal entry kind: what each ``kind`` carries in its ``data``, typed.

``Journal.append(kind, phase=..., step=..., **fields)`` validates ``fields`` through the kind's
model before anything is written (after redaction, so what is checked is exactly what lands in
the file), and ``Journal.entries()`` parses every line back into its model (``Entry.record``).
A field no model declares, a missing field, a wrong type or an unknown kind is a programming
error: ``append`` raises :class:`JournalEntryInvalid` naming the kind and the field.

Models have ``extra="forbid"`` (a misspelled field fails at write time), except ``policy``, whose
shape belongs to the rollback policy (``odin_drills.plan.policy``). Nested free-form data (a
smoke report, a gate's decision and snapshot, an undo spec, a step's output) is ``dict[str, Any]``:
its own types own its structure.

``phase`` and ``step`` stay on the envelope (``Entry``), as before; ``REQUIRES`` names the ones a
kind cannot do without (a ``step_finished`` without a step could not be undone by name).

Reading an older journal: a line whose kind is unknown or whose fields do not validate is kept,
with its ``data`` untouched, and its ``record`` is a :class:`LegacyRecord` (kind, problem, data):
reports render it as they always did, a rollback reads ``data`` as it always did, nothing raises.
Lines that are not entries at all (a torn last line after a crash mid-write, garbage) are skipped
and reported by the journal (``Journal.read().skipped``), never fatal.

Why one file over the ~600-line guide: it is a catalogue, one short model per kind and nothing
else; a reviewer adding a kind, or a report reading one, finds every kind's shape in one place.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from odin_drills.plan.policy import Policy as RollbackPolicy


class JournalEntryInvalid(TypeError):
    """A journal entry its kind's model refuses: a bug in the code that wrote it, not user input."""


class Record(BaseModel):
    """The typed ``data`` of one journal entry kind."""

    model_config = ConfigDict(extra="forbid")

    KIND: ClassVar[str] = ""
    REQUIRES: ClassVar[tuple[str, ...]] = ()
    """Envelope fields (``phase``, ``step``) this kind must have."""


class LegacyRecord(BaseModel):
    """An entry that does not validate against its kind's model (an older odin, a hand edit, a
    kind since retired): its data as written, and why it is not typed."""

    kind: str
    problem: str
    data: dict[str, Any] = {}


# ------------------------------------------------------------------ a run

class RunStarted(Record):
    """Migrations write plan, migration, phases, time_scale, flow_run_id, environment; drills also
    drill, mode (drill|incident), flow, target, options."""

    KIND = "run_started"
    plan: str
    phases: list[str]
    time_scale: float | None = None
    environment: str | None = None
    flow_run_id: str | None = None
    migration: str | None = None
    drill: str | None = None
    mode: str | None = None
    flow: str | None = None
    target: str | None = None
    options: dict[str, Any] | None = None
    resume: bool | None = None


class RunFinished(Record):
    KIND = "run_finished"
    outcome: str
    exit_code: int
    detail: str = ""


class PhaseStarted(Record):
    KIND = "phase_started"
    REQUIRES = ("phase",)


class PhaseFinished(Record):
    """``outcome``: ok, rolled back, failed, unusable (a T-1w whose checks failed: no usable
    baseline, and T-0 refuses with ``detail``) or interrupted (a signal stopped it at a safe point;
    ``--resume`` runs the rest of it)."""

    KIND = "phase_finished"
    REQUIRES = ("phase",)
    outcome: str
    detail: str | None = None


class Lock(Record):
    """``acquired``/``released``: the Prefect concurrency slot of this process; ``reserved``/``freed``:
    the migration's reservation of the environment (``steps.lock``), held from T-0 until T+24h ends
    or the migration is rolled back, across processes; ``refused`` names the ``holder``."""

    KIND = "lock"
    action: Literal["acquired", "released", "refused", "reserved", "freed"]
    environment: str
    migration: str | None = None
    plan: str | None = None
    holder: dict[str, Any] | None = None


class Note(Record):
    """A line for people; a step's progress notes carry its progress data (``data_at_risk``,
    ``stage``, the ``fqdn`` an azure.dns.records step waits on), a chained phase its flow run, a
    drill's stakeholder checkpoint its message counts (``sent``, ``failed``)."""

    KIND = "note"
    message: str
    flow_run_id: str | None = None
    data_at_risk: dict[str, Any] | None = None
    stage: dict[str, Any] | None = None
    sent: int | None = None
    failed: int | None = None
    error_budget: dict[str, Any] | None = None  # the SLO gate's numbers: tier, remaining, requests, errors, emergency
    fqdn: str | None = None  # azure.dns.records: the name whose answers it waits for


class Emergency(Record):
    """The run was started as an emergency fix (``odin migrate --emergency --reason TEXT``, or the
    run form's ``emergency`` fields): it may start T-0 with the error budget exhausted. Journaled at
    the start of the run, before any gate, so the record exists whether or not the budget needed
    it; the T-0 budget note says when it did (``error_budget.emergency_source``)."""

    KIND = "emergency"
    reason: str
    by: str
    source: Literal["command line", "run parameter"]


class Policy(Record, RollbackPolicy):
    """The effective rollback policy, journaled at run start: the fields of ``odin_drills.plan.policy.Policy``
    (multipliers, floors, windows ...), which the reports' charts draw. Its shape is the policy's own."""

    model_config = ConfigDict(extra="allow")
    KIND = "policy"


# ------------------------------------------------------------------ steps and undo

class StepStarted(Record):
    """Migrations add the step's identity: ``migration`` and ``attempt`` (1, 2, … per phase and
    step name in this migration's journal)."""

    KIND = "step_started"
    REQUIRES = ("step",)
    step_kind: str
    changes_world: bool
    migration: str | None = None
    attempt: int | None = None


class StepFinished(Record):
    """``undo`` is the undo spec a rollback runs (None: nothing to undo); drills add the step's
    ``step_kind`` and ``mode``, which the failback reads; migrations the step's ``migration`` and
    ``attempt`` (its identity with phase and step)."""

    KIND = "step_finished"
    REQUIRES = ("step",)
    status: Literal["ok", "failed", "noop", "skipped"]
    detail: str
    undo: dict[str, Any] | None = None
    undo_reason: str | None = None
    output: dict[str, Any] | None = None
    step_kind: str | None = None
    mode: str | None = None
    migration: str | None = None
    attempt: int | None = None


class StepIntent(Record):
    """Write-ahead: written and fsynced after the step observed the world and before its first
    world-changing call (``steps.intent``). ``prior`` is the state it read (Azure steps; None when
    the effect cannot be observed: http, command), ``undo`` the undo computed from it (or declared),
    ``spec`` the step as it runs (references unresolved), ``observable`` whether a later start can
    read whether the change happened."""

    KIND = "step_intent"
    REQUIRES = ("phase", "step")
    attempt: int
    step_kind: str
    spec: dict[str, Any]
    observable: bool
    migration: str | None = None
    prior: dict[str, Any] | None = None
    undo: dict[str, Any] | None = None
    undo_reason: str | None = None
    change: str | None = None


class OperationStarted(Record):
    """An Azure long-running operation ARM accepted, with its ``continuation_token`` (base64 JSON
    of the polling URL and the first answer — no credential; redaction leaves it whole), so a run
    that starts later resumes polling it instead of starting another. ``undo_of`` names the step
    identity (``phase/step``) when the operation is an undo's."""

    KIND = "operation_started"
    REQUIRES = ("step",)
    operation: str
    resource: str
    continuation_token: str | None = None
    attempt: int | None = None
    undo_of: str | None = None


class StepReconciled(Record):
    """What a later start found for an intent with no outcome (``steps.intent.reconcile``):
    ``happened`` (its undo is kept), ``partial`` (part of it: its undo is kept and a resume runs it
    again to finish it), ``not_happened`` (nothing to undo; a resume runs it again) or ``unknown``
    (the effect cannot be observed: it may have happened, so its undo is kept).
    ``how``: observed, polled (a journaled operation was followed to its end), unobservable."""

    KIND = "step_reconciled"
    REQUIRES = ("phase", "step")
    attempt: int
    verdict: Literal["happened", "partial", "not_happened", "unknown"]
    how: str
    detail: str
    undo: dict[str, Any] | None = None
    observed: dict[str, Any] | None = None
    migration: str | None = None


class UndoCheck(Record):
    """Before T-0: status ok|unreachable (with detail) or none (with the plan's reason)."""

    KIND = "undo_check"
    REQUIRES = ("step",)
    status: str
    detail: str | None = None
    reason: str | None = None


class UndoStarted(Record):
    """``undo_of``: the seq of the entry whose undo this is; ``key`` (migrations): the undone step's
    identity, ``phase/step`` — an undo runs at most once per key, whatever the attempts."""

    KIND = "undo_started"
    REQUIRES = ("step",)
    undo_of: int
    undo: dict[str, Any]
    key: str | None = None


class UndoFinished(Record):
    """``reconciled``: written by a later start that observed the undo's effect (a run killed
    mid-undo), not by the undo itself."""

    KIND = "undo_finished"
    REQUIRES = ("step",)
    undo_of: int
    status: str
    attempts: int
    detail: str
    key: str | None = None
    reconciled: str | None = None


class RollbackStarted(Record):
    """``confirmed_at``/``deadline``: when the rollback was confirmed and by when it had to start
    (``policy.deadlines.rollback``); ``late`` when it started after that."""

    KIND = "rollback_started"
    reason: str
    confirmed_at: datetime | None = None
    deadline: datetime | None = None
    late: bool | None = None


class RollbackFinished(Record):
    KIND = "rollback_finished"
    healthy: bool
    detail: str


# ------------------------------------------------------------------ measuring and judging

class Baseline(Record):
    KIND = "baseline"
    snapshot: dict[str, Any]
    window_seconds: float
    path: str | None = None


class Smoke(Record):
    KIND = "smoke"
    report: dict[str, Any]
    critical_failed: int
    noncritical_failed: int


class Gate(Record):
    """``window``: the evaluation's number, ``all`` (a whole watch) or ``recheck`` (after a rollback).
    ``merged_windows``: how many measured windows ``snapshot`` covers (the fixed judge merges an
    inconclusive window into the next; absent in older journals). ``decision`` is the ladder's
    Decision, or with ``judge: sequential`` its SequentialDecision (e-values, baseline bounds)."""

    KIND = "gate"
    window: int | str
    decision: dict[str, Any]
    snapshot: dict[str, Any]
    merged_windows: int | None = None


class Decision(Record):
    """``action``: proceed|rollback|rollback_now|hold|watch (migrations), fail_over|veto|no_failover (drills)."""

    KIND = "decision"
    action: str
    reason: str
    by: str
    evidence: dict[str, Any] | None = None
    """incident mode: what Azure said (``steps.dr.incident.evidence_of``): event id, ETA, expected outage, limit, scope."""


class _Hold(Record):
    """What a hold is: its kind (hold, approval, rollback-grace, confirm-failover…), why, the default
    its deadline applies, the deadline (plan time), and the flow run a person resumes."""

    hold: str
    reason: str
    default: str
    deadline: datetime
    flow_run_id: str | None = None


class HoldStarted(_Hold):
    """``reopened``: ``--resume`` opened again a hold a signal interrupted (``hold_interrupted``),
    with that hold's own ``deadline``, not a new one."""

    KIND = "hold_started"
    decide: str | None = None
    reopened: bool | None = None


class HoldInterrupted(_Hold):
    """SIGTERM or Ctrl-C (``signal``) ended the wait of a hold or an approval before anyone decided
    it: the hold stays open, undecided. It keeps what ``--resume`` needs to re-open exactly this hold
    — its ``hold`` kind, ``reason``, ``default`` and its own ``deadline`` — and ``resume``, the
    command that does so (``odin_drills.flows.migration_run.ask_person``)."""

    KIND = "hold_interrupted"
    signal: str
    resume: str | None = None


class HumanInput(Record):
    """``by`` is the name the person typed; ``verified_as`` the identity odin could check
    (``odin_drills.steps.identity``), absent in journals written before it was recorded."""

    KIND = "human_input"
    action: str
    reason: str
    by: str
    at: datetime
    verified_as: str | None = None


# ------------------------------------------------------------------ messages

class Notify(Record):
    """A webhook notification as older journals have it (the report's messages show it); a notify
    step now journals its ``step_finished``."""

    KIND = "notify"
    url: str
    status: int | str


class Comms(Record):
    """One stakeholder message to one channel (``channel_kind`` is missing, and ``channel`` lists
    every channel, when the message could not even be rendered)."""

    KIND = "comms"
    channel: str
    template: str
    status: Literal["sent", "failed"]
    attempts: int
    detail: str
    minute: int | None = None
    channel_kind: str | None = None
    http_status: int | None = None
    text: str | None = None


# ------------------------------------------------------------------ region-failover drills

class Sandbox(Record):
    """``arm_url``, ``ca_cert`` and ``subscription_id`` let ``odin rollback`` reach the same sandbox
    after a crash (none is a credential: the sandbox accepts any token)."""

    KIND = "sandbox"
    action: str
    admin_url: str
    frontdoor_url: str
    state_dir: str | None = None
    arm_url: str | None = None
    ca_cert: str | None = None
    subscription_id: str | None = None


class OutageInjecting(Record):
    """Write-ahead for the sandbox fault: written (fsynced) before the sandbox is asked for it, so a
    drill killed before ``outage_injected`` (which carries the fault's id) still has its fault
    found and removed by ``odin rollback`` (``steps.dr.cleanup``)."""

    KIND = "outage_injecting"
    region: str
    how: str


class OutageInjected(Record):
    """``injected_at`` is the sandbox's own (wall) clock; ``outage_started_at`` plan time."""

    KIND = "outage_injected"
    region: str
    how: str
    outage_started_at: datetime
    fault_id: str | None = None
    injected_at: datetime | None = None


class OutageCleared(Record):
    KIND = "outage_cleared"
    region: str
    fault_id: str
    cleared_at: datetime | None = None


class ProbeState(Record):
    KIND = "probe_state"
    target: str
    state: Literal["ok", "failing"]
    status: int | None = None
    error: str | None = None
    served_by: str | None = None
    previous: Literal["ok", "failing"] | None = None
    previous_lasted_seconds: float | None = None
    previous_probes: int | None = None


class ProbeCounts(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ok: int
    failed: int
    state: Literal["ok", "failing"]


class ProbeSummary(Record):
    KIND = "probe_summary"
    since: datetime
    rounds: int
    targets: dict[str, ProbeCounts]


class OutageConfirmed(Record):
    """Written by the detector and by the flow's own Front Door check (which adds ``via`` and
    ``served_by``)."""

    KIND = "outage_confirmed"
    region: str
    confirmed_at: datetime
    failed_probes: int
    first_failure_at: datetime | None = None
    last_error: str | None = None
    via: str | None = None
    served_by: str | None = None


class OutageNotConfirmed(Record):
    KIND = "outage_not_confirmed"
    region: str
    waited_seconds: float
    glitches: int | None = None
    via: str | None = None


class ServiceHealth(Record):
    """What Azure says about the primary region (``steps.dr.service_health``), journaled when it changes:
    the active service issue, Resource Health's ``resolutionETA`` (None: none published), full or partial
    outage by the region's resources' availability; ``reachable`` false carries the ``error`` instead.
    ``expected_outage_seconds`` and ``limit_seconds`` are plan time."""

    KIND = "service_health"
    region: str
    reachable: bool
    error: str | None = None
    event_id: str | None = None
    title: str | None = None
    services: list[str] = []
    impact_started_at: datetime | None = None
    resolution_eta: datetime | None = None
    expected_outage_seconds: float | None = None
    limit_seconds: float
    scope: Literal["full", "partial", "none", "unknown"]
    unavailable: list[str] = []
    degraded: list[str] = []
    available: list[str] = []


class ServiceRecovered(Record):
    KIND = "service_recovered"
    via: str
    region: str | None
    first_success_at: datetime
    consecutive: int
    healthy_for: float


class CanaryStarted(Record):
    KIND = "canary_started"
    url: str
    rate_per_second: float
    payload_bytes: int


class CanaryState(Record):
    KIND = "canary_state"
    state: Literal["acknowledging", "failing"]
    seq: int
    reason: str
    previous: Literal["acknowledging", "failing"] | None = None
    previous_lasted_seconds: float | None = None
    previous_writes: int | None = None


class CanaryStopped(Record):
    KIND = "canary_stopped"
    attempted: int
    acknowledged: int
    failed_writes: int


class CanaryAcknowledged(Record):
    """A migration's canary write the service acknowledged (``steps.data_canary``): read back after
    each later step, from the journal, so a resumed run checks the writes of the run before it."""

    KIND = "canary_acknowledged"
    seq: int
    write_id: str
    sha256: str
    run: str


class CanaryVerified(Record):
    KIND = "canary_verified"
    acknowledged: int
    verified: int
    lost: int
    corrupted: int
    unreadable: int
    lost_ids: list[str]
    oldest_lost_ack: datetime | None = None
    newest_ack_before_failover: datetime | None = None
    newest_surviving_ack: datetime | None = None


class Replication(Record):
    """What Azure reported: failover_groups {name: {primary_region, replication_state}},
    storage_accounts {name: {primary_region, sku, geo_replication, last_sync_time}}, errors."""

    KIND = "replication"
    failover_groups: dict[str, dict[str, Any]]
    storage_accounts: dict[str, dict[str, Any]]
    errors: list[str] | None = None


class ValidationCriterion(Record):
    """A criterion the drill's validation measured itself (``steps.dr.validation``):
    ``dr_region_within_baseline``, ``replication_lag_within_limit`` or ``alerts_green``; ``measured``
    holds its numbers (the ladder's verdict and windows, each resource's lag, the alerts firing)."""

    KIND = "validation_criterion"
    criterion: str
    passed: bool
    evidence: str
    measured: dict[str, Any] = {}


class LostWrite(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str | None
    seq: int
    acked_at: datetime


class DataLoss(Record):
    KIND = "data_loss"
    region: str
    acknowledged: int
    lost: int
    lost_ids: list[str]
    lost_writes: list[LostWrite]
    corrupted: int
    unreadable: int
    failed_writes: int
    rpo_seconds: float | None
    failover_at: datetime | None = None
    acknowledged_ids: list[str] = []
    acknowledged_ids_truncated: bool = False


class FailbackDeferred(Record):
    KIND = "failback_deferred"
    REQUIRES = ("step",)
    reason: str


class FailbackWindow(Record):
    """The failback against the plan's ``failback.window`` (``steps.dr.failback_window``): ``action``
    ``in_window`` (it starts now), ``wait`` (journaled before the wait: ``opens_at`` is when it
    ends), ``no_failback`` (the window does not open within ``failback.window_wait``: the service
    stays in the DR region), ``stopped`` (a stop request ended the wait: failing back outside it),
    ``forced`` (``odin rollback --drill ID --force`` outside it, ``by`` whom),
    ``outage_ended_outside_window`` (``odin rollback`` outside it ended the drill's own outage at
    once, ``by`` whom; its failback keeps to the window: ``opens_at``)."""

    KIND = "failback_window"
    REQUIRES = ("phase",)
    action: Literal["in_window", "wait", "no_failback", "stopped", "forced", "outage_ended_outside_window"]
    window: str
    reason: str
    opens_at: datetime | None = None
    wait_seconds: float | None = None
    by: str | None = None


class FailoverCheck(Record):
    KIND = "failover_check"
    verdict: Literal["restored", "worse"]
    reason: str
    broken: list[str]


class StepSkipped(Record):
    """A world-changing step the runbook did not run, and why (``steps.dr.order``: traffic is not
    moved when the data tier failed over badly)."""

    KIND = "step_skipped"
    REQUIRES = ("step",)
    reason: str
    step_kind: str | None = None


class PhaseBudget(Record):
    """A drill phase against its budget (``steps.dr.budgets``), plan seconds: ``seconds`` is None when
    it was not measured; ``projected_seconds`` the time since the outage began plus the budgets still
    to come (the measured RTO once the service is back); ``rto_at_risk`` when that exceeds the target,
    ``rto_exceeded`` when the target passed without the service back."""

    KIND = "phase_budget"
    REQUIRES = ("phase",)
    budget_phase: str
    seconds: float | None
    budget_seconds: float
    within: bool
    elapsed_seconds: float
    projected_seconds: float
    rto_target_seconds: float
    rto_at_risk: bool
    rto_exceeded: bool


class RestorePoint(Record):
    """A restore drill chose its point: ``point`` (the requested restore point, Azure's clock),
    ``requested_at`` (plan time of the request) and the copy's name."""

    KIND = "restore_point"
    point: datetime
    requested_at: datetime
    point_before_request_seconds: float
    source_database: str
    restored_database: str


class _RestoreCounts(Record):
    """What a restore drill's canary found in one restored store (SQL copy, blob range)."""

    acknowledged: int
    expected: int
    verified: int
    lost: int
    extra: int
    corrupted: int
    unreadable: int
    failed_writes: int
    lost_ids: list[str]
    extra_ids: list[str]
    rpo_seconds: float | None


class BlobRestorePoint(Record):
    """A restore drill chose the point its blob ranges go back to (``steps.dr.blob_restore``):
    ``point`` (Azure's clock), ``requested_at`` (plan time), the account and the ``[start, end)`` ranges."""

    KIND = "blob_restore_point"
    point: datetime
    requested_at: datetime
    point_before_request_seconds: float
    account: str
    ranges: list[list[str]]


class BlobRestoreVerified(_RestoreCounts):
    """The canary blobs read back after the blob restore: ``expected`` were acknowledged by the point
    and must be there intact; later ones must be gone (``extra`` when not); ``rpo_seconds`` plan time."""

    KIND = "blob_restore_verified"
    account: str


class RestoreVerified(_RestoreCounts):
    """The canary rows read back from the restored copy (``steps.dr.restore``): ``expected`` were
    committed by the requested point; ``lost`` of them are missing, ``extra`` rows committed after it
    are present (a copy must hold exactly the rows up to its point), ``rpo_seconds`` plan time."""

    KIND = "restore_verified"
    database: str
    restored_through: datetime | None = None
    copy_rows: int | None = None


def _checked_against(model: type[BaseModel], data: Any) -> Any:
    """``data`` (a scorecard's fields at the top level of an entry) checked against ``model``
    itself, so the journal's copy of a scorecard cannot drift from the scorecard."""
    if not isinstance(data, dict):
        raise ValueError("a scorecard is an object")
    unknown = sorted(set(data) - set(model.model_fields))
    if unknown:
        raise ValueError(f"unexpected field(s) {', '.join(map(repr, unknown))} "
                         f"(the fields of a {model.__name__}: {', '.join(model.model_fields)})")
    try:
        model.model_validate(data)
    except ValidationError as exc:
        raise ValueError("; ".join(_describe(error) for error in exc.errors(include_url=False, include_input=False))) from None
    return data


class RestoreScorecardRecord(Record):
    """A restore drill's ``steps.dr.restore.RestoreScorecard``, its fields at the top level, checked
    against that model (imported when checked, as for ``ScorecardRecord``)."""

    model_config = ConfigDict(extra="allow")
    KIND = "restore_scorecard"

    @model_validator(mode="before")
    @classmethod
    def _is_a_restore_scorecard(cls, data: Any) -> Any:
        from odin_drills.steps.dr.restore import RestoreScorecard

        return _checked_against(RestoreScorecard, data)


class ScorecardRecord(Record):
    """The drill's ``steps.dr.scorecard.Scorecard``, its fields at the top level of ``data``, checked
    against ``Scorecard`` itself (imported when checked: the journal stays importable below the
    drill modules, which import it). ``scorecard()`` gives it typed."""

    model_config = ConfigDict(extra="allow")
    KIND = "scorecard"

    @model_validator(mode="before")
    @classmethod
    def _is_a_scorecard(cls, data: Any) -> Any:
        from odin_drills.steps.dr.scorecard import Scorecard

        return _checked_against(Scorecard, data)

    def scorecard(self) -> Any:
        """This entry as a ``steps.dr.scorecard.Scorecard``."""
        from odin_drills.steps.dr.scorecard import Scorecard

        return Scorecard.model_validate(self.model_dump())


class Readiness(Record):
    """The operational readiness review (``steps.readiness``): every checklist item with its status
    (met / attested / unmet), evidence and who attested it; at T-1w, and again before T-0 when the
    plan marks items blocking (``blocking_unmet`` non-empty there: T-0 refused)."""

    KIND = "readiness"
    REQUIRES = ("phase",)
    items: list[dict[str, Any]]
    met: int
    attested: int
    unmet: int
    blocking_unmet: list[str]


# ------------------------------------------------------------------ the people side (steps.people)

class SloCheck(Record):
    """T+1h: the plan's ``slo:`` over the migration so far (``steps.people.slo_check``). ``objective``
    None: the plan has no ``slo:``; ``met`` None: not verifiable (no requests); ``measured`` the metric
    source over [T-0, now] when it can look back, ``windows`` the gates' windows since T-0."""

    KIND = "slo_check"
    REQUIRES = ("phase",)
    objective: float | None
    met: bool | None
    detail: str
    since: datetime | None = None
    span_seconds: float | None = None
    windows: dict[str, Any] | None = None
    measured: dict[str, Any] | None = None
    unavailable: str | None = None
    burn_rate: float | None = None
    decided_by: str | None = None


class LogReview(Record):
    """T+1h: errors and warnings since T-0 in the journal and the run's Prefect logs
    (``steps.people.log_review``); ``prefect_unavailable`` says once why Prefect's were not read."""

    KIND = "log_review"
    REQUIRES = ("phase",)
    errors: int
    warnings: int
    journal_errors: int
    journal_warnings: int
    prefect_errors: int
    prefect_warnings: int
    items: list[dict[str, Any]]
    detail: str
    not_listed: int = 0
    since: datetime | None = None
    prefect_unavailable: str | None = None


class IncidentCount(Record):
    """T+24h: alerts fired between T-0 and now (``steps.people.incidents``); ``count`` None: the
    plan has no alert source."""

    KIND = "incident_count"
    REQUIRES = ("phase",)
    count: int | None
    alerts: list[dict[str, Any]]
    detail: str
    before: int = 0
    sev0: int | None = None
    sev1: int | None = None
    lower: int | None = None
    security: int | None = None
    since: datetime | None = None
    unavailable: str | None = None


RECORDS: dict[str, type[Record]] = {model.KIND: model for model in (
    RunStarted, RunFinished, PhaseStarted, PhaseFinished, Lock, Note, Emergency, Policy,
    StepStarted, StepFinished, StepIntent, OperationStarted, StepReconciled, UndoCheck, UndoStarted, UndoFinished, RollbackStarted, RollbackFinished,
    Baseline, Smoke, Gate, Decision, HoldStarted, HoldInterrupted, HumanInput, Notify, Comms,
    Sandbox, OutageInjecting, OutageInjected, OutageCleared, ProbeState, ProbeSummary, OutageConfirmed, OutageNotConfirmed,
    ServiceHealth, ServiceRecovered, CanaryStarted, CanaryState, CanaryStopped, CanaryAcknowledged, CanaryVerified, Replication, DataLoss,
    FailbackDeferred, FailbackWindow, FailoverCheck, ValidationCriterion, StepSkipped, PhaseBudget, ScorecardRecord, RestorePoint, RestoreVerified, RestoreScorecardRecord,
    Readiness, BlobRestorePoint, BlobRestoreVerified, SloCheck, LogReview, IncidentCount,
)}
"""Every entry kind there is, by its ``kind``."""


# ------------------------------------------------------------------ checking

def _field(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(data)"



def _describe(error: Any, known: str = "") -> str:
    field = _field(error["loc"])
    if error["type"] == "extra_forbidden":
        return f"unexpected field {field!r}" + (f" (the fields: {known})" if known else "")
    if error["type"] == "missing":
        return f"missing field {field!r}"
    if not error["loc"]:
        return str(error["msg"]).removeprefix("Value error, ")
    return f"field {field!r}: {error['msg']}"


def _problems(kind: str, model: type[Record], exc: ValidationError) -> str:
    known = ", ".join(model.model_fields) or "none"
    return "; ".join(_describe(error, known) for error in exc.errors(include_url=False, include_input=False))


def check(kind: str, data: dict[str, Any], *, phase: str | None = None, step: str | None = None) -> Record:
    """``data`` as its kind's model; raises :class:`JournalEntryInvalid` naming kind and field."""
    model = RECORDS.get(kind)
    if model is None:
        raise JournalEntryInvalid(f"journal entry kind {kind!r} is unknown (known kinds: {', '.join(sorted(RECORDS))})")
    missing = [name for name, value in (("phase", phase), ("step", step)) if name in model.REQUIRES and not value]
    if missing:
        raise JournalEntryInvalid(f"journal entry {kind!r}: missing {' and '.join(repr(m) for m in missing)}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise JournalEntryInvalid(f"journal entry {kind!r}: {_problems(kind, model, exc)}") from None


def parse(kind: str, data: dict[str, Any], *, phase: str | None = None, step: str | None = None) -> Record | LegacyRecord:
    """What a reader gets for an entry: its model, or a :class:`LegacyRecord` saying why not. Never raises."""
    try:
        return check(kind, data, phase=phase, step=step)
    except JournalEntryInvalid as exc:
        return LegacyRecord(kind=kind, problem=str(exc), data=data if isinstance(data, dict) else {})
