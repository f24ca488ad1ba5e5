"""The plan of a run shared by the batch and the live mode: the folder, the fleet, the chunks."""

from __future__ import annotations

import multiprocessing
import signal
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np

from chargerlogs.clock import CLOCK_PATTERNS
from chargerlogs.fleet import ChargerSpec, build_fleet
from chargerlogs.options import Options
from chargerlogs.ownership import GENERATOR_DIR, claim
from chargerlogs.status import ChunkTask

CHARGERS_PER_CHUNK = 3
STATUS_DIR = "charger_log_status"
SESSION_DIR = "charger_log_session"

Task = TypeVar("Task")
Result = TypeVar("Result")


@dataclass(frozen=True)
class RunPlan:
    """The fleet, its chunks of chargers and the job uuid of the Spark-style file names."""

    fleet: list[ChargerSpec]
    tasks: list[ChunkTask]
    job: uuid.UUID


def prepare_folder(out: Path, force: bool) -> tuple[Path, Path, Path]:
    """Claim the data folder (or raise ``FolderRefused``) and create its empty stream folders.

    Returns the status, session and ``_generator`` folders.
    """
    claim(out, force, (STATUS_DIR, SESSION_DIR))
    folders = (out / STATUS_DIR, out / SESSION_DIR)
    for folder in folders:
        folder.mkdir()
    return folders[0], folders[1], out / GENERATOR_DIR


def plan_run(options: Options, status_dir: Path) -> RunPlan:
    """Draw the fleet and the reset clocks, and cut the fleet into chunks of three chargers."""
    fleet = build_fleet(options)
    rng = np.random.default_rng([options.seed, 4])
    chosen = rng.choice(len(fleet), size=options.clock_reset_chargers, replace=False)
    patterns = {
        fleet[int(i)].charger_id: CLOCK_PATTERNS[k % len(CLOCK_PATTERNS)]
        for k, i in enumerate(chosen)
    }
    job = uuid.UUID(int=int(rng.integers(0, 2**63)) << 64 | int(rng.integers(0, 2**63)), version=4)
    tasks = [
        ChunkTask(
            options, k, tuple(fleet[first : first + CHARGERS_PER_CHUNK]), patterns, status_dir
        )
        for k, first in enumerate(range(0, len(fleet), CHARGERS_PER_CHUNK))
    ]
    return RunPlan(fleet, tasks, job)


def in_chunk_order(
    work: Callable[[Task], Result], tasks: list[Task], workers: int
) -> Iterator[Result]:
    """``work`` applied to every task, in task order, computed in ``workers`` processes."""
    if workers == 1 or len(tasks) == 1:
        yield from map(work, tasks)
        return
    context = multiprocessing.get_context("fork")
    with context.Pool(min(workers, len(tasks)), initializer=_worker_signals) as pool:
        yield from pool.imap(work, tasks)


def _worker_signals() -> None:
    """Workers leave SIGINT to the main process and end on SIGTERM; it stops the pool."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
