"""Plain data that schedules emit and the simulator consumes: tile references and tile tasks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any, cast

from npu_des.kinds import KIND_CODES, GemmExtents, Op, OpId, TensorKind, TileIndex, TileKey
from npu_des.tiling import TileGrid

__all__ = ["FREE_DY_CODE", "KIND_CODES", "VECTOR_OP", "OpId", "Schedule", "TaskList", "TileRef", "TileRefs",
           "TileTask"]

VECTOR_OP = Op.VECTOR  # old name of Op.VECTOR
FREE_DY_CODE = len(KIND_CODES)  # key kind of a dW task's own dY copy under `run.dw_dy: free` (an oracle)


@dataclass(frozen=True, slots=True)
class TileRef:
    """One tile of one tensor; `key` identifies it in the SPM, `nbytes` is what it costs over DRAM."""

    key: TileKey
    kind: TensorKind
    layer: str
    nbytes: int


@dataclass(frozen=True, slots=True)
class TileTask:
    """One GEMM tile product: output += inputs[0] (x) inputs[1], on one core.

    `first`: this is the first contribution to `output` (allocate, nothing to read back).
    `last`: the output is final afterwards (write it back). `prev`: id of the task that must
    finish before this one accumulates into the same output (-1 if none).
    `extents`: (groups, rows, reduction, cols) of the tile GEMM, for the cycle formula.
    `inputs` are (left, right) operands of that GEMM, so the stationary operand of a dataflow is
    `output` (os), `inputs[1]` (ws) or `inputs[0]` (is). `density`: fraction of operand pairs that
    are both nonzero (d_X * d_dY for dW, 1.0 for dX), which a zero-skipping array exploits.
    `write_back`: a final output goes to DRAM; False for a feature map kept on chip (pinned or
    fused), released clean. `hand_over`: with write_back False, the output's SPM reference passes
    to the task that consumes it, which lists it in `frees` (fused intermediates).
    `after`: ids of earlier tasks whose final output must be computed and written back before this
    task reads any operand (tile-level cross-layer dependencies, `run.dependencies: tile`).
    """

    id: int
    core: int
    layer: str
    op: Op
    tile: tuple[int, int, int, int]
    inputs: tuple[TileRef, ...]
    output: TileRef
    first: bool
    last: bool
    prev: int
    extents: GemmExtents
    density: float = 1.0
    write_back: bool = True
    hand_over: bool = False
    frees: tuple[TileRef, ...] = ()
    after: tuple[int, ...] = ()

    @property
    def macs(self) -> int:
        return self.extents.macs


@dataclass(frozen=True)
class Schedule:
    """Tile tasks in global issue order, plus which ops each op waits for (its layer's dY producers)."""

    order: str
    tasks: tuple[TileTask, ...]
    op_deps: dict[OpId, tuple[OpId, ...]]
    grids: dict[str, TileGrid] = field(repr=False)
    layer_choices: dict[str, dict[str, str]] = field(default_factory=dict)  # layer -> {loop_order, partition}

    def tasks_of_core(self, core: int) -> list[TileTask]:
        return [task for task in self.tasks if task.core == core]


class TileRefs:
    """Builds the TileRefs of one layer's grid (memoised, so equal tiles are the same object)."""

    def __init__(self, grid: TileGrid) -> None:
        self.grid = grid
        self.name = grid.layer.name
        self._cache: dict[int, dict[tuple[int, int, int], TileRef]] = {
            code: {} for code in KIND_CODES.values()}

    def _ref(
        self, kind: TensorKind, g: int, a: int, b: int, nbytes_fn: Callable[[int, int, int], int]
    ) -> TileRef:
        code = KIND_CODES[kind]
        cache = self._cache[code]
        ref = cache.get((g, a, b))
        if ref is None:
            ref = cache[(g, a, b)] = TileRef(TileKey(self.grid.index, code, g, a, b), kind, self.name,
                                             nbytes_fn(g, a, b))
        return ref

    def x(self, g: int, m: int, k: int) -> TileRef:
        ref = self._cache[_X].get((g, m, k))
        return ref if ref is not None else self._ref(TensorKind.X, g, m, k, self.grid.x_bytes)

    def dx(self, g: int, m: int, k: int) -> TileRef:
        ref = self._cache[_DX].get((g, m, k))
        return ref if ref is not None else self._ref(TensorKind.DX, g, m, k, self.grid.dx_bytes)

    def w(self, g: int, n: int, k: int) -> TileRef:
        ref = self._cache[_W].get((g, n, k))
        return ref if ref is not None else self._ref(TensorKind.W, g, n, k, self.grid.w_bytes)

    def dw(self, g: int, n: int, k: int) -> TileRef:
        ref = self._cache[_DW].get((g, n, k))
        return ref if ref is not None else self._ref(TensorKind.DW, g, n, k, self.grid.w_bytes)

    def dy(self, g: int, m: int, n: int) -> TileRef:
        ref = self._cache[_DY].get((g, m, n))
        return ref if ref is not None else self._ref(TensorKind.DY, g, m, n, self.grid.dy_bytes)

    def y(self, g: int, m: int, n: int) -> TileRef:
        """Forward output tile: dense, the shape of a dY tile."""
        ref = self._cache[_Y].get((g, m, n))
        return ref if ref is not None else self._ref(TensorKind.Y, g, m, n, self.grid.y_bytes)


_X, _DX, _W, _DW, _DY, _Y = (KIND_CODES[kind] for kind in (TensorKind.X, TensorKind.DX, TensorKind.W,
                                                           TensorKind.DW, TensorKind.DY, TensorKind.Y))


def _slot_constructor(cls: type) -> Callable[..., Any]:
    """A positional constructor for a frozen slots dataclass that sets each slot through its descriptor:
    the same object as `cls(...)`, without the frozen `__init__`'s `object.__setattr__` per field (a
    planner builds one TileTask per tile product, 10^4-10^6 of them)."""
    names = [f.name for f in fields(cls)]
    setters = {f"_set_{name}": getattr(cls, name).__set__ for name in names}
    body = "".join(f"    _set_{name}(task, {name})\n" for name in names)
    source = f"def make({', '.join(names)}):\n    task = _new(_cls)\n{body}    return task\n"
    namespace: dict[str, Any] = {"_new": object.__new__, "_cls": cls, **setters}
    exec(source, namespace)
    return cast(Callable[..., Any], namespace["make"])


_new_tuple = tuple.__new__  # NamedTuple(...) without its Python-level __new__
_make_task = _slot_constructor(TileTask)

class TaskList:
    """Accumulates tasks in issue order, deriving first/last/prev from per-output contribution counts."""

    def __init__(self) -> None:
        self.tasks: list[TileTask] = []
        self._seen: dict[TileKey, tuple[int, int]] = {}  # output key -> (contributions so far, last task id)

    def add_input_gradient(self, refs: TileRefs, g: int, m: int, n: int, k: int, core: int) -> None:
        """dX[g,m,k] += dY[g,m,n] . W[g,n,k]^T  (reduction over N)."""
        grid = refs.grid
        size = grid.gemm_extents(g, m, n, k)
        self._add(
            refs.name,
            Op.DX,
            _new_tuple(TileIndex, (g, m, n, k)),
            (refs.dy(g, m, n), refs.w(g, n, k)),
            refs.dx(g, m, k),
            core,
            len(grid.n_tiles),
            _new_tuple(GemmExtents, size),  # (g, m, n, k) extents: groups, rows, reduction, cols
            1.0,
        )

    def add_weight_gradient(self, refs: TileRefs, g: int, m: int, n: int, k: int, core: int) -> None:
        """dW[g,k,n] += X[g,m,k]^T . dY[g,m,n]  (reduction over M)."""
        grid = refs.grid
        size = grid.gemm_extents(g, m, n, k)
        self._add(
            refs.name,
            Op.DW,
            _new_tuple(TileIndex, (g, m, n, k)),
            (refs.x(g, m, k), refs.dy(g, m, n)),
            refs.dw(g, n, k),
            core,
            len(grid.m_tiles),
            _new_tuple(GemmExtents, (size.g, size.k, size.m, size.n)),
            grid.x_density * grid.dy_density,
        )

    def add_forward(self, refs: TileRefs, g: int, m: int, n: int, k: int, core: int) -> None:
        """Y[g,m,n] += X[g,m,k] . W[g,n,k]^T  (reduction over K)."""
        grid = refs.grid
        size = grid.gemm_extents(g, m, n, k)
        self._add(
            refs.name,
            Op.Y,
            TileIndex(g, m, n, k),
            (refs.x(g, m, k), refs.w(g, n, k)),
            refs.y(g, m, n),
            core,
            len(grid.k_tiles),
            GemmExtents(size.g, size.m, size.k, size.n),
            1.0,
        )

    def add_activation_gradient(self, refs: TileRefs, g: int, m: int, n: int, core: int) -> None:
        """dY[g,m,n] = f'(Y[g,m,n]) * dY[g,m,n] in place, before the layer's GEMMs read dY: loads the
        incoming gradient (first=False), reads the saved activation Y, writes the result back."""
        size = refs.grid.gemm_extents(g, m, n, 0)
        self.tasks.append(
            TileTask(
                len(self.tasks),
                core,
                refs.name,
                Op.VECTOR,
                TileIndex(g, m, n, 0),
                (refs.y(g, m, n),),
                refs.dy(g, m, n),
                first=False,
                last=True,
                prev=-1,
                extents=GemmExtents(size.g, size.m, 1, size.n),
            )
        )

    def _add(
        self,
        layer: str,
        op: Op,
        tile: TileIndex,
        inputs: tuple[TileRef, ...],
        output: TileRef,
        core: int,
        contributions: int,
        extents: GemmExtents,
        density: float,
    ) -> None:
        done, prev = self._seen.get(output.key, (0, -1))
        task_id = len(self.tasks)
        # TileTask(id, core, layer, op, tile, inputs, output, first, last, prev, extents, density,
        #          write_back, hand_over, frees, after), its defaults for the last four
        self.tasks.append(_make_task(task_id, core, layer, op, tile, inputs, output, done == 0,
                                     done + 1 == contributions, prev, extents, density, True, False, (), ()))
        self._seen[output.key] = (done + 1, task_id)
