"""Shared builders for small, hand-checkable hardware and workloads."""

from __future__ import annotations

from typing import Any

from npu_des.config import HardwareConfig, apply_overrides, hardware_from_dict

BASE_HW: dict[str, Any] = {
    "name": "test_hw",
    "clock_ghz": 1.0,
    "bytes_per_element": 2,
    "cores": {"count": 1, "array": {"rows": 4, "cols": 4, "dataflow": "os"}, "dma": {"outstanding": 4}},
    "spm": {"capacity_kb": 64, "policy": "lru"},
    "dram": {"bandwidth_gbps": 8, "latency_cycles": 10},
}


def make_hw(*overrides: str) -> HardwareConfig:
    """Test hardware from BASE_HW with `dotted.key=value` overrides."""
    return hardware_from_dict(apply_overrides(BASE_HW, list(overrides), source="test"), source="test")



def break_component(monkeypatch: Any, cls: type, method: str, replacement: Any) -> None:
    """Have the engine build `cls` with `method` replaced, to show a check catches the fault.

    The engine's classes may be compiled (mypyc), whose methods cannot be patched in place but can be
    overridden by a Python subclass; the engine builds its components in npu_des/sim/engine.py.
    """
    import npu_des.sim.engine as engine

    assert getattr(engine, cls.__name__) is cls, f"npu_des.sim.engine does not build {cls.__name__}"
    monkeypatch.setattr(engine, cls.__name__, type(f"Broken{cls.__name__}", (cls,), {method: replacement}))
