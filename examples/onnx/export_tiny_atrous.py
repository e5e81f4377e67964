"""How tiny_atrous.onnx (+ .onnx.data) was made: torch 2.13's dynamo exporter, as a user exports a model.

Needs torch (not a dependency of npu-des): `pip install torch==2.13.0 onnxscript`, then run this file.
The exporter writes the weights to tiny_atrous.onnx.data beside the model and records each node's
module path (conv1, atrous, fc) in its metadata; npu-des names layers after it. It fuses BatchNorm
into the first conv, which then carries the BatchNorm's scope ("bn").
"""

import torch
from torch import nn


class TinyAtrous(nn.Module):
    """conv 3x3 -> BN -> ReLU -> dilated conv 3x3 (dilation 2) -> global mean -> linear."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.atrous = nn.Conv2d(8, 8, 3, padding=2, dilation=2)
        self.fc = nn.Linear(8, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.bn(self.conv1(x)))
        return self.fc(self.atrous(y).mean((2, 3)))


if __name__ == "__main__":
    torch.onnx.export(TinyAtrous().eval(), (torch.randn(1, 3, 16, 16),), "tiny_atrous.onnx", dynamo=True,
                      external_data=True)
