"""Builds npu-des, compiling the engine's hot modules with mypyc when this machine can.

The modules in `npu_des/compiled.py` run once per tile task or per transfer; compiled, a simulation
runs about twice as fast and computes the same numbers (tests/sim/test_compiled_engine.py runs the pure
sources beside the compiled build and compares their outputs byte for byte). Without a C compiler, with
mypy unable to build them, or with NPU_DES_PURE_PYTHON=1, the package installs as plain Python.
"""

from __future__ import annotations

import os
import shutil
import sys
import sysconfig
from pathlib import Path
from typing import Any

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent


# npu_des/compiled.py, run without importing the package: the module list and the pure-Python switch
COMPILED: dict[str, Any] = {}
exec((ROOT / "npu_des" / "compiled.py").read_text(encoding="utf-8"), COMPILED)


def can_compile() -> str | None:
    """None if a compiled build can be tried, else why not."""
    if COMPILED["pure_python_requested"]():
        return "NPU_DES_PURE_PYTHON is set"
    if sys.implementation.name != "cpython":
        return f"{sys.implementation.name} is not CPython"
    compiler = os.environ.get("CC", sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(compiler) is None:
        return f"no C compiler ({compiler})"
    if not (Path(sysconfig.get_paths()["include"]) / "Python.h").is_file():
        return "no Python headers (Python.h)"
    return None


# setup.py also runs for metadata (egg_info, dist_info): compile only for a command that builds
BUILD_COMMANDS = {"build", "build_ext", "bdist_wheel", "editable_wheel", "develop", "install", "bdist_egg"}


def extensions() -> list[Extension]:
    if not BUILD_COMMANDS.intersection(sys.argv[1:]):
        return []
    reason = can_compile()
    if reason is None:
        try:
            from mypyc.build import mypycify

            paths = [str(Path("npu_des", *module.split(".")[1:])) + ".py"
                     for module in COMPILED["COMPILED_MODULES"]]
            version = f"{sys.version_info.major}.{sys.version_info.minor}"
            # The build environment has none of the package's dependencies: their types are unknown
            # there, so only the compiled modules are checked (the rest is analysed, errors silent).
            flags = ["--ignore-missing-imports", "--follow-imports=silent", "--python-version", version]
            return list(mypycify([*flags, *paths], opt_level="3"))
        except (Exception, SystemExit) as error:  # mypy missing or refusing a module: the pure package
            reason = f"mypyc failed: {type(error).__name__}: {error}"
    sys.stderr.write(f"npu-des: installing the engine as pure Python ({reason}); simulations run slower\n")
    return []


class OptionalBuildExt(build_ext):
    """A compiled engine is a speed-up, never a requirement: if compiling fails, install pure Python."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as error:
            self._remove_outputs()
            sys.stderr.write(f"npu-des: compiling the engine failed ({error}); installing pure Python\n")

    def _remove_outputs(self) -> None:
        for ext in self.extensions:
            for place in (Path(self.get_ext_fullpath(ext.name)),
                          ROOT / Path(self.get_ext_filename(ext.name))):
                place.unlink(missing_ok=True)


setup(ext_modules=extensions(), cmdclass={"build_ext": OptionalBuildExt})
