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


def mutated(text: str, edits: list[tuple[str, int, str]]) -> str:
    """`text` after each (kind, position, noise) edit: insert, replace or delete at the position modulo the
    length, duplicate_line (the line there goes again at the end), truncate (anything else): the
    fuzzers' shared mutator for importer inputs."""
    for kind, position, noise in edits:
        at = position % (len(text) + 1)
        if kind == "insert":
            text = text[:at] + noise + text[at:]
        elif kind == "replace":
            text = text[:at] + noise + text[at + 1:]
        elif kind == "delete":
            text = text[:at] + text[at + len(noise):]
        elif kind == "duplicate_line":
            lines = text.splitlines(keepends=True) or [""]
            text = "".join(lines + lines[at % len(lines):at % len(lines) + 1])
        else:
            text = text[:at]
    return text
