"""Faster R-CNN's convolutional part (Ren et al., "Faster R-CNN: Towards Real-Time Object Detection with
Region Proposal Networks", NeurIPS 2015) on a VGG-16 backbone (Simonyan and Zisserman, "Very Deep
Convolutional Networks for Large-Scale Image Recognition", ICLR 2015, configuration D).

Backbone conv1_1..conv5_3 (the 13 convs, ~15.35 G MACs and 14.7 M weights at 224x224), then the
region proposal network: a 3x3 conv with 512 outputs and two sibling 1x1 convs scoring 2k objectness
logits and regressing 4k box deltas for k = 9 anchors. The RoI-pooled detection head (fc6/fc7 on
each proposal) is left out: its shape depends on the proposal count, not only on the image.
"""

from __future__ import annotations

from npu_des.workload import Layer, Workload, conv

# output channels of the 3x3 convs of each VGG-16 stage; a 2x2/2 max pool follows stages 1-4
VGG16_STAGES = ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512))
ANCHORS = 9


def vgg16_convs(batch: int = 1, image: int | tuple[int, int] = 224) -> list[Layer]:
    """VGG-16 conv1_1..conv5_3 (no pool5, no fc); pools round up as in Caffe (75 -> 38)."""
    height, width = (image, image) if isinstance(image, int) else image
    layers: list[Layer] = []
    inputs: tuple[str, ...] = ()
    channels = 3
    for stage, widths in enumerate(VGG16_STAGES, start=1):
        if stage > 1:
            height, width = (height + 1) // 2, (width + 1) // 2
        for index, out_channels in enumerate(widths, start=1):
            layer = conv(f"conv{stage}_{index}", inputs, (channels, height, width), out_channels, 3,
                         batch=batch)
            layers.append(layer)
            channels, inputs = out_channels, (layer.name,)
    return layers


def faster_rcnn(batch: int = 1, image: int | tuple[int, int] = (600, 800)) -> Workload:
    """Backbone + RPN at `image` (height, width), 600x800 by default (the paper's shorter side 600)."""
    layers = vgg16_convs(batch, image)
    channels, height, width = layers[-1].out_shape
    feature = (channels, height, width)
    rpn = conv("rpn_conv", (layers[-1].name,), feature, 512, 3, batch=batch)
    cls = conv("rpn_cls", (rpn.name,), (512, height, width), 2 * ANCHORS, 1, batch=batch)
    bbox = conv("rpn_bbox", (rpn.name,), (512, height, width), 4 * ANCHORS, 1, batch=batch)
    return Workload("faster_rcnn", (*layers, rpn, cls, bbox))
