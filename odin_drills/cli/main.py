"""The ``odin`` command line.

Fast commands (``--help``, ``validate``, ``schema``, ``gate``) import neither Prefect nor the
Azure SDKs: they answer in well under a second. Commands that run things start (or reuse) the
local Prefect server first, so every run is recorded and visible in the UI afterwards.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, NoReturn

from odin_drills.errors import EXIT_OK, EXIT_USAGE, InputInvalid, OdinError, UsageError


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, exit 2, no usage dump
        self.exit(EXIT_USAGE, f"odin: error: {message} (see `odin --help`)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="odin", description="Cloud migrations and DR drills as code, on Prefect 3.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("validate", help="check a plan file; exit 0, or 2 with one line per problem")
    p.add_argument("plan")

    p = sub.add_parser("schema", help="print the plan files' JSON Schema (for editors)")
    p.add_argument("--drill", action="store_true", help="the schema of drill files instead of migration plans")

    p = sub.add_parser("gate", help="judge one window against a baseline by the policy's judge; print the decision "
                                    "as JSON (a series of windows: odin replay)")
    p.add_argument("--baseline", required=True, help="baseline snapshot JSON file")
    p.add_argument("--current", required=True, help="current snapshot JSON file")
    p.add_argument("--policy", help="policy YAML/JSON file (defaults apply otherwise)")

    from odin_drills.cli.replay import add_parser as add_replay_parser

    add_replay_parser(sub)

    from odin_drills.cli.readiness import add_parsers as add_readiness_parsers

    add_readiness_parsers(sub)

    p = sub.add_parser("plan", help="dry run: show what each step would change, change nothing")
    p.add_argument("plan")

    p = sub.add_parser("migrate", help="run a migration plan (all phases, or one with --phase)")
    p.add_argument("plan")
    p.add_argument("--phase", choices=["t-1w", "t0", "t+1h", "t+24h"], help="run one phase only")
    p.add_argument("--time-scale", type=float, default=1.0, metavar="N", help="run the clock N times faster")
    p.add_argument("--force", action="store_true", help="run T-0 outside the plan's change window")
    p.add_argument("--wait", action="store_true", help="queue behind a run holding the environment lock")
    p.add_argument("--quiet", action="store_true", help="no live progress, only the summary")
    p.add_argument("--allow-production", action="store_true", help="required for a plan whose target is production")
    p.add_argument("--resume", action="store_true",
                   help="continue a migration after a crash: reconcile the journal with the world, then finish "
                        "its interrupted rollback or its remaining phases (skipping the steps already done)")
    p.add_argument("--migration", metavar="ID", help="the migration to continue (default: the plan's latest)")
    p.add_argument("--emergency", action="store_true",
                   help="an emergency fix: T-0 may start with the error budget exhausted (needs --reason; "
                        "journaled and reported)")
    p.add_argument("--reason", metavar="TEXT", help="with --emergency: why this change may spend an exhausted budget")
    p.add_argument("--by", metavar="NAME", help="with --emergency: who decided (default: your login name)")

    p = sub.add_parser("rollback", help="undo what a migration or a drill changed (default: the plan's latest), "
                                        "e.g. after a crash")
    p.add_argument("plan")
    p.add_argument("--reason", required=True)
    p.add_argument("--by", required=True)
    p.add_argument("--wait", action="store_true", help="queue behind a run holding the environment lock")
    p.add_argument("--migration", metavar="ID", help="the migration to undo (default: the plan's latest)")
    p.add_argument("--drill", metavar="ID", help="a drill file: the drill to undo (default: the plan's latest)")
    p.add_argument("--force", action="store_true",
                   help="a drill file: fail back outside its failback.window (journaled with --by and --reason); "
                        "without it, outside the window only the drill's own outage is ended (exit 5)")
    p.add_argument("--time-scale", type=float, default=1.0, metavar="N",
                   help="run the clock N times faster (the re-check window after the undos)")
    p.add_argument("--allow-production", action="store_true", help="required for a plan whose target is production")

    p = sub.add_parser("drill", help="run a region-failover DR drill (the quarterly DR test) and score it")
    p.add_argument("plan")
    p.add_argument("--time-scale", type=float, default=1.0, metavar="N", help="run the clock N times faster")
    p.add_argument("--json", action="store_true", help="print the scorecard as JSON on stdout")
    p.add_argument("--quiet", action="store_true", help="no live progress on stderr")
    p.add_argument("--allow-production", action="store_true", help="required for a drill whose target is production")
    p.add_argument("--wait", action="store_true", help="queue behind a run holding the environment lock")

    from odin_drills.cli.failover import add_parser as add_failover_parser

    add_failover_parser(sub)  # odin failover PLAN --incident (``cli.failover``)

    p = sub.add_parser("decide", help="end a hold: proceed or roll back, with a reason and your name")
    p.add_argument("run", help="flow run id printed when the hold started")
    p.add_argument("action", choices=["proceed", "rollback"])
    p.add_argument("--reason", required=True)
    p.add_argument("--by", required=True)

    p = sub.add_parser("server", help="the local Prefect server that records runs")
    p.add_argument("action", choices=["status", "start", "stop"])

    p = sub.add_parser("demo", help="run the demo migration against the built-in blue/green service")
    p.add_argument("--clean", action="store_true", help="green stays healthy: the migration completes")
    p.add_argument("--time-scale", type=float, default=20000.0, metavar="N")
    p.add_argument("--port", type=int, default=8710, help="the demo router's port (the plan uses it)")

    p = sub.add_parser("sandbox", help="the built-in Azure simulator for region-failover drills")
    p.add_argument("action", choices=["up"])
    p.add_argument("--state-dir", help="where to write ca.pem and sandbox.json (default: a temporary folder)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--scale", default=None, metavar="fg=N,storage=M,afd=K",
                   help="generated resources beside the fixed ones: N failover groups (fog-0001 …), M storage "
                        "accounts, K Front Door origin groups (default none)")
    p.add_argument("--arm-write-limit", default=None, metavar="WRITES/SECONDS",
                   help="ARM's per-subscription write limit, e.g. 50/1: 429 + Retry-After beyond it (default: none)")

    p = sub.add_parser("demo-target", help="serve the blue/green demo service until interrupted")
    p.add_argument("--port", type=int, default=8710)
    p.add_argument("--seed", type=int, default=7)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command is None:
        _parser().print_help()
        return 0
    from odin_drills.cli.shutdown import begin, finish  # bounded exit, even with the Prefect API gone

    begin()
    try:
        return finish(int(COMMANDS[args.command](args) or 0))
    except OdinError as exc:
        from odin_drills.plan.problems import one_line  # a newline in a YAML key must not split a problem

        for line in exc.lines():
            print(f"odin: error: {one_line(line)}", file=sys.stderr)
        return finish(exc.exit_code)
    except KeyboardInterrupt:
        print("odin: interrupted", file=sys.stderr)
        return finish(130)


# ------------------------------------------------------------------ fast commands

def _is_drill_file(path: str) -> bool:
    """Drill files say ``kind: region-failover`` or ``kind: restore``; everything else is a migration plan."""
    import re

    try:
        with open(path, "rb") as handle:  # bounded: the loader refuses bigger files, with a message
            text = handle.read(4 * 1024 * 1024).decode("utf-8-sig")
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return re.search(r"^(kind:\s*[\"']?(region-failover|restore)|regions:)", text, re.MULTILINE) is not None


def cmd_validate(args: argparse.Namespace) -> int:
    if _is_drill_file(args.plan):
        from odin_drills.cli.restore_drill import is_restore_drill
        from odin_drills.plan.drill import load_drill

        if is_restore_drill(args.plan):
            from odin_drills.plan.restore_drill import load_restore_drill

            restore = load_restore_drill(args.plan)
            print(f"{args.plan}: ok (restore drill {restore.name}, environment {restore.environment}, "
                  f"targets RTO {restore.targets.rto:g} s, RPO {restore.targets.rpo:g} s)")
            return 0
        drill = load_drill(args.plan)
        print(f"{args.plan}: ok (drill {drill.name}, environment {drill.environment}, "
              f"{drill.regions.primary} -> {drill.regions.secondary})")
        return 0
    from odin_drills.plan import load_plan

    plan = load_plan(args.plan)
    steps = sum(len(plan.phases.steps(p)) for p in ("t-1w", "t0", "t+1h", "t+24h"))
    observe = ", observe only" if plan.observe_only else ""
    print(f"{args.plan}: ok ({plan.name}, environment {plan.environment}, {steps} steps, {len(plan.smoke)} smoke journeys"
          f"{observe})")
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    if args.drill:
        from odin_drills.plan.drill import DrillPlan as model
    else:
        from odin_drills.plan import Plan as model

    schema = model.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "odin-drills " + ("region-failover drill" if args.drill else "migration plan")
    print(json.dumps(schema, indent=2))
    return 0


def _read_structured(path: str, what: str) -> Any:
    import yaml

    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputInvalid(f"{path}: cannot read {what} ({exc.strerror or exc.__class__.__name__})") from None
    try:
        from odin_drills.plan.loader import PlanLoader

        return json.loads(text) if file.suffix == ".json" else yaml.load(text, Loader=PlanLoader)  # noqa: S506
    except (json.JSONDecodeError, yaml.YAMLError, ValueError, TypeError, KeyError, AttributeError,
            RecursionError) as exc:  # a tagged value its type cannot hold (!!float x) is bad input too
        first = (str(exc).splitlines() or [exc.__class__.__name__])[0]
        raise InputInvalid(f"{path}: {what} is not valid {'JSON' if file.suffix == '.json' else 'YAML'}: {first}") from None


def _validated(model: Any, data: Any, path: str, what: str) -> Any:
    from pydantic import ValidationError

    from odin_drills.plan.loader import describe_errors

    try:
        return model.model_validate(data)
    except ValidationError as exc:
        lines = describe_errors(exc, path)
        err = InputInvalid(lines[0])
        err.lines = lambda: lines  # type: ignore[method-assign]
        raise err from None


def cmd_gate(args: argparse.Namespace) -> int:
    from odin_drills.plan.policy import Policy
    from odin_drills.steps.snapshot import Snapshot

    baseline = _validated(Snapshot, _read_structured(args.baseline, "baseline snapshot"), args.baseline, "baseline")
    current = _validated(Snapshot, _read_structured(args.current, "current snapshot"), args.current, "current")
    policy = Policy()
    if args.policy:
        data = _read_structured(args.policy, "policy")
        if isinstance(data, dict) and "policy" in data and len(data) == 1:
            data = data["policy"]
        policy = _validated(Policy, data or {}, args.policy, "policy")
    if baseline.requests == 0:
        raise InputInvalid(f"{args.baseline}: requests: a baseline with no requests cannot be judged against")
    from odin_drills.steps.judge import judge_one_window

    print(json.dumps(judge_one_window(baseline, current, policy).model_dump(mode="json"), indent=2))
    return 0


# ------------------------------------------------------------------ commands that run things

def _use_server() -> str:
    from odin_drills.cli import server

    url = server.ensure()
    server.use(url)
    return url


def cmd_plan(args: argparse.Namespace) -> int:
    from odin_drills.plan import load_plan
    from odin_drills.plan.models import PHASES
    from odin_drills.steps.actions import describe_action

    plan = load_plan(args.plan)
    if any(getattr(step, "kind", "").startswith("azure.") for phase in PHASES for step in plan.phases.steps(phase)):
        if plan.target.kind == "local":
            raise UsageError(f"{args.plan}: target: Azure steps need target kind 'sandbox' or 'azure'")
    print(f"plan {plan.name} on environment {plan.environment} (dry run: nothing is changed)"
          + ("; observe only: no step changes anything" if plan.observe_only else ""))
    for phase in PHASES:
        steps = plan.phases.steps(phase)
        builtin = {"t-1w": "capture baseline, run smoke journeys, check every undo",
                   "t0": "take the environment lock, then each step followed by smoke + gate",
                   "t+1h": "smoke journeys + gate over the validation window; SLO check and log review",
                   "t+24h": "gate over the final window; incident count; complete or roll back"}[phase]
        print(f"{phase}: {builtin}")
        if phase == "t0":
            for line in _people_lines(plan.people):
                print(f"  - {line}")
        for step in steps:
            undo = "" if not step.changes_world else (
                f"  [undo: {step.undo_reason}]" if step.undo == "none" else f"  [undo: {describe_action(step.undo)}]")
            # Azure steps read the live state to say what they would change; nothing is changed.
            print(f"  - {step.label}: {describe_action(step, plan.target)}{undo}")
    from odin_drills.steps.adequacy import plan_lines

    for line in plan_lines(plan):  # can each gate see a 2x error breach at the probe's traffic?
        print(line)
    return 0


def _people_lines(people: Any) -> list[str]:
    """T-0's people items as ``odin plan`` lists them (``steps.people``), before the first step."""
    from odin_drills.plan.durations import human_duration

    lines = []
    if people.on_call_confirmation is not None:
        spec = people.on_call_confirmation
        lines.append(f"on-call confirmation: {spec.who} within {human_duration(spec.timeout)} (unconfirmed: "
                     + ("T-0 is refused)" if spec.required else "T-0 starts, noted)"))
    if people.stakeholder_notice is not None:
        lines.append("stakeholder notice: " + ", ".join(c.name for c in people.stakeholder_notice.channels))
    return lines


def require_opt_in(plan: Any, allow_production: bool, source: str) -> None:
    """A production target runs only when the command line says so, never by default (checked
    here before any server starts, and again inside the flow, which gets the flag as its
    ``allow_production`` parameter)."""
    from odin_drills.plan.safety import require_production_opt_in

    require_production_opt_in(plan, allow_production, source, "pass --allow-production")


def cmd_migrate(args: argparse.Namespace) -> int:
    from odin_drills.plan import load_plan

    plan = load_plan(args.plan)  # fail fast, before any server starts
    require_opt_in(plan, args.allow_production, args.plan)
    if args.time_scale <= 0:
        raise UsageError("--time-scale must be positive")
    emergency = _emergency(plan, args)  # the flow checks it again, for every entry point
    url = _use_server()
    from odin_drills.cli.progress import print_entry
    import odin_drills.flows.migration as migration_flow

    from odin_drills.cli.embedded import embedded_sandbox

    if not args.quiet:
        print(f"odin: recording in Prefect at {url.removesuffix('/api')}", file=sys.stderr)
        migration_flow.LISTENERS.append(print_entry)
    from odin_drills.cli.signals import graceful_stop

    with graceful_stop(f"`odin migrate {args.plan} --resume` goes on, `odin rollback {args.plan} --reason ... --by ...` "
                       "undoes", first="stopping after the step in flight, or now if waiting on a hold (it stays "
                       "undecided; a rollback grace rolls back now); no new step starts"), embedded_sandbox(plan.target):
        summary = migration_flow.run_migration(
            plan_file=str(args.plan), phase=args.phase, time_scale=args.time_scale, force=args.force, wait=args.wait,
            allow_production=args.allow_production, migration=args.migration, resume=args.resume,
            emergency=emergency is not None, emergency_reason=emergency and emergency.reason,
            emergency_by=emergency and emergency.by,
        )
    if summary.outcome == "refused":
        for line in summary.detail.splitlines():
            print(f"odin: error: {line}", file=sys.stderr)
        return summary.exit_code
    if summary.outcome == "interrupted":  # where it stopped and how to resume or roll back
        print(f"odin: {summary.detail}", file=sys.stderr)
    print(f"{summary.outcome}: report {summary.report}")
    return summary.exit_code


def _emergency(plan: Any, args: argparse.Namespace) -> Any:
    """``--emergency --reason TEXT [--by NAME]`` as the flow's override (``flows.entry.emergency_override``);
    who decided defaults to the login name, so a person typing the command is on record."""
    from odin_drills.flows.entry import emergency_override

    by = args.by
    if args.emergency and not by:
        import getpass

        by = getpass.getuser()
    return emergency_override(plan, args.emergency, args.reason, by, names=("--emergency", "--reason", "--by"))


def cmd_rollback(args: argparse.Namespace) -> int:
    """Undo a migration from its journal under the environment lock, re-check the service, and exit
    with what that says: 3 rolled back and healthy, 4 still degraded (``odin_drills.outcomes``).
    A drill file goes to ``odin_drills.cli.drill_rollback`` (a drill left behind by a crash)."""
    if _is_drill_file(args.plan):
        from odin_drills.cli.drill_rollback import cmd_drill_rollback

        return cmd_drill_rollback(args)
    if args.drill:
        raise UsageError(f"{args.plan}: --drill names a drill, and this is a migration plan: use --migration ID")
    if args.force:
        raise UsageError(f"{args.plan}: --force overrides a drill's failback.window; a migration's rollback has none")
    from odin_drills.plan import load_plan

    plan = load_plan(args.plan)
    require_opt_in(plan, args.allow_production, args.plan)
    if args.time_scale <= 0:
        raise UsageError("--time-scale must be positive")
    _use_server()
    from odin_drills.cli.embedded import embedded_sandbox
    from odin_drills.cli.progress import print_entry
    import odin_drills.flows.migration as migration_flow
    from odin_drills.flows.migration_rollback import nothing_to_undo, run_rollback
    from odin_drills.steps.identity import verified_identity
    from odin_drills.steps.journal import read_journal

    migration, folder = migration_flow.open_migration(plan, "t0", args.migration)
    if nothing_to_undo(read_journal(folder / "journal.jsonl")):
        from odin_drills.steps.clock import RealClock
        from odin_drills.steps.journal import Journal
        from odin_drills.steps.lock import free

        if free(plan.environment, migration):  # abandoned before it changed anything: the environment is free
            Journal(folder / "journal.jsonl", RealClock()).append(
                "lock", action="freed", environment=plan.environment, migration=migration, plan=plan.name)
        print(f"migration {migration}: nothing to undo")
        return EXIT_OK
    migration_flow.LISTENERS.append(print_entry)
    from odin_drills.cli.signals import graceful_stop

    with graceful_stop(f"`odin rollback {args.plan} --migration {migration} --reason ... --by ...` finishes it",
                       first="the rollback runs to its end (stopped half-way it would leave the world half undone)"), \
            embedded_sandbox(plan.target):
        summary = run_rollback(plan_file=str(args.plan), reason=args.reason, by=args.by,
                               verified_as=verified_identity(), migration=migration, wait=args.wait,
                               allow_production=args.allow_production, time_scale=args.time_scale)
    if summary.outcome == "refused":
        for line in summary.detail.splitlines():
            print(f"odin: error: {line}", file=sys.stderr)
        return summary.exit_code
    from odin_drills.outcomes import describe

    print(f"migration {migration}: {describe(summary.outcome)} (exit {summary.exit_code}): {summary.detail}; "
          f"report {summary.report}")
    return summary.exit_code


def cmd_drill(args: argparse.Namespace) -> int:
    from odin_drills.cli.drill import run_drill

    return run_drill(args.plan, args.time_scale, args.json, args.allow_production, quiet=args.quiet, wait=args.wait)


def cmd_decide(args: argparse.Namespace) -> int:
    _use_server()
    from odin_drills.flows.human import decide

    try:
        verified = decide(args.run, args.action, args.reason, args.by)
    except Exception as exc:
        raise UsageError(f"run {args.run}: cannot decide ({exc})") from None
    print(f"run {args.run}: {args.action} by {args.by} (verified as {verified})")
    return 0


def cmd_server(args: argparse.Namespace) -> int:
    from odin_drills.cli import server

    if args.action == "stop":
        print("stopped" if server.stop() else "not running")
        return 0
    if args.action == "start":
        url = server.ensure()
        print(f"running at {url.removesuffix('/api')} (UI), API {url}")
        return 0
    state, info = server.status()
    if state == "external":
        import os

        print(f"external: PREFECT_API_URL={os.environ['PREFECT_API_URL']}")
    elif info and state != "stopped":
        print(f"{state}: {info.url.removesuffix('/api')} (pid {info.pid}, log {info.log})")
    else:
        print("stopped")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from odin_drills.cli.demo import run_demo

    return run_demo(clean=args.clean, time_scale=args.time_scale, port=args.port)


def cmd_sandbox(args: argparse.Namespace) -> int:
    from odin_drills.sandbox.azure import serve
    from odin_drills.sandbox.azure.arm_throttle import parse_write_limit
    from odin_drills.sandbox.azure.scale import parse_scale

    try:
        scale, limit = parse_scale(args.scale), parse_write_limit(args.arm_write_limit)
    except ValueError as exc:
        raise UsageError(f"odin sandbox up: {exc}") from None
    return serve(state_dir=args.state_dir, seed=args.seed, scale=scale, arm_write_limit=limit)


def cmd_demo_target(args: argparse.Namespace) -> int:
    from odin_drills.sandbox.bluegreen import serve

    serve(port=args.port, seed=args.seed)
    return 0


COMMANDS = {
    "validate": cmd_validate,
    "schema": cmd_schema,
    "gate": cmd_gate,
    "replay": lambda args: __import__("odin_drills.cli.replay", fromlist=["cmd_replay"]).cmd_replay(args),
    "readiness": lambda args: __import__("odin_drills.cli.readiness", fromlist=["cmd_readiness"]).cmd_readiness(args),
    "attest": lambda args: __import__("odin_drills.cli.readiness", fromlist=["cmd_attest"]).cmd_attest(args),
    "plan": cmd_plan,
    "migrate": cmd_migrate,
    "drill": cmd_drill,
    "failover": lambda args: __import__("odin_drills.cli.failover", fromlist=["cmd_failover"]).cmd_failover(args),
    "rollback": cmd_rollback,
    "decide": cmd_decide,
    "server": cmd_server,
    "demo": cmd_demo,
    "demo-target": cmd_demo_target,
    "sandbox": cmd_sandbox,
}

if __name__ == "__main__":
    sys.exit(main())
