"""GoogLeNet / Inception v1 (Szegedy et al., "Going Deeper with Convolutions", CVPR 2015, Table 1)
at 224x224: ~1.59 G MACs and 6.8 M weights (paper: "1.5 billion multiply-adds", 6.8 M parameters).

Built as in the paper (5x5 convs in the third branch, not torchvision's 3x3), without the two
auxiliary classifiers and the LRN layers. An inception module concatenates its four branches, so
every layer reading a module lists the four branch-final layers; the max-pool branch has no GEMM
before its 1x1 projection, so that projection reads the previous module's outputs directly.
"""

from __future__ import annotations

from npu_des.workload import Layer, Workload, conv, linear

# name: (#1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj), Table 1; "pool" marks a 3x3/2 max pool
INCEPTION = (("3a", (64, 96, 128, 16, 32, 32)), ("3b", (128, 128, 192, 32, 96, 64)), ("pool", ()),
             ("4a", (192, 96, 208, 16, 48, 64)), ("4b", (160, 112, 224, 24, 64, 64)),
             ("4c", (128, 128, 256, 24, 64, 64)), ("4d", (112, 144, 288, 32, 64, 64)),
             ("4e", (256, 160, 320, 32, 128, 128)), ("pool", ()),
             ("5a", (256, 160, 320, 32, 128, 128)), ("5b", (384, 192, 384, 48, 128, 128)))


def _pool(size: int) -> int:
    """3x3 max pool, stride 2, padding 1 (112 -> 56 -> 28 -> 14 -> 7 as in Table 1)."""
    return (size + 2 - 3) // 2 + 1


def _inception(name: str, sources: tuple[str, ...], in_shape: tuple[int, int, int],
               widths: tuple[int, ...], batch: int) -> tuple[list[Layer], tuple[str, ...], int]:
    """One module: returns its layers, its four branch-final layer names and its output channels."""
    b1, r3, b3, r5, b5, proj = widths
    branch1 = conv(f"inception{name}.1x1", sources, in_shape, b1, 1, batch=batch)
    reduce3 = conv(f"inception{name}.3x3_reduce", sources, in_shape, r3, 1, batch=batch)
    size = in_shape[1]
    branch3 = conv(f"inception{name}.3x3", (reduce3.name,), (r3, size, size), b3, 3, batch=batch)
    reduce5 = conv(f"inception{name}.5x5_reduce", sources, in_shape, r5, 1, batch=batch)
    branch5 = conv(f"inception{name}.5x5", (reduce5.name,), (r5, size, size), b5, 5, batch=batch)
    pool_proj = conv(f"inception{name}.pool_proj", sources, in_shape, proj, 1, batch=batch)
    layers = [branch1, reduce3, branch3, reduce5, branch5, pool_proj]
    outputs = (branch1.name, branch3.name, branch5.name, pool_proj.name)
    return layers, outputs, b1 + b3 + b5 + proj


def googlenet(batch: int = 1, image: int = 224) -> Workload:
    """Inception v1: 57 convs + fc (the main classifier only)."""
    conv1 = conv("conv1", (), (3, image, image), 64, 7, stride=2, padding=3, batch=batch)
    size = _pool(conv1.out_shape[1])
    conv2_reduce = conv("conv2_reduce", (conv1.name,), (64, size, size), 64, 1, batch=batch)
    conv2 = conv("conv2", (conv2_reduce.name,), (64, size, size), 192, 3, batch=batch)
    layers = [conv1, conv2_reduce, conv2]
    channels, size = 192, _pool(size)
    sources: tuple[str, ...] = (conv2.name,)
    for name, widths in INCEPTION:
        if name == "pool":
            size = _pool(size)
            continue
        module, sources, channels = _inception(name, sources, (channels, size, size), widths, batch)
        layers += module
    layers.append(linear("fc", sources, channels, 1000, rows=batch))  # after 7x7 global average pool
    return Workload("googlenet", tuple(layers))
