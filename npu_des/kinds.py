"""The simulator's vocabulary, typed once: tensor kinds, ops, transfer directions, wait reasons, keys.

Members are `str`s (they compare, hash, print and serialise exactly as their values), so tables,
JSON and CSV output read the same as plain strings while the code names each value once.
"""

from __future__ import annotations

from enum import Enum
from typing import NamedTuple


class _Vocabulary(str, Enum):
    """A str Enum whose members print, format and hash as their value (enum.StrEnum needs Python 3.11)."""

    def __str__(self) -> str:
        return str.__str__(self)

    def __format__(self, format_spec: str) -> str:
        return str.__format__(self, format_spec)

    __hash__ = str.__hash__


class TensorKind(_Vocabulary):
    """Tensors a tile belongs to: the backward pass moves X, W, dY, dX, dW; a forward pass adds its output
    Y."""

    X = "X"
    W = "W"
    DY = "dY"
    DX = "dX"
    DW = "dW"
    Y = "Y"


class Op(_Vocabulary):
    """What a tile task computes: an input or weight gradient, a forward output, or the non-GEMM vector op."""

    DX = "dX"
    DW = "dW"
    Y = "Y"
    VECTOR = "vector"  # BN/activation/softmax backward on the vector unit


class Direction(_Vocabulary):
    """A DMA transfer's direction: read (DRAM -> SPM) or write (SPM -> DRAM)."""

    READ = "read"
    WRITE = "write"


class WaitReason(_Vocabulary):
    """What a prepared tile task waits for; named in the error of a run that stops progressing."""

    PREVIOUS_CONTRIBUTION = "previous contribution"
    DY_PRODUCERS = "dY producers"
    OPERANDS = "operands"
    AFTER = "tile dependencies"  # TileTask.after: earlier tasks' outputs computed and written back


class StallReason(_Vocabulary):
    """What a core's array does at a cycle: computes, or waits for one reason (npu_des/sim/stalls.py)."""

    COMPUTE = "compute"
    DEPENDENCY = "dependency"  # dY producers, previous partial-sum contribution, pin lifetime, `after`
    SPM_SPACE = "spm_space"  # an operand's allocation waits for SPM space
    LOAD_CONTENTION = "load_contention"  # the channel or DMA engine serves other transfers
    LOAD_TRANSFER = "load_transfer"  # latency + the load's own bytes at full bandwidth
    IDLE = "idle"  # no work left: after the core's last task (all of a run for a core without tasks)


KINDS: tuple[TensorKind, ...] = (TensorKind.X, TensorKind.W, TensorKind.DY, TensorKind.DX, TensorKind.DW)
ALL_KINDS: tuple[TensorKind, ...] = (
    *KINDS,
    TensorKind.Y,
)  # forward runs' byte tables (backward kinds at zero)
DIRECTIONS: tuple[Direction, ...] = (Direction.READ, Direction.WRITE)
GRADIENT_OPS: tuple[Op, ...] = (Op.DX, Op.DW)
KIND_CODES: dict[TensorKind, int] = {kind: code for code, kind in enumerate(ALL_KINDS)}  # in SPM tile keys
KIND_OF_CODE: dict[int, TensorKind] = {code: kind for kind, code in KIND_CODES.items()}

OpId = tuple[str, str]  # (layer name, Op): one op of one layer, a node of the backward graph


class TileKey(NamedTuple):
    """A tile's identity in the SPM: (layer index, kind code, group tile, row tile, column tile)."""

    layer: int
    kind: int
    g: int
    row: int
    col: int


class GemmExtents(NamedTuple):
    """A tile task's GEMM, output[rows x cols] += left[rows x reduction] . right[reduction x cols], `groups`
    times."""

    groups: int
    rows: int
    reduction: int
    cols: int

    @property
    def macs(self) -> int:
        return self.groups * self.rows * self.reduction * self.cols


class TileIndex(NamedTuple):
    """A tile iteration (g, m, n, k) of a layer's grid, or a tile's extents along G, M, N, K."""

    g: int
    m: int
    n: int
    k: int


class Order(_Vocabulary):
    """A backward-pass schedule (docs/orders.md): the MICRO'23 orders, named as the paper does, and the
    fused-loop extension.

    sequential: per layer all dX, then all dW, each in its traditional tile order (the baseline).
    interleaved: the paper's "Only Interleaving": both traditional sequences alternate step by step.
    rearranged: interleaving + Algorithm 1's access order per layer (Only Interleaving, dXmajor, dWmajor).
    rearranged-best: per layer the best of those three, found by simulating the layer alone.
    fused: one fused tile loop nest in `run.loop_order` (a permutation of mnk, or auto: least estimated
    bytes).
    """

    SEQUENTIAL = "sequential"
    INTERLEAVED = "interleaved"
    REARRANGED = "rearranged"
    REARRANGED_BEST = "rearranged-best"
    FUSED = "fused"


class Access(_Vocabulary):
    """MICRO'23 memory access orders of a layer's two gradients (its Fig. 10): how dY is walked."""

    INTERLEAVING = "interleaving"  # "Only Interleaving": dX row-major, dW column-major, alternating
    DX_MAJOR = "dXmajor"  # one fused loop walking dY row-major for both gradients (dW partial sums)
    DW_MAJOR = "dWmajor"  # one fused loop walking dY column-major for both (dX partial sums)


class Scheme(_Vocabulary):
    """MICRO'23 data partitioning (its Fig. 11), by the paper's names; the comment says what is really shared.

    The names look swapped against the tensor each duplicates (the paper's own sentence, p.9, says which).
    """

    NONE = "none"
    WEIGHT_SHARING = "weight-sharing"  # split M: W duplicated, dW accumulated across partitions
    DY_SHARING = "dY-sharing"  # split N: X duplicated, dX accumulated across partitions
    IFMAP_SHARING = "ifmap-sharing"  # split K: dY duplicated, nothing accumulated


class CoreMapping(_Vocabulary):
    """How a partition's tile tasks are dealt to the cores it runs on (the multi-core mapping step)."""

    OUTPUT = "output"  # each op's output tiles round-robin; a partial sum stays on one core
    M = "m"  # dY split along M between the cores, each core computes both gradients of its part
    N = "n"  # dY split along N
    OP = "op"  # dX on one half of the cores, dW on the other


PARTITION_SCHEMES: tuple[Scheme, ...] = (Scheme.WEIGHT_SHARING, Scheme.DY_SHARING, Scheme.IFMAP_SHARING)
SPLIT_AXIS: dict[Scheme, str] = {
    Scheme.WEIGHT_SHARING: "m", Scheme.DY_SHARING: "n", Scheme.IFMAP_SHARING: "k"
}
