"""SCALE-Sim v2/v3 topologies and configs in, so results can be compared layer by layer with SCALE-Sim.

Topology CSV, conv format (SCALE-Sim's default): Layer name, IFMAP Height, IFMAP Width, Filter
Height, Filter Width, Channels, Num Filter, Strides [, Stride width] [, N:M sparsity], read by
position as SCALE-Sim reads it (see `read_topology`; docs/inputs.md lists what is accepted).
IFMAP sizes already include padding, so every conv is imported with padding 0, and its output size
is SCALE-Sim's, ceil((H - F) / S) + 1, so layer MACs equal SCALE-Sim's.
A layer whose name contains "DP" is depthwise, as in SCALE-Sim: `Channels` groups of `Num Filter`
filters each. A 1x1 filter on a 1x1 IFMAP is a fully connected layer.

GEMM format (`scale.py -i gemm`): Layer, M, N, K, where M is rows (output pixels), N the
outputs (filters) and K the reduction (window size), mapped to Y[M x N] = X[M x K] . W[K x N].

SCALE-Sim has no layer graph, so layers are chained: each reads the one before it.
The .cfg reader lives in npu_des/importers/scalesim_config.py (re-exported here).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from npu_des.errors import ConfigError, echoed, one_line
from npu_des.files import read_text
from npu_des.importers.scalesim_config import load_scalesim_config as load_scalesim_config  # old home
from npu_des.workload import ConvGeometry, Gemm, Layer, Workload, linear

# (column name for messages, what a normalised header cell holds when it names that column)
CONV_COLUMNS = (("Layer name", ""), ("IFMAP Height", "ifmaph"), ("IFMAP Width", "ifmapw"),
                ("Filter Height", "filterh"), ("Filter Width", "filterw"), ("Channels", "channel"),
                ("Num Filter", "filter"), ("Strides", "stride"))
GEMM_COLUMNS = (("Layer", ""), ("M", "m"), ("N", "n"), ("K", "k"))
STRIDE_WIDTH = "Stride width"
MAX_DIMENSION = 2**31 - 1  # SCALE-Sim builds numpy operand matrices from these; no real layer is larger
SPARSITY = re.compile(r"^\s*(\d{1,9})\s*:\s*(\d{1,9})\s*$")  # SCALE-Sim v3's N:M weight sparsity


def _normalise(cell: str) -> str:
    return cell.strip().lower().replace(" ", "").replace("_", "")


def _rows(path: Path) -> Iterator[tuple[int, list[str]]]:
    """Rows as SCALE-Sim splits them (on commas, cells stripped) with 1-based line numbers; blank rows
    and rows of empty cells (SCALE-Sim files often have a ',,,,' row) are skipped; trailing empty
    cells (the trailing comma SCALE-Sim's reader expects, or several) are dropped."""
    text = read_text(path, "topology file", field="--topology")
    for number, line in enumerate(text.splitlines(), start=1):
        cells = [cell.strip() for cell in line.split(",")]
        while cells and not cells[-1]:
            cells.pop()
        if cells:
            yield number, cells


def _looks_like_header(cells: list[str], columns: tuple[tuple[str, str], ...]) -> bool:
    return all(index < len(cells) and key in _normalise(cells[index])
               for index, (_, key) in enumerate(columns) if key)


def _positive(path: Path, line: int, cells: list[str], index: int, column: str) -> int:
    if index >= len(cells) or not cells[index]:
        raise ConfigError(f"missing value (a row after the header is a layer: {_expected(column)})",
                          source=f"{path}:{line}", field=column)
    text = cells[index]
    digits = text.isascii() and text.isdigit() and len(text.lstrip("0")) <= 10
    if not digits or not 1 <= int(text) <= MAX_DIMENSION:
        raise ConfigError(f"expected a positive integer (got '{echoed(text)}')", source=f"{path}:{line}",
                          field=column, allowed=f"1..{MAX_DIMENSION}")
    return int(text)


def _expected(column: str) -> str:
    columns = GEMM_COLUMNS if column in {name for name, _ in GEMM_COLUMNS} else CONV_COLUMNS
    return ", ".join(name for name, _ in columns)


def _unique(name: str, index: int, seen: set[str]) -> str:
    name = name.strip('"').strip() or f"layer{index}"
    candidate, suffix = name, 2
    while candidate in seen:
        candidate, suffix = f"{name}_{suffix}", suffix + 1
    seen.add(candidate)
    return candidate


@dataclass
class _Extras:
    """What a file holds beyond SCALE-Sim's positional columns: reported once per file as notes."""

    header: list[str]
    width: int                                   # positional columns of the format (8 conv, 4 GEMM)
    ignored: dict[int, str] = field(default_factory=dict)   # column index -> header name
    sparse_layers: list[str] = field(default_factory=list)  # layers with an N:M ratio other than 1:1

    def scan(self, name: str, cells: list[str], skip: int = 0) -> None:
        for index in range(self.width + skip, len(cells)):
            match = SPARSITY.match(cells[index])
            if match and index == len(cells) - 1:
                if match.group(1) != match.group(2):
                    self.sparse_layers.append(name)
            elif cells[index]:
                label = self.header[index] if index < len(self.header) and self.header[index] else ""
                self.ignored.setdefault(index, label)

    def notes(self, path: Path) -> list[str]:
        notes = []
        if self.ignored:
            labels = ", ".join(f"{index + 1}" + (f" '{one_line(label)}'" if label else "")
                               for index, label in sorted(self.ignored.items()))
            notes.append(f"{path.name}: column(s) {labels} ignored (SCALE-Sim reads only the first "
                         f"{self.width} by position)")
        if self.sparse_layers:
            sample = ", ".join(self.sparse_layers[:3]) + (", ..." if len(self.sparse_layers) > 3 else "")
            notes.append(f"{path.name}: N:M weight sparsity of {len(self.sparse_layers)} layer(s) ({sample}) "
                         "is not modelled; they run dense")
        return notes


def _conv_layer(path: Path, line: int, cells: list[str], name: str, inputs: tuple[str, ...],
                batch: int, has_stride_width: bool) -> Layer:
    height, width, filter_h, filter_w, channels, filters, stride = (
        _positive(path, line, cells, index, column) for index, (column, _) in enumerate(CONV_COLUMNS)
        if index > 0)
    if has_stride_width and len(cells) > 8 and cells[8] and not SPARSITY.match(cells[8]):
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


def _check_row_shape(path: Path, line: int, cells: list[str], width: int) -> None:
    """Rows SCALE-Sim crashes on for their shape, named for what they are: other separators, labels."""
    if len(cells) == 1 and ("\t" in cells[0] or ";" in cells[0]):
        separator = "tabs" if "\t" in cells[0] else "semicolons"
        raise ConfigError(f"values are separated by {separator}; SCALE-Sim reads comma-separated values",
                          source=f"{path}:{line}", allowed="commas between values")
    if len(cells) == 1:
        raise ConfigError(f"row '{one_line(cells[0])[:40]}' has a name but no values; SCALE-Sim reads every "
                          f"row after the header as a layer of {width} columns (remove section labels and "
                          "comments)", source=f"{path}:{line}")


def _is_gemm(header: list[str], rows: list[tuple[int, list[str]]]) -> bool:
    """GEMM format when the header says Layer, M, N, K; with a header that names neither format, when
    every row has exactly SCALE-Sim's four GEMM values (plus an optional N:M ratio)."""
    if [_normalise(cell) for cell in header[1:4]] == ["m", "n", "k"]:
        return True
    names_conv = any(word in _normalise(cell) for cell in header for word in ("ifmap", "filter", "stride"))
    return not names_conv and bool(rows) and all(
        len(cells) == 4 or (len(cells) == 5 and SPARSITY.match(cells[4])) for _, cells in rows)


def read_topology(path: str | Path, batch: int = 1) -> tuple[Workload, list[str]]:
    """A SCALE-Sim topology CSV as a chained Workload, plus notes on what was read differently from the
    canonical file (a header that is not SCALE-Sim's, ignored columns, weight sparsity).

    Read as SCALE-Sim's own parser reads it: the first row is the header and is never a layer; every
    later row is a layer whose columns are taken by position (conv: name, IFMAP H, W, filter H, W,
    channels, filters, stride; GEMM: name, M, N, K), whatever the header says; a last cell of the form
    N:M is v3's weight sparsity. BOM, CRLF, UTF-16, padding spaces, and missing, single or repeated
    trailing commas are all accepted. What SCALE-Sim crashes on (a value that is not a positive integer,
    a missing value, a label row, a filter larger than its IFMAP) is one ConfigError naming line and column.
    """
    path = Path(path)
    if not isinstance(batch, int) or batch < 1:
        raise ConfigError(f"must be a positive integer (got {batch!r})", source=str(path), field="batch")
    rows = list(_rows(path))
    if not rows:
        raise ConfigError(
            "empty topology file: expected SCALE-Sim's header and one row per layer", source=str(path)
        )
    (header_line, header), body = rows[0], rows[1:]
    is_gemm = _is_gemm(header, body)
    columns = GEMM_COLUMNS if is_gemm else CONV_COLUMNS
    notes: list[str] = []
    if not _looks_like_header(header, columns):
        kind = "GEMM (Layer, M, N, K)" if is_gemm else "conv (" + ", ".join(n for n, _ in CONV_COLUMNS) + ")"
        shown = one_line(", ".join(header))
        notes.append(f"{path.name}:{header_line}: first row '{shown[:60]}{'...' if len(shown) > 60 else ''}' "
                     f"is not SCALE-Sim's {kind} header; it is skipped as the header and columns are read "
                     "by position, as SCALE-Sim does")
    has_stride_width = not is_gemm and len(header) > 8 and "stride" in _normalise(header[8])
    extras = _Extras(header, len(columns))
    layers: list[Layer] = []
    seen: set[str] = set()
    for line, cells in body:
        _check_row_shape(path, line, cells, len(columns))
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
        extras.scan(name, cells, skip=1 if has_stride_width else 0)
    if not layers:
        raise ConfigError(f"no layers after the header (line {header_line}; SCALE-Sim always reads the first "
                          "row as the header)", source=str(path))
    return Workload(path.stem, tuple(layers)), notes + extras.notes(path)


def load_topology(path: str | Path, batch: int = 1) -> Workload:
    """Read a SCALE-Sim topology CSV (conv or GEMM format) into a chained Workload (see `read_topology`;
    `batch` sets the conv batch and multiplies GEMM rows: SCALE-Sim itself has no batch)."""
    return read_topology(path, batch)[0]


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
        if geometry.dilation > 1:  # SCALE-Sim has no dilation: any conv row would get M or K (MACs) wrong
            raise ConfigError(
                f"dilation {geometry.dilation}: SCALE-Sim's conv format has no dilation (a "
                f"{geometry.kernel_h}x{geometry.kernel_w} kernel spanning "
                f"{geometry.span_h}x{geometry.span_w} "
                "input pixels has no exact conv row); write the GEMM format, which is exact",
                source=f"layer {layer.name}",
                field="dilation",
                allowed="gemm_format=True for dilated convs",
            )
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
