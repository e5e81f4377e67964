"""Small hand-checkable workloads for tests and quick runs."""

from __future__ import annotations

from npu_des.workload import Workload, conv, linear


def tiny_cnn(batch: int = 1, image: int = 16) -> Workload:
    """Four convs with a skip connection (conv3 reads conv1 + conv2) and a classifier."""
    c1 = conv("conv1", (), (3, image, image), 16, 3, batch=batch)
    c2 = conv("conv2", ("conv1",), (16, image, image), 16, 3, batch=batch)
    c3 = conv("conv3", ("conv1", "conv2"), (16, image, image), 32, 3, stride=2, batch=batch)
    c4 = conv("conv4", ("conv3",), (32, image // 2, image // 2), 32, 1, batch=batch)
    fc = linear("fc", ("conv4",), 32, 10, rows=batch)
    return Workload("tiny_cnn", (c1, c2, c3, c4, fc))


def single_linear(m: int = 64, k: int = 64, n: int = 64, with_input_gradient: bool = True) -> Workload:
    """One GEMM layer (M rows, K inputs, N outputs); a producer layer makes its dX op exist."""
    layers = []
    inputs: tuple[str, ...] = ()
    if with_input_gradient:
        layers.append(linear("producer", (), 1, k, rows=m))
        inputs = ("producer",)
    layers.append(linear("layer", inputs, k, n, rows=m))
    return Workload("single_linear", tuple(layers))
