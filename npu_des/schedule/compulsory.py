"""Compulsory traffic of a schedule: the bytes no replacement policy can avoid moving.

Read off the tasks in issue order: each distinct input tile (and an output updated in place
without an earlier producer, like a vector op's dY) is read once, unless an earlier task produced
it and kept it on chip (a fused or pinned feature map, `write_back=False`) or wrote it back; each
distinct final output written back is written once. Partial sums, re-reads and evictions are what
a policy adds on top (the `dw_dy: free` oracle's dY copies
are free), so this is the memory half of every lower bound (sim.py and checks.py).
"""

from __future__ import annotations

from collections import defaultdict

from npu_des.schedule.tasks import FREE_DY_CODE, Schedule


def compulsory_traffic(schedule: Schedule) -> dict[tuple[str, str], int]:
    """(layer, tensor kind) -> compulsory DRAM bytes."""
    read: set[tuple] = set()
    produced: set[tuple] = set()
    written: set[tuple] = set()
    on_chip: set[tuple] = set()
    out: dict[tuple[str, str], int] = defaultdict(int)
    for task in schedule.tasks:
        output = task.output
        reads = task.inputs if task.first or output.key in produced else (*task.inputs, output)
        for ref in reads:
            if ref.key.kind == FREE_DY_CODE:  # the oracle's dY copy for dW costs no DRAM
                continue
            if ref.key not in read and ref.key not in on_chip and ref.key not in written:
                read.add(ref.key)
                out[(ref.layer, ref.kind)] += ref.nbytes
        produced.add(output.key)
        if task.last and not task.write_back:
            on_chip.add(output.key)
        elif task.last and output.key not in written:
            written.add(output.key)
            out[(output.layer, output.kind)] += output.nbytes
    return dict(out)
