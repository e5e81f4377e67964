"""Benchmark: simulator speed on ResNet-50 backward (server_dual and edge_dual, both orders).

    python benchmarks/bench_sim.py                        # same as `npu-des bench`
    python benchmarks/bench_sim.py --out bench.json       # also write the JSON record
    python benchmarks/bench_sim.py --profile --hw edge_dual --order interleaved   # cProfile of one run

Wall seconds are the best of --repeats plain simulate() calls; SimPy events (Environment.step calls)
and the tracemalloc peak come from one extra, untimed run. Run by hand before and after a change to
a hot path (sim/executor.py, sim/components/, schedule/); it is not a timed test. The logic lives in
npu_des/analysis/bench.py.
"""

from __future__ import annotations

import sys

from npu_des.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
