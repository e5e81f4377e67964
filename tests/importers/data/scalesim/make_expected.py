"""Regenerate scalesim_expected.json: each fixture parsed by SCALE-Sim 3.0.0's own parser.

Run with a Python that has `scalesim` installed (pip install scalesim==3.0.0):
    python tests/importers/data/scalesim/make_expected.py tests/importers/data/scalesim
Per file: the mode SCALE-Sim reads it in (GEMM when the header's columns 2-4 are M, N, K) and either
its layers' MACs in order (a depthwise 'DP' layer's per-channel rows summed back into one) or the
exception its parser raises.
"""

import contextlib
import glob
import io
import json
import os
import sys

from scalesim.topology_utils import topologies


def is_gemm(path: str) -> bool:
    with open(path, encoding="utf-8-sig") as handle:
        cells = [cell.strip().lower() for cell in handle.readline().split(",")]
    return cells[1:4] == ["m", "n", "k"]


def main(root: str) -> None:
    out = {}
    for path in sorted(glob.glob(os.path.join(root, "v*", "**", "*.csv"), recursive=True)):
        rel = os.path.relpath(path, root).replace(os.sep, "/")
        gemm = is_gemm(path)
        record: dict = {"format": "gemm" if gemm else "conv"}
        parsed = topologies()
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                parsed.load_arrays(topofile=path, mnk_inputs=gemm)
                parsed.topo_calc_hyperparams()
        except Exception as error:  # what SCALE-Sim crashes with
            record["scalesim_error"] = f"{type(error).__name__}: {error}"
        else:
            layers: list = []
            for params, hyper in zip(parsed.topo_arrays, parsed.layers_calculated_hyperparams):
                name = str(params[0])
                if "DP" in name and "Channel_" in name:
                    if name.endswith("Channel_0"):
                        layers.append([name.split("Channel_")[0], 0])
                    layers[-1][1] += int(hyper[2])
                else:
                    layers.append([name, int(hyper[2])])
            record["macs"] = layers
        out[rel] = record
    with open(os.path.join(root, "scalesim_expected.json"), "w") as handle:
        json.dump(out, handle, indent=1)
        handle.write("\n")


if __name__ == "__main__":
    main(sys.argv[1])
