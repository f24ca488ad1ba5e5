"""Deterministic file writing: plain or gzip with a fixed header (no name, mtime 0)."""

from __future__ import annotations

import gzip
from pathlib import Path


def write_lines(path: Path, lines: list[str], compress: bool, level: int) -> None:
    """Write newline-terminated lines as UTF-8, gzip-compressed when ``compress``."""
    data = ("\n".join(lines) + "\n").encode() if lines else b""
    if compress:
        data = gzip.compress(data, compresslevel=level, mtime=0)
    path.write_bytes(data)
