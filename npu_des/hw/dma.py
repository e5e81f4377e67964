"""Old import path of npu_des.sim.components.dma."""

from npu_des.sim.components.dma import DmaEngine

__all__ = ["DmaEngine"]
