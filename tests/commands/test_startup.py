"""Start-up: a command imports what it needs and no more (plotting, tables, pandas, importers, the simulator
only where used), so `npu-des --help` and a small run start fast. Checked on sys.modules, not on a clock."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("matplotlib", "pandas", "sklearn", "numpy", "networkx", "pydantic", "simpy", "rich", "onnx", "dask",
         "npu_des.importers", "npu_des.models", "npu_des.report.gantt", "npu_des.sweep", "npu_des.analysis")


def modules_after(argv: list[str]) -> set[str]:
    """Top-level packages (and npu_des subpackages) imported by `npu-des ARGV`, in a fresh interpreter."""
    script = ("import contextlib, io, json, sys\nfrom npu_des.cli import main\n"
              "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
              f"    main({argv!r})\n"
              "print(json.dumps(sorted(sys.modules)))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    return set(json.loads(done.stdout.splitlines()[-1]))


def loaded(modules: set[str], name: str) -> bool:
    return any(module == name or module.startswith(name + ".") for module in modules)


@pytest.mark.slow
def test_help_imports_no_simulator_plotting_or_validation_library():
    modules = modules_after(["--help"])
    assert [name for name in HEAVY if loaded(modules, name)] == []


# What `run` adds to every result (npu_des/analysis/explain.py: bounds and energy) and nothing else of
# the analysis stage (invariant checks, oracle, bench)
EXPLAIN = {f"npu_des.analysis.{name}" for name in ("explain", "bounds", "counts", "energy", "replay")}


@pytest.mark.slow
def test_small_run_imports_no_plotting_dataframes_importers_sweeps_or_checks():
    modules = modules_after(["run", "--model", "tiny_cnn"])
    assert loaded(modules, "simpy") and loaded(modules, "npu_des.sim")  # it did simulate
    assert "npu_des.analysis.explain" in modules  # bounds and energy for the table
    # numpy is the tiler's (npu_des/tiling/shapes.py scores every candidate shape at once); SCALE-Sim's
    # memory model loads only for run.memory_model=scalesim
    unexpected = ("matplotlib", "pandas", "sklearn", "onnx", "dask", "npu_des.importers",
                  "npu_des.sim.scalesim_run", "npu_des.sim.scalesim_memory", "npu_des.report.gantt",
                  "npu_des.report.saved", "npu_des.sweep")
    assert [name for name in unexpected if loaded(modules, name)] == []
    analysis = {name for name in modules if name.startswith("npu_des.analysis.")}
    assert analysis - EXPLAIN == set()


@pytest.mark.slow
def test_a_run_imports_only_the_zoo_model_it_builds():
    modules = modules_after(["run", "--model", "tiny_cnn", "--pass", "backward", "--order", "sequential"])
    assert {name for name in modules if name.startswith("npu_des.models.")} == {"npu_des.models.tiny"}


def test_an_unknown_model_lists_every_name_without_importing_a_model_module():
    from npu_des.models import BUILDERS

    script = ("import sys\nfrom npu_des.models import build_model\ntry:\n    build_model('nope')\n"
              "except Exception as error:\n    print(error)\n"
              "print(sorted(m for m in sys.modules if m.startswith('npu_des.models.') or m == 'networkx'))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    message, loaded_modules = done.stdout.splitlines()
    assert "unknown model 'nope'" in message
    assert all(name in message for name in BUILDERS)
    assert loaded_modules == "[]"
