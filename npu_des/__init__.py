"""npu-des: a discrete-event NPU simulator for DNN training (SPM/DRAM traffic, backward-pass orders)."""

__version__ = "0.1.0"
