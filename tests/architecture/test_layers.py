"""The layers point down, the sandbox stands apart, and nothing imports a second top-level name.

odin-drills installs one package, ``odin_drills``; its folders are layers, and a module may import
only from its own layer or the ones below it:

    0  odin_drills (errors, home)   what everything may use
    1  odin_drills.plan             plan-file types: steps, policy, durations, ids, channels
    2  odin_drills.steps            the engine: act, observe, judge, journal, probes, azure, dr, comms
    3  odin_drills.reports          journal ▸ Markdown, HTML, charts, Prefect artifacts
    4  odin_drills.flows            the runbooks
    5  odin_drills.cli              the ``odin`` command

``odin_drills.sandbox`` (the simulated Azure and the demo service) imports nothing of the engine; only
flows and the CLI start it. Module-level imports form no cycle. A test below feeds the checker a
reverse import, so the rule is known to bite.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ROOT_PACKAGE = "odin_drills"
FOLDERS = {"odin_drills": "odin_drills", "odin_drills.steps": "steps", "odin_drills.flows": "flows",
           "odin_drills.sandbox": "sandbox", "odin_drills.drills": "drills"}
LAYERS = ["odin_drills.plan", "odin_drills.steps", "odin_drills.reports", "odin_drills.flows", "odin_drills.cli"]
SANDBOX = "odin_drills.sandbox"
MAY_START_SANDBOX = {"odin_drills.flows", "odin_drills.cli"}
FORMER_ROOTS = {"odin", "steps", "flows", "sandbox"}


@dataclass(frozen=True)
class Import:
    source: str
    target: str
    line: int
    module_level: bool


def within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def layer_of(module: str) -> int:
    for index, package in enumerate(LAYERS, start=1):
        if within(module, package):
            return index
    return 0


def group_of(module: str) -> str:
    for package in (SANDBOX, *LAYERS):
        if within(module, package):
            return package
    return ROOT_PACKAGE


def product_modules() -> Iterator[tuple[str, Path]]:
    for package, folder in FOLDERS.items():
        base = ROOT / folder
        for path in sorted(base.rglob("*.py")):
            parts = list(path.relative_to(base).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            yield ".".join([package, *parts]), path


def imports_of(module: str, source: str, is_package: bool) -> list[Import]:
    """Every import in ``source`` as absolute module names (relative ones resolved)."""
    found: list[Import] = []
    tree = ast.parse(source)
    top_level = {id(node) for node in tree.body}

    def visit(tree: ast.AST, module_level: bool) -> None:
        for node in ast.iter_child_nodes(tree):
            at_top = module_level and (id(node) in top_level or isinstance(node, (ast.If, ast.Try)))
            if isinstance(node, ast.Import):
                found.extend(Import(module, alias.name, node.lineno, at_top) for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = module.split(".") if is_package else module.split(".")[:-1]
                    base = base[: len(base) - (node.level - 1)]
                    target = ".".join([*base, *([node.module] if node.module else [])])
                else:
                    target = node.module or ""
                found.append(Import(module, target, node.lineno, at_top))
                for alias in node.names:  # ``from pkg import submodule``
                    found.append(Import(module, f"{target}.{alias.name}", node.lineno, at_top))
            visit(node, at_top and not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)))

    visit(tree, True)
    return found


def violations(imports: Iterable[Import]) -> list[str]:
    problems = []
    for imp in imports:
        top = imp.target.split(".")[0]
        if top in FORMER_ROOTS:
            problems.append(f"{imp.source}:{imp.line} imports {imp.target!r}: the one import root is {ROOT_PACKAGE}")
            continue
        if not within(imp.target, ROOT_PACKAGE):
            continue
        src, dst = group_of(imp.source), group_of(imp.target)
        if src == SANDBOX:
            if dst != SANDBOX:
                problems.append(f"{imp.source}:{imp.line} imports {imp.target}: the sandbox imports nothing of the engine")
            continue
        if dst == SANDBOX:
            if src not in MAY_START_SANDBOX:
                problems.append(f"{imp.source}:{imp.line} imports {imp.target}: only flows and the CLI start the sandbox")
            continue
        if layer_of(imp.target) > layer_of(imp.source):
            problems.append(f"{imp.source}:{imp.line} imports {imp.target}: {src} (layer {layer_of(imp.source)}) "
                            f"may not import from {dst} (layer {layer_of(imp.target)})")
    return problems


def all_imports() -> tuple[list[Import], set[str]]:
    modules = dict(product_modules())
    imports = []
    for module, path in modules.items():
        imports += imports_of(module, path.read_text(), path.name == "__init__.py")
    return imports, set(modules)


def cycles(imports: Iterable[Import], known: set[str]) -> list[list[str]]:
    graph: dict[str, set[str]] = {m: set() for m in known}
    for imp in imports:
        if imp.module_level and imp.target in known and imp.target != imp.source:
            if not within(imp.source, imp.target):  # a module importing its own package's __init__
                graph[imp.source].add(imp.target)
    found, state, stack = [], {}, []

    def dfs(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                found.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                dfs(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            dfs(node)
    return found


def test_every_import_points_down_a_layer() -> None:
    imports, known = all_imports()
    assert len(known) > 100, "the walk found the product's modules"
    assert violations(imports) == []


def test_module_level_imports_form_no_cycle() -> None:
    imports, known = all_imports()
    assert cycles(imports, known) == []


def test_tests_and_benches_use_the_one_import_root() -> None:
    problems = []
    for folder in ("tests", "bench"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            for imp in imports_of(f"_{folder}.{path.stem}", path.read_text(), False):
                if imp.target.split(".")[0] in FORMER_ROOTS:
                    problems.append(f"{path.relative_to(ROOT)}:{imp.line} imports {imp.target}")
    assert problems == []


def test_a_reverse_import_is_caught() -> None:
    """The checker is not vacuous: the engine reaching up into a runbook or the CLI fails."""
    upward = imports_of("odin_drills.steps.journal", "from odin_drills.flows.migration import migration\n", False)
    into_engine = imports_of("odin_drills.sandbox.azure.world", "from odin_drills.steps import gates\n", False)
    old_root = imports_of("odin_drills.flows.migration", "import steps.gates\n", False)
    plan_up = imports_of("odin_drills.plan.drill", "from ..steps.comms.delivery import deliver\n", False)
    found = violations(upward + into_engine + old_root + plan_up)
    assert any("odin_drills.steps (layer 2) may not import from odin_drills.flows (layer 4)" in p for p in found)
    assert any("the sandbox imports nothing of the engine" in p for p in found)
    assert any("the one import root is odin_drills" in p for p in found)
    assert any("odin_drills.plan (layer 1) may not import from odin_drills.steps (layer 2)" in p for p in found)


def test_a_cycle_is_caught() -> None:
    a = imports_of("odin_drills.plan.a", "from odin_drills.plan.b import x\n", False)
    b = imports_of("odin_drills.plan.b", "from odin_drills.plan import a\n", False)
    assert cycles(a + b, {"odin_drills.plan.a", "odin_drills.plan.b"}) != []
