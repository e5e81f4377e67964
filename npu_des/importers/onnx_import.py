"""ONNX models in: Conv, Gemm and MatMul nodes become GEMM layers, everything else is pass-through.

A layer's `inputs` are its nearest GEMM ancestors through non-GEMM nodes (activations, pools,
normalisation, Add, Concat, reshapes), so branches and skip connections survive the import. Shapes
come from ONNX shape inference; `batch` fixes the first dimension of every graph input (a symbolic
batch dimension becomes 1 when `batch` is None). `onnx` is optional and imported only here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from math import prod
from pathlib import Path
from typing import Any

from npu_des.errors import ConfigError
from npu_des.workload import ConvGeometry, Gemm, Layer, Workload, linear, matmul

MISSING_ONNX = "ONNX import needs the optional dependency: pip install 'npu-des[onnx]'"

GEMM_OPS = {"Conv", "Gemm", "MatMul"}
# element-wise, normalisation, pooling and layout ops: gradients flow to every input
PASS_ALL = {
    "Relu", "LeakyRelu", "PRelu", "Elu", "Selu", "Celu", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh",
    "Softplus", "Softsign", "Gelu", "Erf", "Mish", "Clip", "Add", "Sub", "Mul", "Div", "Sum", "Mean", "Max",
    "Min", "Pow", "Sqrt", "Reciprocal", "Exp", "Log", "Neg", "Abs", "Concat", "Split", "Where",
    "BatchNormalization", "InstanceNormalization", "LayerNormalization", "GroupNormalization",
    "LpNormalization", "LRN", "Softmax", "LogSoftmax", "Dropout", "Identity", "Cast", "MaxPool",
    "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "LpPool", "ReduceMean", "ReduceSum", "ReduceMax",
    "ReduceMin", "ReduceL2", "Transpose", "Flatten", "SpaceToDepth", "DepthToSpace",
}
# data in input 0; the other inputs are shapes, indices or sizes
PASS_FIRST = {
    "Reshape",
    "Expand",
    "Slice",
    "Pad",
    "Resize",
    "Upsample",
    "Squeeze",
    "Unsqueeze",
    "Gather",
    "Tile",
}
# outputs carry no activation data (shapes, constants, masks)
NO_DATA = {
    "Shape",
    "Size",
    "Constant",
    "ConstantOfShape",
    "Range",
    "EyeLike",
    "RandomNormal",
    "RandomNormalLike",
    "RandomUniform",
    "RandomUniformLike",
    "NonZero",
    "Equal",
    "Less",
    "Greater",
    "Not",
    "And",
    "Or",
    "ArgMax",
    "ArgMin",
}

Shape = tuple[int | None, ...]


class _Unsupported(Exception):
    """A node this importer cannot lower; becomes a ConfigError unless skipped."""


def _import_onnx() -> Any:
    try:
        import onnx
    except ImportError:
        raise ConfigError(MISSING_ONNX) from None
    return onnx


def _fix_batch(graph: Any, batch: int | None) -> None:
    """Set dim 0 of each real graph input and drop the stored intermediate and output shapes, so shape
    inference derives them all from the inputs (stored ones may be stale or wrong and would win)."""
    initializers = {tensor.name for tensor in graph.initializer}
    for value in graph.input:
        dims = value.type.tensor_type.shape.dim
        if value.name in initializers or not dims:
            continue
        if batch is not None or not dims[0].HasField("dim_value"):
            dims[0].dim_value = batch or 1
    del graph.value_info[:]
    for value in graph.output:
        value.type.tensor_type.ClearField("shape")


def _shapes(graph: Any) -> dict[str, Shape]:
    shapes: dict[str, Shape] = {}
    for value in (*graph.input, *graph.value_info, *graph.output):
        tensor_type = value.type.tensor_type
        if tensor_type.HasField("shape"):
            shapes[value.name] = tuple(
                dim.dim_value if dim.HasField("dim_value") and dim.dim_value > 0 else None
                for dim in tensor_type.shape.dim
            )
    for tensor in graph.initializer:
        shapes[tensor.name] = tuple(tensor.dims)
    return shapes


def _known(shapes: dict[str, Shape], tensor: str, rank: int | None = None) -> tuple[int, ...]:
    shape = shapes.get(tensor)
    if shape is None or any(dim is None for dim in shape):
        raise _Unsupported(f"unknown shape of '{tensor}' (shape inference could not resolve it)")
    if rank is not None and len(shape) != rank:
        raise _Unsupported(f"'{tensor}' has rank {len(shape)}, expected {rank}")
    return tuple(dim for dim in shape if dim is not None)


class _Importer:
    """Walks the (topologically ordered) ONNX nodes once, tracking which layers feed each tensor."""

    def __init__(
        self, onnx: Any, graph: Any, shapes: dict[str, Shape], skip_unsupported: bool, source: str
    ) -> None:
        self.onnx, self.skip_unsupported, self.source = onnx, skip_unsupported, source
        self.shapes = shapes
        self.constants = {tensor.name for tensor in graph.initializer}
        self.producers: dict[str, tuple[str, ...]] = {}
        self.index: dict[str, int] = {}
        self.layers: list[Layer] = []
        self.skipped: list[str] = []
        self.names: set[str] = set()

    def _feeding(self, tensors: Iterable[str]) -> tuple[str, ...]:
        """Layers feeding any of `tensors`, in forward order, each once."""
        found = {name for tensor in tensors if tensor for name in self.producers.get(tensor, ())}
        return tuple(sorted(found, key=self.index.__getitem__))

    def _name(self, node: Any, position: int) -> str:
        base = node.name or f"{node.op_type}_{position}"
        name, suffix = base, 2
        while name in self.names:
            name, suffix = f"{base}_{suffix}", suffix + 1
        self.names.add(name)
        return name

    def visit(self, node: Any, position: int) -> None:
        name = self._name(node, position)
        op = node.op_type if node.domain in ("", "ai.onnx") else f"{node.domain}.{node.op_type}"
        try:
            if op in GEMM_OPS:
                layer = getattr(self, f"_{op.lower()}")(node, name)
                self.index[layer.name] = len(self.layers)
                self.layers.append(layer)
                outputs: tuple[str, ...] = (layer.name,)
            elif op in NO_DATA:
                outputs = ()
            elif op in PASS_FIRST:
                outputs = self._feeding(node.input[:1])
            elif op in PASS_ALL:
                outputs = self._feeding(node.input)
            else:
                raise _Unsupported(f"unsupported op '{op}'")
        except _Unsupported as exc:
            if not self.skip_unsupported:
                raise ConfigError(
                    f"{exc}; use --skip-unsupported (skip_unsupported=True) to treat it as pass-through",
                    source=f"{self.source}: node '{name}'",
                ) from None
            self.skipped.append(name)
            outputs = self._feeding(node.input)
        for tensor in node.output:
            self.producers[tensor] = outputs

    def _attributes(self, node: Any) -> dict[str, Any]:
        return {
            attribute.name: self.onnx.helper.get_attribute_value(attribute) for attribute in node.attribute
        }

    def _is_constant(self, tensor: str) -> bool:
        return tensor in self.constants

    def _conv(self, node: Any, name: str) -> Layer:
        attributes = self._attributes(node)
        if any(value != 1 for value in attributes.get("dilations", ())):
            raise _Unsupported(f"dilated convolution (dilations {list(attributes['dilations'])})")
        strides = list(attributes.get("strides", (1, 1)))
        if len(set(strides)) > 1:
            raise _Unsupported(f"unequal strides {strides}")
        batch, channels, height, width = _known(self.shapes, node.input[0], 4)
        filters, group_channels, kernel_h, kernel_w = _known(self.shapes, node.input[1], 4)
        _, _, out_h, out_w = _known(self.shapes, node.output[0], 4)
        groups = int(attributes.get("group", 1))
        if group_channels * groups != channels or filters % groups:
            raise _Unsupported(
                f"weights {filters}x{group_channels} do not fit {channels} channels in {groups} groups"
            )
        geometry = ConvGeometry(
            batch, height, width, out_h, out_w, kernel_h, kernel_w, strides[0] if strides else 1
        )
        gemm = Gemm(
            M=batch * out_h * out_w,
            K=group_channels * kernel_h * kernel_w,
            N=filters // groups,
            groups=groups,
            conv=geometry,
        )
        kind = "depthwise" if groups > 1 and group_channels == 1 else "conv"
        return Layer(name, kind, self._feeding(node.input[:1]), gemm, (filters, out_h, out_w))

    def _gemm(self, node: Any, name: str) -> Layer:
        attributes = self._attributes(node)
        a_rows, a_cols = _known(self.shapes, node.input[0], 2)
        b_rows, b_cols = _known(self.shapes, node.input[1], 2)
        m, k = (a_cols, a_rows) if attributes.get("transA", 0) else (a_rows, a_cols)
        n = b_rows if attributes.get("transB", 0) else b_cols
        if self._is_constant(node.input[1]):
            return linear(name, self._feeding(node.input[:1]), k, n, rows=m)
        return matmul(name, self._feeding(node.input[:2]), m, k, n)

    def _matmul(self, node: Any, name: str) -> Layer:
        a = _known(self.shapes, node.input[0])
        b = _known(self.shapes, node.input[1])
        if not a or not b:
            raise _Unsupported("MatMul of a scalar")
        if self._is_constant(node.input[1]) and len(b) <= 2:
            rows = prod(a[:-1])
            return linear(name, self._feeding(node.input[:1]), a[-1], b[-1] if len(b) == 2 else 1, rows=rows)
        m, k = (a[-2], a[-1]) if len(a) > 1 else (1, a[0])
        n = b[-1] if len(b) > 1 else 1
        return matmul(name, self._feeding(node.input[:2]), m, k, n, groups=prod(_broadcast(a[:-2], b[:-2])))


def _broadcast(first: Sequence[int], second: Sequence[int]) -> tuple[int, ...]:
    """NumPy broadcasting of the batch dimensions of two MatMul operands."""
    width = max(len(first), len(second))
    left = (1,) * (width - len(first)) + tuple(first)
    right = (1,) * (width - len(second)) + tuple(second)
    return tuple(max(x, y) for x, y in zip(left, right, strict=True))


def load_onnx(
    path: str | Path, batch: int | None = None, skip_unsupported: bool = False
) -> tuple[Workload, list[str]]:
    """An ONNX model as a Workload, plus the names of nodes skipped as pass-through.

    Without `skip_unsupported`, an op that is neither a GEMM nor known pass-through, a dilated or
    unequal-stride conv, or a GEMM whose shapes inference cannot resolve is a ConfigError naming the node.
    """
    onnx = _import_onnx()
    path = Path(path)
    if batch is not None and (not isinstance(batch, int) or batch < 1):
        raise ConfigError(f"must be a positive integer (got {batch!r})", source=str(path), field="batch")
    from google.protobuf.message import DecodeError  # protobuf comes with onnx

    try:
        model = onnx.load(str(path))
    except (OSError, DecodeError, ValueError) as exc:
        raise ConfigError(f"cannot read ONNX model ({type(exc).__name__}: {exc})", source=str(path)) from None
    stored = _shapes(model.graph) if batch is None else {}  # stale when the batch changes
    _fix_batch(model.graph, batch)
    try:
        model = onnx.shape_inference.infer_shapes(model)
    except (onnx.shape_inference.InferenceError, onnx.checker.ValidationError) as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(f"shape inference failed: {message}", source=str(path)) from None
    shapes = _shapes(model.graph)
    for tensor, shape in stored.items():  # keep a stored shape only where inference found none
        if None in shapes.get(tensor, (None,)) and None not in shape:
            shapes[tensor] = shape
    importer = _Importer(onnx, model.graph, shapes, skip_unsupported, str(path))
    for position, node in enumerate(model.graph.node):
        importer.visit(node, position)
    if not importer.layers:
        raise ConfigError("no Conv, Gemm or MatMul node to simulate", source=str(path))
    return Workload(path.stem, tuple(importer.layers)), importer.skipped
