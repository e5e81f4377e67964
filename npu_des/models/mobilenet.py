"""MobileNetV1 (Howard et al., "MobileNets: Efficient Convolutional Neural Networks for Mobile Vision
Applications", 2017, Table 1), width 1.0 at 224x224: ~569 M MACs and 4.2 M weights."""

from __future__ import annotations

from npu_des.workload import Workload, conv, linear

# (pointwise output channels, depthwise stride) for the 13 depthwise-separable blocks of Table 1
BLOCKS = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
          (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1))


def mobilenet_v1(batch: int = 1, image: int = 224) -> Workload:
    first = conv("conv1", (), (3, image, image), 32, 3, stride=2, batch=batch)
    layers = [first]
    channels, size, previous = 32, first.out_shape[1], first.name
    for index, (out_channels, stride) in enumerate(BLOCKS, start=1):
        dw = conv(f"block{index}.dw", (previous,), (channels, size, size), channels, 3, stride=stride,
                  groups=channels, batch=batch)
        size = dw.out_shape[1]
        pw = conv(f"block{index}.pw", (dw.name,), (channels, size, size), out_channels, 1, batch=batch)
        layers += [dw, pw]
        channels, previous = out_channels, pw.name
    layers.append(linear("fc", (previous,), channels, 1000, rows=batch))
    return Workload("mobilenet_v1", tuple(layers))
