"""The manifest of a live run: what has been written so far, rewritten as batches are added."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from chargerlogs.plan import SESSION_DIR, STATUS_DIR
from chargerlogs.sessions import SESSION_DEFECT_KINDS
from chargerlogs.status import STATUS_DEFECT_KEYS
from chargerlogs.writer import replace_atomically

FileFacts = dict[str, dict[str, object]]  # relative name -> lines, layout, gzip


class LiveManifest:
    """``_generator/manifest.json`` of a live run.

    ``header`` holds what is fixed for the run (generator, arguments, window, chargers, ground
    truth summaries); the files, line counts and defects grow with every batch. The status
    defects count the lines written so far, as the batch manifest does (see
    ``StatusWindow.tally`` for copies of rows that arrived before the window).
    """

    def __init__(
        self, path: Path, header: dict[str, object], planned: int, clock_reset_chargers: list[int]
    ):
        self.path = path
        self.header = header
        self.planned = planned
        self.clock_reset_chargers = clock_reset_chargers
        self.written = 0
        self.last: dict[str, int] | None = None
        self.state = "writing"
        self.status_files: FileFacts = {}
        self.session_files: FileFacts = {}
        self.status: Counter[str] = Counter()
        self.session: Counter[str] = Counter()
        self.unknown_fields: set[str] = set()

    def add_batch(
        self,
        number: int,
        span: tuple[int, int],
        files: tuple[FileFacts, FileFacts],
        status_tally: dict[str, int],
        session_labels: list[str],
        unknown_fields: set[str],
    ) -> None:
        """Count one written batch: its number, [start, end) in UNIX seconds, its status and
        session files, the tally of its status lines and the labels of its session lines."""
        self.written += 1
        self.last = {"number": number, "start": span[0], "end": span[1]}
        self.status_files.update(files[0])
        self.session_files.update(files[1])
        self.status.update(status_tally)
        self.session.update(session_labels)
        self.unknown_fields |= unknown_fields

    def to_json(self) -> dict[str, object]:
        """The manifest as JSON-ready values."""
        status = self.status
        session_lines = sum(self.session.values())
        return {
            **self.header,
            "batches": {
                "planned": self.planned,
                "written": self.written,
                "last": self.last,
                "state": self.state,
            },
            STATUS_DIR: {
                "files": self.status_files,
                "lines": status["lines"],
                "clean_rows": status["clean_rows"],
                "defects": {key: status[key] for key in STATUS_DEFECT_KEYS},
                "copies_of_earlier_rows": status["copy_of_earlier_row"],
                "clock_reset_chargers": self.clock_reset_chargers,
                "unknown_fields": sorted(self.unknown_fields),
            },
            SESSION_DIR: {
                "files": self.session_files,
                "lines": session_lines,
                "clean_rows": self.session[""],
                "defects": {kind: self.session[kind] for kind in SESSION_DEFECT_KINDS},
            },
        }

    def write(self) -> None:
        """Rewrite the manifest file atomically."""
        text = json.dumps(self.to_json(), indent=2) + "\n"
        replace_atomically(self.path, text.encode())
