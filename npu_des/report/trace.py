"""Chrome trace-event JSON of a run, for Perfetto UI (ui.perfetto.dev) or chrome://tracing.

One process per core (threads: systolic array, vector unit, DMA engine, stalls: one slice per stall
with its reason, from `core{i}.stall` timeline events), one for the DRAM channel, one for the
SPM (occupancy as a counter track). Timestamps are µs as the format requires, rounded to whole ns
so that back-to-back events stay exactly back to back. A unit whose events overlap (a DMA engine
with several transfers in flight) gets one thread per concurrently busy slot, because trace viewers
only nest slices on a thread and would mangle overlapping ones.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from npu_des.kinds import Direction
from npu_des.metrics import CORE_UNIT, TimelineEvent
from npu_des.report.saved import SavedRun

UNIT_NAMES = {"array": "systolic array", "vector": "vector unit", "dma": "DMA engine", "stall": "stalls"}
UNIT_TID_BASE = {"array": 100, "vector": 150, "dma": 200, "stall": 300}   # slot k of a unit: tid base + k
CATEGORIES = {"dma": "dma", "stall": "stall"}  # a core unit's slice category; others are compute
NS_PER_US = 1000.0


def event_name(event: TimelineEvent) -> str:
    """What a slice shows: `dW conv2`, `load dY conv2`, `DRAM busy`."""
    if event.resource == "dram":
        return "DRAM busy"
    if event.resource.endswith(".stall"):
        return f"stall: {event.kind} {event.layer}".rstrip()
    if event.direction:
        action = "load" if event.direction == Direction.READ else "store"
        return f"{action} {event.kind} {event.layer}".rstrip()
    return f"{event.kind} {event.layer}".rstrip()


def _slots(starts_ns: np.ndarray, ends_ns: np.ndarray) -> np.ndarray:
    """Greedy interval partitioning: the lowest slot free at each start, so slices on a slot never overlap."""
    slot_ends: list[int] = []
    slots = np.empty(starts_ns.size, dtype=np.int64)
    for index in np.argsort(starts_ns, kind="stable"):
        start = starts_ns[index]
        for slot, busy_until in enumerate(slot_ends):  # noqa: B007 (slot is used after the loop)
            if busy_until <= start:
                break
        else:
            slot = len(slot_ends)
            slot_ends.append(0)
        slot_ends[slot] = max(ends_ns[index], start)
        slots[index] = slot
    return slots


def trace_events(run: SavedRun) -> dict[str, Any]:
    """The whole trace as a JSON-ready dict: X slices, C counters for the SPM, M metadata for names."""
    ns_per_cycle = 1e3 / run.cycles_per_us
    dram_pid, spm_pid = run.cores + 1, run.cores + 2
    by_resource: dict[str, list[TimelineEvent]] = {}
    for event in run.timeline:
        by_resource.setdefault(event.resource, []).append(event)
    events: list[dict[str, Any]] = []
    threads: dict[tuple[int, int], str] = {}
    processes = {core + 1: f"core{core}" for core in range(run.cores)}
    processes.update({dram_pid: "DRAM channel", spm_pid: "SPM"})
    for resource, group in by_resource.items():
        starts_ns = np.rint(np.fromiter((e.start for e in group), np.float64, len(group)) * ns_per_cycle)
        ends_ns = np.rint(np.fromiter((e.end for e in group), np.float64, len(group)) * ns_per_cycle)
        slots = _slots(starts_ns.astype(np.int64), ends_ns.astype(np.int64))
        match = CORE_UNIT.match(resource)
        if match:
            pid, unit = int(match.group(1)) + 1, match.group(2)
            processes.setdefault(pid, f"core{match.group(1)}")
            base, unit_name = UNIT_TID_BASE.get(unit, 900), UNIT_NAMES.get(unit, unit)
        else:  # the DRAM channel, or a resource this writer does not know yet: a process of its own
            pid = dram_pid if resource == "dram" else max(processes) + 1
            base, unit_name = 1, "busy" if resource == "dram" else resource
            processes.setdefault(pid, "DRAM channel" if resource == "dram" else resource)
        category = "compute" if match is None else CATEGORIES.get(match.group(2), "compute")
        if resource == "dram":
            category = "dram"
        for event, start, end, slot in zip(group, starts_ns.tolist(), ends_ns.tolist(), slots.tolist()):
            tid = base + slot
            threads.setdefault((pid, tid), unit_name if slot == 0 else f"{unit_name} #{slot}")
            args: dict[str, Any] = {
                "layer": event.layer,
                "op": event.op,
                "tile": event.tile,
                "bytes": event.bytes,
                "direction": event.direction,
                "kind": event.kind,
            }
            events.append(
                {
                    "name": event_name(event),
                    "cat": category,
                    "ph": "X",
                    "ts": start / NS_PER_US,
                    "dur": max(end - start, 0.0) / NS_PER_US,
                    "pid": pid,
                    "tid": tid,
                    "args": args,
                }
            )
    events += _spm_counters(run, ns_per_cycle, spm_pid)
    metadata: list[dict[str, Any]] = []
    for pid, name in sorted(processes.items()):
        metadata.append({"name": "process_name", "ph": "M", "pid": pid, "tid": 0, "args": {"name": name}})
        metadata.append(
            {"name": "process_sort_index", "ph": "M", "pid": pid, "tid": 0, "args": {"sort_index": pid}}
        )
    for (pid, tid), name in sorted(threads.items()):
        metadata.append({"name": "thread_name", "ph": "M", "pid": pid, "tid": tid, "args": {"name": name}})
        metadata.append(
            {"name": "thread_sort_index", "ph": "M", "pid": pid, "tid": tid, "args": {"sort_index": tid}}
        )
    return {
        "traceEvents": metadata + events,
        "displayTimeUnit": "ns",
        "otherData": {
            "model": run.model,
            "hardware": run.hardware,
            "order": run.order,
            "total_cycles": run.total_cycles,
            "cycles_per_us": run.cycles_per_us,
        },
    }


def _spm_counters(run: SavedRun, ns_per_cycle: float, pid: int) -> list[dict[str, Any]]:
    """One counter sample per distinct time (the last value written at that time wins)."""
    if run.spm_cycles.size == 0:
        return []
    times_ns = np.rint(run.spm_cycles * ns_per_cycle)
    last_at_time = np.append(times_ns[1:] != times_ns[:-1], True)
    return [
        {
            "name": "SPM occupancy",
            "ph": "C",
            "ts": t / NS_PER_US,
            "pid": pid,
            "tid": 0,
            "args": {"used_bytes": used, "pinned_bytes": pinned},
        }
        for t, used, pinned in zip(
            times_ns[last_at_time].tolist(),
            run.spm_used_bytes[last_at_time].tolist(),
            run.spm_pinned_bytes[last_at_time].tolist(),
        )
    ]


def write_trace(run: SavedRun, path: Path) -> Path:
    """Write the trace compactly (a ResNet-50 run is ~25k events, a few MB)."""
    path.write_text(json.dumps(trace_events(run), separators=(",", ":")))
    return path
