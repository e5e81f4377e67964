"""Neural Collaborative Filtering, MLP tower (He et al., "Neural Collaborative Filtering", WWW 2017, Fig. 3).

The user and item embeddings are table look-ups, not GEMMs, so they are left out: the first MLP layer
reads their concatenation (`2 * embedding_dim` features) and has no input gradient to compute. The
default widths follow the MLPerf reference (embeddings of 128 -> 256 -> 256 -> 128 -> 64), then the
prediction layer maps the last hidden layer to one score. One row per (user, item) pair in the batch.
"""

from __future__ import annotations

from npu_des.workload import Workload, linear


def ncf(batch: int = 1, embedding_dim: int = 128, hidden: tuple[int, ...] = (256, 128, 64)) -> Workload:
    """MLP layers of widths `hidden` on concatenated embeddings, plus the 1-output prediction layer."""
    layers = []
    inputs: tuple[str, ...] = ()
    features = 2 * embedding_dim
    for index, width in enumerate(hidden, start=1):
        layer = linear(f"mlp{index}", inputs, features, width, rows=batch)
        layers.append(layer)
        features, inputs = width, (layer.name,)
    layers.append(linear("predict", inputs, features, 1, rows=batch))
    return Workload("ncf", tuple(layers))
