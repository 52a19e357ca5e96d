"""Reading input files and writing output files, with errors a user can act on.

Inputs are read with a size cap (a programme is a few kB; ``--program /dev/zero`` must not eat the
machine's memory), outputs are written atomically through a temp file and a rename, and an output
is refused when it resolves to one of the inputs (``feed --out`` on the state store would destroy
the history).
"""

from __future__ import annotations

import errno
import os
import re
import stat
import sys
import tempfile
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .errors import ConfigError, OutputError, Problem

# Caps far above any real file, far below what would hurt: a 200-session programme is ~100 kB.
MAX_TOML_BYTES = 8 * 1024 * 1024
MAX_CSV_BYTES = 64 * 1024 * 1024
MAX_SECRET_BYTES = 64 * 1024

LEGACY_ENCODING = "cp1252"  # what French Excel writes for plain "CSV (séparateur: point-virgule)"


def _size(limit: int) -> str:
    return f"{limit // (1024 * 1024)} MB" if limit >= 1024 * 1024 else f"{limit // 1024} kB"


def read_bytes(path: Path, *, missing_hint: str, max_bytes: int) -> bytes:
    """A file's bytes, at most ``max_bytes`` of them, or ConfigError naming the file and the fix."""
    file = str(path)
    try:
        with path.open("rb") as handle:
            # One byte more than the cap tells "too big" apart from "exactly at the cap" without
            # reading the rest (a device like /dev/zero never ends).
            raw = handle.read(max_bytes + 1)
    except FileNotFoundError:
        raise ConfigError([Problem(file, "", "file not found")], hint=missing_hint) from None
    except IsADirectoryError:
        raise ConfigError([Problem(file, "", "is a directory, not a file")], hint=missing_hint) from None
    except PermissionError:
        raise ConfigError(
            [Problem(file, "", "cannot be read: permission denied")],
            hint="run lms-sync as the user that owns its files (see the README's install section), "
            "or make the file readable by that user",
        ) from None
    except OSError as exc:
        raise ConfigError([Problem(file, "", f"cannot be read: {exc.strerror or exc}")]) from None
    if len(raw) > max_bytes:
        raise ConfigError(
            [Problem(file, "", f"is larger than {_size(max_bytes)}; this cannot be the right file")],
            hint=missing_hint,
        )
    return raw


def _utf16(raw: bytes) -> bool:
    return raw.startswith((b"\xff\xfe", b"\xfe\xff")) or raw[:200].count(b"\x00") > 10


def decode_text(raw: bytes, file: str, *, encoding_hint: str, legacy: str | None = None) -> tuple[str, str]:
    """Decode UTF-8 (BOM allowed), else ``legacy`` when given and plausible; return (text, encoding used).

    The fix (``encoding_hint``) is part of the problem's message: ``validate`` lists problems of several
    files under one hint of its own.
    """
    try:
        return raw.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        bad_line = f"line {line}"
    if _utf16(raw):
        raise ConfigError(
            [Problem(file, "", f"is UTF-16 (Excel's « Texte Unicode »), not UTF-8: {encoding_hint}")],
            hint=encoding_hint,
        )
    if legacy is not None:
        try:
            text = raw.decode(legacy)
        except UnicodeDecodeError:
            text = None
        # Control characters other than tab and line ends mean it is not text in that encoding either.
        if text is not None and not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]", text):
            return text, legacy
        raise ConfigError(
            [Problem(file, bad_line, f"is neither UTF-8 nor Windows-1252: {encoding_hint}")], hint=encoding_hint
        )
    raise ConfigError([Problem(file, bad_line, f"not valid UTF-8: {encoding_hint}")], hint=encoding_hint)


def read_text(
    path: Path, *, missing_hint: str, encoding_hint: str = "save the file as UTF-8", max_bytes: int = MAX_TOML_BYTES
) -> str:
    """A UTF-8 text file (a BOM is allowed) of at most ``max_bytes``, or ConfigError naming the file and fix."""
    raw = read_bytes(path, missing_hint=missing_hint, max_bytes=max_bytes)
    return decode_text(raw, str(path), encoding_hint=encoding_hint)[0]


def read_toml(path: Path, *, missing_hint: str) -> dict[str, Any]:
    """A TOML file (UTF-8, BOM allowed, size-capped), or ConfigError naming its line and column."""
    text = read_text(path, missing_hint=missing_hint)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        where = re.search(r" \(at line (\d+), column (\d+)\)$", message)
        location = f"line {where[1]}, column {where[2]}" if where else ""
        raise ConfigError(
            [Problem(str(path), location, f"not valid TOML: {message[: where.start()] if where else message}")],
            hint="check quotes, brackets and dates on that line (dates look like 2020-12-09T09:00:00)",
        ) from None


def read_secret(path: Path, what: str) -> str:
    """A secret kept in a file (a token), stripped; ValueError with a short reason (for settings validation)."""
    try:
        raw = read_bytes(path, missing_hint="", max_bytes=MAX_SECRET_BYTES)
        text = decode_text(raw, str(path), encoding_hint="")[0].strip()
    except ConfigError as err:
        # The settings validator words it with the key's name; keep only the reason.
        reason = err.problems[0].message
        if not reason.startswith(("is ", "cannot be read")):
            reason = f"cannot be read: {reason}"
        raise ValueError(f"{what} {path} {reason}") from None
    if not text:
        raise ValueError(f"{what} {path} is empty")
    return text


# --------------------------------------------------------------------------------------------- outputs


def _same_file(a: Path, b: Path) -> bool:
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)  # hard links, bind mounts
    except OSError:
        return False


def refuse_inputs(out: Path, inputs: Mapping[str, Path]) -> None:
    """Raise OutputError when ``out`` is one of ``inputs`` (label -> path): an output never overwrites an input."""
    for label, path in inputs.items():
        if _same_file(out, path):
            raise OutputError(
                f"{out} is the {label} ({path}): writing there would destroy it",
                hint="choose another --out path (reports and feeds go under var/ by default)",
            )


def _write_hint(exc: OSError, *, device: bool = False) -> str:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        if device:
            return "the device or pipe refused the data as full: write to a file instead (--out PATH)"
        return "free space on that disk (or choose another --out path); the previous file, if any, is untouched"
    if exc.errno == errno.EROFS:
        return "that filesystem is read-only: choose another --out path"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "the user running lms-sync may not write there: choose another --out path or fix the permissions"
    return "choose another --out path"


def _write_device(path: Path, data: bytes) -> bool:
    # A device or a pipe (/dev/stdout, a FIFO) is written into, never replaced by a renamed file.
    try:
        with path.open("wb") as handle:
            handle.write(data)
            handle.flush()
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}", hint=_write_hint(exc, device=True)) from None
    return True


def write_atomic(path: Path, data: bytes, *, mode: int = 0o644) -> bool:
    """Write ``data`` to ``path`` through a temp file and rename; return False if it was already identical."""
    try:
        st = path.stat()
    except OSError:
        st = None
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise OutputError(f"cannot write {path}: it is a directory", hint="give a file name, not a folder")
    if st is not None and not stat.S_ISREG(st.st_mode):
        return _write_device(path, data)
    try:
        if st is not None and st.st_size == len(data) and path.read_bytes() == data:
            return False
    except OSError:
        pass  # unreadable: write it
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}", hint=_write_hint(exc)) from None
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}", hint=_write_hint(exc)) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True


def write_stdout(data: bytes) -> None:
    """Write bytes to standard output, flushed; a full or failing output is an OutputError (a closed pipe is not)."""
    try:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise OutputError(
            f"cannot write to standard output: {exc.strerror or exc}", hint=_write_hint(exc, device=True)
        ) from None
