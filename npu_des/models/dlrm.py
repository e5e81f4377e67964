"""DLRM (Naumov et al., "Deep Learning Recommendation Model for Personalization and Recommendation
Systems", 2019) in the MLPerf Training configuration for Criteo Terabyte (facebookresearch/dlrm's
bench/run_and_time.sh with --max-ind-range=40000000; table sizes and MLP widths as listed for it in
mlcommons/inference recommendation/dlrm/pytorch/python/main.py): 13 dense features into a bottom MLP
13-512-256-128, 26 categorical features each looking up one 128-wide row of its table (one-hot),
dot-product interaction, top MLP 479-1024-1024-512-256-1 (479 = 128 dense + 27 choose 2 = 351 pairs).

The MICRO'23 paper does not state its DLRM configuration; its Table 4 gives 25 B parameters. These
tables hold 187.8 M rows x 128 = 24.0 B weights (3.9% fewer), the closest published configuration:
torchrec's Criteo 1TB preprocessing gives 177.9 M rows (22.8 B) and the uncapped tables are larger
still. The MLPs hold only 2.37 M of the parameters.

GEMMs: the MLP layers, one row per sample, and the interaction Z.Z^T per sample (`groups = batch`) on
Z = the bottom-MLP output stacked with the 26 embeddings (27 x 128); only its 351 strictly-lower
entries feed the top MLP, but the product is computed whole. Z.Z^T uses Z on both sides; lowered as
one GEMM its two operand gradients stand for dZ = (dS + dS^T).Z. The first bottom layer reads the
dense input, so it has no input gradient.

Embeddings: the simulator has no look-up op, so the tables are data (`CRITEO_TERABYTE_TABLES`) and
their traffic a number (`dlrm_embedding_traffic`), not yet simulated: per sample 26 rows of 128
elements are read in the forward pass and as many gradient rows written in the backward pass, 6.5 KiB
each way at 2 bytes per element, 26 KiB per direction for a batch of 4 and 52 KiB for a batch of 8,
next to the 4.7 MB of MLP weights (2 B) the NPU reads per pass. The embedding update (optimizer step)
is outside the forward+backward metric, as it is for every model. Omitted too: biases, ReLU, the
final sigmoid and the loss.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from npu_des.workload import Layer, Workload, linear, matmul


@dataclass(frozen=True, slots=True)
class EmbeddingTable:
    """One categorical feature's table: `rows` x `dim` weights, `lookups_per_sample` rows read per sample."""

    rows: int
    dim: int
    lookups_per_sample: int = 1


# Criteo Terabyte table sizes with indices hashed to < 40 M (MLPerf reference, one-hot features)
CRITEO_TERABYTE_ROWS = (39884406, 39043, 17289, 7420, 20263, 3, 7120, 1543, 63, 38532951, 2953546,
                        403346, 10, 2208, 11938, 155, 4, 976, 14, 39979771, 25641295, 39664984, 585935,
                        12972, 108, 36)
EMBEDDING_DIM = 128
CRITEO_TERABYTE_TABLES = tuple(EmbeddingTable(rows, EMBEDDING_DIM) for rows in CRITEO_TERABYTE_ROWS)
DENSE_FEATURES = 13
BOTTOM_MLP = (512, 256, EMBEDDING_DIM)  # its output joins the embeddings in the interaction
TOP_MLP = (1024, 1024, 512, 256, 1)


class EmbeddingTraffic(NamedTuple):
    """DRAM bytes of one batch's embedding look-ups: rows read forward, gradient rows written backward."""

    forward_read_bytes: int
    backward_write_bytes: int


def dlrm_embedding_traffic(batch: int, bytes_per_element: int,
                           tables: tuple[EmbeddingTable, ...] = CRITEO_TERABYTE_TABLES) -> EmbeddingTraffic:
    """Bytes the look-ups move for `batch` samples (not simulated: see the module docstring)."""
    row_bytes = sum(table.lookups_per_sample * table.dim for table in tables) * bytes_per_element * batch
    return EmbeddingTraffic(forward_read_bytes=row_bytes, backward_write_bytes=row_bytes)


def dlrm_embedding_parameters(tables: tuple[EmbeddingTable, ...] = CRITEO_TERABYTE_TABLES) -> int:
    """Weights held in the embedding tables (not in the Workload: look-ups are not GEMMs)."""
    return sum(table.rows * table.dim for table in tables)


def dlrm(batch: int = 1) -> Workload:
    """Bottom MLP, the Z.Z^T interaction and the top MLP: 2.37 M weights, 2.46 M MACs per sample."""
    layers: list[Layer] = []
    inputs: tuple[str, ...] = ()
    features = DENSE_FEATURES
    for index, width in enumerate(BOTTOM_MLP, start=1):
        layer = linear(f"bottom_mlp{index}", inputs, features, width, rows=batch)
        layers.append(layer)
        features, inputs = width, (layer.name,)
    dense = layers[-1].name
    vectors = len(CRITEO_TERABYTE_TABLES) + 1
    interaction = matmul("interaction", (dense,), vectors, features, vectors, groups=batch)
    layers.append(interaction)
    features, inputs = features + vectors * (vectors - 1) // 2, (interaction.name, dense)
    for index, width in enumerate(TOP_MLP, start=1):
        layer = linear(f"top_mlp{index}", inputs, features, width, rows=batch)
        layers.append(layer)
        features, inputs = width, (layer.name,)
    return Workload("dlrm", tuple(layers))
