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


# MobileNetV2 (Sandler et al., "MobileNetV2: Inverted Residuals and Linear Bottlenecks", CVPR 2018,
# Table 2): (expansion t, output channels c, repeats n, first stride s) per bottleneck sequence.
INVERTED_RESIDUALS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
                      (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))


def mobilenet_v2(batch: int = 1, image: int = 224) -> Workload:
    """MobileNetV2 width 1.0: ~300 M MACs and 3.47 M weights at 224x224 (paper: 300 M, 3.4 M).

    A bottleneck with stride 1 and equal in/out channels adds its input to its output (linear
    bottleneck, no activation), so its readers list every contributor of that sum, as in ResNet.
    """
    first = conv("conv1", (), (3, image, image), 32, 3, stride=2, batch=batch)
    layers = [first]
    channels, size = 32, first.out_shape[1]
    sources: tuple[str, ...] = (first.name,)
    index = 0
    for expansion, out_channels, repeats, first_stride in INVERTED_RESIDUALS:
        for repeat in range(repeats):
            index += 1
            stride = first_stride if repeat == 0 else 1
            hidden = channels * expansion
            prefix = f"block{index}"
            dw_inputs = sources
            if expansion != 1:
                expand = conv(f"{prefix}.expand", sources, (channels, size, size), hidden, 1, batch=batch)
                layers.append(expand)
                dw_inputs = (expand.name,)
            dw = conv(f"{prefix}.dw", dw_inputs, (hidden, size, size), hidden, 3, stride=stride,
                      groups=hidden, batch=batch)
            out_size = dw.out_shape[1]
            project = conv(f"{prefix}.project", (dw.name,), (hidden, out_size, out_size), out_channels, 1,
                           batch=batch)
            layers += [dw, project]
            residual = stride == 1 and channels == out_channels
            sources = (project.name, *sources) if residual else (project.name,)
            channels, size = out_channels, out_size
    last = conv("conv_last", sources, (channels, size, size), 1280, 1, batch=batch)
    layers += [last, linear("fc", (last.name,), 1280, 1000, rows=batch)]
    return Workload("mobilenet_v2", tuple(layers))
