"""ResNet-50 (He et al., "Deep Residual Learning for Image Recognition", CVPR 2016), torchvision v1.5
layout (stride on the 3x3 conv of each bottleneck): 53 convs + fc, ~4.1 GMACs and 25.5 M weights at 224x224.

Skip connections: a block's output is the sum of its conv3 and its shortcut, so the layers reading it
list every layer that contributes to that sum (`sources`); the backward graph then sums their gradients.
"""

from __future__ import annotations

from npu_des.workload import Workload, conv, linear

STAGES = ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2))  # (width, blocks, first stride)


def resnet50(batch: int = 1, image: int = 224) -> Workload:
    layers = [conv("conv1", (), (3, image, image), 64, 7, stride=2, padding=3, batch=batch)]
    channels, size = 64, layers[0].out_shape[1]
    size = (size + 2 - 3) // 2 + 1  # 3x3/2 max pool
    sources: tuple[str, ...] = ("conv1",)
    for stage, (width, blocks, first_stride) in enumerate(STAGES, start=1):
        for block in range(blocks):
            stride = first_stride if block == 0 else 1
            prefix = f"layer{stage}.{block}"
            c1 = conv(f"{prefix}.conv1", sources, (channels, size, size), width, 1, batch=batch)
            c2 = conv(f"{prefix}.conv2", (c1.name,), (width, size, size), width, 3, stride=stride,
                      batch=batch)
            out_size = c2.out_shape[1]
            c3 = conv(f"{prefix}.conv3", (c2.name,), (width, out_size, out_size), width * 4, 1, batch=batch)
            layers += [c1, c2, c3]
            if block == 0:
                down = conv(f"{prefix}.downsample", sources, (channels, size, size), width * 4, 1,
                            stride=stride, batch=batch)
                layers.append(down)
                sources = (c3.name, down.name)
            else:
                sources = (c3.name, *sources)
            channels, size = width * 4, out_size
    layers.append(linear("fc", sources, channels, 1000, rows=batch))
    return Workload("resnet50", tuple(layers))
