"""The package's import graph: acyclic, and every module imports only from its own stage or stages below.

Every `import` counts, at module level, inside functions and under TYPE_CHECKING alike: a lazy import
hides a cycle from Python, not from the design. The stages are the data flow of README "Layout":
vocabulary and errors -> configuration and result records -> workload graph -> models and importers ->
tiling -> schedule -> simulation -> analysis -> sweeps -> reports -> command line.
"""

from __future__ import annotations

import ast
import importlib
import os
import subprocess
import sys
from pathlib import Path

import networkx as nx

PACKAGE = Path(__file__).resolve().parents[1] / "npu_des"

# Bottom to top. A module belongs to the first unit that is its name or a prefix of it; it may import
# its own unit and any unit of a lower stage, never a peer unit of its own stage or anything above.
STAGES: tuple[tuple[str, ...], ...] = (
    ("npu_des.errors", "npu_des.kinds", "npu_des.compiled"),
    ("npu_des.files",),
    ("npu_des.config", "npu_des.metrics"),
    ("npu_des.workload",),
    ("npu_des.models", "npu_des.importers"),
    ("npu_des.tiling",),
    ("npu_des.schedule",),
    ("npu_des.sim",),
    ("npu_des.analysis",),
    ("npu_des.sweep",),  # a sweep point prices its energy with analysis
    ("npu_des.report",),
    ("npu_des.api",),
    ("npu_des.commands",),
    ("npu_des.cli",),
    ("npu_des.__main__",),
)
# Old import paths that re-export a moved module belong to the unit they re-export.
ALIASES = {
    "npu_des.sparsity": "npu_des.tiling",
    "npu_des.planner": "npu_des.schedule",
    "npu_des.hw": "npu_des.sim",
    "npu_des.executor": "npu_des.sim",
    "npu_des.autotune": "npu_des.sim",
    "npu_des.checks": "npu_des.analysis",
    "npu_des.oracle": "npu_des.analysis",
    "npu_des.bench": "npu_des.analysis",
    "npu_des.sweep_table": "npu_des.sweep",
    "npu_des.sweep_progress": "npu_des.sweep",
    "npu_des.sweep_variants": "npu_des.sweep",
}


def module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(root: Path = PACKAGE) -> nx.DiGraph:
    """Modules of the package as nodes; an edge for every import of another module of the package."""
    modules = {module_name(path, root): path for path in sorted(root.rglob("*.py"))}
    graph = nx.DiGraph()
    graph.add_nodes_from(modules)
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [
                    f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in modules else node.module
                    for alias in node.names
                ]
            for target in targets:
                if target in modules and target != name:
                    graph.add_edge(name, target)
    return graph


def stage_of(module: str) -> tuple[int, str]:
    """(stage index, unit) of a module, or (-1, '') for the package root."""
    for alias, unit in ALIASES.items():
        if module == alias or module.startswith(alias + "."):
            module = unit
    for index, units in enumerate(STAGES):
        for unit in units:
            if module == unit or module.startswith(unit + "."):
                return index, unit
    return -1, ""


def upward_imports(graph: nx.DiGraph) -> list[str]:
    """Every import of a peer unit or of a later stage, as 'importer -> imported'. The package root is
    above every stage: it re-exports the public API, lazily (see the root test below)."""
    wrong = []
    for importer, imported in graph.edges:
        if importer == "npu_des":
            continue
        (stage, unit), (target_stage, target_unit) = stage_of(importer), stage_of(imported)
        if unit != target_unit and target_stage >= stage:
            wrong.append(f"{importer} -> {imported}")
    return sorted(wrong)


def test_import_graph_has_no_cycles():
    cycles = list(nx.simple_cycles(import_graph()))
    assert cycles == [], "\n".join(" -> ".join(cycle) for cycle in cycles)


def test_every_module_sits_in_a_stage():
    assert [module for module in import_graph() if module != "npu_des" and stage_of(module)[0] < 0] == []


def test_modules_import_only_downward():
    assert upward_imports(import_graph()) == []


def test_the_package_root_imports_nothing_at_import_time():
    """The root re-exports the public API lazily (PEP 562 `__getattr__`, names listed in EXPORTS): its
    only imports are under TYPE_CHECKING or inside functions, and importing it loads no other module
    (but the compiled-build check in a source checkout)."""
    tree = ast.parse((PACKAGE / "__init__.py").read_text())
    for statement in tree.body:
        if isinstance(statement, (ast.Import, ast.ImportFrom)):
            assert getattr(statement, "module", None) in ("__future__", "typing"), ast.unparse(statement)
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, npu_des; print(sorted(m for m in sys.modules if 'npu_des.' in m))",
        ],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(PACKAGE.parent)},
    ).stdout.strip()
    assert loaded in ("[]", "['npu_des.compiled']")  # in a checkout: the stale-build check


def test_lazy_exports_resolve_to_their_modules():
    import npu_des

    for name, module in npu_des.EXPORTS.items():
        assert getattr(npu_des, name) is getattr(importlib.import_module(module), name), name
    assert set(npu_des.EXPORTS) <= set(dir(npu_des))
    assert sorted(npu_des.__all__) == sorted(["__version__", *npu_des.EXPORTS])


def test_old_import_paths_still_import():
    for alias in ALIASES:
        module = importlib.import_module(alias)
        assert all(hasattr(module, name) for name in getattr(module, "__all__", ())), alias
    from npu_des.hw.systolic_array import gemm_cycles, replay  # noqa: F401
    from npu_des.sim import plan, simulate  # noqa: F401
    from npu_des.sweep import build_spec, run_sweep, split_list  # noqa: F401
    from npu_des.tiling import TileGrid, TileShape, plan_tiles  # noqa: F401
