"""Workloads and hardware from other tools' files: SCALE-Sim topologies and configs, ONNX models.

ONNX support needs the optional `onnx` package; it is imported only when `load_onnx` runs.
"""

from npu_des.importers.onnx_import import load_onnx
from npu_des.importers.scalesim import load_scalesim_config, load_topology, save_topology, topology_rows

__all__ = ["load_onnx", "load_scalesim_config", "load_topology", "save_topology", "topology_rows"]
