"""YOLO detectors as GEMMs: YOLOv2-tiny (darknet) and YOLOv5 (Ultralytics, v6.0+ layout).

YOLOv2-tiny: Redmon and Farhadi, "YOLO9000: Better, Faster, Stronger", CVPR 2017; the layers are
darknet's cfg/yolov2-tiny.cfg (the COCO model, 80 classes, 5 anchors, 416x416): eight 3x3 convs and
a 1x1 output conv, the first six convs each followed by a 2x2 max pool. Darknet reports 5.41 BFLOPs
for it (darknet counts 2 FLOPs per MAC),
~11.2 M weights, which is the "11M" of MICRO'23's Table 4 (the VOC variant yolov2-tiny-voc.cfg, with
a 1024-wide penultimate conv, is the 6.97 BFLOPs / 15.9 M model; not built here).

YOLOv5: Ultralytics YOLOv5 (Jocher et al., github.com/ultralytics/yolov5, release v6.0 and later),
models/yolov5{s,l}.yaml at 640x640: a CSP backbone of Conv (conv + BN + SiLU) and C3 blocks, SPPF,
a PANet neck (upsample + concat, C3 without shortcuts) and a Detect head of three 1x1 convs to
3 anchors x (80 classes + 5) outputs at strides 8, 16 and 32. Published sizes (README, "Pretrained
Checkpoints"): YOLOv5s 7.2 M parameters / 16.5 GFLOPs, YOLOv5l 46.5 M / 109.1 GFLOPs at 640, where
GFLOPs = 2 x the MACs thop counts (models/yolo.py, `thop.profile(...)[0] / 1e9 * 2`). MICRO'23's
Table 4 lists YOLOv5 at 47 M parameters, i.e. YOLOv5l; YOLOv5s is the small member of the family.

What the lowering leaves out (not GEMMs): batch norm, leaky ReLU / SiLU, max pools (also the three
chained 5x5 pools of SPPF), nearest upsampling, concatenation, the region/Detect decoding (sigmoid,
grid and anchor offsets), the loss and non-maximum suppression; conv biases are not counted. A layer
reading a concatenation lists every layer whose output is concatenated (only byte counts matter), a
layer reading an upsampled map lists the layer before the upsample, and C3's residual bottlenecks
are summed streams whose readers list every contributor, as in ResNet.
"""

from __future__ import annotations

from math import ceil
from typing import NamedTuple

from npu_des.workload import Layer, Workload, conv

# darknet cfg/yolov2-tiny.cfg: (filters, kernel, max pool after the conv: None, or its stride)
YOLOV2_TINY = ((16, 3, 2), (32, 3, 2), (64, 3, 2), (128, 3, 2), (256, 3, 2), (512, 3, 1),
               (1024, 3, None), (512, 3, None), (425, 1, None))


def yolov2_tiny(batch: int = 1, image: int = 416) -> Workload:
    """YOLOv2-tiny (COCO) at `image` x `image`: ~2.70 G MACs (5.41 BFLOPs) and 11.2 M weights at 416.

    The 2x2 pools of stride 2 halve the map (416 -> 13); darknet pads the last one (stride 1) so the
    map stays 13x13. The last conv (linear, with bias) gives 5 anchors x (80 classes + 5) = 425 maps.
    """
    layers: list[Layer] = []
    inputs: tuple[str, ...] = ()
    channels, size = 3, image
    for index, (filters, kernel, pool_stride) in enumerate(YOLOV2_TINY, start=1):
        layer = conv(f"conv{index}", inputs, (channels, size, size), filters, kernel, batch=batch)
        layers.append(layer)
        channels, size, inputs = filters, layer.out_shape[1], (layer.name,)
        if pool_stride == 2:
            size //= 2
    return Workload("yolov2_tiny", tuple(layers))


# models/yolov5*.yaml (v6.0): (from, repeats, module, args); "from" indices count from 0 like the yaml
YoloModule = tuple[int | tuple[int, int], int, str, tuple[int | bool, ...]]
YOLOV5: tuple[YoloModule, ...] = (
    (-1, 1, "Conv", (64, 6, 2, 2)),      # 0 P1/2
    (-1, 1, "Conv", (128, 3, 2)),        # 1 P2/4
    (-1, 3, "C3", (128,)),
    (-1, 1, "Conv", (256, 3, 2)),        # 3 P3/8
    (-1, 6, "C3", (256,)),
    (-1, 1, "Conv", (512, 3, 2)),        # 5 P4/16
    (-1, 9, "C3", (512,)),
    (-1, 1, "Conv", (1024, 3, 2)),       # 7 P5/32
    (-1, 3, "C3", (1024,)),
    (-1, 1, "SPPF", (1024,)),            # 9
    (-1, 1, "Conv", (512, 1, 1)),
    (-1, 1, "Upsample", ()),
    ((-1, 6), 1, "Concat", ()),
    (-1, 3, "C3", (512, False)),         # 13
    (-1, 1, "Conv", (256, 1, 1)),
    (-1, 1, "Upsample", ()),
    ((-1, 4), 1, "Concat", ()),
    (-1, 3, "C3", (256, False)),         # 17 P3/8 small
    (-1, 1, "Conv", (256, 3, 2)),
    ((-1, 14), 1, "Concat", ()),
    (-1, 3, "C3", (512, False)),         # 20 P4/16 medium
    (-1, 1, "Conv", (512, 3, 2)),
    ((-1, 10), 1, "Concat", ()),
    (-1, 3, "C3", (1024, False)),        # 23 P5/32 large
)
YOLOV5_DETECT_FROM = (17, 20, 23)
YOLOV5_OUTPUTS = 3 * (80 + 5)  # anchors per level x (COCO classes + box + objectness)


class _Map(NamedTuple):
    """A module's output: the layers whose outputs make it up (summed or concatenated), and its shape."""

    sources: tuple[str, ...]
    channels: int
    size: int

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.channels, self.size, self.size


def _c3(name: str, x: _Map, out_channels: int, repeats: int, shortcut: bool, batch: int,
        layers: list[Layer]) -> _Map:
    """C3: cv1 -> `repeats` bottlenecks (1x1 then 3x3, residual if `shortcut`), cv2 beside them,
    cv3 (1x1) on the concatenation of both branches."""
    hidden = out_channels // 2
    cv1 = conv(f"{name}.cv1", x.sources, x.shape, hidden, 1, batch=batch)
    cv2 = conv(f"{name}.cv2", x.sources, x.shape, hidden, 1, batch=batch)
    layers += [cv1, cv2]
    stream: tuple[str, ...] = (cv1.name,)
    for index in range(repeats):
        b1 = conv(f"{name}.m{index}.cv1", stream, (hidden, x.size, x.size), hidden, 1, batch=batch)
        b2 = conv(f"{name}.m{index}.cv2", (b1.name,), (hidden, x.size, x.size), hidden, 3, batch=batch)
        layers += [b1, b2]
        stream = (b2.name, *stream) if shortcut else (b2.name,)
    cv3 = conv(f"{name}.cv3", (*stream, cv2.name), (2 * hidden, x.size, x.size), out_channels, 1, batch=batch)
    layers.append(cv3)
    return _Map((cv3.name,), out_channels, x.size)


def yolov5(batch: int = 1, image: int = 640, depth_multiple: float = 0.33, width_multiple: float = 0.50,
           name: str = "yolov5s") -> Workload:
    """YOLOv5 at `image` x `image` for the yaml's depth/width multiples (s: 0.33/0.50, l: 1.0/1.0).

    As in models/yolo.py `parse_model`: repeats n -> max(round(n * depth), 1) for n > 1, channels
    c -> ceil(c * width / 8) * 8; C3's hidden width is half its output, SPPF's half its input.
    """
    def width(channels: int) -> int:
        return ceil(channels * width_multiple / 8) * 8

    layers: list[Layer] = []
    maps: list[_Map] = []
    x = _Map((), 3, image)  # every module reads the previous one (x) unless it is a Concat
    for index, (source, repeats, module, args) in enumerate(YOLOV5):
        repeats = max(round(repeats * depth_multiple), 1) if repeats > 1 else repeats
        prefix = f"layer{index}"
        if module == "Conv":
            channels, kernel, stride, *padding = args
            layer = conv(prefix, x.sources, x.shape, width(channels), kernel, stride=stride,
                         padding=padding[0] if padding else None, batch=batch)
            layers.append(layer)
            x = _Map((layer.name,), layer.out_shape[0], layer.out_shape[1])
        elif module == "C3":
            shortcut = bool(args[1]) if len(args) > 1 else True
            x = _c3(prefix, x, width(args[0]), repeats, shortcut, batch, layers)
        elif module == "SPPF":
            hidden = x.channels // 2
            cv1 = conv(f"{prefix}.cv1", x.sources, x.shape, hidden, 1, batch=batch)
            # cv2 reads the concatenation of cv1 and its three chained 5x5 max pools
            cv2 = conv(f"{prefix}.cv2", (cv1.name,), (4 * hidden, x.size, x.size), width(args[0]), 1,
                       batch=batch)
            layers += [cv1, cv2]
            x = _Map((cv2.name,), cv2.out_shape[0], x.size)
        elif module == "Upsample":
            x = _Map(x.sources, x.channels, 2 * x.size)
        else:  # Concat of the previous module (x) and the earlier one named by `source`
            assert isinstance(source, tuple)
            other = maps[source[1]]
            x = _Map((*x.sources, *other.sources), x.channels + other.channels, x.size)
        maps.append(x)
    for level, index in zip(("p3", "p4", "p5"), YOLOV5_DETECT_FROM):
        layers.append(conv(f"detect.{level}", maps[index].sources, maps[index].shape, YOLOV5_OUTPUTS, 1,
                           batch=batch))
    return Workload(name, tuple(layers))


def yolov5s(batch: int = 1, image: int = 640) -> Workload:
    """YOLOv5s (depth 0.33, width 0.50): ~8.2 G MACs (16.5 GFLOPs published) and 7.2 M weights at 640."""
    return yolov5(batch, image, 0.33, 0.50, "yolov5s")


def yolov5l(batch: int = 1, image: int = 640) -> Workload:
    """YOLOv5l (depth 1.0, width 1.0), MICRO'23's 47 M YOLOv5: 109.1 GFLOPs and 46.5 M published at 640."""
    return yolov5(batch, image, 1.0, 1.0, "yolov5l")
