"""Every class of bad input in tests/bad_inputs/commands.yaml gives one `npu-des: error:` line and exit 2
(or, for accepted-but-suspicious input, exit 0 and one warning line each), never a traceback, a hang or a
partial output folder. FIFO and device cases run in a real process with a timeout, so a hang fails the
test."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from npu_des.cli import main

CORPUS = Path(__file__).parents[1] / "bad_inputs"
CASES = yaml.safe_load((CORPUS / "commands.yaml").read_text())
CLASSES = ("output_paths", "input_not_regular", "encodings_and_syntax", "results_that_lie", "saved_results",
           "never_finishes")
ERRORS = [(name, case) for name in CLASSES for case in CASES[name]]
TIMEOUT = 60


@pytest.fixture(scope="session")
def saved_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One real saved run (tiny_cnn, sequential) that damage cases copy."""
    directory = tmp_path_factory.mktemp("saved") / "run"
    assert main(["run", "--model", "tiny_cnn", "--hw", "edge_dual", "--pass", "backward",
                 "--order", "sequential", "--out", str(directory)]) == 0
    return directory


@pytest.fixture
def read_only(tmp_path: Path) -> Iterator[Path | None]:
    """A folder no file can be created in, even by root: immutable (chattr +i); None where that is refused."""
    folder = tmp_path / "read_only"
    folder.mkdir()
    made = shutil.which("chattr") and subprocess.run(["chattr", "+i", str(folder)], capture_output=True,
                                                       check=False).returncode == 0
    yield folder if made else None
    if made:
        subprocess.run(["chattr", "-i", str(folder)], check=False)


def damage(run: Path, target: Path, file: str, how: str) -> Path:
    shutil.copytree(run, target)
    path = target / file
    data = path.read_bytes()
    if how in ("fifo", "directory", "delete"):
        path.unlink()
        {"fifo": lambda: os.mkfifo(path), "directory": path.mkdir, "delete": lambda: None}[how]()
        return target
    path.write_bytes({
        "truncate": data[: len(data) // 2 - 3] + b'"\n,',
        "garbage": data[:40] + bytes(range(128, 256)),
        "null": b"null\n",
        "empty": b"",
        "nul": data[:60] + b"\x00" * 64 + data[60:],
        "one_column": b"cycle\n0\n5\n",
        "huge_number": data.replace(b'"total_cycles": ', b'"total_cycles": %s, "was": ' % (b"9" * 4000), 1),
        "header_only": data.split(b"\n", 1)[0] + b"\n",
    }[how])
    return target


def expand(case: dict, tmp_path: Path, read_only: Path | None, saved_run: Path) -> list[str]:
    work = tmp_path / "work"
    work.mkdir()
    regular = tmp_path / "a_file"
    regular.write_text("not a folder\n")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    values = {"{corpus}": str(CORPUS), "{tmp}": str(work), "{file}": str(regular), "{fifo}": str(fifo),
              "{long}": "x" * 300, "{huge}": "9" * 5000, "{zeros400}": "0" * 400,
              "{run}": str(saved_run), "{1to200}": ",".join(str(value) for value in range(1, 201))}
    argv = list(case["argv"])
    if any("{ro}" in arg for arg in argv):
        if read_only is None:
            pytest.skip("cannot make an immutable folder here (chattr +i refused)")
        values["{ro}"] = str(read_only)
    if "damage" in case:
        values["{damaged}"] = str(damage(saved_run, tmp_path / "damaged", **case["damage"]))
    for key, value in values.items():
        argv = [arg.replace(key, value) for arg in argv]
    if argv[0] == "run":
        if not {"--model", "--topology", "--onnx"} & set(argv):
            argv[1:1] = ["--model", "tiny_cnn"]
        if "--order" not in argv:
            argv[1:1] = ["--order", "sequential"]
    return argv


def run_case(argv: list[str], process: bool, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    if process:
        started = time.monotonic()
        done = subprocess.run([sys.executable, "-m", "npu_des.cli", *argv], capture_output=True, text=True,
                              timeout=TIMEOUT, check=False)
        assert time.monotonic() - started < TIMEOUT
        return done.returncode, done.stdout, done.stderr
    try:
        code = main(argv)
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def no_partial_output(root: Path) -> list[str]:
    return [str(path) for path in root.rglob("*") if ".partial-" in path.name or "npu-des-probe" in path.name]


def test_corpus_covers_every_class_with_several_cases() -> None:
    counts = {name: len(CASES[name]) for name in (*CLASSES, "warnings")}
    assert all(count >= 8 for count in counts.values()), counts
    ids = [case["id"] for name in counts for case in CASES[name]]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize(("kind", "case"), ERRORS, ids=[f"{kind}-{case['id']}" for kind, case in ERRORS])
def test_bad_input_gives_one_error_line_and_exit_2(kind, case, tmp_path, read_only, saved_run, capsys):
    argv = expand(case, tmp_path, read_only, saved_run)
    code, out, err = run_case(argv, case.get("process", False), capsys)
    assert "Traceback" not in err, err
    assert code == 2, (code, err)
    assert err.startswith("npu-des: error: ") and err.count("\n") == 1, err
    for text in case["expect"]:
        assert text in err, f"{text!r} not in {err!r}"
    assert out == "" or kind == "saved_results", out
    assert no_partial_output(tmp_path) == []


@pytest.mark.parametrize("case", CASES["warnings"], ids=[case["id"] for case in CASES["warnings"]])
def test_suspicious_input_runs_with_one_warning_line_each(case, tmp_path, read_only, saved_run, capsys):
    argv = expand(case, tmp_path, read_only, saved_run)
    code, _, err = run_case(argv, case.get("process", False), capsys)
    assert code == 0, err
    lines = err.splitlines()
    assert lines and all(line.startswith("npu-des: warning: ") for line in lines), err
    for text in case["expect"]:
        assert sum(text in line for line in lines) == 1, f"{text!r} not in {err!r}"


def test_version_and_closed_stdout_exit_0() -> None:
    version = subprocess.run([sys.executable, "-m", "npu_des.cli", "--version"], capture_output=True,
                             text=True, timeout=TIMEOUT, check=False)
    assert version.returncode == 0 and version.stdout.startswith("npu-des ")
    command = f"'{sys.executable}' -m npu_des.cli run --model tiny_cnn --json | head -1"
    piped = subprocess.run(["bash", "-o", "pipefail", "-c", command], capture_output=True, text=True,
                           timeout=TIMEOUT, check=False)
    assert piped.returncode == 0, piped.stderr
    assert piped.stdout == "[\n" and "Error" not in piped.stderr
    read, write = os.pipe()
    os.close(read)  # the reader is gone before anything is written: every write fails with EPIPE
    try:
        closed = subprocess.run([sys.executable, "-m", "npu_des.cli", "run", "--model", "tiny_cnn", "--json"],
                                stdout=write, stderr=subprocess.PIPE, text=True, timeout=TIMEOUT, check=False)
    finally:
        os.close(write)
    assert closed.returncode == 0 and closed.stderr == "", closed.stderr


@pytest.mark.slow
@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_during_run_out_leaves_the_old_folder_whole(tmp_path: Path, sig, code) -> None:
    """A run interrupted while it simulates or writes leaves --out exactly as it was: here a previous
    complete run, which `plot` still reads, and no temporary sibling."""
    out = tmp_path / "results"
    assert main(["run", "--model", "tiny_cnn", "--order", "sequential", "--out", str(out)]) == 0
    before = {path.name: path.read_bytes() for path in out.iterdir()}
    process = subprocess.Popen([sys.executable, "-m", "npu_des.cli", "run", "--model", "faster_rcnn", "--hw",
                                "edge_dual", "--out", str(out), "--trace"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    time.sleep(3.0)  # past start-up, inside planning or simulation (this run takes a minute)
    process.send_signal(sig)
    _, err = process.communicate(timeout=TIMEOUT)
    assert process.returncode == code, err
    assert err.count("\n") == 1 and f"interrupted by {sig.name}" in err, err
    assert {path.name: path.read_bytes() for path in out.iterdir()} == before
    assert no_partial_output(tmp_path) == []
    assert main(["plot", str(out), "--formats", "png"]) == 0
