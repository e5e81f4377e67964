"""Workloads: layers lowered to GEMMs, and their forward and backward graphs."""

from npu_des.workload.graph import Workload, backward_graph, backward_layer_order, forward_graph
from npu_des.workload.layers import ConvGeometry, Gemm, Layer, conv, linear, matmul

__all__ = ["ConvGeometry", "Gemm", "Layer", "Workload", "backward_graph", "backward_layer_order",
           "conv", "forward_graph", "linear", "matmul"]
