"""Land the log files of a data folder into the bronze layer of a lake, each file once.

Usage: ``python -m chargerlogs.land --data DIR --lake DIR`` (``--help`` explains every option).

Every ``*.json`` and ``*.json.gz`` file of the two stream folders that the lake's file ledger does
not hold yet is read once, line by line as raw text, and written as one Parquet file,
``<lake>/bronze/<stream>/arrival_date=<YYYY-MM-DD>/<file name>.parquet``, with each line's text and
its number within the file (blank lines kept and counted): the warehouse then reads the bronze
files instead of the JSON (env ``CHARGER_LAKE_DIR``), without numbering lines across files. The
arrival date is the day (UTC) the file was last modified, when it arrived in the folder.

The ledger, ``<lake>/ledger.parquet``, holds one row per landed file: its path, stream, size,
SHA-256, line count, bronze file, arrival date and modification time. A file already in the ledger
with the same hash is skipped; with another hash it is an error naming the file (landed files are
immutable; a change is a new file under a new name), and nothing is written. A file whose size and
modification time (in nanoseconds) are those the ledger recorded is taken as unchanged without
reading it again (the quick check of ``make`` and ``rsync``), so that a turn of the live loop reads
only the new files, whatever the history; a file rewritten in place with the same size that also
got its old modification time back is the one change this does not see.

Each Parquet file and the ledger are written under a temporary name and renamed, so a reader never
sees half a file and a landing that stops half-way leaves the ledger as it was (its Parquet files
are landed again next time).
Each stream's folder also holds one empty Parquet file (partition ``arrival_date=1970-01-01``), so
that a stream with no file yet is read as no lines.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from chargerlogs.cli import OneLineErrorParser

PROG = "python -m chargerlogs.land"
STREAMS = ("charger_log_status", "charger_log_session")
LEDGER = "ledger.parquet"
# The partition of the empty file each stream's bronze folder gets (see _ensure_stream_folders).
EMPTY_PARTITION = "1970-01-01"
LEDGER_COLUMNS = (
    "source_file varchar, log_stream varchar, size_bytes bigint, sha256 varchar, "
    "line_count bigint, bronze_file varchar, arrival_date date, modified_ns bigint"
)


class LandingError(Exception):
    """A file that cannot be landed: changed since it was landed, or unreadable."""


@dataclass(frozen=True)
class LandedFile:
    """One row of the ledger."""

    source_file: str
    log_stream: str
    size_bytes: int
    sha256: str
    line_count: int
    bronze_file: str
    arrival_date: str
    # the file's modification time when landed (ns); None in a ledger written before it was kept
    modified_ns: int | None = None


def log_files(data_dir: str) -> list[tuple[str, str]]:
    """(stream, path) of every file the warehouse reads, paths written as the readers write them."""
    found = []
    for stream in STREAMS:
        folder = Path(data_dir) / stream
        if not folder.is_dir():
            raise LandingError(f"{folder} is not a folder")
        for path in sorted(folder.iterdir()):
            if path.name.endswith((".json", ".json.gz")) and path.is_file():
                found.append((stream, f"{data_dir}/{stream}/{path.name}"))
    return found


def sha256(path: str) -> str:
    """The SHA-256 of a file's bytes, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_ledger(lake: Path) -> dict[str, LandedFile]:
    """The ledger's rows by source file; empty for a new lake."""
    path = lake / LEDGER
    if not path.exists():
        return {}
    con = duckdb.connect()
    try:
        relation = con.read_parquet(str(path))
        modified = "modified_ns" if "modified_ns" in relation.columns else "null"
        rows = relation.query(
            "ledger",
            "select source_file, log_stream, size_bytes, sha256, line_count, bronze_file,"
            f" cast(arrival_date as varchar), {modified} from ledger",
        ).fetchall()
    finally:
        con.close()
    return {row[0]: LandedFile(*row) for row in rows}


def land(data_dir: str, lake: Path, say: bool = True) -> list[LandedFile]:
    """Land every file of ``data_dir`` the ledger does not hold; return the newly landed ones."""
    ledger = read_ledger(lake)
    pending = []
    touched = False
    for stream, path in log_files(data_dir):
        known = ledger.get(path)
        status = os.stat(path)
        if known is not None and (known.size_bytes, known.modified_ns) == (
            status.st_size,
            status.st_mtime_ns,
        ):
            continue
        digest = sha256(path)
        if known is None:
            pending.append((stream, path, digest))
        elif known.sha256 != digest:
            raise LandingError(
                f"{path} changed since it was landed (sha256 {known.sha256[:12]}... is now "
                f"{digest[:12]}...): landed files are immutable, land a change as a new file"
            )
        else:  # the same bytes, touched: record its time, so that it is not read again
            ledger[path] = dataclasses.replace(known, modified_ns=status.st_mtime_ns)
            touched = True
    landed = []
    con = duckdb.connect()
    try:
        _ensure_stream_folders(con, lake)
        for number, (stream, path, digest) in enumerate(pending, 1):
            landed.append(_land_file(con, stream, path, digest, lake))
            if say:
                print(f"{PROG}: {number}/{len(pending)} {path}", file=sys.stderr, flush=True)
        if landed or touched:
            _write_ledger(con, lake, [*ledger.values(), *landed])
    finally:
        con.close()
    return landed


def _ensure_stream_folders(con: duckdb.DuckDBPyConnection, lake: Path) -> None:
    """Give each stream's bronze folder one empty Parquet file, so that a stream that has not
    delivered a file yet reads as no lines rather than as a missing folder."""
    for stream in STREAMS:
        folder = lake / "bronze" / stream / f"arrival_date={EMPTY_PARTITION}"
        target = folder / "empty.parquet"
        if target.exists():
            continue
        folder.mkdir(parents=True, exist_ok=True)
        temporary = folder / ".empty.parquet.tmp"
        columns = (
            "cast(null as varchar) as source_file, cast(null as bigint) as line_number, "
            "cast(null as varchar) as raw_line"
        )
        con.execute(f"copy (select {columns} limit 0) to '{_sql_text(temporary)}' (format parquet)")
        os.replace(temporary, target)


def _land_file(
    con: duckdb.DuckDBPyConnection, stream: str, path: str, digest: str, lake: Path
) -> LandedFile:
    """Read one file's lines with their numbers and write them as one Parquet file."""
    status = os.stat(path)
    arrival = datetime.fromtimestamp(status.st_mtime, UTC).date().isoformat()
    name = Path(path).name
    folder = lake / "bronze" / stream / f"arrival_date={arrival}"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{name}.parquet"
    temporary = folder / f".{name}.parquet.tmp"
    # One file at a time: DuckDB returns its lines in order, the scan position is the line number.
    con.execute(
        f"""
        copy (
            select
                '{_sql_text(path)}' as source_file,
                row_number() over () as line_number,
                -- the reader gives an empty line as null: its text is empty
                coalesce(raw_line, '') as raw_line
            from read_csv(
                '{_sql_text(path)}', columns = {{'raw_line': 'VARCHAR'}}, header = false,
                delim = chr(1), quote = '', escape = '', auto_detect = false, null_padding = false
            )
        ) to '{_sql_text(temporary)}' (format parquet)
        """
    )
    count = con.execute(f"select count(*) from read_parquet('{_sql_text(temporary)}')").fetchone()
    os.replace(temporary, target)
    return LandedFile(
        path,
        stream,
        status.st_size,
        digest,
        int(count[0]),
        str(target),
        arrival,
        status.st_mtime_ns,
    )


def _write_ledger(con: duckdb.DuckDBPyConnection, lake: Path, rows: list[LandedFile]) -> None:
    """Write the whole ledger under a temporary name and rename it over the old one."""
    con.execute(f"create or replace temp table ledger ({LEDGER_COLUMNS})")
    con.executemany(
        "insert into ledger values (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                r.source_file,
                r.log_stream,
                r.size_bytes,
                r.sha256,
                r.line_count,
                r.bronze_file,
                r.arrival_date,
                r.modified_ns,
            )
            for r in sorted(rows, key=lambda r: r.source_file)
        ],
    )
    temporary = lake / f".{LEDGER}.tmp"
    con.execute(f"copy ledger to '{_sql_text(temporary)}' (format parquet)")
    os.replace(temporary, lake / LEDGER)


def _sql_text(value: object) -> str:
    return str(value).replace("'", "''")


def build_parser() -> OneLineErrorParser:
    """The command line."""
    parser = OneLineErrorParser(
        prog=PROG,
        description="Land the log files of a data folder into the lake's bronze layer, each once.",
    )
    parser.add_argument(
        "--data",
        required=True,
        help="the data folder holding charger_log_status/ and charger_log_session/ (only read)",
    )
    parser.add_argument(
        "--lake",
        required=True,
        type=Path,
        help="the lake folder: bronze/ and ledger.parquet are written there (created if missing)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress line per landed file")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code (2 with one line on stderr for a file it cannot land)."""
    options = build_parser().parse_args(argv)
    options.lake.mkdir(parents=True, exist_ok=True)
    try:
        landed = land(options.data.rstrip("/"), options.lake, say=not options.quiet)
    except (LandingError, OSError, duckdb.Error) as error:
        print(f"{PROG}: error: {str(error).splitlines()[0]}", file=sys.stderr)
        return 2
    lines = sum(row.line_count for row in landed)
    print(f"{PROG}: landed {len(landed)} new files, {lines:,} lines", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
