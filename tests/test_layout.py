"""The package's import graph: acyclic, and every module imports only from its own stage or stages below.

Every `import` counts, at module level, inside functions and under TYPE_CHECKING alike: a lazy import
hides a cycle from Python, not from the design. The stages are the data flow of README "Layout":
vocabulary and errors -> configuration and result records -> workload graph -> models and importers ->
tiling -> schedule -> simulation -> analysis and sweeps -> reports -> command line.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import networkx as nx

PACKAGE = Path(__file__).resolve().parents[1] / "npu_des"

# Bottom to top. A module belongs to the first unit that is its name or a prefix of it; it may import
# its own unit and any unit of a lower stage, never a peer unit of its own stage or anything above.
STAGES: tuple[tuple[str, ...], ...] = (
    ("npu_des.errors", "npu_des.kinds"),
    ("npu_des.files",),
    ("npu_des.config", "npu_des.metrics"),
    ("npu_des.workload",),
    ("npu_des.models", "npu_des.importers"),
    ("npu_des.tiling",),
    ("npu_des.schedule",),
    ("npu_des.sim",),
    ("npu_des.analysis", "npu_des.sweep"),
    ("npu_des.report",),
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
    """Every import of a peer unit or of a later stage, as 'importer -> imported'."""
    wrong = []
    for importer, imported in graph.edges:
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


def test_the_package_root_imports_nothing():
    assert list(import_graph().successors("npu_des")) == []


def test_old_import_paths_still_import():
    for alias in ALIASES:
        module = importlib.import_module(alias)
        assert all(hasattr(module, name) for name in getattr(module, "__all__", ())), alias
    from npu_des.hw.systolic_array import gemm_cycles, replay  # noqa: F401
    from npu_des.sim import plan, simulate  # noqa: F401
    from npu_des.sweep import build_spec, run_sweep, split_list  # noqa: F401
    from npu_des.tiling import TileGrid, TileShape, plan_tiles  # noqa: F401
