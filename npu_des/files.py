"""Reading user files and preparing output paths safely: one ConfigError line instead of a hang or traceback.

Every file a user names (hardware YAML, SCALE-Sim topology and .cfg, density files, saved results) is
read through `read_text`: it opens without blocking (a FIFO with no writer would block `open()`
forever), refuses anything that is not a regular file (FIFOs, /dev/zero, directories, sockets), reads
at most `limit` bytes (so /proc files or huge files cannot exhaust memory) and decodes UTF-8, UTF-8
with a BOM or UTF-16 with a BOM, naming the byte that is neither. `check_output_dir` and
`check_output_file` reject output paths that cannot be written before any simulation starts.
"""

from __future__ import annotations

import codecs
import errno
import os
import shutil
import signal
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from npu_des.errors import ConfigError, one_line

MB = 1024 * 1024
ENCODINGS = "UTF-8, UTF-8 with BOM, UTF-16 with BOM"
DEFAULT_LIMIT = 64 * MB  # far above any topology, config or saved summary; timelines pass their own limit


def _source(path: Path | str) -> str:
    return one_line(str(path))[:300]


def _os_reason(error: OSError) -> str:
    """A short reason for an OSError, in words a user knows."""
    if error.errno == errno.ENAMETOOLONG:
        return "file name too long for the file system"
    if error.errno == errno.ENOTDIR:
        return "a part of the path is a file, not a directory"
    if error.errno == errno.ENOENT:
        return "no such file"
    if error.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if error.errno == errno.EROFS:
        return "read-only file system"
    if error.errno == errno.ENOSPC:
        return "no space left on the device"
    return error.strerror or str(error)


def _kind_of(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def check_regular_file(path: Path | str, what: str, field: str | None = None) -> Path:
    """The path names an existing regular file (after symlinks); otherwise one line saying what it is."""
    path = Path(path)
    try:
        mode = os.stat(path).st_mode
    except ValueError:  # an embedded NUL byte
        raise ConfigError(f"not a usable file name for the {what}", source=_source(path),
                          field=field) from None
    except OSError as error:
        raise ConfigError(f"cannot read the {what}: {_os_reason(error)}", source=_source(path),
                          field=field) from None
    if not stat.S_ISREG(mode):
        raise ConfigError(f"the {what} is {_kind_of(mode)}, not a regular file", source=_source(path),
                          field=field, allowed="a regular file")
    return path


def check_input_dir(path: Path | str, what: str, field: str | None = None) -> Path:
    """The path names an existing directory; otherwise one line saying what it is instead."""
    path = Path(path)
    try:
        mode = os.stat(path).st_mode
    except ValueError:
        raise ConfigError(f"not a usable name for the {what}", source=_source(path), field=field) from None
    except OSError as error:
        reason = "no such directory" if error.errno == errno.ENOENT else _os_reason(error)
        raise ConfigError(f"cannot read the {what}: {reason}", source=_source(path), field=field) from None
    if not stat.S_ISDIR(mode):
        kind = "a regular file" if stat.S_ISREG(mode) else _kind_of(mode)
        raise ConfigError(f"the {what} is {kind}, not a directory", source=_source(path), field=field,
                          allowed="a directory")
    return path


def read_bytes(path: Path | str, what: str, *, field: str | None = None, limit: int = DEFAULT_LIMIT) -> bytes:
    """At most `limit` bytes of a regular file, opened without blocking so a FIFO cannot hang us."""
    path = Path(path)
    check_regular_file(path, what, field)
    try:
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except OSError as error:
        raise ConfigError(f"cannot read the {what}: {_os_reason(error)}", source=_source(path),
                          field=field) from None
    try:
        mode = os.fstat(descriptor).st_mode  # the file we opened, not one swapped in after the check
        if not stat.S_ISREG(mode):
            raise ConfigError(f"the {what} is {_kind_of(mode)}, not a regular file", source=_source(path),
                              field=field, allowed="a regular file")
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(descriptor, min(MB, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as error:
        raise ConfigError(f"cannot read the {what}: {_os_reason(error)}", source=_source(path),
                          field=field) from None
    finally:
        os.close(descriptor)
    if size > limit:
        raise ConfigError(f"the {what} is larger than {limit / MB:.0f} MB", source=_source(path), field=field,
                          allowed=f"files up to {limit / MB:.0f} MB")
    return b"".join(chunks)


def decode_text(raw: bytes, source: str, what: str, field: str | None = None) -> str:
    """UTF-8 (with or without a BOM) or UTF-16 with a BOM; anything else is one line naming the first bad
    byte and its line."""
    for bom, encoding in ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"),
                          (codecs.BOM_UTF16_BE, "utf-16-be")):
        if raw.startswith(bom):
            body, break_at = raw[len(bom):], 0
            try:
                return body.decode(encoding)
            except UnicodeDecodeError as error:
                break_at = error.start + len(bom)
            raise ConfigError(f"the {what} starts with a {encoding.upper()} byte-order mark but is not valid "
                              f"{encoding.upper()} (byte {break_at})", source=source, field=field)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        byte = raw[error.start]
        kind = "binary data" if b"\x00" in raw[:4096] else "not UTF-8 text"
        raise ConfigError(f"{kind}: byte 0x{byte:02x} at line {line} (offset {error.start}); the {what} must "
                          "be UTF-8 text", source=source, field=field, allowed=ENCODINGS) from None
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise ConfigError(f"binary data: NUL byte at line {line}; the {what} must be text", source=source,
                          field=field, allowed=ENCODINGS)
    return text


def read_text(path: Path | str, what: str, *, field: str | None = None, limit: int = DEFAULT_LIMIT) -> str:
    """A user's text file, safely: regular files only, size-limited, UTF-8/UTF-16 decoded."""
    return decode_text(read_bytes(path, what, field=field, limit=limit), _source(path), what)


def _first_existing(path: Path) -> tuple[Path, list[str]]:
    """The nearest existing ancestor of `path` and the names below it still to be created."""
    missing: list[str] = []
    current = path
    while not _exists(current) and current.parent != current:
        missing.append(current.name)
        current = current.parent
    return current, missing


def _exists(path: Path) -> bool:
    """lstat succeeds (other errors than 'missing' propagate, so a permission problem is reported)."""
    try:
        os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return False
    return True


def _check_creatable(path: Path, option: str, what: str) -> None:
    """Every missing part of `path` can be created: names not too long, the nearest existing ancestor a
    writable directory."""
    source = _source(path)
    try:
        max_name = os.pathconf(_first_existing(path.absolute())[0], "PC_NAME_MAX")
    except (OSError, ValueError):
        max_name = 255
    for part in path.parts:
        if len(os.fsencode(part)) > max_name:
            raise ConfigError(f"a name in the {what} path is longer than {max_name} bytes", source=source,
                              field=option, allowed=f"names up to {max_name} bytes")
    try:
        ancestor, _ = _first_existing(path.absolute())
        mode = os.stat(ancestor).st_mode
    except ValueError:
        raise ConfigError(f"not a usable {what} name", source=source, field=option) from None
    except OSError as error:
        raise ConfigError(f"cannot write the {what}: {_os_reason(error)}", source=source,
                          field=option) from None
    if not stat.S_ISDIR(mode):
        raise ConfigError(f"cannot write the {what}: {ancestor} is a file, not a directory", source=source,
                          field=option)
    reason = _unwritable(ancestor)
    if reason:
        raise ConfigError(f"cannot write the {what}: {ancestor} is not writable ({reason})", source=source,
                          field=option)


def _unwritable(directory: Path) -> str:
    """Why no file can be created in `directory` ('' if one can). Permission bits do not tell for root,
    read-only mounts or /proc, so a probe folder is made and removed."""
    try:
        probe = tempfile.mkdtemp(prefix=".npu-des-probe-", dir=directory)
    except OSError as error:
        return "cannot create files there" if error.errno == errno.ENOENT else _os_reason(error)
    with suppress(OSError):
        os.rmdir(probe)
    return ""


def _existing_output_mode(path: Path, option: str, what: str) -> int | None:
    """The mode of an existing output `what` (file or directory); None for one that does not exist yet
    and can be created (anything else is a ConfigError naming `option`)."""
    try:
        return os.stat(path).st_mode
    except FileNotFoundError:
        _check_creatable(path, option, f"output {what}")
        return None
    except ValueError:
        raise ConfigError(f"not a usable {what} name", source=_source(path), field=option) from None
    except OSError as error:
        if error.errno in (errno.ENOTDIR, errno.ENAMETOOLONG):
            _check_creatable(path, option, f"output {what}")
        raise ConfigError(f"cannot use the output {what}: {_os_reason(error)}", source=_source(path),
                          field=option) from None


def check_output_dir(path: Path, option: str = "--out") -> None:
    """An output directory that exists as a directory we can write, or that can be created."""
    mode = _existing_output_mode(path, option, "directory")
    if mode is None:
        return
    if not stat.S_ISDIR(mode):
        kind = "a file" if stat.S_ISREG(mode) else _kind_of(mode)
        raise ConfigError(f"exists and is {kind}, not a directory", source=_source(path), field=option,
                          allowed="a directory (new or existing)")
    reason = _unwritable(path)
    if reason:
        raise ConfigError(f"the output directory is not writable ({reason})", source=_source(path),
                          field=option)


def check_output_file(path: Path, option: str = "--out") -> None:
    """An output file that is a regular file we may replace, or can be created in a writable directory."""
    mode = _existing_output_mode(path, option, "file")
    if mode is None:
        return
    if not stat.S_ISREG(mode):
        raise ConfigError(f"exists and is {_kind_of(mode)}, not a regular file", source=_source(path),
                          field=option, allowed="a new or existing regular file")
    reason = _unwritable(path.parent) or ("" if os.access(path, os.W_OK) else "permission denied")
    if reason:
        raise ConfigError(f"the output file is not writable ({reason})", source=_source(path), field=option)


@contextmanager
def deferred_signals() -> Iterator[None]:
    """SIGINT and SIGTERM wait until the block ends (a few renames), so they cannot split it."""
    blocked = {signal.SIGINT, signal.SIGTERM}
    try:
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, blocked)
    except (AttributeError, ValueError, OSError):  # not on this platform or not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


@contextmanager
def staged_directory(target: Path) -> Iterator[Path]:
    """Write a result folder into a temporary sibling and move it into place only when complete.

    An interrupted or failed write leaves `target` as it was (the sibling is removed). If `target`
    exists, each entry of the new folder replaces the entry of the same name (files atomically, folders
    by a rename pair), with SIGINT/SIGTERM held off so no half-new, half-old folder is left.
    """
    target = Path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        stage = Path(tempfile.mkdtemp(prefix=f".{target.name[:200]}.partial-", dir=target.parent))
    except OSError as error:
        raise ConfigError(f"cannot write the output directory: {_os_reason(error)}", source=_source(target),
                          field="--out") from None
    try:
        yield stage
        with deferred_signals():
            _commit(stage, target)
    except OSError as error:  # a full disk or a vanished folder while writing: nothing was moved in
        raise ConfigError(f"cannot write the results: {_os_reason(error)}; {target} was left as it was",
                          source=_source(target), field="--out") from None
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _commit(stage: Path, target: Path) -> None:
    if not target.exists():
        os.rename(stage, target)
        return
    for entry in sorted(stage.iterdir()):
        destination = target / entry.name
        if destination.is_dir() and not destination.is_symlink():
            old = Path(tempfile.mkdtemp(prefix=f".{entry.name[:200]}.old-", dir=target))
            os.rename(destination, old / entry.name)
            os.rename(entry, destination)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(entry, destination)


def write_text_atomically(path: Path, text: str, option: str = "--out") -> None:
    """Write a whole output file or nothing: a temporary sibling renamed over `path` once written."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name[:200]}.", suffix=".partial",
                                                 dir=path.parent)
    except OSError as error:
        raise ConfigError(f"cannot write the output file: {_os_reason(error)}", source=_source(path),
                          field=option) from None
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        with deferred_signals():
            os.replace(temporary, path)
    except OSError as error:
        raise ConfigError(f"cannot write the output file: {_os_reason(error)}", source=_source(path),
                          field=option) from None
    finally:
        with suppress(FileNotFoundError):
            os.unlink(temporary)


@contextmanager
def write_failure(path: Path, option: str = "--out") -> Iterator[None]:
    """An OSError while writing outputs (a full disk, a folder removed meanwhile) as one line naming them;
    the paths were checked beforehand, so this is what no check can foresee."""
    try:
        yield
    except OSError as error:
        raise ConfigError(f"cannot write the output: {_os_reason(error)}", source=_source(path),
                          field=option) from None
