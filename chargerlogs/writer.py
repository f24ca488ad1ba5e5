"""Deterministic file writing: plain or gzip with a fixed header (no name, mtime 0).

``replace_atomically`` writes a file under a hidden temporary name in the same folder and renames
it, so that a reader watching the folder sees either no file or the whole file.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path


def encode_lines(lines: list[str], compress: bool, level: int) -> bytes:
    """Newline-terminated lines as UTF-8 bytes, gzip-compressed when ``compress``."""
    data = ("\n".join(lines) + "\n").encode() if lines else b""
    if compress:
        data = gzip.compress(data, compresslevel=level, mtime=0)
    return data


def write_lines(path: Path, lines: list[str], compress: bool, level: int) -> None:
    """Write newline-terminated lines as UTF-8, gzip-compressed when ``compress``."""
    path.write_bytes(encode_lines(lines, compress, level))


def temporary_name(path: Path) -> Path:
    """The hidden name a file is written under before it is renamed to ``path``.

    It starts with a dot and ends in ``.tmp``, so neither ``*.json`` nor ``*.json.gz`` match it.
    """
    return path.with_name(f".{path.name}.tmp")


def replace_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that ``path`` never exists half-written."""
    temporary = temporary_name(path)
    try:
        temporary.write_bytes(data)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
