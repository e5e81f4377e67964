"""Old import path of npu_des.tiling.sparsity (sparse X/dY densities and compressed tile bytes)."""

from npu_des.tiling.sparsity import (
    COMPRESSIONS,
    DENSITY_KINDS,
    Sparsity,
    compressed_bytes,
    load_density_file,
    streamed_length,
)

__all__ = [
    "COMPRESSIONS",
    "DENSITY_KINDS",
    "Sparsity",
    "compressed_bytes",
    "load_density_file",
    "streamed_length",
]
