"""Which data folders the generator may write: new or empty ones, and the ones it marked itself.

A folder the generator writes carries ``_generator/.chargerlogs-generated``. Any other non-empty
folder (someone's own export, for one) is refused, whatever the flags, before anything is touched.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

GENERATOR_DIR = "_generator"
MARKER = ".chargerlogs-generated"
MARKER_PATH = f"{GENERATOR_DIR}/{MARKER}"
SIGNATURE = "written by chargerlogs-generate"
MARKER_TEXT = (
    f"{SIGNATURE}\n"
    "This folder holds a generated dataset. chargerlogs-generate --force may delete and rewrite\n"
    "its charger_log_status/, charger_log_session/ and _generator/; without this file the\n"
    "generator refuses to touch the folder.\n"
)


class FolderRefused(Exception):
    """The generator may not write into a folder; the message is the one-line reason."""


def is_marked(folder: Path) -> bool:
    """Whether ``folder`` carries the generator's marker (a file opening with its signature)."""
    try:
        with (folder / MARKER_PATH).open(encoding="utf-8") as handle:
            return handle.readline().rstrip("\n") == SIGNATURE
    except (OSError, UnicodeDecodeError):
        return False


def refusal(out: Path, force: bool) -> str | None:
    """Why the generator may not write into ``out`` with this ``--force``, or None if it may."""
    if out.is_symlink() and not out.exists():
        return f"--out {out} is a link to nothing"
    if not out.exists():
        return None
    if not out.is_dir():
        return f"--out {out} is not a directory"
    if not any(out.iterdir()):
        return None
    if not is_marked(out):
        return (
            f"--out {out} is not empty and has no {MARKER_PATH}: the generator did not write it "
            "and will not touch it, whatever --force says"
        )
    if not force:
        return f"--out {out} holds a generated dataset; --force regenerates it"
    return None


def claim(out: Path, force: bool, folders: Sequence[str]) -> None:
    """Mark ``out`` as the generator's; remove its ``folders`` and the rest of ``_generator/``.

    Nothing else in ``out`` is touched.

    Raises ``FolderRefused`` with nothing touched when ``refusal`` gives a reason. The marker is
    written before anything else and kept while the folders are replaced, so that a run that stops
    half-way leaves a folder the generator can still regenerate.
    """
    problem = refusal(out, force)
    if problem is not None:
        raise FolderRefused(problem)
    marker = out / MARKER_PATH
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(MARKER_TEXT, encoding="utf-8")
    stale = [entry for entry in marker.parent.iterdir() if entry.name != MARKER]
    stale += [out / name for name in folders if (out / name).exists() or (out / name).is_symlink()]
    for path in stale:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
