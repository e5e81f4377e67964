"""Old import path of npu_des.sim.components.spm."""

from npu_des.sim.components.spm import Scratchpad

__all__ = ["Scratchpad"]
