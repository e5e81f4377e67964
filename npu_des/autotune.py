"""Old import path of npu_des.sim.autotune (per-layer partition choice by simulation), kept for existing
imports."""

from npu_des.sim.autotune import (
    PRODUCER,
    choose_partitions,
    isolated,
    layer_time,
)

__all__ = ["PRODUCER", "choose_partitions", "isolated", "layer_time"]
