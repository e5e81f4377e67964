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

