"""``odin readiness PLAN`` and ``odin attest PLAN ITEM --by NAME --evidence URL``.

``readiness`` reviews the plan's operational readiness now (``odin_drills.steps.readiness``) and
prints every checklist item: met (with odin's evidence), attested (by whom, with theirs) or unmet.
Exit 0 when no item the plan marks ``blocking`` is unmet, 2 otherwise, with one line per blocking
item naming it and the ``odin attest`` command that would record it. It changes nothing and needs
no Prefect server: it is the review a person reads before the change, and the same review T-1w
journals and T-0 repeats for the blocking items.

``attest`` records a named person's statement that an item is done, with evidence (a URL or a
sentence), in the plan's migration state (``odin_drills.steps.attestations``).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from odin_drills.errors import InputInvalid

MARK = {"met": "[met]     ", "attested": "[attested]", "unmet": "[unmet]   "}


def add_parsers(sub: Any) -> None:
    p = sub.add_parser("readiness", help="the operational readiness review: each checklist item met (with evidence), "
                                         "attested (by whom) or unmet; exit 2 while a blocking item is unmet")
    p.add_argument("plan")
    p.add_argument("--json", action="store_true", help="print the review as JSON on stdout")

    p = sub.add_parser("attest", help="record that a readiness item is done: who says so, and the evidence")
    p.add_argument("plan")
    p.add_argument("item", help="a checklist item id, e.g. observability.alerts (odin readiness PLAN lists them)")
    p.add_argument("--by", required=True, help="your name: who vouches for the item")
    p.add_argument("--evidence", required=True, help="a URL or a sentence a reviewer can check")


def cmd_readiness(args: argparse.Namespace) -> int:
    import httpx

    from odin_drills.plan import load_plan
    from odin_drills.steps.readiness import Inputs, ReadinessBlocked, blocking_lines, review

    plan = load_plan(args.plan)
    with httpx.Client() as client:
        result = review(Inputs(plan, client))
    if args.json:
        print(json.dumps({"plan": plan.name, **result.counts(), "blocking_unmet": [i.id for i in result.blocking_unmet()],
                          "items": [i.model_dump(mode="json") for i in result.items]}, indent=2))
    else:
        area = None
        for item in result.items:
            if item.area != area:
                area = item.area
                print(f"{area}:")
            who = f" by {item.by} at {item.at:%Y-%m-%d %H:%M} UTC" if item.by and item.at else ""
            flag = " (blocking)" if item.blocking else ""
            print(f"  {MARK[item.status]} {item.id}{flag}: {item.text}{who} — {item.evidence}")
        counts = result.counts()
        print(f"readiness of {plan.name}: {counts['met']} met, {counts['attested']} attested, {counts['unmet']} unmet; "
              f"{len(result.blocking_unmet())} blocking unmet")
    lines = blocking_lines(result, args.plan)
    if lines:
        raise ReadinessBlocked(lines)
    return 0


def cmd_attest(args: argparse.Namespace) -> int:
    from odin_drills.plan import load_plan
    from odin_drills.plan.readiness import ITEM_IDS, unknown_item
    from odin_drills.steps.attestations import attestations_file, record_attestation

    plan = load_plan(args.plan)
    if args.item not in ITEM_IDS:
        raise InputInvalid(f"{args.plan}: {unknown_item(args.item)}")
    if not args.by.strip():
        raise InputInvalid("--by: say who vouches for the item (a name)")
    if not args.evidence.strip():
        raise InputInvalid("--evidence: give a URL or a sentence a reviewer can check")
    record = record_attestation(plan.name, args.item, by=args.by, evidence=args.evidence)
    print(f"{args.item} ({ITEM_IDS[args.item].text}) attested by {record.by} at {record.at:%Y-%m-%d %H:%M:%S} UTC: "
          f"{record.evidence} (recorded in {attestations_file(plan.name)})")
    return 0
