"""Old import path of npu_des.sweep.variants (idealised simulator variants), kept for existing imports."""

from npu_des.sweep.variants import (
    DyOnceDmaEngine,
    VARIANTS,
    variant_engine,
)

__all__ = ["DyOnceDmaEngine", "VARIANTS", "variant_engine"]
