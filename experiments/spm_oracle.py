"""How far is the simulator's LRU SPM from Belady's OPT? (issue 7, oracle)

Per model and order on one NPU: the simulated run's DRAM bytes (LRU, several cores, prefetch),
and the oracle replays of the same schedule (one access stream in issue order): LRU and OPT over
true tile sizes in C bytes (OPT a heuristic there), and LRU and OPT in the uniform-slot model
(C // largest tile slots), where OPT's miss count is provably minimal (npu_des/analysis/oracle.py).
Writes results/spm_oracle/oracle.csv and prints the table.
"""

from __future__ import annotations

import pandas
from _common import available, finish, parse_args, print_table

from npu_des.analysis.oracle import replay_schedule
from npu_des.config import load_hardware, run_options
from npu_des.models import build_model
from npu_des.schedule.plan import plan
from npu_des.sim.driver import simulate


def main() -> None:
    args = parse_args("spm_oracle", __doc__.splitlines()[0])
    models = available(("resnet50",) if args.quick else ("resnet50", "mobilenet_v1", "googlenet"))
    rows = []
    for model in models:
        for hw_name in ("edge_dual",):
            hw = load_hardware(hw_name)
            workload = build_model(model)
            for order in ("sequential", "interleaved"):
                options = run_options(order=order)
                schedule, _ = plan(workload, hw, options)
                simulated = simulate(workload, hw, options)
                row = {"model": model, "hw": hw_name, "order": order, "tasks": len(schedule.tasks),
                       "sim_lru_MB": simulated.total_dram_bytes / 1e6}
                for unit in ("bytes", "slots"):
                    results = replay_schedule(schedule, hw.spm.capacity_bytes, unit)
                    for policy, result in results.items():
                        row[f"{unit}_{policy}_MB"] = result.dram_bytes / 1e6
                        row[f"{unit}_{policy}_misses"] = result.misses
                    row[f"{unit}_capacity"] = results["opt"].capacity
                row["sim_over_opt"] = row["sim_lru_MB"] / row["bytes_opt_MB"]
                rows.append(row)
    frame = pandas.DataFrame(rows)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "oracle.csv"
    frame.to_csv(path, index=False)
    print_table(
        "DRAM MB: simulator LRU vs oracle LRU/OPT (bytes model; slots model = provable OPT)",
        frame[
            [
                "model",
                "order",
                "tasks",
                "sim_lru_MB",
                "bytes_lru_MB",
                "bytes_opt_MB",
                "sim_over_opt",
                "slots_capacity",
                "slots_lru_misses",
                "slots_opt_misses",
                "slots_lru_MB",
                "slots_opt_MB",
            ]
        ],
        {
            "sim_lru_MB": ".1f",
            "bytes_lru_MB": ".1f",
            "bytes_opt_MB": ".1f",
            "sim_over_opt": ".3f",
            "slots_lru_MB": ".1f",
            "slots_opt_MB": ".1f",
        },
    )
    finish(args, [path])


if __name__ == "__main__":
    main()
