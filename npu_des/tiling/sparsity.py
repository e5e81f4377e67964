"""Sparse activations and output gradients (SWG): per-layer tensor densities and compressed tile bytes.

SWG (Wu, Tu, Li, Wei, Yin, "SWG: an architecture for sparse weight gradient computation",
Sci. China Inf. Sci. 67, 2024, doi:10.1007/s11432-022-3807-9) observes that the feature map X
(after ReLU) and the error map dY are sparse, so weight-gradient work and traffic can skip zeros.
We model sparsity by one number per tensor: its density (fraction of nonzero elements), uniform
over the tensor's tiles. Two uses, both explicit opt-ins:

- compute (`cores.array.zero_skipping`): see `streamed_length`; only dW tiles skip work.
- traffic (`run.compression`): X and dY tiles move as `compressed_bytes`; W, dX, dW stay dense.

Densities come from `run.density` (X of every layer that has a producer, i.e. a ReLU output, and dY
of every layer; the network input X stays dense) and, per layer, from `run.density_file`.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from math import ceil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from npu_des.config import describe, load_yaml
from npu_des.errors import ConfigError, one_line
from npu_des.files import read_text
from npu_des.kinds import TensorKind

if TYPE_CHECKING:
    from npu_des.config import RunOptions
    from npu_des.workload.layers import Layer

DENSITY_KINDS = (TensorKind.X, TensorKind.DY)
COMPRESSIONS = ("none", "bitmap", "csr")
CSR_INDEX_BYTES = 2    # column index per nonzero: tile rows are shorter than 65,536 elements
CSR_POINTER_BYTES = 4  # row pointer per row, plus one


def streamed_length(temporal: int, density: float) -> int:
    """Stream length T of a zero-skipping fold: ceil(T * density), at least 1.

    One fold streams T operand pairs through the array (SCALE-Sim: 2R + C + T - 2 cycles). An
    array that skips a pair whenever either operand is zero (SWG's valid-data trace), with its
    balancer keeping PE columns in step, streams only the nonzero pairs; with X and dY zeros
    independent that is T * d_X * d_dY. Fill and drain (2R + C - 2) are unchanged. It is an
    ideal-balance bound: real arrays lose some of it to imbalance between columns.
    """
    if density >= 1.0:
        return temporal
    return max(1, ceil(temporal * density))


def compressed_bytes(
    elements: int, rows: int, density: float, bytes_per_element: int, compression: str
) -> int:
    """DRAM bytes of a tile of `elements` (in `rows` rows) at `density`, in the given format.

    bitmap: the nonzeros plus one bit per element. csr: the nonzeros, a 2-byte column index per
    nonzero and a 4-byte pointer per row (+1). A tile goes dense when the format would not shrink
    it (a per-tile flag, not counted), so density 1.0 always costs exactly the dense bytes.
    """
    dense = elements * bytes_per_element
    if compression == "none" or density >= 1.0:
        return dense
    nonzeros = ceil(elements * density)
    if compression == "bitmap":
        packed = nonzeros * bytes_per_element + ceil(elements / 8)
    elif compression == "csr":
        packed = nonzeros * (bytes_per_element + CSR_INDEX_BYTES) + (rows + 1) * CSR_POINTER_BYTES
    else:
        raise ValueError(f"unknown compression {compression!r} (allowed: {', '.join(COMPRESSIONS)})")
    return min(dense, packed)


@dataclass(frozen=True)
class Sparsity:
    """Densities of X and dY per layer, and how X/dY tiles are compressed over DRAM."""

    density: float = 1.0
    per_layer: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    compression: str = "none"
    source: str = "run.density_file"

    @classmethod
    def from_options(cls, options: RunOptions) -> Sparsity:
        per_layer = load_density_file(options.density_file) if options.density_file else {}
        return cls(
            options.density, per_layer, options.compression, options.density_file or "run.density_file"
        )

    @property
    def dense(self) -> bool:
        return self.density >= 1.0 and not self.per_layer

    def check_layers(self, names: Iterable[str]) -> None:
        """Every layer named in the density file must exist: a typo would silently mean 'dense'."""
        known = set(names)
        for name in self.per_layer:
            if name not in known:
                sample = ", ".join(sorted(known)[:5]) + (", ..." if len(known) > 5 else "")
                raise ConfigError(
                    f"unknown layer '{name}'",
                    source=self.source,
                    field=name,
                    allowed=f"layers of the model ({sample})",
                )

    def densities(self, layer: Layer) -> tuple[float, float]:
        """(density of X, density of dY) of `layer`."""
        default_x = self.density if layer.has_input_gradient else 1.0
        entry = self.per_layer.get(layer.name, {})
        return entry.get(TensorKind.X, default_x), entry.get(TensorKind.DY, self.density)


def load_density_file(path_text: str) -> dict[str, dict[str, float]]:
    """Per-layer densities from YAML ({layer: {X: 0.4, dY: 0.3}}) or CSV (columns layer, X, dY; blanks
    allowed)."""
    path = Path(path_text)
    text = read_text(path, "density file", field="run.density_file")
    if path.suffix.lower() == ".csv":
        return _densities(_density_csv(text, path_text), path_text)
    raw = load_yaml(text, path_text) or {}
    if not isinstance(raw, dict):
        raise ConfigError("expected a mapping of layer name to {X: density, dY: density}", source=path_text)
    return _densities(raw, path_text)


def _density_csv(text: str, path_text: str) -> dict[str, Any]:
    try:
        reader = csv.DictReader(text.splitlines())
        columns = [column.strip() for column in reader.fieldnames or ()]
        if "layer" not in columns or not set(columns) & set(DENSITY_KINDS):
            raise ConfigError("expected a header with 'layer' and X and/or dY columns", source=path_text)
        extra = [column for column in columns if column not in ("layer", *DENSITY_KINDS)]
        if extra:
            raise ConfigError(f"unknown column '{extra[0]}'", source=path_text, allowed="layer, X, dY")
        reader.fieldnames = columns
        return {
            row["layer"]: {k: v for k, v in row.items() if k in DENSITY_KINDS and v not in (None, "")}
            for row in reader
        }
    except csv.Error as error:
        raise ConfigError(f"malformed CSV ({one_line(str(error))})", source=path_text) from None


def _densities(raw: dict[Any, Any], path_text: str) -> dict[str, dict[str, float]]:
    """Validated {layer: {X|dY: density in (0, 1]}}."""
    table: dict[str, dict[str, float]] = {}
    for layer, entry in raw.items():
        if not isinstance(entry, dict):
            raise ConfigError("expected {X: density, dY: density}", source=path_text,
                              field=one_line(str(layer))[:80])
        table[str(layer)] = {}
        for kind, value in entry.items():
            if kind not in DENSITY_KINDS:
                raise ConfigError(
                    f"unknown tensor kind {describe(kind)}",
                    source=path_text,
                    field=f"{one_line(str(layer))[:80]}.{one_line(str(kind))[:20]}",
                    allowed=", ".join(DENSITY_KINDS),
                )
            try:
                density = float(value)
            except (TypeError, ValueError, OverflowError):
                density = float("nan")
            if isinstance(value, bool) or not 0 < density <= 1:
                raise ConfigError(
                    f"must be a density in (0, 1] (got {describe(value)})", source=path_text,
                    field=f"{one_line(str(layer))[:80]}.{one_line(str(kind))[:20]}"
                )
            table[str(layer)][kind] = density
    return table
