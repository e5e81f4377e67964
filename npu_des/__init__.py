"""npu-des: a discrete-event NPU simulator for DNN training (SPM/DRAM traffic, backward-pass orders).

The public API (docs/api.md) is re-exported here lazily: `import npu_des` loads nothing else (the CLI
starts fast and tests/test_layout.py keeps the package root free of import-time dependencies); the
first use of a name such as `npu_des.simulate` imports the module that defines it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"


def _pure_python_switch() -> None:
    """Run the engine's Python sources instead of its compiled build when NPU_DES_PURE_PYTHON asks, or when a
    source in this checkout was edited after its build (compiled.py decides; this only avoids importing
    it where neither can apply)."""
    import os

    checkout = os.path.exists(os.path.join(os.path.dirname(os.path.dirname(__file__)), "setup.py"))
    if checkout or "NPU_DES_PURE_PYTHON" in os.environ:
        from npu_des.compiled import choose_sources

        choose_sources(checkout)


_pure_python_switch()

# public name -> defining module
EXPORTS = {
    "simulate": "npu_des.api",
    "Simulation": "npu_des.api",
    "load_workload": "npu_des.api",
    "load_hardware": "npu_des.config",
    "run_options": "npu_des.config",
    "HardwareConfig": "npu_des.config",
    "RunOptions": "npu_des.config",
    "ConfigError": "npu_des.errors",
    "RunResult": "npu_des.metrics",
    "TimelineEvent": "npu_des.metrics",
    "build_model": "npu_des.models",
    "model_names": "npu_des.models",
    "load_onnx": "npu_des.importers",
    "load_topology": "npu_des.importers",
    "load_scalesim_config": "npu_des.importers",
}

__all__ = [  # the names of EXPORTS, spelled out for linters (a test checks the two agree)
    "ConfigError",
    "HardwareConfig",
    "RunOptions",
    "RunResult",
    "Simulation",
    "TimelineEvent",
    "__version__",
    "build_model",
    "load_hardware",
    "load_onnx",
    "load_scalesim_config",
    "load_topology",
    "load_workload",
    "model_names",
    "run_options",
    "simulate",
]

if TYPE_CHECKING:  # for type checkers and IDEs only; never runs
    from npu_des.api import Simulation, load_workload, simulate
    from npu_des.config import HardwareConfig, RunOptions, load_hardware, run_options
    from npu_des.errors import ConfigError
    from npu_des.importers import load_onnx, load_scalesim_config, load_topology
    from npu_des.metrics import RunResult, TimelineEvent
    from npu_des.models import build_model, model_names


def __getattr__(name: str) -> Any:
    """Import a public name's module on first use (PEP 562)."""
    if name not in EXPORTS:
        raise AttributeError(f"module 'npu_des' has no attribute '{name}'")
    import importlib

    value = getattr(importlib.import_module(EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *EXPORTS])
