"""SCALE-Sim v2 topologies and configs in, so results can be compared layer by layer with SCALE-Sim.

Topology CSV, conv format (SCALE-Sim's default): Layer name, IFMAP Height, IFMAP Width, Filter
Height, Filter Width, Channels, Num Filter, Strides [, Stride width]; a trailing comma and extra
cells are allowed. IFMAP sizes already include padding, so every conv is imported with padding 0, and
its output size is SCALE-Sim's, ceil((H - F) / S) + 1, so layer MACs equal SCALE-Sim's.
A layer whose name contains "DP" is depthwise, as in SCALE-Sim: `Channels` groups of `Num Filter`
filters each. A 1x1 filter on a 1x1 IFMAP is a fully connected layer.

GEMM format (`scale.py -i gemm`): Layer, M, N, K, where M is rows (output pixels), N the
outputs (filters) and K the reduction (window size), mapped to Y[M x N] = X[M x K] . W[K x N].

SCALE-Sim has no layer graph, so layers are chained: each reads the one before it.
The .cfg reader lives in npu_des/importers/scalesim_config.py (re-exported here).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from npu_des.errors import ConfigError
from npu_des.importers.scalesim_config import load_scalesim_config as load_scalesim_config  # old home
from npu_des.workload import ConvGeometry, Gemm, Layer, Workload, linear

# (column name for messages, what its normalised header must contain)
CONV_COLUMNS = (("Layer name", ""), ("IFMAP Height", "ifmaph"), ("IFMAP Width", "ifmapw"),
                ("Filter Height", "filterh"), ("Filter Width", "filterw"), ("Channels", "channel"),
                ("Num Filter", "filter"), ("Strides", "stride"))
GEMM_COLUMNS = (("Layer", ""), ("M", "m"), ("N", "n"), ("K", "k"))
STRIDE_WIDTH = "Stride width"


def _normalise(cell: str) -> str:
    return cell.strip().lower().replace(" ", "").replace("_", "")


def _rows(path: Path) -> Iterator[tuple[int, list[str]]]:
    """Non-blank rows with their 1-based line numbers (SCALE-Sim files often have a blank ',,,,' row)."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read topology file ({exc.strerror})", source=str(path)) from None
    reader = csv.reader(text.splitlines())
    for cells in reader:
        cells = [cell.strip() for cell in cells]
        if any(cells):
            yield reader.line_num, cells


def _check_header(path: Path, line: int, header: list[str], columns: tuple[tuple[str, str], ...]) -> None:
    for index, (name, key) in enumerate(columns):
        if index >= len(header) or not header[index]:
            raise ConfigError("missing column", source=f"{path}:{line}", field=name)
        if key not in _normalise(header[index]):
            raise ConfigError(f"expected column '{name}' here (got '{header[index]}'); the first row must be "
                              f"SCALE-Sim's header", source=f"{path}:{line}", field=name)


def _positive(path: Path, line: int, cells: list[str], index: int, column: str) -> int:
    if index >= len(cells) or not cells[index]:
        raise ConfigError("missing value", source=f"{path}:{line}", field=column)
    text = cells[index]
    if not (text.isascii() and text.isdigit()) or int(text) < 1:
        raise ConfigError(f"expected a positive integer (got '{cells[index]}')", source=f"{path}:{line}",
                          field=column)
    return int(text)


def _unique(name: str, index: int, seen: set[str]) -> str:
    name = name or f"layer{index}"
    candidate, suffix = name, 2
    while candidate in seen:
        candidate, suffix = f"{name}_{suffix}", suffix + 1
    seen.add(candidate)
    return candidate


def _conv_layer(path: Path, line: int, cells: list[str], name: str, inputs: tuple[str, ...],
                batch: int, has_stride_width: bool) -> Layer:
    height, width, filter_h, filter_w, channels, filters, stride = (
        _positive(path, line, cells, index, column) for index, (column, _) in enumerate(CONV_COLUMNS)
        if index > 0)
    if has_stride_width and len(cells) > 8 and cells[8]:
        stride_w = _positive(path, line, cells, 8, STRIDE_WIDTH)
        if stride_w != stride:
            raise ConfigError(
                f"unequal strides {stride}x{stride_w} are not supported",
                source=f"{path}:{line}",
                field=STRIDE_WIDTH,
            )
    if filter_h > height or filter_w > width:
        raise ConfigError(
            f"filter {filter_h}x{filter_w} is larger than the IFMAP {height}x{width}",
            source=f"{path}:{line}",
            field="Filter Height",
        )
    if height == width == filter_h == filter_w == 1 and "DP" not in name:
        return linear(name, inputs, channels, filters, rows=batch)
    groups = channels if "DP" in name else 1  # SCALE-Sim's depthwise marker: one group per channel
    # SCALE-Sim's output size, ceil((H - F + S) / S): when the stride does not divide H - F, the last
    # window hangs over the IFMAP edge (implicit padding), so this is one more than a valid conv gives
    out_h, out_w = -(-(height - filter_h) // stride) + 1, -(-(width - filter_w) // stride) + 1
    out_channels = filters * groups
    geometry = ConvGeometry(batch, height, width, out_h, out_w, filter_h, filter_w, stride)
    gemm = Gemm(
        M=batch * out_h * out_w,
        K=(channels // groups) * filter_h * filter_w,
        N=filters,
        groups=groups,
        conv=geometry,
    )
    kind = "depthwise" if groups > 1 else "conv"
    return Layer(name, kind, inputs, gemm, (out_channels, out_h, out_w))


def load_topology(path: str | Path, batch: int = 1) -> Workload:
    """Read a SCALE-Sim topology CSV (conv or GEMM format, told apart by the header) into a chained
    Workload; `batch` sets the conv batch and multiplies GEMM rows (SCALE-Sim itself has no batch)."""
    path = Path(path)
    if not isinstance(batch, int) or batch < 1:
        raise ConfigError(f"must be a positive integer (got {batch!r})", source=str(path), field="batch")
    rows = _rows(path)
    first = next(rows, None)
    if first is None:
        raise ConfigError(
            "empty topology file: expected SCALE-Sim's header and one row per layer", source=str(path)
        )
    header_line, header = first
    is_gemm = [_normalise(cell) for cell in header[1:4]] == ["m", "n", "k"]
    columns = GEMM_COLUMNS if is_gemm else CONV_COLUMNS
    _check_header(path, header_line, header, columns)
    has_stride_width = len(header) > 8 and "stride" in _normalise(header[8])
    layers: list[Layer] = []
    seen: set[str] = set()
    for line, cells in rows:
        name = _unique(cells[0], len(layers), seen)
        inputs = (layers[-1].name,) if layers else ()
        if is_gemm:
            m, n, k = (
                _positive(path, line, cells, index, column)
                for index, (column, _) in enumerate(GEMM_COLUMNS)
                if index > 0
            )
            layers.append(linear(name, inputs, k, n, rows=m * batch))
        else:
            layers.append(_conv_layer(path, line, cells, name, inputs, batch, has_stride_width))
    if not layers:
        raise ConfigError(f"no layers after the header (line {header_line})", source=str(path))
    return Workload(path.stem, tuple(layers))


def topology_rows(workload: Workload, gemm_format: bool = False) -> list[list[str]]:
    """A workload as SCALE-Sim topology rows (header first), for running the same layers in SCALE-Sim.

    Conv format writes each conv's IFMAP as the padded input a valid conv needs, (out - 1) * stride +
    kernel, and the per-image shape (import with the same batch). GEMM format writes M, N, K per layer.
    """
    if gemm_format:
        rows = [[name for name, _ in GEMM_COLUMNS]]
        for layer in workload.layers:
            if layer.gemm.groups != 1:
                raise ConfigError(
                    f"{layer.gemm.groups} groups cannot be written in SCALE-Sim's GEMM format",
                    source=f"layer {layer.name}",
                    field="groups",
                )
            rows.append([layer.name, str(layer.gemm.M), str(layer.gemm.N), str(layer.gemm.K)])
        return rows
    rows = [[name for name, _ in CONV_COLUMNS]]
    for layer in workload.layers:
        gemm, geometry = layer.gemm, layer.gemm.conv
        if geometry is None:
            if layer.kind != "linear":
                raise ConfigError(
                    f"a {layer.kind} layer has no SCALE-Sim conv form; use the GEMM format",
                    source=f"layer {layer.name}",
                    field="kind",
                )
            rows.append([layer.name, "1", "1", "1", "1", str(gemm.K), str(gemm.N), "1"])
            continue
        height = (geometry.out_h - 1) * geometry.stride + geometry.kernel_h
        width = (geometry.out_w - 1) * geometry.stride + geometry.kernel_w
        channels = gemm.K // gemm.k_unit
        name = layer.name
        if gemm.groups > 1:
            if channels != 1:
                raise ConfigError(
                    "SCALE-Sim expresses only depthwise grouping (one channel per group)",
                    source=f"layer {layer.name}",
                    field="groups",
                )
            channels, name = gemm.groups, name if "DP" in name else f"{name}_DP"
        elif "DP" in name:
            raise ConfigError(
                "SCALE-Sim would read a name containing 'DP' as depthwise",
                source=f"layer {layer.name}",
                field="name",
            )
        rows.append(
            [
                name,
                str(height),
                str(width),
                str(geometry.kernel_h),
                str(geometry.kernel_w),
                str(channels),
                str(gemm.N),
                str(geometry.stride),
            ]
        )
    return rows


def save_topology(workload: Workload, path: str | Path, gemm_format: bool = False) -> None:
    """Write `topology_rows` as a SCALE-Sim CSV, with the trailing comma SCALE-Sim's reader expects."""
    lines = [", ".join(row) + "," for row in topology_rows(workload, gemm_format)]
    Path(path).write_text("\n".join(lines) + "\n")
