"""Bad input never shows a traceback: one line "npu-des: error: ..." naming the file or option and the field,
exit code 2. The corpus lives in tests/bad_inputs/ (hardware YAML files with `# expect:` lines, and
cli_cases.yaml for command-line arguments); adding a case is adding a file or a line there."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from npu_des.cli import main

CORPUS = Path(__file__).parents[1] / "bad_inputs"
HW_FILES = sorted((CORPUS / "hw").glob("*.yaml"))
CLI = yaml.safe_load((CORPUS / "cli_cases.yaml").read_text())
BASE_ARGS = ["run", "--model", "tiny_cnn", "--order", "sequential"]


def expectations(path: Path) -> list[str]:
    """The `# expect: TEXT` header lines of a corpus file (read as bytes: some files are not text)."""
    lines = path.read_bytes().decode("utf-8", errors="replace").splitlines()
    return [line.partition("# expect:")[2].strip() for line in lines if line.startswith("# expect:")]


def substitute(args: list[str]) -> list[str]:
    return [arg.replace("{corpus}", str(CORPUS)).replace("{long_name}", "x" * 300) for arg in args]


def assert_one_error_line(err: str, expected: list[str]) -> None:
    assert "Traceback" not in err, err
    assert err.startswith("npu-des: error: "), err
    assert err.endswith("\n") and err.count("\n") == 1, f"more than one line:\n{err}"
    for text in expected:
        assert text in err, f"{text!r} not in {err!r}"


def test_corpus_has_at_least_40_cases_and_every_file_states_its_expectation():
    assert len(HW_FILES) + len(CLI["cases"]) >= 40
    for path in HW_FILES:
        assert expectations(path), f"{path.name} has no '# expect:' line"


@pytest.mark.parametrize("path", HW_FILES, ids=[path.stem for path in HW_FILES])
def test_bad_hardware_file_gives_one_line_naming_file_and_field(path, capsys):
    code = main([*BASE_ARGS, "--hw", str(path)])
    err = capsys.readouterr().err
    assert code == 2
    assert_one_error_line(err, expectations(path))
    if "exceeds SPM" not in err:  # plan-time errors name the field only (see README "Trust")
        assert str(path) in err


@pytest.mark.parametrize("case", CLI["cases"], ids=[case["id"] for case in CLI["cases"]])
def test_bad_cli_argument_gives_one_line_naming_option_and_field(case, capsys):
    code = main([*BASE_ARGS, *substitute(case["args"])])
    err = capsys.readouterr().err
    assert code == 2
    assert_one_error_line(err, case["expect"])


def test_zero_byte_hardware_file_is_an_error_line(tmp_path, capsys):
    path = tmp_path / "empty.yaml"
    path.write_bytes(b"")
    assert main([*BASE_ARGS, "--hw", str(path)]) == 2
    assert_one_error_line(capsys.readouterr().err, [str(path), "expected a mapping"])


@pytest.mark.parametrize("case", CLI["argparse_cases"], ids=[case["id"] for case in CLI["argparse_cases"]])
def test_argparse_error_gives_one_line(case, capsys):
    try:
        code = main([*BASE_ARGS, *substitute(case["args"])])
    except SystemExit as exit_:
        code = exit_.code
    err = capsys.readouterr().err
    assert code == 2
    assert_one_error_line(err, case["expect"])
    assert all(text in err for text in case["expect"])


@pytest.mark.parametrize("args", [
    ["--hw", str(CORPUS / "hw" / "binary_garbage.yaml")],
    ["--set", "spm.capacity=512"],
])
def test_real_process_prints_one_line_and_exits_2(args):
    completed = subprocess.run([sys.executable, "-m", "npu_des.cli", *BASE_ARGS, *args],
                               check=False, capture_output=True, text=True, timeout=60)
    assert completed.returncode == 2
    assert completed.stdout == ""
    assert_one_error_line(completed.stderr, ["field" if "--set" in args else "not UTF-8 text"])
