"""azure.dns.records: the runbook's promises for DNS record sets, checked at the name server.

Real parts only: the azure-mgmt-dns client over HTTPS to the sandbox, the write-ahead journal, and
real UDP questions to the sandbox's DNS responder. Plan time is the test's ManualClock: the
propagation deadline passes without waiting for it in real time.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from dnslib import QTYPE, DNSRecord

from odin_drills.steps.actions import parse_undo
from odin_drills.steps.azure import describe_azure_step
from odin_drills.steps.intent import execute, pending_undos
from odin_drills.steps.journal import Journal
from odin_drills.steps.rollback import undo_completed

Drill = Any  # tests/azure/conftest.py: the drill fixture
ZONE = "odin-demo.example"
EAST, WEST = "app-eastus.odin-demo.example", "app-westus.odin-demo.example"


def dns_step(drill: Drill, **fields: Any) -> Any:
    spec = {"kind": "azure.dns.records", "name": "app-dns", "zone": ZONE, "resource_group": drill.rg,
            "record_set": "app", "type": "CNAME", "targets": [WEST], **fields}
    return drill.step(spec)


def answers(drill: Drill, name: str = f"app.{ZONE}", qtype: str = "CNAME") -> list[str]:
    """What the sandbox's name server answers, over real UDP."""
    host, port = drill.info["dns_server"].split(":")
    reply = DNSRecord.parse(DNSRecord.question(name, qtype).send(host, int(port), timeout=2))
    return sorted(str(rr.rdata).rstrip(".") for rr in reply.rr if rr.rtype == getattr(QTYPE, qtype))


def in_arm(drill: Drill, name: str = "app", record_type: str = "CNAME") -> Any:
    """The record set as the sandbox's world holds it (None: there is none)."""
    zone = drill.sb.world.dns_zone(ZONE)
    return zone.record_sets.get((name, record_type))


def execute_step(drill: Drill, journal: Journal, step: Any) -> Any:
    # progress goes to the journal as a run sends it, so a field the note model refuses fails here
    return execute(journal, step, phase="t0", label=step.name, migration="m1", client=httpx.Client(),
                   clock=drill.clock, target=drill.session,
                   progress=lambda message, **data: journal.append("note", phase="t0", step=step.name,
                                                                   message=message, **data))


def test_moving_app_journals_the_old_cname_before_the_put_then_waits_for_the_name_server(drill: Drill,
                                                                                       tmp_path: Path):
    journal = Journal(tmp_path / "journal.jsonl", drill.clock)
    seen_at_intent: list[tuple[Any, list[str]]] = []
    journal.subscribe(lambda e: seen_at_intent.append((in_arm(drill).values, answers(drill)))
                      if e.kind == "step_intent" else None)
    outcome = execute_step(drill, journal, dns_step(drill))
    assert outcome.status == "ok", outcome.detail
    assert seen_at_intent == [((EAST,), [EAST])]  # the intent was on disk before the PUT
    intent = journal.entries("step_intent")[0].data
    assert intent["prior"]["targets"] == [EAST] and intent["prior"]["ttl"] == 60
    assert intent["undo"] == {"kind": "azure.dns.records", "name": "undo app-dns",
                              "zone": drill.id["dns_zones"][0], "record_set": "app", "type": "CNAME",
                              "targets": [EAST], "ttl": 60, "timeout": 300.0}
    assert answers(drill) == [WEST]
    assert outcome.output["name_servers"] == {drill.info["dns_server"]: [WEST]}
    assert outcome.detail == f"set CNAME app.{ZONE} to {WEST}; the name servers answered it after 0 s"

    result = undo_completed(journal, client=httpx.Client(), clock=drill.clock, target=drill.session,
                            backoff_seconds=0)
    assert result.all_undone
    assert in_arm(drill).values == (EAST,) and answers(drill) == [EAST]  # resolvers get the old host again
    assert pending_undos(journal.entries()) == []


def test_a_second_run_changes_nothing_but_still_asks_the_name_server(drill: Drill):
    step = dns_step(drill, undo="auto")
    assert drill.run(step).status == "ok"
    etag = in_arm(drill).etag
    again = drill.run(step)
    assert again.status == "noop" and again.undo is None, again.detail
    assert in_arm(drill).etag == etag  # no PUT
    assert again.output["name_servers"] == {drill.info["dns_server"]: [WEST]}
    assert again.detail == f"azure.dns.records app.{ZONE} CNAME: already {WEST}; the name servers answer it"


def test_a_new_a_record_set_is_undone_by_deleting_it(drill: Drill):
    step = dns_step(drill, record_set="api", type="A", targets=["10.0.0.2", "10.0.0.1"], ttl=30)
    assert describe_azure_step(step, drill.session) == (
        f"would set A api.{ZONE} to 10.0.0.2, 10.0.0.1, TTL 30 (now: no such record set)")
    outcome = drill.run(step)
    assert outcome.status == "ok", outcome.detail
    assert answers(drill, f"api.{ZONE}", "A") == ["10.0.0.1", "10.0.0.2"]
    assert outcome.undo["delete"] is True and "targets" not in outcome.undo

    back = drill.undo(outcome)
    assert back.status == "ok", back.detail
    assert in_arm(drill, "api", "A") is None and answers(drill, f"api.{ZONE}", "A") == []


def test_changing_only_the_ttl_is_a_change_and_its_undo_restores_the_ttl(drill: Drill):
    outcome = drill.run(dns_step(drill, targets=[EAST], ttl=300))
    assert outcome.status == "ok", outcome.detail
    assert in_arm(drill).ttl == 300 and outcome.undo["ttl"] == 60
    assert drill.undo(outcome).status == "ok" and in_arm(drill).ttl == 60


def test_a_name_server_that_keeps_the_old_answer_fails_at_the_deadline_and_the_change_is_put_back(drill: Drill,
                                                                                                  tmp_path: Path):
    drill.sb.faults.add({"kind": "dns_stale", "zone": ZONE})  # the change never propagates
    journal = Journal(tmp_path / "journal.jsonl", drill.clock)
    started = drill.clock.now()
    outcome = execute_step(drill, journal, dns_step(drill, ttl=20))
    assert outcome.status == "failed"
    assert outcome.detail == (f"azure.dns.records app.{ZONE} CNAME: not propagated after 40 s: "
                              f"{drill.info['dns_server']} still answers {EAST}; "
                              f"restored the previous record set ({EAST}, TTL 60)")
    assert "\n" not in outcome.detail
    assert drill.clock.now() - started >= timedelta(seconds=40)  # max(2 × 20 s, 30 s) of plan time
    assert outcome.output["error"]["code"] == "DnsNotPropagated"
    assert outcome.output["propagated_after_seconds"] is None
    assert journal.entries("step_intent")[0].data["undo"]["targets"] == [EAST]  # journaled before the PUT
    assert in_arm(drill).values == (EAST,) and in_arm(drill).ttl == 60  # a failed step leaves no change
    assert pending_undos(journal.entries()) == []


def test_a_failed_step_whose_restore_failed_too_keeps_its_undo_for_the_rollback(drill: Drill, tmp_path: Path):
    """A change nobody would undo is the one outcome a failed step must not have: when putting the
    old record back fails as well, the journal keeps the undo and the rollback runs it."""
    drill.sb.faults.add({"kind": "dns_stale", "zone": ZONE})
    journal = Journal(tmp_path / "journal.jsonl", drill.clock)

    def after_the_put(message: str, **data: Any) -> None:  # ARM refuses every write from now on
        journal.append("note", phase="t0", step="app-dns", message=message, **data)
        drill.sb.faults.add({"kind": "arm_error", "status": 409, "count": 50, "method": "PUT",
                             "path_contains": "/dnsZones/"})

    outcome = execute(journal, dns_step(drill), phase="t0", label="app-dns", migration="m1", client=httpx.Client(),
                      clock=drill.clock, target=drill.session, progress=after_the_put)
    assert outcome.status == "failed" and "restoring the previous record set failed too" in outcome.detail
    assert outcome.output["left_changed"] is True and outcome.undo["targets"] == [EAST]
    assert in_arm(drill).values == (WEST,)  # the change is still in the world
    pending = pending_undos(journal.entries())
    assert [e.step for e in pending] == ["app-dns"]
    drill.sb.faults.clear()
    result = undo_completed(journal, client=httpx.Client(), clock=drill.clock, target=drill.session, backoff_seconds=0)
    assert result.all_undone
    assert in_arm(drill).values == (EAST,) and answers(drill) == [EAST]
    assert pending_undos(journal.entries()) == []


def test_an_undo_restoring_a_long_ttl_waits_at_most_ten_minutes(drill: Drill):
    drill.sb.faults.add({"kind": "dns_stale", "zone": ZONE})
    started = drill.clock.now()
    outcome = drill.run(dns_step(drill, ttl=86400))
    assert outcome.status == "failed" and "not propagated after 600 s" in outcome.detail
    assert timedelta(seconds=600) <= drill.clock.now() - started < timedelta(seconds=603)


def test_the_deadline_is_at_least_30_seconds_of_plan_time(drill: Drill):
    drill.sb.faults.add({"kind": "dns_stale", "zone": ZONE})
    started = drill.clock.now()
    outcome = drill.run(dns_step(drill, ttl=1))
    assert outcome.status == "failed" and "not propagated after 30 s" in outcome.detail
    assert timedelta(seconds=30) <= drill.clock.now() - started < timedelta(seconds=33)


def test_a_plan_without_ttl_waits_two_minutes_for_a_name_server_that_answers_late(drill: Drill):
    drill.sb.faults.add({"kind": "dns_stale", "zone": ZONE})
    outcome = drill.run(dns_step(drill))  # ttl 60 by default: deadline 120 s
    assert outcome.status == "failed" and "not propagated after 120 s" in outcome.detail


def test_a_cname_over_an_existing_a_record_set_fails_with_azures_error_and_changes_nothing(drill: Drill):
    outcome = drill.run(dns_step(drill, record_set="app-westus"))
    assert outcome.status == "failed"
    assert outcome.detail.startswith(f"azure.dns.records app-westus.{ZONE}: Conflict: ")
    assert in_arm(drill, "app-westus", "CNAME") is None and in_arm(drill, "app-westus", "A").values == ("127.0.0.1",)


@pytest.mark.parametrize("spec, message", [
    ({"type": "A", "targets": ["app-westus"]}, "targets: 'app-westus' is not an IPv4 address"),
    ({"targets": [WEST, EAST]}, "targets: a CNAME record set has exactly one host name, not 2"),
    ({"ttl": 0}, "ttl"),
    ({"ttl": 86401}, "ttl"),
    ({"zone": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Cdn/profiles/p"},
     "is not a Microsoft.Network/dnsZones id"),
])
def test_bad_input_is_refused_with_one_line_naming_the_field(drill: Drill, spec: dict[str, Any], message: str):
    from pydantic import ValidationError

    with pytest.raises(ValidationError) as raised:
        dns_step(drill, **spec)
    (error,) = raised.value.errors()
    text = f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}"
    assert message in text and "\n" not in text


def test_the_undo_spec_parses_back_into_an_undo_step(drill: Drill):
    outcome = drill.run(dns_step(drill))
    undo = parse_undo(outcome.undo)
    assert undo.is_undo and undo.targets == [EAST] and undo.ref().zone == ZONE


def plan_with(*steps: dict[str, Any]) -> dict[str, Any]:
    return {"name": "dns-move", "environment": "sandbox", "target": {"kind": "sandbox"}, "service": {"name": "shop"},
            "metrics": {"kind": "synthetic_probe", "url": "http://127.0.0.1:9/api", "rate_per_second": 5},
            "phases": {"t0": list(steps)}}


def test_in_a_migration_phase_it_declares_its_undo_automatically_and_bad_input_is_one_line():
    from odin_drills.errors import PlanInvalid
    from odin_drills.plan.loader import parse_plan
    from odin_drills.steps.actions import describe_action

    step = {"kind": "azure.dns.records", "zone": ZONE, "resource_group": "rg-odin-drills", "record_set": "app",
            "type": "CNAME", "targets": [WEST]}
    loaded = parse_plan(plan_with(step, {**step, "name": "again", "undo": "auto"}), "drill.yaml")
    assert [s.undo for s in loaded.phases.t0] == [None, None] and all(s.changes_world for s in loaded.phases.t0)
    assert describe_action(loaded.phases.t0[0]) == f"would set CNAME app.{ZONE} to {WEST}, TTL 60"
    with pytest.raises(PlanInvalid) as caught:
        parse_plan(plan_with({**step, "type": "A"}, {**step, "ttl": 0}), "drill.yaml")
    assert caught.value.problems == [
        f"drill.yaml: phases.t0[0]: targets: '{WEST}' is not an IPv4 address",
        "drill.yaml: phases.t0[1].ttl: Input should be greater than or equal to 1"]


def test_an_alias_record_set_is_refused_not_rewritten_into_static_records() -> None:
    """An alias (the apex pointing at a Front Door) reads as "no targets": rewriting it and undoing
    by delete would take the name away. The step refuses it before any change."""
    from azure.mgmt.dns.models import RecordSet, SubResource

    from odin_drills.errors import OdinError
    from odin_drills.steps.azure.dns_records import _view

    alias = RecordSet(ttl=60, target_resource=SubResource(id="/subscriptions/s/resourceGroups/rg/providers/"
                                                             "Microsoft.Cdn/profiles/p/afdEndpoints/e"))
    with pytest.raises(OdinError) as caught:
        _view(alias, "A")
    assert "an alias record set (pointing at /subscriptions/s/" in caught.value.message
    assert "odin does not rewrite alias records" in caught.value.message
    plain = RecordSet(ttl=60, cname_record=None, a_records=None)
    assert _view(plain, "A")["targets"] == []


def test_before_a_change_the_zone_an_undo_writes_must_answer(drill: Drill) -> None:
    from odin_drills.steps.azure import azure_follow, azure_reachability_problem

    assert azure_reachability_problem(dns_step(drill), drill.session) is None
    drill.sb.faults.add({"kind": "arm_error", "status": 503, "count": 50, "method": "GET", "path_contains": "/dnsZones/"})
    problem = azure_reachability_problem(dns_step(drill), drill.session)
    drill.sb.faults.clear()
    assert problem is not None and "azure.dns.records odin-demo.example: ServiceUnavailable" in problem, problem
    # a zone that does not exist is not "a name with no record set yet"
    missing = azure_reachability_problem(dns_step(drill, zone="nowhere.example"), drill.session)
    assert missing is not None and "nowhere.example" in missing and "\n" not in missing, missing
    # record set changes are not long-running: there is never an operation to follow
    assert azure_follow(dns_step(drill), drill.session, operation="put", continuation_token="t") is None
