"""Old import path of npu_des.sweep.variants (idealised simulator variants), kept for existing imports."""

from npu_des.sweep.variants import (
    VARIANTS,
    DyOnceDmaEngine,
    variant_engine,
)

__all__ = ["VARIANTS", "DyOnceDmaEngine", "variant_engine"]
