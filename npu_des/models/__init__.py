"""The model zoo: name -> builder(batch) returning a Workload.

Each builder's module is imported when its model is first looked up, not with the zoo: a run builds one
model, and `npu-des run` starts before importing the other eighteen. Names, aliases and the
error listing the allowed names need no model module at all.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, NamedTuple

from npu_des.errors import ConfigError

if TYPE_CHECKING:  # the workload stage (networkx) loads with the first model built
    from npu_des.workload import Workload

# zoo name -> (module of npu_des.models, builder function in it)
BUILDERS: dict[str, tuple[str, str]] = {
    "resnet50": ("resnet", "resnet50"),
    "mobilenet_v1": ("mobilenet", "mobilenet_v1"),
    "mobilenet_v2": ("mobilenet", "mobilenet_v2"),
    "googlenet": ("googlenet", "googlenet"),
    "faster_rcnn": ("faster_rcnn", "faster_rcnn"),
    "ncf": ("ncf", "ncf"),
    "bert_base": ("transformer", "bert_base"),
    "gpt2_small": ("transformer", "gpt2_small"),
    "tiny_cnn": ("tiny", "tiny_cnn"),
    # the MICRO'23 models (its Table 4) the zoo lacked; each builder's docstring says which variant is whose
    "dlrm": ("dlrm", "dlrm"),
    "yolov2_tiny": ("yolo", "yolov2_tiny"),
    "yolov5s": ("yolo", "yolov5s"),
    "yolov5l": ("yolo", "yolov5l"),
    "bert_large": ("bert", "bert_large"),
    "bert_tiny": ("bert", "bert_tiny"),
    "tinybert_4": ("bert", "tinybert_4"),
    "t5_small": ("t5", "t5_small"),
    "t5_large": ("t5", "t5_large"),
}


class LazyBuilders(Mapping[str, "Callable[..., Workload]"]):
    """Zoo name -> builder, as a read-only mapping that imports a builder's module on lookup."""

    def __init__(self, builders: dict[str, tuple[str, str]]) -> None:
        self._builders = builders

    def __getitem__(self, name: str) -> Callable[..., Workload]:
        module, function = self._builders[name]
        builder: Callable[..., Workload] = getattr(importlib.import_module(f"{__name__}.{module}"), function)
        return builder

    def __iter__(self) -> Iterator[str]:
        return iter(self._builders)

    def __len__(self) -> int:
        return len(self._builders)


MODELS: Mapping[str, Callable[..., Workload]] = LazyBuilders(BUILDERS)
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
