"""Sweeps under bad input and signals: a locked directory, resume matched by hardware content, a journal
with garbage lines, malformed --dask and --jobs, SIGTERM/SIGINT/SIGKILL leaving no worker behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from npu_des.cli import main
from npu_des.errors import ConfigError, InputWarning
from npu_des.sweep import runner
from npu_des.sweep.runner import check_dask_address, run_sweep
from npu_des.sweep.spec import build_spec
from npu_des.sweep.table import JOURNAL, sweep_lock

TINY = ("tiny_cnn",)
HW = Path(__file__).parents[1] / "bad_inputs" / "good" / "small.yaml"


def spec(hardware: tuple[str, ...] = ("edge_dual",), values: str = "6,11"):
    return build_spec(TINY, hardware, ("sequential",), [f"dram.bandwidth_gbps={values}"])


def test_a_second_sweep_on_a_directory_in_use_is_refused_before_any_point(tmp_path: Path) -> None:
    with sweep_lock(tmp_path), pytest.raises(ConfigError, match=r"in use by another sweep \(pid \d+\)"):
        run_sweep(spec(), tmp_path, jobs=1, quiet=True)
    assert not (tmp_path / JOURNAL).exists()
    run_sweep(spec(), tmp_path, jobs=1, quiet=True)  # the lock went with its holder


def test_resume_refuses_a_hardware_file_edited_since_the_sweep_started(tmp_path: Path) -> None:
    hardware = tmp_path / "hw.yaml"
    hardware.write_text(HW.read_text())
    out = tmp_path / "sweep"
    run_sweep(spec((str(hardware),), "6"), out, jobs=1, quiet=True)
    run_sweep(spec((str(hardware),), "6,11"), out, jobs=1, quiet=True, resume=True)  # same content: fine
    hardware.write_text(HW.read_text().replace("count: 2", "count: 1"))
    with pytest.raises(ConfigError, match=r"hardware '.*hw\.yaml' changed since the sweep"):
        run_sweep(spec((str(hardware),), "6,11,22"), out, jobs=1, quiet=True, resume=True)


@pytest.mark.parametrize("garbage", [b"null\n", b"\x00" * 64 + b"\n", b"[1, 2]\n", b'{"point": 3}\n',
                                     b"\xff\xfe{\n", b"[" * 100000 + b"\n"])
def test_garbage_lines_in_the_journal_are_skipped_and_their_points_rerun(tmp_path: Path, garbage) -> None:
    rows = run_sweep(spec(), tmp_path, jobs=1, quiet=True)
    journal = tmp_path / JOURNAL
    first, _lost = journal.read_bytes().splitlines(keepends=True)
    journal.write_bytes(first + garbage + b"\x00\x00\x00")  # the second row lost, a torn NUL tail
    with pytest.warns(InputWarning, match=r"skipped 1 unreadable line\(s\) \(line 2\)"):
        resumed = run_sweep(spec(), tmp_path, jobs=1, quiet=True, resume=True)
    assert [row["point"] for row in resumed] == [row["point"] for row in rows]
    assert len(journal.read_bytes().splitlines()) == 2


@pytest.mark.parametrize("address", ["", "tcp://", "tcp://host:99999", "http://localhost:8786",
                                     "tcp://a b:1", "localhost:port", "tcp://[::1:8786", "tcp://h:1/x/y"])
def test_malformed_dask_address_is_one_line_without_connecting(address: str) -> None:
    started = time.monotonic()
    with pytest.raises(ConfigError, match="field '--dask'") as refused:
        check_dask_address(address)
    assert "\n" not in str(refused.value) and time.monotonic() - started < 1


@pytest.mark.parametrize("address", ["tcp://127.0.0.1:8786", "localhost:8786", "tls://[::1]:8786",
                                     "inproc://host/1", "scheduler"])
def test_well_formed_dask_addresses_pass_the_check(address: str) -> None:
    if address == "inproc://host/1":
        with pytest.raises(ConfigError):
            check_dask_address(address)  # a path after the host is not an address we accept
        return
    check_dask_address(address)


@pytest.mark.parametrize("jobs", ["0", "-3", "100000", str(10**30)])
def test_absurd_jobs_are_refused_before_any_worker_starts(tmp_path: Path, jobs: str, capsys) -> None:
    code = main(["sweep", "--model", "tiny_cnn", "--out", str(tmp_path / "s"), "--jobs", jobs, "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "field '--jobs'" in err and "allowed: 1.." in err
    assert not (tmp_path / "s").exists()


def test_workers_are_never_more_than_the_pending_points(tmp_path: Path, monkeypatch) -> None:
    started: list[int | None] = []
    real = runner.make_executor

    def recording(jobs=None, dask_address=None):
        started.append(jobs)
        return real(jobs, dask_address)

    monkeypatch.setattr(runner, "make_executor", recording)
    run_sweep(spec(), tmp_path, jobs=64, quiet=True)
    assert started == [2]


@pytest.mark.parametrize("make_file", ["file", "below_file", "long_name"])
def test_sweep_directory_that_cannot_be_used_is_one_line(tmp_path: Path, make_file: str, capsys) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    out = {"file": blocker, "below_file": blocker / "sweep", "long_name": tmp_path / ("s" * 300)}[make_file]
    code = main(["sweep", "--model", "tiny_cnn", "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "field '--out'" in err, err


def _children(pid: int) -> list[int]:
    """Processes whose parent is `pid` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rpartition(")")[2].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _alive(pids: list[int]) -> list[int]:
    alive = []
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
        except OSError:
            continue
        if state != "Z":
            alive.append(pid)
    return alive


def _start_sweep(out: Path) -> tuple[subprocess.Popen, list[int]]:
    """A sweep long enough to interrupt, with both its workers running and a few points done."""
    values = ",".join(str(v) for v in range(2, 60))
    command = [sys.executable, "-m", "npu_des.cli", "sweep", "--model", "tiny_cnn", "--set",
               f"dram.bandwidth_gbps={values}", "--jobs", "2", "--quiet", "--out", str(out)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    deadline = time.monotonic() + 60
    workers: list[int] = []
    while time.monotonic() < deadline and process.poll() is None:
        workers = _children(process.pid)
        journal = out / JOURNAL
        if len(workers) >= 2 and journal.exists() and journal.read_bytes().count(b"\n") >= 3:
            break
        time.sleep(0.02)
    assert process.poll() is None, process.stderr.read() if process.stderr else ""
    return process, workers


def _wait_gone(pids: list[int], seconds: float = 15) -> list[int]:
    deadline = time.monotonic() + seconds
    while _alive(pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return _alive(pids)


@pytest.mark.slow
@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signalled_sweep_exits_with_one_line_leaves_no_worker_and_resumes(tmp_path: Path, sig, code) -> None:
    out = tmp_path / "sweep"
    process, workers = _start_sweep(out)
    assert len(workers) >= 2
    os.kill(process.pid, sig)  # the parent only: it must stop its workers itself
    _, err = process.communicate(timeout=60)
    assert process.returncode == code, err
    assert err.count("\n") == 1 and f"interrupted by {sig.name}" in err and "--resume" in err, err
    assert _wait_gone(workers) == []
    assert (out / "results.csv").exists()  # the table was flushed
    resumed = subprocess.run([sys.executable, "-m", "npu_des.cli", "sweep", "--model", "tiny_cnn", "--set",
                              "dram.bandwidth_gbps=" + ",".join(str(v) for v in range(2, 60)), "--jobs", "2",
                              "--quiet", "--out", str(out), "--resume"],
                             capture_output=True, text=True, timeout=300, check=False)
    assert resumed.returncode == 0, resumed.stderr
    assert len((out / JOURNAL).read_text().splitlines()) == 58 * 2


@pytest.mark.slow
def test_sigkilled_sweep_parent_takes_its_workers_with_it(tmp_path: Path) -> None:
    process, workers = _start_sweep(tmp_path / "sweep")
    assert len(workers) >= 2
    os.kill(process.pid, signal.SIGKILL)  # no cleanup can run in the parent
    process.wait(timeout=30)
    assert _wait_gone(workers) == []
