"""Drill files: a region-failover DR drill as YAML, validated by pydantic before anything runs.

A drill file says which region is primary, where the service is reached (Front Door and each
region), which Azure resources fail over and how, how an outage is detected and decided, how
data loss is measured (the canary) and what the drill is scored against (RTO/RPO targets), and
the drill's own steps per runbook phase (``steps:``, ``odin_drills.plan.drill_steps``): DNS records,
app settings, checks, with the undo rules of a migration's steps.
Failovers that can lose data (``forced``, ``unplanned``) are refused at load unless the plan says
``allow_data_loss: true`` next to them: losing writes is a decision someone writes down.

Durations are plan time (``30s``, ``2m``, ``4h``): under a scaled clock they pass N× faster.
HTTP timeouts and the canary's write rate are wall-clock: a network round trip does not speed up.

Against the sandbox, ``endpoints`` may be left out; :meth:`DrillPlan.resolve_endpoints` fills
them from the running sandbox's ``info()``. Against Azure they are required at load.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, ValidationInfo, field_validator, model_validator

from odin_drills.errors import PlanInvalid
from odin_drills.plan.journeys import HttpMethod, MetricSourceSpec, SmokeJourney
from odin_drills.plan.loader import parse_model, read_yaml
from odin_drills.plan.models import AzureTarget, ChangeWindow, SandboxTarget
from odin_drills.plan.channels import Channel
from odin_drills.plan.drill_steps import DrillSteps
from odin_drills.plan.durations import Duration
from odin_drills.plan.secrets import SecretSource
from odin_drills.plan.policy import Policy
from odin_drills.plan.telemetry import AlertSourceSpec
from odin_drills.plan.drill_validation import Validation

_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


def _arm_id(value: str, segment: str, example: str) -> str:
    """ARM ids are compared case-insensitively (Front Door returns lower-case segments)."""
    if not value.lower().startswith("/subscriptions/") or f"/{segment.lower()}/" not in value.lower():
        raise ValueError(f"{value!r} is not an ARM id of a {segment} resource (expected {example})")
    return value


def _path(value: str) -> str:
    if not value.startswith("/"):
        raise ValueError(f"{value!r} must be a path starting with '/'")
    return value


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


# --- where the service is ------------------------------------------------------------------
class Regions(_Section):
    """Which region serves today (primary) and which takes over (secondary)."""

    primary: str = Field(min_length=1, description="e.g. eastus")
    secondary: str = Field(min_length=1, description="e.g. westus")

    @model_validator(mode="after")
    def _distinct(self) -> Regions:
        if self.primary == self.secondary:
            raise ValueError("primary and secondary must be different regions")
        return self


class Endpoints(_Section):
    """How users reach the service (Front Door) and how odin reaches each region's app directly."""

    frontdoor: HttpUrl | None = Field(default=None, description="the Front Door endpoint; sandbox: filled at run time")
    regions: dict[str, HttpUrl] = Field(default_factory=dict, description="region -> that region's app")


# --- what fails over ------------------------------------------------------------------------
class FailoverGroupSpec(_Section):
    """An Azure SQL failover group, failed over to the secondary server."""

    id: str = Field(description="ARM id of the failover group (on either server)")
    mode: Literal["planned", "forced", "try-planned"] = Field(
        default="try-planned",
        description="planned: wait for the secondary to catch up (fails while the primary is down); "
        "forced: promote the secondary now, losing unreplicated writes; try-planned: planned when "
        "both regions answer, else forced",
    )
    allow_data_loss: bool = Field(
        default=False, validate_default=True,
        description="required true for modes forced and try-planned: the plan accepts losing unreplicated writes",
    )

    @field_validator("id")
    @classmethod
    def _is_failover_group(cls, value: str) -> str:
        return _arm_id(value, "failoverGroups",
                       "/subscriptions/…/providers/Microsoft.Sql/servers/SERVER/failoverGroups/NAME")

    @field_validator("allow_data_loss")
    @classmethod
    def _data_loss_is_explicit(cls, value: bool, info: ValidationInfo) -> bool:
        mode = info.data.get("mode")
        if mode in ("forced", "try-planned") and not value:
            # try-planned falls back to forced exactly when a region is down, i.e. in a real failover
            raise ValueError(f"mode '{mode}' can lose the writes not yet replicated: set allow_data_loss: true "
                             "to accept that, or use mode planned")
        return value


class StorageAccountSpec(_Section):
    """A geo-redundant storage account, failed over to its secondary region."""

    id: str = Field(description="ARM id of the storage account")
    mode: Literal["planned", "unplanned"] = Field(
        default="planned",
        description="planned: no data loss, needs both regions; unplanned: the secondary takes over as "
        "it is (writes after the last sync time are lost; the account becomes LRS)",
    )
    allow_data_loss: bool = Field(
        default=False, validate_default=True,
        description="required true for mode unplanned: the plan accepts losing writes after the last sync",
    )

    @field_validator("id")
    @classmethod
    def _is_storage_account(cls, value: str) -> str:
        return _arm_id(value, "storageAccounts",
                       "/subscriptions/…/providers/Microsoft.Storage/storageAccounts/NAME")

    @field_validator("allow_data_loss")
    @classmethod
    def _data_loss_is_explicit(cls, value: bool, info: ValidationInfo) -> bool:
        if info.data.get("mode") == "unplanned" and not value:
            raise ValueError("mode 'unplanned' loses the writes after the last sync time: set "
                             "allow_data_loss: true to accept that, or use mode planned")
        return value


class FrontDoorSpec(_Section):
    """The Front Door origin group in front of the service and its origin per region."""

    origin_group: str = Field(description="ARM id of the origin group")
    origins: dict[str, str] = Field(default_factory=dict, description="region -> origin name in the group")

    @field_validator("origin_group")
    @classmethod
    def _is_origin_group(cls, value: str) -> str:
        return _arm_id(value, "originGroups",
                       "/subscriptions/…/providers/Microsoft.Cdn/profiles/PROFILE/originGroups/NAME")


class Resources(_Section):
    """The Azure resources the drill fails over (and back)."""

    failover_groups: list[FailoverGroupSpec] = Field(default_factory=list)
    storage_accounts: list[StorageAccountSpec] = Field(default_factory=list)
    frontdoor: FrontDoorSpec | None = None
    frontdoor_groups: list[FrontDoorSpec] = Field(
        default_factory=list,
        description="more Front Door origin groups, moved in the same traffic wave as `frontdoor` (an estate "
        "with one group per service); each names its origin for the primary and the secondary region. "
        "`frontdoor` stays the one the outage injector and the probes go through")
    max_parallel: int = Field(
        default=4, ge=1, le=16,
        description="failover actions of one wave that run at once (the data tier, then the traffic wave), all "
        "sharing one ARM write budget per subscription; an estate of hundreds of failover groups needs more than "
        "the default 4 to fit the failover budget (bench/results/drill_scale.md)")


# --- detect, decide ---------------------------------------------------------------------------
class ProbeRequest(_Section):
    """One HTTP request whose 2xx answer means "this works"."""

    method: HttpMethod = "GET"
    path: str = "/health"
    json_body: Any = Field(default=None, alias="json")

    _starts_with_slash = field_validator("path")(_path)


class Detection(_Section):
    """Continuous probes to each region and through Front Door; when an outage is real."""

    interval: Duration = Field(default=30.0, gt=0, description="plan time between probe rounds")
    confirmation: Duration = Field(
        default=120.0, description="the primary must fail every probe this long before the outage is confirmed "
        "(shorter failures are glitches)")
    threshold: Duration = Field(
        default=1800.0, description="incident mode: fail over once the outage has lasted this long")
    path: str = Field(default="/health", description="probed on each region's app")
    timeout: Duration = Field(default=5.0, gt=0, description="per probe, wall seconds")
    frontdoor_probe: ProbeRequest | None = Field(
        default=None,
        description="the request through Front Door whose success ends the RTO (default: GET `path`). "
        "Make it exercise the data path: a shallow /health answers from the secondary as soon as Front "
        "Door shifts, long before writes work again",
    )
    region_header: str = Field(
        default="x-odin-region", description="response header naming the region that served a request")
    summary_every: Duration = Field(default=300.0, gt=0, description="plan time between journaled probe summaries")

    _starts_with_slash = field_validator("path")(_path)

    def probe_through_frontdoor(self) -> ProbeRequest:
        return self.frontdoor_probe or ProbeRequest(path=self.path)


class Decision(_Section):
    """When to fail over once the outage is confirmed."""

    mode: Literal["drill", "incident"] = Field(
        default="drill", description="drill: fail over as soon as the outage is confirmed; "
        "incident: once it has lasted detection.threshold, never causing the outage and never failing back "
        "automatically (the failback is a separate run: odin rollback PLAN --drill ID --reason ... --by ...)")
    human_confirm: bool = Field(default=False, description="wait for a person to approve the failover")
    confirm_timeout: Duration = Field(
        default=600.0, description="how long to wait for that approval; shorter than targets.budgets.decision "
        "(15m), so an unanswered confirmation still leaves time to act within the runbook's decision budget")
    on_confirm_timeout: Literal["abort", "fail-over"] = Field(
        default="abort", description="what happens when nobody answers in time")
    service_health: bool = Field(
        default=True,
        description="incident mode: before failing over, ask Azure (Service Health events, Resource Health "
        "availability of the primary region's resources) whether the outage is full or partial and when it is "
        "expected to be resolved, and decide by fail_over_if_eta_beyond; false: detection.threshold alone decides. "
        "Azure unreachable: the threshold rule decides, and the journal says so")
    fail_over_if_eta_beyond: Duration | None = Field(
        default=None, gt=0,
        description="incident mode with service_health: fail over as soon as Azure's expected resolution lies "
        "more than this after the outage's start, or Azure publishes no ETA; an ETA within it waits for the "
        "region to come back (re-read every probe interval: an ETA that slips past it fails over), and an outage "
        "that outlasts detection.threshold fails over anyway. Default: detection.threshold (the handbook's DR "
        "runbook: failover to DR if the outage lasts more than 30 minutes)")
    on_worse_after_failover: Literal["escalate", "fail_back"] = Field(
        default="escalate",
        description="the DR region serves worse than the primary did before the outage (a critical journey that "
        "passed before fails through Front Door after the failover): escalate holds for a person (proceed: stay "
        "in the DR region; rollback: fail back), failing back when nobody answers within confirm_timeout; "
        "fail_back fails back at once, even when failback is otherwise off")


# --- measure, score ---------------------------------------------------------------------------
class Canary(_Section):
    """Small unique writes through Front Door during the drill, read back after the failover."""

    enabled: bool = True
    path: str = Field(default="/api/orders", description="POST target (through Front Door)")
    read_path: str = Field(default="/api/orders/{id}", description="GET to read a write back by its id")
    read_field: str | None = Field(default="order", description="where the read answer holds the payload "
                                   "(null: the whole body)")
    rate_per_second: float = Field(default=5.0, gt=0, le=200, description="writes per wall second")
    payload_bytes: int = Field(default=64, ge=8, le=65536)
    timeout: Duration = Field(default=2.0, gt=0, description="per write, wall seconds")

    _starts_with_slash = field_validator("path", "read_path")(_path)

    @field_validator("read_path")
    @classmethod
    def _has_id(cls, value: str) -> str:
        if "{id}" not in value:
            raise ValueError("read_path must contain {id}, e.g. /api/orders/{id}")
        return value


class PhaseBudgets(_Section):
    """How long each runbook phase may take (plan time), the handbook's "DR Runbook" by default:
    detection 5 min, decision 15 min, failover 30–60 min (60 here: the budget is the most the
    runbook allows, not its hope), validation 15 min. Each is a criterion of the scorecard
    (``steps.dr.budgets``); after every phase the runbook also asks whether the remaining budgets
    still fit in the RTO target, so a slow phase is escalated while there is time to act."""

    detection: Duration = Field(default=300.0, gt=0, description="outage start -> outage confirmed")
    decision: Duration = Field(default=900.0, gt=0, description="outage confirmed -> failover decided "
                               "(incident mode: the detection.threshold wait counts)")
    failover: Duration = Field(default=3600.0, gt=0, description="failover decided -> every failover action done")
    validation: Duration = Field(default=900.0, gt=0, description="failover actions done -> validation done "
                                 "(service back, smoke journeys, replication, canary read back)")


class Targets(_Section):
    """What the drill is scored against."""

    rto: Duration = Field(default=4 * 3600.0, description="outage start -> service answering through Front Door")
    rpo: Duration = Field(default=900.0, description="the span of acknowledged writes that may be lost")
    consecutive_successes: int = Field(
        default=3, ge=1, description="the service is back at the first of this many successful probes in a row")
    budgets: PhaseBudgets = Field(default_factory=PhaseBudgets, description="each runbook phase's time budget")


class Failback(_Section):
    """When the service goes home: the primary healthy for ``wait_healthy``, then (the handbook's
    "schedule failback during a low-traffic window") inside ``window`` when the plan declares one."""

    enabled: bool = True
    wait_healthy: Duration = Field(
        default=300.0, description="the old primary must answer this long before traffic goes back")
    window: ChangeWindow | None = Field(
        default=None,
        description="the low-traffic window failbacks happen in, as a migration's change_window: {start: \"02:00\", "
        "end: \"05:00\", days: [mon, ...], timezone: UTC | Europe/Berlin | +02:00}. A drill's automatic failback "
        "waits for it (up to window_wait, plan time); `odin rollback PLAN --drill ID` outside it is refused unless "
        "--force")
    window_wait: Duration = Field(
        default=86400.0, gt=0,
        description="how long a drill's automatic failback may wait for the window (plan time); a window that "
        "does not open within it: no failback, the service stays in the DR region (criterion failback_in_window)")


class ChannelSpec(Channel):
    """A stakeholder channel; ``url`` is a secret (use ``${VAR}``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Comms(_Section):
    channels: list[ChannelSpec] = Field(default_factory=list)
    minutes: list[int] = Field(default_factory=lambda: [0, 15, 60, 90],
                               description="T+N plan minutes: the first is the initial message")
    notice_before: Duration | None = Field(
        default=None, gt=0,
        description="send a test-window notice to every channel this long before the drill causes its outage, "
                    "and wait that long (plan time) before touching anything (steps.dr.notice); needs channels")

    @model_validator(mode="after")
    def _notice_has_channels(self) -> "Comms":
        if self.notice_before is not None and not self.channels:
            raise ValueError("notice_before: a test-window notice needs at least one channel in comms.channels")
        return self

    @field_validator("minutes")
    @classmethod
    def _ascending(cls, value: list[int]) -> list[int]:
        if not value or any(m < 0 for m in value) or value != sorted(set(value)):
            raise ValueError("minutes must be distinct, ascending and not negative, e.g. [0, 15, 60, 90]")
        return value


class Outage(_Section):
    """How the drill's outage begins (that moment starts the RTO clock)."""

    inject: bool = Field(
        default=True,
        description="the drill causes the outage itself: a region_outage fault in the sandbox; in Azure, "
        "taking the region's origin out of Front Door. false: wait for a real outage",
    )
    region: str | None = Field(default=None, description="the region that goes down (default: the primary)")
    kind: Literal["region", "app"] = Field(
        default="region",
        description="region: the whole region goes dark, its SQL server and storage with it (a simulated "
        "disaster: only a forced failover gets through); app: only the region's app stops serving (sandbox: "
        "an error_rate 1.0 fault; Azure: its origin out of Front Door, which is what inject does there anyway) "
        "while the data tier answers, so a planned, no-data-loss failover works (the quarterly test)")


# --- the plan ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class ResolvedEndpoints:
    """Front Door and region base URLs without trailing slashes, both regions present."""

    frontdoor: str
    regions: dict[str, str]


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:g}m" if seconds >= 60 else f"{seconds:g}s"


class DrillPlan(BaseModel):
    """One region-failover DR drill: what fails over, how it is detected, decided and scored."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="lower-case letters, digits and dashes; names the drill's history")
    description: str = ""
    environment: str = Field(description="lock name: two runs on one environment never overlap")
    kind: Literal["region-failover"] = "region-failover"
    target: SandboxTarget | AzureTarget = Field(default_factory=SandboxTarget, discriminator="kind")
    regions: Regions
    endpoints: Endpoints = Field(default_factory=Endpoints)
    resources: Resources = Field(default_factory=Resources)
    detection: Detection = Field(default_factory=Detection)
    decision: Decision = Field(default_factory=Decision)
    smoke: list[SmokeJourney] = Field(
        default_factory=list,
        description="journeys written against Front Door; also run against the DR region's app "
        "(scheme, host and port swapped)")
    canary: Canary = Field(default_factory=Canary)
    targets: Targets = Field(default_factory=Targets)
    failback: Failback = Field(default_factory=Failback)
    comms: Comms = Field(default_factory=Comms)
    outage: Outage = Field(default_factory=Outage)
    steps: DrillSteps = Field(
        default_factory=DrillSteps,
        description="the drill's own steps per runbook phase (failover, validation, failback), any step kind a "
                    "migration may use, with the same undo rules (``odin_drills.plan.drill_steps``)")
    secrets: SecretSource | None = Field(
        default=None, description="where ${secret:NAME} references in steps are looked up when a step runs")
    metrics: MetricSourceSpec | None = Field(
        default=None,
        description="the DR region's error rate and latency (a migration's metric sources: synthetic_probe at the "
                    "DR region's app or through Front Door, prometheus, azure_monitor, azure_monitor_metrics): a "
                    "baseline window in prepare, then the rollback ladder watches the DR region against it in "
                    "validate (criterion dr_region_within_baseline; odin_drills.steps.dr.validation)")
    alerts: AlertSourceSpec | None = Field(
        default=None, description="the service's alerts (alertmanager, azure_monitor_alerts): no Sev 0/1 may fire "
                                  "at the end of validation (criterion alerts_green); with metrics they feed the "
                                  "ladder's windows as in a migration")
    policy: Policy = Field(default_factory=Policy, description="the rollback ladder that judges the DR region "
                           "against its pre-failover baseline (a migration's policy:, same defaults)")
    validation: Validation = Field(default_factory=Validation,
                                   description="how long the DR region is watched and what replication lag is allowed")

    @field_validator("name", "environment")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not _SLUG.match(value):
            raise ValueError(f"{value!r} must be lower-case letters, digits and dashes (max 63)")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> DrillPlan:
        both = {self.regions.primary, self.regions.secondary}
        unknown = sorted(set(self.endpoints.regions) - both)
        if unknown:
            raise ValueError(f"endpoints.regions: {unknown} are neither the primary nor the secondary region")
        if self.resources.frontdoor is not None:
            unknown = sorted(set(self.resources.frontdoor.origins) - both)
            if unknown:
                raise ValueError(f"resources.frontdoor.origins: {unknown} are neither the primary nor the "
                                 "secondary region")
        for index, group in enumerate(self.resources.frontdoor_groups):
            if set(group.origins) != both:
                raise ValueError(f"resources.frontdoor_groups[{index}].origins: name the origin of the primary "
                                 f"and the secondary region (region -> origin name), not {sorted(group.origins)}")
        if self.outage.region is not None and self.outage.region not in both:
            raise ValueError(f"outage.region: {self.outage.region!r} is neither the primary nor the secondary region")
        budget = self.targets.budgets.decision
        if self.decision.human_confirm and self.decision.mode == "drill" and self.decision.confirm_timeout >= budget:
            raise ValueError(f"decision.confirm_timeout ({_minutes(self.decision.confirm_timeout)}) fills "
                             f"targets.budgets.decision ({_minutes(budget)}): an unanswered confirmation misses the "
                             "decision budget by construction; make the timeout shorter or the budget longer")
        watched = self.metrics is not None or "watch" in self.validation.model_fields_set  # else never run
        if watched and self.validation.watch > self.targets.budgets.validation:
            raise ValueError(f"validation.watch ({_minutes(self.validation.watch)}) is longer than "
                             f"targets.budgets.validation ({_minutes(self.targets.budgets.validation)}): the watch "
                             "alone would miss the validation budget; shorten the watch or lengthen the budget")
        names = [j.name for j in self.smoke]
        if len(set(names)) != len(names):
            raise ValueError("smoke journey names must be unique")
        problem = self.steps.problem(set(names)) or self.steps.approval_problem(
            {"failover": self.targets.budgets.failover, "validation": self.targets.budgets.validation})
        if problem:
            raise ValueError(problem)
        if self.secrets is not None and self.secrets.kind == "keyvault" and not self.secrets.vault_url \
                and isinstance(self.target, AzureTarget):
            raise ValueError("secrets.vault_url: required unless the target is the sandbox")
        if isinstance(self.target, AzureTarget):
            missing = [f"endpoints.regions.{r}" for r in (self.regions.primary, self.regions.secondary)
                       if r not in self.endpoints.regions]
            if self.endpoints.frontdoor is None:
                missing.insert(0, "endpoints.frontdoor")
            if missing:
                raise ValueError(f"an Azure target needs {', '.join(missing)}")
            if self.outage.inject and self.resources.frontdoor is None:
                raise ValueError("outage.inject on an Azure target takes the region out of Front Door: "
                                 "resources.frontdoor is required (or set outage.inject: false)")
        return self

    @property
    def eta_threshold(self) -> float:
        """Incident mode: the longest expected outage (plan seconds from its start) that does not fail over."""
        beyond = self.decision.fail_over_if_eta_beyond
        return self.detection.threshold if beyond is None else beyond

    @property
    def outage_region(self) -> str:
        return self.outage.region or self.regions.primary

    def resolve_endpoints(self, sandbox_info: Mapping[str, Any] | None = None) -> ResolvedEndpoints:
        """The plan's endpoints, with what it leaves out taken from a running sandbox's ``info()``.

        Raises :class:`PlanInvalid` naming the field when an endpoint is neither in the plan nor
        in the sandbox (or the sandbox has no such region).
        """
        sandbox = sandbox_info if isinstance(self.target, SandboxTarget) else None
        frontdoor = str(self.endpoints.frontdoor) if self.endpoints.frontdoor else None
        if frontdoor is None and sandbox is not None:
            frontdoor = sandbox.get("frontdoor_url")
        problems: list[str] = []
        if not frontdoor:
            problems.append(f"{self.name}: endpoints.frontdoor: not set in the plan"
                            + (" and no sandbox is running" if sandbox is None else ""))
        regions: dict[str, str] = {}
        for region in (self.regions.primary, self.regions.secondary):
            url = self.endpoints.regions.get(region)
            found = str(url) if url else (sandbox or {}).get("regions", {}).get(region)
            if not found:
                where = (f" and the sandbox has no region {region!r} (it has "
                         f"{sorted((sandbox or {}).get('regions', {}))})") if sandbox is not None else ""
                problems.append(f"{self.name}: endpoints.regions.{region}: not set in the plan{where}")
            else:
                regions[region] = found.rstrip("/")
        if problems:
            raise PlanInvalid(problems)
        assert frontdoor is not None
        return ResolvedEndpoints(frontdoor=frontdoor.rstrip("/"), regions=regions)


def rebase_journey(journey: SmokeJourney, base_url: str) -> SmokeJourney:
    """The journey sent to ``base_url`` instead: scheme, host and port swapped; path and query kept
    (a path in ``base_url`` is put in front of the journey's)."""
    base = urlsplit(base_url)
    own = urlsplit(str(journey.url))
    path = base.path.rstrip("/") + (own.path or "/")
    url = urlunsplit((base.scheme, base.netloc, path, own.query, own.fragment))
    return journey.model_copy(update={"url": HttpUrl(url)})


def parse_drill(data: Any, source: str = "<drill>", environ: dict[str, str] | None = None) -> DrillPlan:
    """Validate a drill file; a secret reference in ``steps:`` that could not be resolved where it
    stands (no ``secrets:`` source, a field that is never resolved) is a problem at load, as in a
    migration plan, not a failure in the middle of the failover."""
    problems = _step_reference_problems(data, source, environ)
    try:
        plan = parse_model(data, DrillPlan, source, "a drill must be a YAML mapping with name, environment, regions",
                           environ)
    except PlanInvalid as exc:
        raise PlanInvalid(problems + [line for line in exc.problems if line not in problems]) from None
    if problems:
        raise PlanInvalid(problems)
    return plan


def _step_reference_problems(data: Any, source: str, environ: dict[str, str] | None) -> list[str]:
    from odin_drills.plan.loader import expand_variables
    from odin_drills.plan.secrets import reference_problems

    if not isinstance(data, dict) or not isinstance(data.get("steps"), dict):
        return []
    try:
        expanded = expand_variables(data, environ)
    except PlanInvalid:
        return []  # parse_model reports it
    if not isinstance(expanded, dict) or not isinstance(expanded.get("steps"), dict):
        return []
    secrets = expanded.get("secrets")
    kind = secrets.get("kind") if isinstance(secrets, dict) else None
    found = reference_problems({"phases": expanded["steps"]}, secrets is not None, kind if isinstance(kind, str) else None)
    return [f"{source}: steps.{line.removeprefix('phases.')}" for line in found]


def load_drill(path: str | Path, environ: dict[str, str] | None = None) -> DrillPlan:
    """Load and validate a drill file; raises :class:`PlanInvalid` with one line per problem."""
    file, data = read_yaml(path, "drill")
    return parse_drill(data, str(file), environ)
