"""Publish the warehouse's BI-facing schemas into a serving copy that readers can hold open.

``dbt build`` writes ``build/charger_telemetry.duckdb``, and DuckDB lets one writer or many
readers hold a file, never both: a BI tool holding the build file would make the next build fail.
This command copies the schemas that BI tools, the notebook and the app read (``marts`` and
``reference``) into a second file, the serving copy, that the build never opens:

1. Under an exclusive lock on the copy's folder (one publish into it at a time), a temp file left
   there by a publish that was killed, ``.<name>.tmp``, is removed.
2. The build file is attached read-only, and the temp file is created in the same folder as the
   copy, written in storage version ``v1.0.0``, which every DuckDB from 1.0.0 on reads (DuckDB 2.0
   writes a format that no 1.x release opens). Each table is recreated with its columns, types and
   NOT NULL constraints, filled, and given the table and column comments of the build file
   (``persist_docs`` puts the descriptions there; a ``create table`` does not carry them).
   Primary keys are left out: their index, written by DuckDB 2.0 in that storage version, does
   not open in DuckDB 1.0; the build enforces them, the copy is a read-only snapshot.
3. Each table's row count and row hash are checked against the build file, the temp file is
   checkpointed and closed, flushed to disk (``fsync``) and renamed over the copy with
   ``os.replace``, which is atomic within one folder; the folder is flushed too.

A reader holding the old copy keeps reading the old file (an open file survives a rename) and
never sees a mix; a reader opening it after the swap gets the new one. A publish killed at any
point leaves the previous copy whole. Open the copy **read-only**: a read-write connection would
write a ``.wal`` beside it, which this command refuses to publish over.

For the tests only, the environment variable ``CHARGER_PUBLISH_PAUSE_BEFORE_SWAP_S`` makes the
command sleep that many seconds between writing the temp file and the swap, so that a test can
kill it at a known point.

Usage: ``python -m chargerlogs.publish --warehouse build/charger_telemetry.duckdb
--out build/published/charger_telemetry.duckdb``
"""

from __future__ import annotations

import argparse
import fcntl
import os
import re
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb

from chargerlogs.cli import OneLineErrorParser

PROG = "python -m chargerlogs.publish"
DEFAULT_SCHEMAS = ("marts", "reference")
# The storage format of the copy; OLDEST_READER is the oldest DuckDB release that reads it
# (tested; 0.10.3 reads it as well).
STORAGE_VERSION = "v1.0.0"
OLDEST_READER = "1.0.0"
PAUSE_ENV = "CHARGER_PUBLISH_PAUSE_BEFORE_SWAP_S"
STORAGE_VERSION_PATTERN = re.compile(r"v\d+\.\d+\.\d+")


class PublishInputError(ValueError):
    """The copy cannot be published from the given input (missing warehouse, unknown schema...)."""


class PublishError(RuntimeError):
    """Publishing failed after it began; the previous copy is left as it was."""


@dataclass(frozen=True)
class PublishedTable:
    """One table of the copy and its row count."""

    schema: str
    name: str
    rows: int


@dataclass(frozen=True)
class Publication:
    """A published copy: where, what it holds, its size and how long publishing took."""

    path: Path
    tables: tuple[PublishedTable, ...]
    size_bytes: int
    seconds: float


def temp_path(out: Path) -> Path:
    """The temp file a publish into ``out`` writes before the swap (same folder, hidden)."""
    return out.with_name(f".{out.name}.tmp")


def wal_path(database: Path) -> Path:
    """The write-ahead log DuckDB keeps beside ``database`` while it holds uncheckpointed writes."""
    return database.with_name(database.name + ".wal")


def _quoted(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def check_inputs(warehouse: Path, out: Path, schemas: Sequence[str], storage_version: str) -> None:
    """Raise :class:`PublishInputError` for input that cannot be published (nothing is opened)."""
    if not warehouse.is_file():
        raise PublishInputError(f"warehouse {warehouse} not found: build it with make run")
    if out.resolve() == warehouse.resolve():
        raise PublishInputError("--out must be another file than --warehouse")
    if out.is_dir():
        raise PublishInputError(f"--out {out} is a folder, not a file")
    if not schemas:
        raise PublishInputError("no schema to publish")
    if not STORAGE_VERSION_PATTERN.fullmatch(storage_version):
        raise PublishInputError(f"storage version {storage_version!r} is not of the form v1.0.0")
    if wal_path(out).exists():
        raise PublishInputError(
            f"{wal_path(out)} exists: something opened the copy read-write; close it "
            "(open the copy read-only) and remove that file"
        )


@contextmanager
def exclusive_lock(folder: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``folder``; fail at once if another process holds it.

    The lock is released when the process ends, however it ends, so a killed publish never
    leaves it behind, and it leaves no file.
    """
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise PublishInputError(f"another publish into {folder} is running") from None
        yield
    finally:
        os.close(descriptor)


def remove_leftovers(out: Path) -> list[Path]:
    """Remove the temp file (and its write-ahead log) of a publish that did not finish."""
    removed = []
    for leftover in (temp_path(out), wal_path(temp_path(out))):
        if leftover.exists():
            leftover.unlink()
            removed.append(leftover)
    return removed


def fsync_path(path: Path) -> None:
    """Flush ``path`` (a file, or a folder after a rename in it) to disk."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def source_tables(
    connection: duckdb.DuckDBPyConnection, warehouse: Path, schemas: Sequence[str]
) -> list[tuple[str, str, str | None]]:
    """Schema, name and comment of each table of ``schemas`` in the attached build file.

    Raises :class:`PublishInputError` when a schema is missing or holds a view: the copy holds
    tables only, and a view there would read layers the copy does not have.
    """
    found = {
        name
        for (name,) in connection.execute(
            "select schema_name from duckdb_schemas() where database_name = 'source'"
        ).fetchall()
    }
    missing = [schema for schema in schemas if schema not in found]
    if missing:
        raise PublishInputError(
            f"warehouse {warehouse} has no schema {', '.join(missing)}: build it with make run"
        )
    views = connection.execute(
        "select schema_name || '.' || view_name from duckdb_views()"
        " where database_name = 'source' and list_contains(?, schema_name)",
        [list(schemas)],
    ).fetchall()
    if views:
        raise PublishInputError(f"{views[0][0]} is a view: only tables can be published")
    tables = connection.execute(
        "select schema_name, table_name, comment from duckdb_tables()"
        " where database_name = 'source' and list_contains(?, schema_name)"
        " order by schema_name, table_name",
        [list(schemas)],
    ).fetchall()
    empty = sorted(set(schemas) - {schema for schema, _, _ in tables})
    if empty:
        raise PublishInputError(f"schema {', '.join(empty)} of {warehouse} holds no table")
    return tables


def copy_table(
    connection: duckdb.DuckDBPyConnection, schema: str, name: str, comment: str | None
) -> None:
    """Recreate ``source.schema.name`` in ``published``: columns, NOT NULL, rows and comments."""
    columns = connection.execute(
        "select column_name, data_type, is_nullable, comment from duckdb_columns()"
        " where database_name = 'source' and schema_name = ? and table_name = ?"
        " order by column_index",
        [schema, name],
    ).fetchall()
    relation = f"{_quoted(schema)}.{_quoted(name)}"
    definitions = ", ".join(
        f"{_quoted(column)} {data_type}{'' if nullable else ' not null'}"
        for column, data_type, nullable, _ in columns
    )
    connection.execute(f"create table published.{relation} ({definitions})")
    connection.execute(f"insert into published.{relation} select * from source.{relation}")
    if comment:
        connection.execute(f"comment on table published.{relation} is {_literal(comment)}")
    for column, _, _, column_comment in columns:
        if column_comment:
            connection.execute(
                f"comment on column published.{relation}.{_quoted(column)}"
                f" is {_literal(column_comment)}"
            )


def table_fingerprint(connection: duckdb.DuckDBPyConnection, relation: str) -> tuple[int, int]:
    """Row count and an order-independent hash of every row of ``relation``."""
    row = connection.execute(
        f"select count(*), coalesce(sum(hash(t)), 0) from {relation} as t"
    ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def write_copy(
    warehouse: Path,
    destination: Path,
    schemas: Sequence[str],
    storage_version: str,
    progress: Callable[[str], None],
) -> tuple[PublishedTable, ...]:
    """Write ``schemas`` of ``warehouse`` into the new file ``destination``, checked and closed."""
    connection = duckdb.connect()
    try:
        try:
            connection.execute(f"attach {_literal(str(warehouse))} as source (read_only)")
        except duckdb.Error as error:
            raise PublishInputError(
                f"cannot open warehouse {warehouse}: {_first_line(error)}"
            ) from error
        tables = source_tables(connection, warehouse, schemas)
        try:
            connection.execute(
                f"attach {_literal(str(destination))} as published"
                f" (storage_version {_literal(storage_version)})"
            )
        except duckdb.Error as error:
            raise PublishInputError(f"cannot create {destination}: {_first_line(error)}") from error
        for schema in dict.fromkeys(schema for schema, _, _ in tables):
            connection.execute(f"create schema published.{_quoted(schema)}")
        published = []
        for schema, name, comment in tables:
            relation = f"{_quoted(schema)}.{_quoted(name)}"
            copy_table(connection, schema, name, comment)
            expected = table_fingerprint(connection, f"source.{relation}")
            written = table_fingerprint(connection, f"published.{relation}")
            if written != expected:
                raise PublishError(f"{schema}.{name} differs from the warehouse after the copy")
            published.append(PublishedTable(schema, name, written[0]))
            progress(f"copied {schema}.{name}: {written[0]:,} rows")
        connection.execute("checkpoint published")
        connection.execute("detach published")
    finally:
        connection.close()
    if wal_path(destination).exists():
        raise PublishError(f"{destination} kept a write-ahead log after it was closed")
    return tuple(published)


def publish(
    warehouse: Path,
    out: Path,
    schemas: Sequence[str] = DEFAULT_SCHEMAS,
    storage_version: str = STORAGE_VERSION,
    progress: Callable[[str], None] = lambda message: None,
) -> Publication:
    """Copy ``schemas`` of ``warehouse`` into ``out``, swapped in whole or not at all.

    Raises :class:`PublishInputError` on input that cannot be published and :class:`PublishError`
    (or a ``duckdb.Error``) when the copy fails; in both cases ``out`` is left as it was.
    """
    began = time.perf_counter()
    check_inputs(warehouse, out, schemas, storage_version)
    out.parent.mkdir(parents=True, exist_ok=True)
    temp = temp_path(out)
    with exclusive_lock(out.parent):
        for leftover in remove_leftovers(out):
            progress(f"removed {leftover.name}, left by a publish that did not finish")
        try:
            tables = write_copy(warehouse, temp, schemas, storage_version, progress)
            fsync_path(temp)
            pause = os.environ.get(PAUSE_ENV)
            if pause:
                progress(f"pausing {pause} s before the swap ({PAUSE_ENV})")
                time.sleep(float(pause))
            os.replace(temp, out)
        except BaseException:
            remove_leftovers(out)
            raise
        fsync_path(out.parent)
    return Publication(out, tables, out.stat().st_size, time.perf_counter() - began)


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``python -m chargerlogs.publish``."""
    parser = OneLineErrorParser(
        prog=PROG,
        description=(
            "Copy the BI-facing schemas of the warehouse that dbt builds into a serving copy for "
            "BI tools, the notebook and the app. The copy is written to a temp file beside it and "
            "swapped in with one atomic rename: a reader holding the old copy keeps reading it, "
            "a killed publish leaves it whole, and the build never opens it, so readers never "
            "block a build. Open the copy read-only."
        ),
        epilog=(
            f"The copy is written in DuckDB storage version {STORAGE_VERSION}, readable by DuckDB "
            f"{OLDEST_READER} and every later release. Exit status: 0 published, 2 bad input, "
            "1 the copy failed (the previous copy is left as it was)."
        ),
    )
    parser.add_argument(
        "--warehouse",
        type=Path,
        required=True,
        metavar="PATH",
        help="the DuckDB file dbt built, e.g. build/charger_telemetry.duckdb (opened read-only)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        required=True,
        metavar="PATH",
        help=(
            "the serving copy to publish, e.g. build/published/charger_telemetry.duckdb; its "
            "folder is created if missing and also holds the temp file while a publish runs"
        ),
    )
    parser.add_argument(
        "--schema",
        action="append",
        dest="schemas",
        metavar="NAME",
        help=(
            "a schema to copy; repeat for several (default: "
            f"{' and '.join(DEFAULT_SCHEMAS)}, the marts and the reference seed)"
        ),
    )
    parser.add_argument(
        "--storage-version",
        default=STORAGE_VERSION,
        metavar="VERSION",
        help=(
            f"DuckDB storage version of the copy (default: {STORAGE_VERSION}, which DuckDB "
            f"{OLDEST_READER} and later read); a later one only narrows which clients can open it"
        ),
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status (2 on bad input, 1 when the copy fails)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    schemas = tuple(dict.fromkeys(args.schemas or DEFAULT_SCHEMAS))

    def say(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    say(f"publishing {', '.join(schemas)} of {args.warehouse} to {args.out} ...")
    try:
        publication = publish(args.warehouse, args.out, schemas, args.storage_version, say)
    except PublishInputError as error:
        say(f"{PROG}: error: {error}")
        return 2
    except (PublishError, duckdb.Error, OSError) as error:
        say(f"{PROG}: error: {_first_line(error)}")
        return 1
    say(
        f"published {len(publication.tables)} tables, "
        f"{publication.size_bytes / 2**20:.1f} MiB, storage {args.storage_version}, "
        f"in {publication.seconds:.1f} s: {publication.path}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
