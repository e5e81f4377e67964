#!/usr/bin/env bash
# Make (or reuse) a virtualenv with the real SCALE-Sim 3.0.0 for the differential tests and
# benchmarks/scalesim_compare.py; prints where it is. Its python goes into NPU_DES_SCALESIM_PYTHON.
set -euo pipefail
venv="${NPU_DES_SCALESIM_VENV:-$HOME/.cache/npu-des/scalesim-3.0.0}"
if ! "$venv/bin/python" -c "import scalesim, numpy" 2>/dev/null; then
    rm -rf "$venv"
    mkdir -p "$(dirname "$venv")"
    {   # pip warns that scalesim's undeclared extras (pandas, numba, ...) are missing: they are unused
        python -m venv "$venv" &&
        "$venv/bin/python" -m pip install --quiet --no-deps scalesim==3.0.0 &&
        "$venv/bin/python" -m pip install --quiet 'numpy<2.4' tqdm
    } >"$venv.log" 2>&1 || { echo "scalesim venv: install failed, see $venv.log" >&2; exit 1; }
fi
echo "$venv/bin/python"
