"""Forward DAG of layers and the backward DAG of gradient ops (networkx).

Backward: per layer an input-gradient op dX (skipped for the first layer) and a weight-gradient op
dW. Both read dY of the layer, which exists once every consumer's dX has run (gradients of a
tensor used twice, as in skip connections, are summed), so the backward graph is the forward
graph reversed: dX[consumer] -> dX[layer] and dX[consumer] -> dW[layer].
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import networkx as nx

from npu_des.errors import ConfigError
from npu_des.kinds import Op, OpId
from npu_des.workload.layers import Layer


@dataclass(frozen=True)
class Workload:
    """A named DNN as an ordered tuple of GEMM layers (forward order)."""

    name: str
    layers: tuple[Layer, ...]

    @property
    def macs(self) -> int:
        return sum(layer.gemm.macs for layer in self.layers)

    @property
    def parameters(self) -> int:
        """Trained weights: the W operand of every layer but `matmul` ones (attention keys/values are
        activations)."""
        return sum(layer.gemm.weight_elements for layer in self.layers if layer.kind != "matmul")


def forward_graph(workload: Workload) -> nx.DiGraph:
    """Layers as nodes (attribute `layer`, `index`), producer -> consumer edges; validated acyclic."""
    graph: nx.DiGraph[str] = nx.DiGraph()
    for index, layer in enumerate(workload.layers):
        if layer.name in graph:
            raise ConfigError(
                f"duplicate layer name '{layer.name}'", source=f"model {workload.name}", field="name"
            )
        graph.add_node(layer.name, layer=layer, index=index)
    for layer in workload.layers:
        for producer in layer.inputs:
            if producer not in graph:
                raise ConfigError(
                    f"input '{producer}' of layer '{layer.name}' is not a layer of the model",
                    source=f"model {workload.name}",
                    field="inputs",
                )
            graph.add_edge(producer, layer.name)
    if not nx.is_directed_acyclic_graph(graph):
        cycle = " -> ".join(edge[0] for edge in nx.find_cycle(graph))
        raise ConfigError(
            f"layer graph has a cycle: {cycle}", source=f"model {workload.name}", field="inputs"
        )
    return graph


def backward_graph(forward: nx.DiGraph) -> nx.DiGraph:
    """Gradient ops as nodes (attribute `layer`), edges from the ops that produce a layer's dY to its ops."""
    graph: nx.DiGraph[OpId] = nx.DiGraph()
    for name, data in forward.nodes(data=True):
        layer: Layer = data["layer"]
        if layer.has_input_gradient:
            graph.add_node((name, Op.DX), layer=layer, index=data["index"])
        graph.add_node((name, Op.DW), layer=layer, index=data["index"])
    for producer, consumer in forward.edges:
        for op in (Op.DX, Op.DW):
            if (producer, op) in graph:
                graph.add_edge((consumer, Op.DX), (producer, op))
    return graph


def backward_layer_order(forward: nx.DiGraph) -> list[Layer]:
    """Layers in the order the backward pass visits them: reverse topological, ties by reverse index."""
    order = nx.lexicographical_topological_sort(
        forward.reverse(copy=False), key=lambda name: -forward.nodes[name]["index"]
    )
    return [forward.nodes[name]["layer"] for name in order]


def consumers_of(layers: Iterable[Layer]) -> dict[str, list[str]]:
    """Layer name -> the layers reading its output, in the order given."""
    consumers: dict[str, list[str]] = {}
    for layer in layers:
        for producer in layer.inputs:
            consumers.setdefault(producer, []).append(layer.name)
    return consumers


def output_gradient_producers(backward: nx.DiGraph, op: OpId) -> list[OpId]:
    """The ops whose completion makes dY of `op`'s layer available (none for network outputs)."""
    return sorted(backward.predecessors(op))
