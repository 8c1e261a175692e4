"""The restore drill's storage store: canary blobs, the drill's range restored in place, verified.

    BlobCanaryWriter       canary blobs ``{container}/{drill}/{seq}`` PUT through the service at a
                           fixed rate; each acknowledgement carries the service's commit time
    restore_blobs(ctx, w)  stop the writer (Azure blocks a range's reads and writes while it is
                           restored, so writing on would only fail), choose the point (the request
                           minus ``blob_restore.point_before_request``), run the write-ahead
                           ``azure.storage.blob.restore`` step over the drill's range only (its intent
                           and undo — the range restored to the moment before the request, as it was
                           — are fsynced before the POST), then read every canary blob back
    score_blobs(...)       the store's RTO (request → restore complete), RPO (the point minus the
                           oldest lost blob's commit) and its four criteria

The restore-back itself runs with the drill's other undos (``restore.delete_copies``), so a crash is
undone by ``odin rollback`` like the SQL copy's delete.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import httpx
from pydantic import TypeAdapter

from odin_drills.plan.azure_steps import BlobRange
from odin_drills.plan.restore_drill import BlobRestoreSpec
from odin_drills.plan.steps import Step
from odin_drills.steps import intent as wal
from odin_drills.steps.dr.canary import CanaryWriter, canonical
from odin_drills.steps.dr.restore_verify import RestoreNumbers, StoreWords, Verification, classify, store_criteria
from odin_drills.steps.dr.scorecard import Criterion

if TYPE_CHECKING:
    from odin_drills.steps.dr.restore import RestoreContext

STEPS = TypeAdapter(Step)
CRITERIA = ("blob_restore_within_rto", "blob_data_loss_within_rpo", "blob_restored_data_verified",
            "blob_range_restored_back")
BLOB_WORDS = StoreWords(prefix="blob_", undone_name="blob_range_restored_back", restore="blob restore",
                        online="restore complete", one="blob", many="blobs", verb="acknowledged", later="written after the point still there",
                        undone_yes="the drill's blob range was restored back to the moment before the restore",
                        undone_no="the drill's blob range is still restored: run `odin rollback` on this drill file")


class StoreScore(RestoreNumbers):
    """One store's restore, scored on its own targets (plan time): which store, what was restored
    (a copy's name, or the range restored in place), and whether it was undone (deleted, restored back)."""

    store: str
    resource: str
    restored: str
    undone: bool


class BlobCanaryWriter(CanaryWriter):
    """``CanaryWriter`` that PUTs each canary as its own blob (the name is its id for the read-back)."""

    def __init__(self, service_url: str, spec: BlobRestoreSpec, prefix: str, clock: Any, journal: Any, *,
                 payload_bytes: int, timeout: float, client: httpx.Client) -> None:
        super().__init__(service_url + spec.write_path, clock, spec.rate_per_second, journal,
                         read_path=spec.write_path.replace("{name}", "{id}"), read_field=None, id_field="name",
                         payload_bytes=payload_bytes, timeout=timeout, phase="write", client=client)
        self.prefix = prefix

    def _send(self, seq: int, payload: Any) -> httpx.Response:
        return self._client.put(self.url.format(name=f"{self.prefix}{seq:06d}"), content=canonical(payload),
                                headers={"content-type": "application/json"}, timeout=self.timeout)


@dataclass
class BlobOutcome:
    point: datetime | None
    rto: float | None
    verification: Verification | None
    label: str
    detail: str = ""


def prefix_of(ctx: RestoreContext) -> str:
    assert ctx.plan.blob_restore is not None
    return f"{ctx.plan.blob_restore.container}/{ctx.drill_id}/"


def label_of(ctx: RestoreContext) -> str:
    return f"restore blobs {prefix_of(ctx)}"


def start_blob_canaries(ctx: RestoreContext) -> BlobCanaryWriter | None:
    spec = ctx.plan.blob_restore
    if spec is None:
        return None
    writer = BlobCanaryWriter(ctx.service_url, spec, prefix_of(ctx), ctx.clock, ctx.journal,
                              payload_bytes=ctx.plan.canary.payload_bytes, timeout=ctx.plan.canary.timeout,
                              client=ctx.client)
    writer.start()
    return writer


def blob_step(ctx: RestoreContext, point: datetime) -> Any:
    """The write-ahead step: only the drill's own prefix, never anything else in the account."""
    spec = ctx.plan.blob_restore
    assert spec is not None
    return STEPS.validate_python({
        "kind": "azure.storage.blob.restore", "name": label_of(ctx), "account": ctx.storage_account,
        "ranges": [BlobRange.of_prefix(prefix_of(ctx)).model_dump()], "restore_point": point.isoformat(),
        "timeout": ctx.clock.wall_seconds(spec.timeout) + 30.0})


def restore_blobs(ctx: RestoreContext, writer: BlobCanaryWriter) -> BlobOutcome:
    """Stop the writer, restore the range to the point, read the canaries back (see the module doc)."""
    spec = ctx.plan.blob_restore
    assert spec is not None
    writer.stop()
    request_wall = time.time()
    point = datetime.fromtimestamp(request_wall - ctx.clock.wall_seconds(spec.point_before_request), timezone.utc)
    step = blob_step(ctx, point)
    ctx.journal.append("blob_restore_point", phase="restore", point=point, requested_at=ctx.clock.now(),
                       point_before_request_seconds=spec.point_before_request, account=ctx.storage_account,
                       ranges=[[r.start, r.end] for r in step.ranges])
    outcome = wal.execute(ctx.journal, step, phase="restore", label=step.name, migration=ctx.drill_id,
                          client=ctx.client, clock=ctx.clock, target=ctx.target,
                          progress=lambda message, **data: ctx.journal.append("note", phase="restore", message=message))
    if outcome.status != "ok":
        return BlobOutcome(point=point, rto=None, verification=None, label=step.name,
                           detail=f"the blob restore failed: {outcome.detail}")
    out = outcome.output
    rto = round(ctx.plan_seconds(out["completed_at_epoch"] - out["requested_at_epoch"]), 3)
    acked = writer.acknowledged()
    found = classify(acked, writer.http_reader(ctx.service_url, ctx.client), point,
                     writer._attempted - len(acked), ctx.plan_seconds)  # noqa: SLF001
    ctx.journal.append("blob_restore_verified", phase="verify", account=ctx.storage_account, **found.counts())
    return BlobOutcome(point=point, rto=rto, verification=found, label=step.name)


def score_blobs(ctx: RestoreContext, outcome: BlobOutcome | None, undone: bool) -> tuple[StoreScore, dict[str, Criterion]]:
    """The blob store's numbers and its four criteria (against ``blob_restore.targets``)."""
    spec = ctx.plan.blob_restore
    assert spec is not None
    v = (outcome.verification if outcome else None) or Verification()
    rto, rpo, targets = (outcome.rto if outcome else None), v.rpo_seconds, spec.targets
    criteria = store_criteria(BLOB_WORDS, v, rto, targets, undone)
    span = BlobRange.of_prefix(prefix_of(ctx))
    score = StoreScore(
        store="blob", resource=ctx.storage_account, restored=f"in place: [{span.start}, {span.end})",
        restore_point=outcome.point if outcome else None,
        rto_seconds=rto, rto_target_seconds=targets.rto, rpo_seconds=rpo, rpo_target_seconds=targets.rpo,
        canary_writes=v.acknowledged, expected_writes=v.expected, lost_writes=len(v.lost), extra_writes=len(v.extra),
        corrupted_writes=len(v.corrupted), unreadable_writes=len(v.unreadable), undone=undone)
    return score, criteria
