"""Which modules the build compiles with mypyc (setup.py reads `COMPILED_MODULES`), whether this
installation runs them compiled, and the switch back to their Python sources.

They are the modules that run once per tile task or per transfer. Compiled code must compute every
number the sources do: mypyc unboxes a `tuple[...]` (so `is` between such tuples compares copies, and
these modules compare them by value), and a Python subclass of a compiled class (the oracles' DMA
engines, tests that inject a fault) needs `mypyc_attr(allow_interpreted_subclasses=True)` on it.
NPU_DES_PURE_PYTHON=1 in the environment runs the sources even where a compiled build is installed:
to step through the engine in a debugger, profile it per function, or compare the two
(tests/sim/test_compiled_engine.py).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
from collections.abc import Sequence
from pathlib import Path

COMPILED_MODULES: tuple[str, ...] = (
    "npu_des.sim.clock",
    "npu_des.sim.executor",
    "npu_des.sim.stalls",
    "npu_des.sim.components.dram",
    "npu_des.sim.components.dma",
    "npu_des.sim.components.spm",
    "npu_des.sim.components.systolic_array",
    "npu_des.sim.components.vector_unit",
)

PURE_PYTHON_VARIABLE = "NPU_DES_PURE_PYTHON"


def pure_python_requested() -> bool:
    """Whether the environment asks for the Python sources (NPU_DES_PURE_PYTHON set, and not to 0)."""
    return os.environ.get(PURE_PYTHON_VARIABLE, "") not in ("", "0")


class _SourceFinder(importlib.abc.MetaPathFinder):
    """Finds the compiled modules' `.py` sources ahead of the extension modules beside them."""

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: object = None) -> importlib.machinery.ModuleSpec | None:
        if fullname not in COMPILED_MODULES:
            return None
        for folder in path or ():
            source = Path(folder) / (fullname.rpartition(".")[2] + ".py")
            if source.is_file():
                return importlib.util.spec_from_file_location(fullname, source)
        return None


def use_python_sources() -> None:
    """Import the compiled modules from their sources from now on (call before any is imported)."""
    if not any(isinstance(finder, _SourceFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _SourceFinder())


def choose_sources(checkout: bool) -> None:
    """The sources from now on if NPU_DES_PURE_PYTHON asks, or if this is a source `checkout` with a source
    edited after its build (an editable install's extension would otherwise silently shadow the edit)."""
    if pure_python_requested():
        use_python_sources()
        return
    stale = stale_builds() if checkout else []
    if stale:
        sys.stderr.write(f"npu-des: {stale[0]} changed after the engine was compiled; running the Python "
                         "sources (rebuild with: pip install -e .)\n")
        use_python_sources()


def stale_builds(root: Path | None = None) -> list[str]:
    """Sources (paths relative to `root`, the package's parent) modified after the extension built
    from them."""
    root = root if root is not None else Path(__file__).resolve().parent.parent
    stale = []
    for name in COMPILED_MODULES:
        source = root.joinpath(*name.split(".")).with_suffix(".py")
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            built = source.with_name(source.stem + suffix)
            if built.is_file() and source.is_file() and source.stat().st_mtime > built.stat().st_mtime:
                stale.append(str(source.relative_to(root)))
    return stale


def compiled() -> list[str]:
    """The modules of `COMPILED_MODULES` that this process runs as compiled extensions."""
    found = []
    for name in COMPILED_MODULES:
        path = getattr(importlib.import_module(name), "__file__", None) or ""
        if path.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES)):
            found.append(name)
    return found


def engine_build() -> str:
    """'compiled (mypyc)', 'pure Python', or which part is compiled: for benchmark records."""
    done = compiled()
    if len(done) == len(COMPILED_MODULES):
        return "compiled (mypyc)"
    if not done:
        return "pure Python"
    return f"partly compiled ({len(done)} of {len(COMPILED_MODULES)} modules)"
