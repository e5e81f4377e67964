"""The compiled engine (mypyc, setup.py) computes what its Python sources compute, byte for byte."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from npu_des.compiled import COMPILED_MODULES, PURE_PYTHON_VARIABLE, compiled, engine_build, stale_builds

ROOT = Path(__file__).resolve().parents[2]

# Runs whose every output file is compared: both orders and the training step's five, vector ops, a
# pin, the explicit SPM, a configurable array with sparsity, a forward pass with fusion and a pin plan.
CASES = {
    "tiny_cnn": ["--model", "tiny_cnn"],
    "resnet50_edge": ["--model", "resnet50", "--pass", "backward", "--hw", "edge_dual", "--order", "both",
                      "--set", "run.vector_ops=true"],
    "tiny_cnn_pin": ["--model", "tiny_cnn", "--pass", "backward", "--pin", "conv2:dY", "--order", "both"],
    "mnv1_explicit_sparse": ["--model", "mobilenet_v1", "--pass", "backward", "--order", "interleaved",
                             "--set", "spm.policy=explicit", "--set", "cores.array.dataflow={dX: ws, dW: os}",
                             "--set", "cores.array.zero_skipping=true", "--set", "run.density=0.6"],
    "mnv2_forward_fuse_pin": ["--model", "mobilenet_v2", "--pass", "forward", "--set", "run.fuse=auto",
                              "--set", "run.pin_plan=optimal"],
}


def environment(pure: bool) -> dict[str, str]:
    """This process's environment, asking for the Python sources or not."""
    env = {key: value for key, value in os.environ.items() if key != PURE_PYTHON_VARIABLE}
    if pure:
        env[PURE_PYTHON_VARIABLE] = "1"
    return env


def run_cli(argv: list[str], out: Path, pure: bool) -> str:
    done = subprocess.run([sys.executable, "-m", "npu_des", "run", *argv, "--out", str(out)],
                          capture_output=True, text=True, env=environment(pure), cwd=ROOT, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def engine_build_in_subprocess(pure: bool) -> dict[str, str]:
    code = ("import importlib, json; from npu_des.compiled import COMPILED_MODULES, engine_build; "
            "print(json.dumps({'build': engine_build(), **{m: importlib.import_module(m).__file__ "
            "for m in COMPILED_MODULES}}))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=environment(pure),
                          cwd=ROOT, check=True)
    return json.loads(done.stdout)


def test_pure_python_switch_imports_every_hot_module_from_its_source():
    files = engine_build_in_subprocess(pure=True)
    assert files.pop("build") == "pure Python"
    assert sorted(files) == sorted(COMPILED_MODULES)
    for module, path in files.items():
        assert path == str(ROOT / Path(*module.split("."))) + ".py"


def test_a_module_runs_compiled_exactly_where_its_extension_is_built():
    from importlib.machinery import EXTENSION_SUFFIXES

    def has_extension(module: str) -> bool:
        stem = str(ROOT / Path(*module.split(".")))
        return any(Path(stem + suffix).is_file() for suffix in EXTENSION_SUFFIXES)

    built = {module for module in COMPILED_MODULES if has_extension(module)}
    if os.environ.get(PURE_PYTHON_VARIABLE, "") not in ("", "0"):
        built = set()
    assert set(compiled()) == built
    assert engine_build() == ("compiled (mypyc)" if built == set(COMPILED_MODULES) else
                              "pure Python" if not built else f"partly compiled ({len(built)} of 8 modules)")


def test_a_source_edited_after_its_build_is_reported_stale(tmp_path):
    from importlib.machinery import EXTENSION_SUFFIXES

    folder = tmp_path / "npu_des" / "sim"
    folder.mkdir(parents=True)
    source, built = folder / "clock.py", folder / f"clock{EXTENSION_SUFFIXES[0]}"
    source.write_text("")
    built.write_bytes(b"")
    os.utime(source, (1_000, 1_000))
    os.utime(built, (2_000, 2_000))
    assert stale_builds(tmp_path) == []
    os.utime(source, (3_000, 3_000))
    assert stale_builds(tmp_path) == [os.path.join("npu_des", "sim", "clock.py")]
    (folder / "executor.py").write_text("")  # a source without a build is not stale: it runs as is
    assert stale_builds(tmp_path) == [os.path.join("npu_des", "sim", "clock.py")]


def test_coverage_omits_exactly_the_compiled_modules():
    tomllib = pytest.importorskip("tomllib")
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    omitted = config["tool"]["coverage"]["run"]["omit"]
    assert sorted(omitted) == sorted("/".join(module.split(".")) + ".py" for module in COMPILED_MODULES)


@pytest.mark.slow
@pytest.mark.skipif(not compiled(), reason="no compiled engine installed: the sources run either way")
@pytest.mark.parametrize("case", sorted(CASES))
def test_compiled_and_pure_engines_write_identical_files(case, tmp_path):
    printed = {}
    for build, pure in (("compiled", False), ("pure", True)):
        printed[build] = run_cli(CASES[case], tmp_path / build, pure)
    compiled_files, pure_files = (sorted(path.relative_to(tmp_path / build)
                                         for path in (tmp_path / build).rglob("*") if path.is_file())
                                  for build in ("compiled", "pure"))
    assert compiled_files == pure_files
    assert len(compiled_files) >= 3  # summary, layers, timeline at least
    for name in compiled_files:
        assert (tmp_path / "compiled" / name).read_bytes() == (tmp_path / "pure" / name).read_bytes(), name
    assert printed["compiled"].replace(str(tmp_path / "compiled"), "OUT") == \
        printed["pure"].replace(str(tmp_path / "pure"), "OUT")
