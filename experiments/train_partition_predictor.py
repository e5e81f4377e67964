"""Training table of the partition predictor (`run.partition: predict`, npu_des/schedule/predictor.py):
the exact scheme of every distinct layer of the zoo, by simulating each layer alone under each of the
paper's three data partitioning schemes, and the predictor's leave-one-model-out agreement.

Labels come from the paper's small NPU (1 core of 45x45 PEs at 1 GHz, 1 MB SPM, 22 GB/s, batch 4; until
a `micro23_small` preset exists: ethos_n77 with spm.capacity_kb=1024), order `rearranged` (interleaving
+ Algorithm 1 per partition, as the paper's partitions use), P = 2 partitions run one after another.

    python experiments/train_partition_predictor.py [--quick] [--jobs N] [--write] [--table CSV]

`--write` replaces npu_des/schedule/partition_table.csv (what the package ships); `--table CSV` skips the
simulations and evaluates a table written before (e.g. the shipped one). Besides leave-one-model-out
agreement it prints the paper's own measure (random 80/20 splits of the layers, 1000 repetitions) and
what mispredictions cost: the summed isolated-layer cycles of the predicted schemes over the exact ones.
"""

from __future__ import annotations

import argparse
import csv
import random
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from rich.console import Console

from npu_des.config import LayerChoice, load_hardware, run_options
from npu_des.kinds import PARTITION_SCHEMES
from npu_des.models import build_model
from npu_des.schedule.predictor import TABLE, TABLE_COLUMNS, Example, fit, leave_one_model_out, predict
from npu_des.sim.autotune import layer_time

MODELS = ("resnet50", "mobilenet_v1", "mobilenet_v2", "googlenet", "ncf", "dlrm", "yolov2_tiny", "yolov5s",
          "bert_tiny", "tinybert_4", "bert_base", "t5_small", "faster_rcnn")
QUICK = ("resnet50", "mobilenet_v1", "ncf", "bert_tiny")
HARDWARE = ("ethos_n77", ["spm.capacity_kb=1024"])
BATCH = 4


def label(job: tuple[str, str]) -> dict[str, object]:
    """One layer's cycles under each scheme and the fastest (ties: the paper's listing order)."""
    model, name = job
    workload = build_model(model, batch=BATCH)
    layer = next(layer for layer in workload.layers if layer.name == name)
    hw = load_hardware(HARDWARE[0], HARDWARE[1])
    options = run_options(order="rearranged", batch=BATCH, partitions=2)
    cycles = {scheme: layer_time(layer, hw, options, LayerChoice(partition=scheme))
              for scheme in PARTITION_SCHEMES}
    best = min(PARTITION_SCHEMES, key=lambda scheme: (cycles[scheme], PARTITION_SCHEMES.index(scheme)))
    gemm = layer.gemm
    return {"model": model, "layer": name, "M": gemm.M, "N": gemm.N, "K": gemm.K, "groups": gemm.groups,
            "label": best.value, **{f"cycles_{scheme.value}": cycles[scheme] for scheme in PARTITION_SCHEMES}}


def distinct_layers(model: str) -> list[tuple[str, str]]:
    """One layer per distinct (GEMM, has dX) of the model: repeats would only weigh the vote."""
    seen: set[object] = set()
    jobs = []
    for layer in build_model(model, batch=BATCH).layers:
        key = (layer.gemm, layer.has_input_gradient)
        if key not in seen:
            seen.add(key)
            jobs.append((model, layer.name))
    return jobs


def evaluate(rows: list[dict[str, str]], console: Console) -> None:
    """Agreement of the predictor with the exact choices, three ways, for a few k."""
    schemes = {scheme.value: scheme for scheme in PARTITION_SCHEMES}
    examples = [Example(r["model"], r["layer"], int(r["M"]), int(r["N"]), int(r["K"]), schemes[r["label"]])
                for r in rows]
    cycles = {(r["model"], r["layer"]): {s: float(r[f"cycles_{s}"]) for s in schemes} for r in rows}
    counts = {name: sum(e.label == scheme for e in examples) for name, scheme in schemes.items()}
    models = len({e.model for e in examples})
    console.print(f"{len(rows)} distinct layers of {models} models; labels {counts}; "
                  f"majority-label agreement {max(counts.values()) / len(examples):.1%}")
    generator = random.Random(0)
    for neighbours in (1, 3, 5, 7, 9):
        agreement = leave_one_model_out(examples, neighbours)
        pooled = sum(agreement[m] * sum(e.model == m for e in examples) for m in agreement) / len(examples)
        lost = best = 0.0
        for model in agreement:
            test = [e for e in examples if e.model == model]
            guesses = predict(fit([e for e in examples if e.model != model], neighbours),
                              [(e.m, e.n, e.k) for e in test])
            lost += sum(cycles[(e.model, e.layer)][g.value] for g, e in zip(guesses, test))
            best += sum(cycles[(e.model, e.layer)][e.label.value] for e in test)
        hits = 0
        for _ in range(1000):
            shuffled = generator.sample(examples, len(examples))
            cut = int(0.8 * len(shuffled))
            guesses = predict(fit(shuffled[:cut], neighbours), [(e.m, e.n, e.k) for e in shuffled[cut:]])
            hits += sum(g == e.label for g, e in zip(guesses, shuffled[cut:]))
        split = hits / (1000 * (len(examples) - int(0.8 * len(examples))))
        console.print(f"k={neighbours}: leave-one-model-out {pooled:.1%} of layers, predicted schemes cost "
                      f"{lost / best - 1:+.2%} cycles over exact; random 80/20 splits {split:.1%}; "
                      + ", ".join(f"{m} {a:.0%}" for m, a in agreement.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"only {', '.join(QUICK)}")
    parser.add_argument("--jobs", type=int, default=None)
    parser.add_argument("--write", action="store_true", help=f"write {TABLE}")
    parser.add_argument("--table", type=Path, help="evaluate this table instead of simulating a new one")
    parser.add_argument("--out", type=Path, default=Path("results/partition_predictor/partition_table.csv"))
    args = parser.parse_args()
    started = time.perf_counter()
    console = Console(width=200)
    if args.table:
        with args.table.open(newline="") as handle:
            evaluate(list(csv.DictReader(handle)), console)
        return
    jobs = [job for model in (QUICK if args.quick else MODELS) for job in distinct_layers(model)]
    with ProcessPoolExecutor(args.jobs) as pool:
        rows = list(pool.map(label, jobs, chunksize=4))
    columns = [*TABLE_COLUMNS, *(f"cycles_{scheme.value}" for scheme in PARTITION_SCHEMES)]
    for path in [args.out, *([TABLE] if args.write else [])]:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns)
            writer.writeheader()
            writer.writerows(rows)
    evaluate([{key: str(value) for key, value in row.items()} for row in rows], console)
    console.print(f"wrote {args.out}{' and ' + str(TABLE) if args.write else ''} "
                  f"in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
