"""ONNX models in: Conv, Gemm and MatMul nodes become GEMM layers, everything else is pass-through.

A layer's `inputs` are its nearest GEMM ancestors through non-GEMM nodes (activations, pools,
normalisation, Add, Concat, reshapes), so branches and skip connections survive the import. Shapes
come from ONNX shape inference; `batch` fixes the first dimension of every graph input (a symbolic
batch dimension becomes 1 when `batch` is None). `onnx` is optional and imported only here.

Models as torch exports them: weights in an external-data file beside the model (`model.onnx.data`)
are never loaded (shapes come from the initializers' dims), but the file must be there; layer names
come from the module path torch's dynamo exporter records per node (metadata `pkg.torch.onnx.name_scopes`,
e.g. `layer1.0.conv1` instead of `node_Conv_292`). Skipped nodes (`skip_unsupported`) are reported with
the MACs and bytes they drop; one that carries more than LARGE_SKIP_SHARE of the model's MACs is refused
unless `allow_large_skips`.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from math import prod
from pathlib import Path
from typing import Any

from npu_des.errors import ConfigError
from npu_des.workload import ConvGeometry, Gemm, Layer, Workload, linear, matmul

MISSING_ONNX = "ONNX import needs the optional dependency: pip install 'npu-des[onnx]'"
LARGE_SKIP_SHARE = 0.01  # a skipped node above this share of the model's MACs needs allow_large_skips
NAME_SCOPES = "pkg.torch.onnx.name_scopes"  # torch dynamo exporter: ['', 'layer1', 'layer1.0', 'conv2d']
ELEMENT_BYTES = {1: 4, 2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 8, 9: 1, 10: 2, 11: 8, 12: 4, 13: 8, 16: 2}

GEMM_OPS = {"Conv", "Gemm", "MatMul"}
# element-wise, normalisation, pooling and layout ops: gradients flow to every input
PASS_ALL = {
    "Relu",
    "LeakyRelu",
    "PRelu",
    "Elu",
    "Selu",
    "Celu",
    "Sigmoid",
    "HardSigmoid",
    "HardSwish",
    "Tanh",
    "Softplus",
    "Softsign",
    "Gelu",
    "Erf",
    "Mish",
    "Clip",
    "Add",
    "Sub",
    "Mul",
    "Div",
    "Sum",
    "Mean",
    "Max",
    "Min",
    "Pow",
    "Sqrt",
    "Reciprocal",
    "Exp",
    "Log",
    "Neg",
    "Abs",
    "Concat",
    "Split",
    "Where",
    "BatchNormalization",
    "InstanceNormalization",
    "LayerNormalization",
    "GroupNormalization",
    "LpNormalization",
    "LRN",
    "Softmax",
    "LogSoftmax",
    "Dropout",
    "Identity",
    "Cast",
    "MaxPool",
    "AveragePool",
    "GlobalAveragePool",
    "GlobalMaxPool",
    "LpPool",
    "ReduceMean",
    "ReduceSum",
    "ReduceMax",
    "ReduceMin",
    "ReduceL2",
    "Transpose",
    "Flatten",
    "SpaceToDepth",
    "DepthToSpace",
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


def macs_text(macs: int) -> str:
    """MACs for a note: 4.09 GMACs, 13.8 MMACs, 2,048 MACs."""
    if macs >= 10**9:
        return f"{macs / 1e9:,.2f} GMACs"
    if macs >= 10**6:
        return f"{macs / 1e6:,.1f} MMACs"
    return f"{macs:,} MACs"


def bytes_text(nbytes: int) -> str:
    return f"{nbytes / 1e6:,.2f} MB" if nbytes >= 10**6 else f"{nbytes / 1e3:,.1f} KB"


@dataclass(frozen=True)
class SkippedNode:
    """A node passed through instead of simulated, and the work it would have done."""

    name: str
    op: str
    reason: str
    macs: int  # 0 where the op has no MAC count this importer knows (or its shapes are unknown)
    bytes: int  # its tensors (activation inputs, weights, outputs) at their stored element size


@dataclass(frozen=True)
class OnnxImport:
    """What `import_onnx` read: the workload, the nodes it skipped, and the MACs of both."""

    workload: Workload
    skipped: tuple[SkippedNode, ...]

    @property
    def imported_macs(self) -> int:
        return sum(layer.gemm.macs for layer in self.workload.layers)

    @property
    def skipped_macs(self) -> int:
        return sum(node.macs for node in self.skipped)

    @property
    def skipped_bytes(self) -> int:
        return sum(node.bytes for node in self.skipped)

    def notes(self) -> list[str]:
        """One line for the output and summary.json `notes`, or none when nothing was skipped."""
        if not self.skipped:
            return []
        total = self.imported_macs + self.skipped_macs
        share = self.skipped_macs / total if total else 0.0
        listed = ", ".join(
            f"{node.name} ({node.op}, {macs_text(node.macs)}, {bytes_text(node.bytes)})"
            for node in self.skipped
        )
        line = (
            f"skipped {len(self.skipped)} unsupported ONNX node(s) as pass-through, dropping "
            f"{macs_text(self.skipped_macs)} ({share:.2%} of the model's {macs_text(total)}) and "
            f"{bytes_text(self.skipped_bytes)} of tensors: {listed}"
        )
        return [line]


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


def _element_types(graph: Any) -> dict[str, int]:
    """Tensor name -> ONNX element type (TensorProto.DataType), where the graph says."""
    types = {
        value.name: value.type.tensor_type.elem_type
        for value in (*graph.input, *graph.value_info, *graph.output)
        if value.type.tensor_type.elem_type
    }
    types.update({tensor.name: tensor.data_type for tensor in graph.initializer})
    return types


def module_path(node: Any) -> str | None:
    """The module path torch's dynamo exporter recorded for a node ('layer1.0.conv1'), or None.

    Its `pkg.torch.onnx.name_scopes` metadata lists the enclosing module paths, outermost first, then
    the op's own name: ['', 'layer1', 'layer1.0', 'layer1.0.conv1', 'conv2d'].
    """
    for prop in node.metadata_props:
        if prop.key == NAME_SCOPES:
            try:
                scopes = ast.literal_eval(prop.value)
            except (ValueError, SyntaxError):
                return None
            if isinstance(scopes, list) and len(scopes) >= 2 and isinstance(scopes[-2], str) and scopes[-2]:
                return scopes[-2]
    return None


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
        self.skipped: list[SkippedNode] = []
        self.names: set[str] = set()
        self.types = _element_types(graph)

    def _feeding(self, tensors: Iterable[str]) -> tuple[str, ...]:
        """Layers feeding any of `tensors`, in forward order, each once."""
        found = {name for tensor in tensors if tensor for name in self.producers.get(tensor, ())}
        return tuple(sorted(found, key=self.index.__getitem__))

    def _name(self, node: Any, position: int) -> str:
        base = module_path(node) or node.name or f"{node.op_type}_{position}"
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
            self.skipped.append(SkippedNode(name, op, str(exc), self._macs(node), self._bytes(node)))
            outputs = self._feeding(node.input)
        for tensor in node.output:
            self.producers[tensor] = outputs

    def _bytes(self, node: Any) -> int:
        """Bytes of a node's tensors with known shapes, at their stored element size (4 if unknown)."""
        total = 0
        for tensor in (*node.input, *node.output):
            shape = self.shapes.get(tensor) if tensor else None
            if shape is not None and None not in shape:
                total += prod(dim for dim in shape if dim is not None) * ELEMENT_BYTES.get(
                    self.types.get(tensor, 1), 4
                )
        return total

    def _macs(self, node: Any) -> int:
        """MACs of a node this importer could not lower, where its op and shapes say (else 0)."""
        try:
            if node.op_type in ("Conv", "ConvInteger", "QLinearConv", "ConvTranspose"):
                weight = 3 if node.op_type == "QLinearConv" else 1
                kernel = prod(_known(self.shapes, node.input[weight])[1:])
                if node.op_type == "ConvTranspose":
                    return prod(_known(self.shapes, node.input[0])) * kernel
                return prod(_known(self.shapes, node.output[0])) * kernel
            if node.op_type in ("MatMul", "Gemm", "MatMulInteger"):
                a = _known(self.shapes, node.input[0])
                trans_a = self._attributes(node).get("transA", 0)
                return prod(_known(self.shapes, node.output[0])) * (
                    a[-2] if trans_a and len(a) > 1 else a[-1]
                )
        except (_Unsupported, IndexError):
            return 0
        return 0

    def _attributes(self, node: Any) -> dict[str, Any]:
        return {
            attribute.name: self.onnx.helper.get_attribute_value(attribute) for attribute in node.attribute
        }

    def _is_constant(self, tensor: str) -> bool:
        return tensor in self.constants

    def _conv(self, node: Any, name: str) -> Layer:
        attributes = self._attributes(node)
        dilations = list(attributes.get("dilations", (1, 1)))
        if len(set(dilations)) > 1:
            raise _Unsupported(f"unequal dilations {dilations}")
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
            batch,
            height,
            width,
            out_h,
            out_w,
            kernel_h,
            kernel_w,
            strides[0] if strides else 1,
            dilations[0] if dilations else 1,
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
    path: str | Path,
    batch: int | None = None,
    skip_unsupported: bool = False,
    allow_large_skips: bool = False,
) -> tuple[Workload, list[str]]:
    """An ONNX model as a Workload, plus the names of nodes skipped as pass-through (see `import_onnx`)."""
    imported = import_onnx(path, batch, skip_unsupported, allow_large_skips)
    return imported.workload, [node.name for node in imported.skipped]


def import_onnx(
    path: str | Path,
    batch: int | None = None,
    skip_unsupported: bool = False,
    allow_large_skips: bool = False,
) -> OnnxImport:
    """An ONNX model as a Workload, with the nodes skipped as pass-through and the work they drop.

    Without `skip_unsupported`, an op that is neither a GEMM nor known pass-through, an unequal-stride
    conv, or a GEMM whose shapes inference cannot resolve is a ConfigError naming the node. With it,
    a skipped node carrying more than LARGE_SKIP_SHARE of the model's MACs is still an error unless
    `allow_large_skips`: skipping it would simulate a different model.
    """
    onnx = _import_onnx()
    path = Path(path)
    if batch is not None and (not isinstance(batch, int) or batch < 1):
        raise ConfigError(f"must be a positive integer (got {batch!r})", source=str(path), field="batch")
    model = _read_model(onnx, path)
    stored = _shapes(model.graph) if batch is None else {}  # stale when the batch changes
    _fix_batch(model.graph, batch)
    try:
        model = onnx.shape_inference.infer_shapes(model)
    except (onnx.shape_inference.InferenceError, onnx.checker.ValidationError) as exc:
        raise ConfigError(_inference_failure(str(exc)), source=str(path)) from None
    shapes = _shapes(model.graph)
    for tensor, shape in stored.items():  # keep a stored shape only where inference found none
        if None in shapes.get(tensor, (None,)) and None not in shape:
            shapes[tensor] = shape
    importer = _Importer(onnx, model.graph, shapes, skip_unsupported, str(path))
    for position, node in enumerate(model.graph.node):
        importer.visit(node, position)
    if not importer.layers:
        raise ConfigError("no Conv, Gemm or MatMul node to simulate", source=str(path))
    result = OnnxImport(Workload(path.stem, tuple(importer.layers)), tuple(importer.skipped))
    total = result.imported_macs + result.skipped_macs
    for node in result.skipped:
        if not allow_large_skips and node.macs > LARGE_SKIP_SHARE * total:
            raise ConfigError(
                f"{node.reason}, and it carries {node.macs / total:.1%} of the model's MACs "
                f"({macs_text(node.macs)} of {macs_text(total)}; skipping is limited to "
                f"{LARGE_SKIP_SHARE:.0%}); add --allow-large-skips (allow_large_skips=True) "
                "to drop it anyway",
                source=f"{path}: node '{node.name}'",
            )
    return result


def _read_model(onnx: Any, path: Path) -> Any:
    """The model's graph without its weights: external data is checked for, never loaded."""
    from google.protobuf.message import DecodeError  # protobuf comes with onnx

    try:
        model = onnx.load(str(path), load_external_data=False)
    except (OSError, DecodeError, ValueError) as exc:
        raise ConfigError(f"cannot read ONNX model ({type(exc).__name__}: {exc})", source=str(path)) from None
    locations = sorted(
        {
            entry.value
            for tensor in model.graph.initializer
            if tensor.data_location == onnx.TensorProto.EXTERNAL
            for entry in tensor.external_data
            if entry.key == "location"
        }
    )
    for location in locations:
        if not (path.parent / location).is_file():
            raise ConfigError(
                f"external data file '{location}' is missing (the weights torch's exporter writes beside "
                f"the model; copy it next to {path.name})",
                source=str(path),
            )
    return model


def _inference_failure(message: str) -> str:
    """Shape inference's error as one line naming the node, when onnx's message does."""
    first = message.strip().splitlines()[0] if message.strip() else "no detail"
    found = re.search(r"\(op_type:\s*(\w+), node name: ([^)]*)\):?\s*(.*)", first)
    if found is None:
        return f"shape inference failed: {first}"
    detail = re.sub(r"^\[\w+\]\s*", "", found.group(3)) or "no detail"
    return f"shape inference failed at node '{found.group(2)}' ({found.group(1)}): {detail}"
