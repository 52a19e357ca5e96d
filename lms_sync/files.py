"""Reading input files and writing output files, with errors a user can act on."""

from __future__ import annotations

import os
import re
import tempfile
import tomllib
from pathlib import Path
from typing import Any

from .errors import ConfigError, OutputError, Problem


def read_text(path: Path, *, missing_hint: str, encoding_hint: str = "save the file as UTF-8") -> str:
    """A UTF-8 text file (a BOM is allowed), or ConfigError naming the file, the line and the fix."""
    file = str(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError([Problem(file, "", "file not found")], hint=missing_hint) from None
    except IsADirectoryError:
        raise ConfigError([Problem(file, "", "is a directory, not a file")], hint=missing_hint) from None
    except OSError as exc:
        raise ConfigError([Problem(file, "", f"cannot be read: {exc.strerror}")]) from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError([Problem(file, f"line {line}", "not valid UTF-8")], hint=encoding_hint) from None


def read_toml(path: Path, *, missing_hint: str) -> dict[str, Any]:
    """A TOML file (UTF-8, BOM allowed), or ConfigError naming its line and column."""
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


def write_atomic(path: Path, data: bytes, *, mode: int = 0o644) -> bool:
    """Write ``data`` to ``path`` through a temp file and rename; return False if it was already identical."""
    try:
        if path.read_bytes() == data:
            return False
    except OSError:
        pass  # missing or unreadable: write it
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror}", hint="choose another --out path") from None
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise OutputError(f"cannot write {path}: {exc.strerror}", hint="choose another --out path") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True
