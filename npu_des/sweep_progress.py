"""Old import path of npu_des.sweep.progress (a sweep's progress bar), kept for existing imports."""

from npu_des.sweep.progress import (
    progress_bar,
)

__all__ = ["progress_bar"]
