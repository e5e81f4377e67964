"""The model zoo: name -> builder(batch) returning a Workload."""

from __future__ import annotations

from collections.abc import Callable

from npu_des.errors import ConfigError
from npu_des.models.mobilenet import mobilenet_v1
from npu_des.models.resnet import resnet50
from npu_des.models.tiny import tiny_cnn
from npu_des.workload import Workload

MODELS: dict[str, Callable[..., Workload]] = {
    "resnet50": resnet50,
    "mobilenet_v1": mobilenet_v1,
    "tiny_cnn": tiny_cnn,
}
ALIASES = {"resnet-50": "resnet50", "mobilenet": "mobilenet_v1", "mobilenetv1": "mobilenet_v1"}


def model_names() -> list[str]:
    return sorted(MODELS)


def build_model(name: str, batch: int = 1) -> Workload:
    key = ALIASES.get(name.lower(), name.lower())
    if key not in MODELS:
        raise ConfigError(f"unknown model '{name}'", field="--model", allowed=", ".join(model_names()))
    return MODELS[key](batch=batch)
