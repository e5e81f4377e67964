"""Layers lowered to GEMMs (DESIGN.md "The backward pass as GEMMs").

Forward layer: Y[M x N] = X[M x K] . W[K x N], repeated `groups` times. A conv is lowered by im2col,
but DRAM bytes of an X (or dX) tile are the input patch it covers, halo included, not its im2col
expansion: `Gemm.x_tile_elements` encodes that.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import ceil

from npu_des.errors import ConfigError


@dataclass(frozen=True, slots=True)
class ConvGeometry:
    """What im2col needs to map an M range (output pixels) back to the input patch it reads."""

    batch: int
    in_h: int
    in_w: int
    out_h: int
    out_w: int
    kernel_h: int
    kernel_w: int
    stride: int
    dilation: int = 1  # taps `dilation` pixels apart: the kernel spans dilation*(k-1)+1 input pixels

    @property
    def span_h(self) -> int:
        """Input rows one output pixel reads: the dilated kernel height (kernel_h when not dilated)."""
        return self.dilation * (self.kernel_h - 1) + 1

    @property
    def span_w(self) -> int:
        return self.dilation * (self.kernel_w - 1) + 1

    def patch_pixels(self, m_start: int, m_size: int) -> int:
        """Input pixels (per channel) read to produce output pixels [m_start, m_start + m_size)."""
        per_image = self.out_h * self.out_w
        first, last = m_start, m_start + m_size - 1
        if first // per_image != last // per_image:
            return (last // per_image - first // per_image + 1) * self.in_h * self.in_w
        row_first = (first % per_image) // self.out_w
        row_last = (last % per_image) // self.out_w
        if row_first == row_last:
            cols = (last - first) * self.stride + self.span_w
            return min(self.in_h, self.span_h) * min(self.in_w, cols)
        rows = (row_last - row_first) * self.stride + self.span_h
        return min(self.in_h, rows) * self.in_w


@dataclass(frozen=True, slots=True)
class Gemm:
    """One forward GEMM per group: Y[M x N] = X[M x K] . W[K x N]; `k_unit` is the K granularity of tiles."""

    M: int
    K: int
    N: int
    groups: int = 1
    conv: ConvGeometry | None = None

    @property
    def k_unit(self) -> int:
        """K tiles cover whole input channels (kh*kw rows of K each) so X tiles map to channel patches."""
        return self.conv.kernel_h * self.conv.kernel_w if self.conv else 1

    @property
    def macs(self) -> int:
        return self.M * self.K * self.N * self.groups

    @property
    def weight_elements(self) -> int:
        return self.K * self.N * self.groups

    def x_tile_elements(self, m_start: int, m_size: int, k_size: int) -> int:
        """Elements of X (or dX) an (m, k) tile of one group moves over DRAM."""
        if self.conv is None:
            return m_size * k_size
        channels = ceil(k_size / self.k_unit)
        return channels * self.conv.patch_pixels(m_start, m_size)


@dataclass(frozen=True, slots=True)
class Layer:
    """A GEMM layer of the forward graph; `inputs` name the layers whose outputs (summed or concatenated)
    feed it."""

    name: str
    kind: str
    inputs: tuple[str, ...]
    gemm: Gemm
    out_shape: tuple[int, int, int] = (0, 0, 0)  # (channels, height, width) of the output, for builders

    @property
    def has_input_gradient(self) -> bool:
        """The first layer reads the network input, which needs no gradient."""
        return bool(self.inputs)


def conv_output_size(size: int, kernel: int, stride: int, padding: int) -> int:
    return (size + 2 * padding - kernel) // stride + 1


def conv(
    name: str,
    inputs: tuple[str, ...] | list[str],
    in_shape: tuple[int, int, int],
    out_channels: int,
    kernel: int | tuple[int, int],
    stride: int = 1,
    padding: int | None = None,
    groups: int = 1,
    batch: int = 1,
    dilation: int = 1,
) -> Layer:
    """A 2-D convolution on an input of shape (C, H, W), lowered to `groups` GEMMs by im2col.

    A dilated kernel spans dilation*(k-1)+1 pixels: that sets the output size (with the default
    'same' padding of half the span) and the input patch (halo) of a tile; MACs stay C/g*kh*kw per output.
    """
    channels, height, width = in_shape
    kernel_h, kernel_w = (kernel, kernel) if isinstance(kernel, int) else kernel
    if padding is None:
        padding = (dilation * (kernel_h - 1) + 1) // 2 if isinstance(dilation, int) else 0
    for field, value in (
        ("in_channels", channels),
        ("height", height),
        ("width", width),
        ("out_channels", out_channels),
        ("kernel", min(kernel_h, kernel_w)),
        ("stride", stride),
        ("groups", groups),
        ("batch", batch),
        ("dilation", dilation),
    ):
        if not isinstance(value, int) or value < 1:
            raise ConfigError(
                f"must be a positive integer (got {value!r})", source=f"layer {name}", field=field
            )
    if channels % groups or out_channels % groups:
        raise ConfigError(
            f"channels {channels} and filters {out_channels} must divide by groups {groups}",
            source=f"layer {name}",
            field="groups",
        )
    out_h = conv_output_size(height, dilation * (kernel_h - 1) + 1, stride, padding)
    out_w = conv_output_size(width, dilation * (kernel_w - 1) + 1, stride, padding)
    if out_h < 1 or out_w < 1:
        raise ConfigError(
            f"kernel {kernel_h}x{kernel_w} does not fit input {height}x{width}",
            source=f"layer {name}",
            field="kernel",
        )
    geometry = ConvGeometry(batch, height, width, out_h, out_w, kernel_h, kernel_w, stride, dilation)
    gemm = Gemm(
        M=batch * out_h * out_w,
        K=(channels // groups) * kernel_h * kernel_w,
        N=out_channels // groups,
        groups=groups,
        conv=geometry,
    )
    kind = "depthwise" if groups > 1 and groups == channels else "conv"
    return Layer(name, kind, tuple(inputs), gemm, (out_channels, out_h, out_w))


def linear(
    name: str, inputs: tuple[str, ...] | list[str], in_features: int, out_features: int, rows: int = 1
) -> Layer:
    """A fully connected layer applied to `rows` vectors (batch, or batch x tokens)."""
    for field, value in (("in_features", in_features), ("out_features", out_features), ("rows", rows)):
        if not isinstance(value, int) or value < 1:
            raise ConfigError(
                f"must be a positive integer (got {value!r})", source=f"layer {name}", field=field
            )
    return Layer(
        name, "linear", tuple(inputs), Gemm(M=rows, K=in_features, N=out_features), (out_features, 1, 1)
    )


def matmul(name: str, inputs: tuple[str, ...] | list[str], m: int, k: int, n: int, groups: int = 1) -> Layer:
    """A plain (batched) GEMM, e.g. attention scores; `groups` independent products of M x K . K x N."""
    for field, value in (("M", m), ("K", k), ("N", n), ("groups", groups)):
        if not isinstance(value, int) or value < 1:
            raise ConfigError(
                f"must be a positive integer (got {value!r})", source=f"layer {name}", field=field
            )
    return Layer(name, "matmul", tuple(inputs), Gemm(M=m, K=k, N=n, groups=groups), (n, 1, 1))
