"""The restore drill's engine: write canaries, restore to a point, verify the copy, score, delete it.

    run_restore(ctx)     the whole drill on an open journal, in order (never leaves the copy behind):
      write              canary rows through the service for ``restore.warm_up`` (plan time); each
                         acknowledgement carries the service's commit time (``acknowledged_at``)
      restore            the point = the request moment minus ``point_before_request``; the
                         ``azure.sql.restore`` step runs write-ahead (``steps.intent``): its intent
                         and undo (delete the copy, only if tagged with this drill's id) are fsynced
                         before the PUT, so a crash is undone by ``odin rollback`` (reconcile, then
                         the pending undo) — the copy is never orphaned
      verify             every acknowledged canary read back from the copy: a row committed by the
                         point must be there with its payload (else *lost* or *corrupted*); a row
                         committed after it must not (else *extra*: the copy is not the point's)
      delete             the pending undo: the copy deleted (journaled like every undo)
      score              RTO (request → copy online, plan time) and RPO (the point − the oldest lost
                         row's commit, plan time) against the targets, and the checklist

With ``blob_restore`` the storage account is a second store (``steps.dr.blob_restore``): canary
blobs during ``write``, the drill's blob range restored in place and read back at the start of
``restore`` (before the SQL copy is requested), restored back in ``delete``, scored per store
(``RestoreScorecard.stores()``; the top-level numbers stay the SQL store's). Both stores are sorted
by one rule, ``restore_verify.classify``.

Times: Azure, the service and this process share the wall clock (``time.time``), so the point and
commit times are compared there; spans are turned into plan time with the drill's clock.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import httpx
from pydantic import TypeAdapter

from odin_drills.plan.restore_drill import RestoreDrillPlan
from odin_drills.plan.steps import Step
from odin_drills.steps import intent as wal
from odin_drills.steps.dr.canary import CanaryWriter
from odin_drills.steps.dr.failover import undo_entry
from odin_drills.steps.dr.blob_restore import (
    BlobOutcome,
    StoreScore,
    label_of,
    restore_blobs,
    score_blobs,
    start_blob_canaries,
)
from odin_drills.steps.dr.restore_verify import RestoreNumbers, StoreWords, Verification, classify, store_criteria
from odin_drills.steps.dr.scorecard import Criterion
from odin_drills.steps.journal import Journal

STEPS = TypeAdapter(Step)
PHASES = ("write", "restore", "verify", "delete", "score")
"""With ``blob_restore`` the blob range is restored and verified inside ``restore`` before the SQL
copy is requested (``steps.dr.blob_restore``); its restore-back runs in ``delete``."""
CRITERIA = ("restore_within_rto", "data_loss_within_rpo", "restored_data_verified", "restored_copy_deleted")
SQL_WORDS = StoreWords(prefix="", undone_name="restored_copy_deleted", restore="restore", online="copy online",
                       one="row", many="rows", verb="committed", later="committed after the point present",
                       undone_yes="the restored copy was deleted",
                       undone_no="the restored copy is still there: run `odin rollback` on this drill file")


@dataclass
class RestoreContext:
    """Everything the drill needs, resolved: the plan, where the service and Azure are, the clock."""

    plan: RestoreDrillPlan
    drill_id: str
    journal: Journal
    clock: Any
    target: Any
    service_url: str
    source_database: str
    client: httpx.Client
    storage_account: str = ""

    @property
    def server(self) -> str:
        return self.source_database.rstrip("/").split("/databases/")[0].rsplit("/", 1)[-1]

    @property
    def database(self) -> str:
        return self.source_database.rstrip("/").rsplit("/", 1)[-1]

    @property
    def restored_name(self) -> str:
        name = self.plan.restore.restored_name.replace("{database}", self.database).replace("{drill}", self.drill_id)
        return name.lower()[:128]

    def plan_seconds(self, wall_seconds: float) -> float:
        """Wall seconds as plan time on this drill's clock."""
        return wall_seconds / self.clock.wall_seconds(1.0)


class RestoreScorecard(RestoreNumbers):
    """A restore drill's numbers (its SQL store's, at the top level as before blobs) and checklist (plan time)."""

    plan: str
    drill_id: str
    scored_at: datetime
    source_database: str
    restored_database: str
    copy_deleted: bool
    criteria: dict[str, Criterion]
    blob: StoreScore | None = None

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.criteria.values())

    def stores(self) -> list[StoreScore]:
        """Every store restored, scored on its own targets: the SQL copy (the top-level numbers), then blobs."""
        sql = StoreScore(store="sql", resource=self.source_database, restored=self.restored_database,
                         undone=self.copy_deleted, **{k: getattr(self, k) for k in RestoreNumbers.model_fields})
        return [sql] + ([self.blob] if self.blob is not None else [])

    def to_json(self, report: str) -> dict[str, Any]:
        """The ``odin drill --json`` output of a restore drill."""
        return {"kind": "restore", "rto_seconds": self.rto_seconds, "rto_target_seconds": self.rto_target_seconds,
                "rpo_seconds": self.rpo_seconds, "rpo_target_seconds": self.rpo_target_seconds,
                "canary_writes": self.canary_writes, "expected_writes": self.expected_writes,
                "lost_writes": self.lost_writes, "extra_writes": self.extra_writes,
                "corrupted_writes": self.corrupted_writes, "restored_database": self.restored_database,
                "restore_point": self.restore_point.isoformat() if self.restore_point else None,
                "copy_deleted": self.copy_deleted,
                "stores": {s.store: s.model_dump(mode="json", exclude={"store"}) for s in self.stores()},
                "criteria": {name: c.passed for name, c in self.criteria.items()}, "report": report}

    def to_report(self) -> dict[str, Any]:
        """For ``odin_drills.reports.html.render_html(scorecard=...)``: the numbers, then each criterion's evidence."""
        fields = self.to_json("")
        del fields["report"], fields["kind"], fields["stores"]
        if self.blob is not None:
            fields.update({f"blob {k}": v for k, v in self.blob.model_dump(mode="json", exclude={"store"}).items()})
        fields.update({f"{name} (evidence)": c.evidence for name, c in self.criteria.items()})
        return fields


@dataclass
class RestoreResult:
    card: RestoreScorecard
    verification: Verification | None
    detail: str


def restore_step(ctx: RestoreContext, point: datetime) -> Any:
    """The write-ahead ``azure.sql.restore`` step; its tags let only this drill's undo delete the copy."""
    return STEPS.validate_python({
        "kind": "azure.sql.restore", "name": f"restore {ctx.restored_name}",
        "source_database": ctx.source_database, "database": ctx.restored_name, "restore_point": point.isoformat(),
        "tags": {"odin-drill": ctx.drill_id, "odin-plan": ctx.plan.name},
        "timeout": ctx.clock.wall_seconds(ctx.plan.restore.timeout) + 30.0})


def write_canaries(ctx: RestoreContext) -> CanaryWriter:
    c = ctx.plan.canary
    writer = CanaryWriter(ctx.service_url + c.path, ctx.clock, c.rate_per_second, ctx.journal, read_path="/{id}",
                          read_field=c.read_field, payload_bytes=c.payload_bytes, timeout=c.timeout, phase="write",
                          client=ctx.client)
    return writer.start()


def verify_copy(ctx: RestoreContext, writer: CanaryWriter, point: datetime) -> Verification:
    """Read every acknowledged canary back from the copy and sort it (``restore_verify.classify``)."""
    c = ctx.plan.canary
    fill = {"server": ctx.server, "database": ctx.restored_name}
    reader = writer.http_reader(ctx.service_url, ctx.client)
    acked = writer.acknowledged()
    found = classify(acked, lambda write_id: reader(_read_id(write_id, c.read_path, fill)), point,
                     writer._attempted - len(acked), ctx.plan_seconds)  # noqa: SLF001
    if c.list_path:
        try:
            answer = ctx.client.get(ctx.service_url + c.list_path.format(**fill), timeout=c.timeout)
            if answer.status_code == 200:
                found.copy_rows = len(answer.json().get("ids") or [])
        except (httpx.HTTPError, ValueError, AttributeError):
            found.copy_rows = None
    ctx.journal.append("restore_verified", phase="verify", database=ctx.restored_name, **found.counts(),
                       restored_through=found.restored_through, copy_rows=found.copy_rows)
    return found


def _read_id(write_id: str, read_path: str, fill: dict[str, str]) -> str:
    """The reader takes an id and puts it into the writer's ``/{id}``: hand it the whole path."""
    return read_path.format(id=write_id, **fill).lstrip("/")


def delete_copies(ctx: RestoreContext, phase: str = "delete") -> list[tuple[str, bool]]:
    """Every pending undo of this drill (the restored copy), newest first; never raises."""
    done = []
    for entry in wal.pending_undos(ctx.journal.entries()):
        label = entry.step or "restore"
        ok = undo_entry(ctx.journal, entry, label, phase, client=ctx.client, clock=ctx.clock, target=ctx.target,
                        retry_wait=5.0)
        done.append((label, ok))
    return done


def run_restore(ctx: RestoreContext) -> RestoreResult:
    """The drill, start to end; the copy is deleted (and the blob range restored back) whatever
    happens after either restore was requested. With ``blob_restore`` its canaries run during the
    warm-up too, and the blob range is restored first (its writer stops at its request)."""
    plan = ctx.plan
    point: datetime | None = None
    verification: Verification | None = None
    blobs: BlobOutcome | None = None
    rto: float | None = None
    details: list[str] = []
    writer = write_canaries(ctx)
    blob_writer = start_blob_canaries(ctx)
    try:
        ctx.clock.sleep(plan.restore.warm_up)
        if not writer.acknowledged():
            details.append("no canary write was acknowledged during the warm-up: the service does not take writes")
        if blob_writer is not None:
            blobs = restore_blobs(ctx, blob_writer)
            details.append(blobs.detail)
        request_wall = time.time()
        point = datetime.fromtimestamp(request_wall - ctx.clock.wall_seconds(plan.restore.point_before_request),
                                       timezone.utc)
        ctx.journal.append("restore_point", phase="restore", point=point, requested_at=ctx.clock.now(),
                           point_before_request_seconds=plan.restore.point_before_request,
                           source_database=ctx.source_database, restored_database=ctx.restored_name)
        step = restore_step(ctx, point)
        outcome = wal.execute(ctx.journal, step, phase="restore", label=step.name, migration=ctx.drill_id,
                              client=ctx.client, clock=ctx.clock, target=ctx.target,
                              progress=lambda message, **data: ctx.journal.append("note", phase="restore", message=message))
        writer.stop()
        if outcome.status == "ok":
            out = outcome.output
            rto = round(ctx.plan_seconds(out["online_at_epoch"] - out["requested_at_epoch"]), 3)
            verification = verify_copy(ctx, writer, point)
        else:
            details.append(f"the restore failed: {outcome.detail}")
    finally:
        writer.close()
        if blob_writer is not None:
            blob_writer.close()
        deleted = delete_copies(ctx)
    pending = {e.step for e in wal.pending_undos(ctx.journal.entries())}
    blob_label = label_of(ctx) if blob_writer is not None else None

    def undone(of_blob: bool) -> bool:
        mine = [ok for label, ok in deleted if (label == blob_label) == of_blob]
        return all(mine) and not any((label == blob_label) == of_blob for label in pending)

    card = score(ctx, point, rto, verification, undone(False))
    if blob_writer is not None:
        card.blob, blob_criteria = score_blobs(ctx, blobs, undone(True))
        card.criteria.update(blob_criteria)
    ctx.journal.append("restore_scorecard", phase="score", **card.model_dump(mode="json"))
    return RestoreResult(card=card, verification=verification, detail="; ".join(d for d in details if d))


def score(ctx: RestoreContext, point: datetime | None, rto: float | None, v: Verification | None,
          copy_deleted: bool) -> RestoreScorecard:
    targets = ctx.plan.targets
    v = v or Verification()
    rpo = v.rpo_seconds
    criteria = store_criteria(SQL_WORDS, v, rto, targets, copy_deleted)
    return RestoreScorecard(
        plan=ctx.plan.name, drill_id=ctx.drill_id, scored_at=ctx.clock.now(), source_database=ctx.source_database,
        restored_database=ctx.restored_name, restore_point=point, rto_seconds=rto, rto_target_seconds=targets.rto,
        rpo_seconds=rpo, rpo_target_seconds=targets.rpo, canary_writes=v.acknowledged, expected_writes=v.expected,
        lost_writes=len(v.lost), extra_writes=len(v.extra), corrupted_writes=len(v.corrupted),
        unreadable_writes=len(v.unreadable), copy_deleted=copy_deleted, criteria=criteria)
