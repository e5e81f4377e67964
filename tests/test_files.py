"""npu_des/files.py: user files are read safely (no hang on FIFOs, no unbounded reads, clear encodings) and
output folders are written whole or not at all."""

from __future__ import annotations

import codecs
import os
import threading
from pathlib import Path

import pytest

from npu_des.errors import ConfigError
from npu_des.files import (
    check_output_dir,
    check_output_file,
    read_bytes,
    read_text,
    staged_directory,
    write_text_atomically,
)


def test_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    result: list[BaseException] = []

    def read() -> None:
        try:
            read_text(fifo, "x")
        except ConfigError as error:
            result.append(error)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout=10)
    assert not reader.is_alive(), "reading a FIFO blocked"
    assert "FIFO (named pipe), not a regular file" in str(result[0])


@pytest.mark.parametrize(("path", "what"), [("/dev/zero", "character device"), ("/", "a directory")])
def test_devices_and_directories_are_refused(path: str, what: str) -> None:
    with pytest.raises(ConfigError, match=what):
        read_bytes(path, "topology file", field="--topology")


def test_size_limit_stops_reading(tmp_path: Path) -> None:
    big = tmp_path / "big.csv"
    big.write_bytes(b"x" * 5000)
    assert len(read_bytes(big, "file", limit=5000)) == 5000
    with pytest.raises(ConfigError, match="larger than"):
        read_bytes(big, "file", limit=4999)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be"])
def test_utf8_and_utf16_with_bom_decode_to_the_same_text(tmp_path: Path, encoding: str) -> None:
    text = "Layer, M, N, K,\r\nca\u00e9 \u03bb, 1, 2, 3,\n"
    path = tmp_path / "f.csv"
    data = text.encode(encoding)
    if encoding in ("utf-16-le", "utf-16-be"):
        data = (codecs.BOM_UTF16_LE if encoding.endswith("le") else codecs.BOM_UTF16_BE) + data
    path.write_bytes(data)
    assert read_text(path, "file") == text


@pytest.mark.parametrize(("data", "message"), [
    ("caf\u00e9\n".encode("latin-1"), r"not UTF-8 text: byte 0xe9 at line 1 \(offset 3\)"),
    (b"ok\nok\n\x00\x01\x02", "binary data: NUL byte at line 3"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\xff", "binary data: byte 0x89"),
    (codecs.BOM_UTF16_LE + b"a\x00b", "UTF-16-LE byte-order mark but is not valid"),
])
def test_other_encodings_name_the_byte_and_line(tmp_path: Path, data: bytes, message: str) -> None:
    path = tmp_path / "f.csv"
    path.write_bytes(data)
    with pytest.raises(ConfigError, match=message):
        read_text(path, "file")


def test_output_checks(tmp_path: Path) -> None:
    regular = tmp_path / "file"
    regular.write_text("x")
    check_output_dir(tmp_path / "new" / "deeper")
    check_output_file(tmp_path / "new" / "out.csv")
    check_output_file(regular)
    for path, message in ((regular, "exists and is a file"), (regular / "x", "is a file, not a directory"),
                          (tmp_path / ("y" * 300), "longer than"), (Path("/proc/npu-des"), "not writable")):
        with pytest.raises(ConfigError, match=message):
            check_output_dir(path)
    with pytest.raises(ConfigError, match="not a regular file"):
        check_output_file(tmp_path)


def test_staged_directory_leaves_the_target_untouched_when_writing_fails(tmp_path: Path) -> None:
    target = tmp_path / "results"
    target.mkdir()
    (target / "summary.json").write_text("old")
    with pytest.raises(KeyboardInterrupt), staged_directory(target) as stage:
        (stage / "summary.json").write_text("new")
        (stage / "sequential").mkdir()
        raise KeyboardInterrupt  # Ctrl-C half-way through writing
    assert [path.name for path in tmp_path.iterdir()] == ["results"]
    assert [path.name for path in target.iterdir()] == ["summary.json"]
    assert (target / "summary.json").read_text() == "old"


def test_staged_directory_replaces_entries_when_complete(tmp_path: Path) -> None:
    target = tmp_path / "results"
    (target / "sequential").mkdir(parents=True)
    (target / "sequential" / "old.csv").write_text("old")
    (target / "keep.txt").write_text("mine")
    with staged_directory(target) as stage:
        (stage / "sequential").mkdir()
        (stage / "sequential" / "summary.json").write_text("new")
    assert sorted(path.name for path in target.iterdir()) == ["keep.txt", "sequential"]
    assert [path.name for path in (target / "sequential").iterdir()] == ["summary.json"]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["results"]
    fresh = tmp_path / "fresh"
    with staged_directory(fresh) as stage:
        (stage / "a").write_text("1")
    assert (fresh / "a").read_text() == "1"


def test_write_text_atomically(tmp_path: Path) -> None:
    path = tmp_path / "out" / "table.csv"
    write_text_atomically(path, "a,b\n")
    write_text_atomically(path, "c,d\n")
    assert path.read_text() == "c,d\n" and os.listdir(path.parent) == ["table.csv"]
    with pytest.raises(ConfigError, match="cannot write the output file"):
        write_text_atomically(Path("/proc/npu-des.csv"), "x")
