"""The model zoo: name -> builder(batch) returning a Workload."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from npu_des.errors import ConfigError
from npu_des.models.bert import bert_large, bert_tiny, tinybert_4
from npu_des.models.dlrm import dlrm
from npu_des.models.faster_rcnn import faster_rcnn
from npu_des.models.googlenet import googlenet
from npu_des.models.mobilenet import mobilenet_v1, mobilenet_v2
from npu_des.models.ncf import ncf
from npu_des.models.resnet import resnet50
from npu_des.models.t5 import t5_large, t5_small
from npu_des.models.tiny import tiny_cnn
from npu_des.models.transformer import bert_base, gpt2_small
from npu_des.models.yolo import yolov2_tiny, yolov5l, yolov5s
from npu_des.workload import Workload

MODELS: dict[str, Callable[..., Workload]] = {
    "resnet50": resnet50,
    "mobilenet_v1": mobilenet_v1,
    "mobilenet_v2": mobilenet_v2,
    "googlenet": googlenet,
    "faster_rcnn": faster_rcnn,
    "ncf": ncf,
    "bert_base": bert_base,
    "gpt2_small": gpt2_small,
    "tiny_cnn": tiny_cnn,
    # the MICRO'23 models (its Table 4) the zoo lacked; each builder's docstring says which variant is whose
    "dlrm": dlrm,
    "yolov2_tiny": yolov2_tiny,
    "yolov5s": yolov5s,
    "yolov5l": yolov5l,
    "bert_large": bert_large,
    "bert_tiny": bert_tiny,
    "tinybert_4": tinybert_4,
    "t5_small": t5_small,
    "t5_large": t5_large,
}
ALIASES = {"resnet-50": "resnet50", "mobilenet": "mobilenet_v1", "mobilenetv1": "mobilenet_v1",
           "mobilenetv2": "mobilenet_v2", "inception_v1": "googlenet", "fasterrcnn": "faster_rcnn",
           "bert": "bert_base", "bert-base": "bert_base", "gpt2": "gpt2_small", "gpt-2": "gpt2_small",
           "yolov2-tiny": "yolov2_tiny", "bert-large": "bert_large", "bert-tiny": "bert_tiny",
           "tinybert": "tinybert_4", "t5-small": "t5_small", "t5-large": "t5_large"}
PARAMETER_BYTES_PER_ELEMENT = 2


class ModelRow(NamedTuple):
    """One line of `npu-des models`: size of a zoo model at the given batch."""

    name: str
    layers: int
    macs: int
    parameter_bytes: int


def model_names() -> list[str]:
    return sorted(MODELS)


def build_model(name: str, batch: int = 1) -> Workload:
    key = ALIASES.get(name.lower(), name.lower())
    if key not in MODELS:
        raise ConfigError(f"unknown model '{name}'", field="--model", allowed=", ".join(model_names()))
    return MODELS[key](batch=batch)


def model_table(batch: int = 1) -> list[ModelRow]:
    """Every zoo model with its layer count, MACs and parameter bytes (2 bytes per element)."""
    rows = []
    for name in model_names():
        workload = build_model(name, batch)
        rows.append(ModelRow(name, len(workload.layers), workload.macs,
                             workload.parameters * PARAMETER_BYTES_PER_ELEMENT))
    return rows
