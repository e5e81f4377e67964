"""Old import path of npu_des.sim.components.vector_unit."""

from npu_des.sim.components.vector_unit import VectorUnit

__all__ = ["VectorUnit"]
