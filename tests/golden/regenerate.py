"""Regenerate the golden summaries: `python tests/golden/regenerate.py` (from the repository root).

Goldens pin the headline numbers of a few small runs so that an unintended change in the simulator
shows up as a named field in tests/test_determinism.py. After an intended change to the model (timing,
tiling, schedule, SPM policy), rerun this script and commit the new JSON with the change that caused it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from npu_des.config import load_hardware, run_options
from npu_des.models import build_model
from npu_des.models.tiny import single_linear
from npu_des.sim.driver import simulate
from npu_des.workload import Workload

GOLDEN_DIR = Path(__file__).parent

# name -> (workload builder, hardware preset, run options)
CASES: dict[str, tuple[Callable[[], Workload], str, dict[str, Any]]] = {
    "tiny_cnn_sequential_edge_dual": (lambda: build_model("tiny_cnn"), "edge_dual", {"order": "sequential"}),
    "tiny_cnn_interleaved_edge_dual": (
        lambda: build_model("tiny_cnn"),
        "edge_dual",
        {"order": "interleaved"},
    ),
    "single_linear_sequential_ethos_n77": (
        lambda: single_linear(64, 64, 64),
        "ethos_n77",
        {"order": "sequential"},
    ),
    "single_linear_interleaved_ethos_n77": (
        lambda: single_linear(64, 64, 64),
        "ethos_n77",
        {"order": "interleaved"},
    ),
}


def summary_of(name: str) -> dict[str, Any]:
    """The JSON-ready summary of one golden case, as `npu-des run --out` writes it."""
    build, preset, options = CASES[name]
    result = simulate(build(), load_hardware(preset), run_options(**options))
    return json.loads(json.dumps(result.summary(), sort_keys=True))


def main() -> int:
    for name in CASES:
        path = GOLDEN_DIR / f"{name}.json"
        path.write_text(json.dumps(summary_of(name), indent=2, sort_keys=True) + "\n")
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
