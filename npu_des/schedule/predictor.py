"""A cheap per-layer predictor of the data partitioning scheme (`run.partition: predict`), as MICRO'23 §5
does with a KNN: features are the dimensions of dX (M, K), dW (K, N) and dY (M, N), i.e. the forward
GEMM's M, N, K per group; labels are the exact choices (the fastest of the three schemes, each layer
simulated alone) computed over the zoo's layers by `experiments/train_partition_predictor.py` and
shipped as `partition_table.csv`.

k = 7 neighbours, distance-weighted, on log2(M), log2(N), log2(K) standardised to zero mean and unit
variance over the table (sizes span decades, and a layer twice as wide is as far as one twice as
tall). k was picked by leave-one-model-out agreement over k = 1, 3, 5, 7, 9 (67.6 / 68.0 / 65.3 /
68.9 / 69.3 %; docs/orders.md). The labels come from the paper's small NPU (one core, P = 2); on other
hardware the predictor is a heuristic, `auto` the exact choice. scikit-learn is an optional
dependency: `pip install 'npu-des[predict]'`.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from math import log2
from pathlib import Path
from typing import Any

from npu_des.errors import ConfigError
from npu_des.kinds import PARTITION_SCHEMES, Scheme
from npu_des.workload.layers import Gemm

TABLE = Path(__file__).with_name("partition_table.csv")
NEIGHBOURS = 7
TABLE_COLUMNS = ("model", "layer", "M", "N", "K", "groups", "label")


@dataclass(frozen=True)
class Example:
    """One training row: a zoo layer's GEMM (per group) and its exact scheme."""

    model: str
    layer: str
    m: int
    n: int
    k: int
    label: Scheme


def features(m: int, n: int, k: int) -> list[float]:
    """The dims of dX (M,K), dW (K,N) and dY (M,N): each of M, N, K once, on a log scale."""
    return [log2(m), log2(n), log2(k)]


def load_table(path: Path = TABLE) -> list[Example]:
    with path.open(newline="") as handle:
        return [Example(row["model"], row["layer"], int(row["M"]), int(row["N"]), int(row["K"]),
                        Scheme(row["label"])) for row in csv.DictReader(handle)]


def _sklearn() -> Any:
    try:
        from sklearn.neighbors import KNeighborsClassifier
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
    except ImportError:
        allowed = ", ".join((*(s.value for s in Scheme), "auto"))
        raise ConfigError(
            "predict needs scikit-learn: pip install 'npu-des[predict]'", field="run.partition",
            allowed=f"{allowed} without it",
        ) from None
    return KNeighborsClassifier, make_pipeline, StandardScaler


def fit(examples: list[Example], neighbours: int = NEIGHBOURS) -> Any:
    """A fitted scaler + KNN pipeline over `examples`."""
    classifier, make_pipeline, scaler = _sklearn()
    knn = classifier(n_neighbors=min(neighbours, len(examples)), weights="distance")
    model = make_pipeline(scaler(), knn)
    model.fit([features(e.m, e.n, e.k) for e in examples], [e.label.value for e in examples])
    return model


@lru_cache(maxsize=1)
def _shipped() -> Any:
    return fit(load_table())


def predict(model: Any, shapes: list[tuple[int, int, int]]) -> list[Scheme]:
    if not shapes:
        return []
    return [Scheme(label) for label in model.predict([features(*shape) for shape in shapes])]


def predict_schemes(gemms: list[Gemm]) -> list[Scheme]:
    """The shipped predictor's scheme for each GEMM (one of the paper's three)."""
    if not gemms:
        return []
    return predict(_shipped(), [(gemm.M, gemm.N, gemm.K) for gemm in gemms])


def leave_one_model_out(examples: list[Example], neighbours: int = NEIGHBOURS) -> dict[str, float]:
    """Per model, the fraction of its layers whose prediction (trained on the other models) is exact."""
    out = {}
    for model in sorted({e.model for e in examples}):
        train = [e for e in examples if e.model != model]
        test = [e for e in examples if e.model == model]
        guesses = predict(fit(train, neighbours), [(e.m, e.n, e.k) for e in test])
        out[model] = sum(g == e.label for g, e in zip(guesses, test)) / len(test)
    return out


__all__ = ["NEIGHBOURS", "PARTITION_SCHEMES", "TABLE", "Example", "fit", "leave_one_model_out", "load_table",
           "predict", "predict_schemes"]
