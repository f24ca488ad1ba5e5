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

When the caller names the tables rebuilt key by key (:class:`ChangeScope`: the live loop names the
marts rebuilt session by session), a publication over a copy it wrote itself starts from a byte copy
of that copy and rewrites only what changed since: in the scoped tables, the rows of the keys whose
change stamp in the warehouse is later than the one the last publication took in (a side file,
``.<name>.state.json``, records it with the copy's identity) and whose rows (count and hash per key)
differ from the copy's, as a key is often rebuilt unchanged; any other table whose row hash
differs is rewritten whole; columns or comments that changed are recreated. Each rewritten table is
checked as in a full copy, a scoped table by its row count and the row hash of its changed keys
(a count that differs, such as a key gone from the warehouse, falls back to the whole table).
Anything unexpected (no side file, a copy changed by someone else, another storage version) gives a
full publication.

The byte copy costs a write of the whole file (and its flush to disk) per publication. To spare
it, the swap keeps the file it replaces as ``.<name>.spare``, and the next scoped publication
updates that file in place (the changes of the last two publications) instead of copying the
current one, unless a reader may still hold it: a DuckDB reader in another process holds a lock on
it, one in this process an open descriptor. Then, or if the spare is missing or not the file the
side file recorded, the copy is made as before.

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
import json
import os
import re
import shutil
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


@dataclass(frozen=True)
class ChangeScope:
    """Tables whose rows change only key by key, and where the warehouse stamps the changed keys.

    ``tables`` (``schema.name``) hold a ``key`` column; the rows of a key change only when
    ``changes`` (a warehouse relation with that key and ``refreshed_at``) stamps the key with a
    later build time.
    """

    tables: frozenset[str]
    key: str
    changes: str


def temp_path(out: Path) -> Path:
    """The temp file a publish into ``out`` writes before the swap (same folder, hidden)."""
    return out.with_name(f".{out.name}.tmp")


def state_path(out: Path) -> Path:
    """The side file that records what the copy ``out`` took in, for the next publication."""
    return out.with_name(f".{out.name}.state.json")


def spare_path(out: Path) -> Path:
    """The file the last swap replaced, kept for the next publication to update in place."""
    return out.with_name(f".{out.name}.spare")


def _identity(path: Path) -> dict[str, int]:
    status = path.stat()
    return {"inode": status.st_ino, "size": status.st_size, "mtime_ns": status.st_mtime_ns}


def previous_state(out: Path, storage_version: str) -> dict[str, object] | None:
    """What the last publication into ``out`` took in, if the copy is still the one it wrote."""
    try:
        state = json.loads(state_path(out).read_text())
        current = _identity(out)
    except (OSError, ValueError):
        return None
    if (
        not isinstance(state, dict)
        or state.get("identity") != current
        or state.get("storage_version") != storage_version
        or not isinstance(state.get("changes_through"), str)
    ):
        return None
    return state


def usable_spare(out: Path, state: dict[str, object]) -> str | None:
    """The change stamp the spare of ``out`` took in, if it can be updated in place.

    It can when it is the file the side file recorded (not the copy itself) and nothing may be
    reading it (:func:`in_use`).
    """
    spare = state.get("spare")
    try:
        current = _identity(spare_path(out))
    except OSError:
        return None
    if (
        not isinstance(spare, dict)
        or spare.get("identity") != current
        or current["inode"] == _identity(out)["inode"]
        or not isinstance(spare.get("changes_through"), str)
        or in_use(spare_path(out))
    ):
        return None
    return spare["changes_through"]


def in_use(path: Path) -> bool:
    """Whether a reader may hold ``path``: a DuckDB reader in another process holds a lock on it
    (DuckDB locks the files it opens), one in this process an open descriptor of it."""
    status = path.stat()
    own = Path("/proc/self/fd")
    for descriptor in own.iterdir() if own.is_dir() else ():
        try:
            other = os.stat(descriptor)
        except OSError:
            continue
        if (other.st_dev, other.st_ino) == (status.st_dev, status.st_ino):
            return True
    with open(path, "rb+") as handle:
        try:
            fcntl.lockf(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return True
        fcntl.lockf(handle, fcntl.LOCK_UN)
    return False


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


def table_columns(
    connection: duckdb.DuckDBPyConnection, database: str, schema: str, name: str
) -> list[tuple[str, str, bool, str | None]]:
    """Name, type, nullability and comment of each column of ``database.schema.name``, in order."""
    return connection.execute(
        "select column_name, data_type, is_nullable, comment from duckdb_columns()"
        " where database_name = ? and schema_name = ? and table_name = ?"
        " order by column_index",
        [database, schema, name],
    ).fetchall()


def sync_comments(
    connection: duckdb.DuckDBPyConnection, schema: str, name: str, comment: str | None
) -> None:
    """Give ``published.schema.name`` and its columns the comments they have in the build file."""
    relation = f"{_quoted(schema)}.{_quoted(name)}"
    (current,) = connection.execute(
        "select comment from duckdb_tables()"
        " where database_name = 'published' and schema_name = ? and table_name = ?",
        [schema, name],
    ).fetchone() or (None,)
    if comment != current:
        text = "null" if comment is None else _literal(comment)
        connection.execute(f"comment on table published.{relation} is {text}")
    published = {
        column: text for column, _, _, text in table_columns(connection, "published", schema, name)
    }
    for column, _, _, column_comment in table_columns(connection, "source", schema, name):
        if column_comment != published.get(column):
            text = "null" if column_comment is None else _literal(column_comment)
            connection.execute(
                f"comment on column published.{relation}.{_quoted(column)} is {text}"
            )


def copy_table(
    connection: duckdb.DuckDBPyConnection, schema: str, name: str, comment: str | None
) -> None:
    """Recreate ``source.schema.name`` in ``published``: columns, NOT NULL, rows and comments."""
    columns = table_columns(connection, "source", schema, name)
    relation = f"{_quoted(schema)}.{_quoted(name)}"
    definitions = ", ".join(
        f"{_quoted(column)} {data_type}{'' if nullable else ' not null'}"
        for column, data_type, nullable, _ in columns
    )
    connection.execute(f"drop table if exists published.{relation}")
    connection.execute(f"create table published.{relation} ({definitions})")
    connection.execute(f"insert into published.{relation} select * from source.{relation}")
    sync_comments(connection, schema, name, comment)


def table_fingerprint(
    connection: duckdb.DuckDBPyConnection, relation: str, where: str = "true"
) -> tuple[int, int]:
    """Row count and an order-independent hash of the rows of ``relation`` that ``where`` keeps."""
    row = connection.execute(
        f"select count(*), coalesce(sum(hash(t)), 0) from {relation} as t where {where}"
    ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def copy_checked(
    connection: duckdb.DuckDBPyConnection,
    schema: str,
    name: str,
    comment: str | None,
    expected: tuple[int, int] | None = None,
) -> int:
    """Copy a table whole and check it against the build file (whose fingerprint, ``expected``,
    the caller may have taken already); its row count."""
    relation = f"{_quoted(schema)}.{_quoted(name)}"
    copy_table(connection, schema, name, comment)
    if expected is None:
        expected = table_fingerprint(connection, f"source.{relation}")
    if table_fingerprint(connection, f"published.{relation}") != expected:
        raise PublishError(f"{schema}.{name} differs from the warehouse after the copy")
    return expected[0]


def update_keys(
    connection: duckdb.DuckDBPyConnection, schema: str, name: str, key: str
) -> tuple[int, int] | None:
    """Rewrite the rows of the changed keys that differ from the copy's (and of a null key) in a
    scoped table.

    A key stamped again is often rebuilt with the same rows (a charger whose clock was corrected
    has every session rebuilt); comparing each changed key's row count and row hash first leaves
    those rows in place, so that the copy's deletes, and the checkpoint's rewrite of the row groups
    that hold them, grow with what changed rather than with what was rebuilt. Returns the table's
    row count and the number of rows rewritten, checked against the build file over every changed
    key; None when the row counts then differ (a key gone from the warehouse): copy it whole.
    """
    relation = f"{_quoted(schema)}.{_quoted(name)}"
    column = f"t.{_quoted(key)}"
    changed = f"{column} in (select changed_keys.key from changed_keys) or {column} is null"
    per_key = (
        f"select {column} as key, count(*) as row_count, sum(hash(t)) as row_hash"
        f" from {{db}}.{relation} as t"
        f" where {column} in (select changed_keys.key from changed_keys) group by {column}"
    )
    connection.execute(
        "create or replace temp table differing_keys as"
        f" select key from ({per_key.format(db='source')}) as built"
        f" full join ({per_key.format(db='published')}) as copied using (key)"
        " where built.row_count is distinct from copied.row_count"
        " or built.row_hash is distinct from copied.row_hash"
    )
    differing = f"{column} in (select differing_keys.key from differing_keys) or {column} is null"
    connection.execute(f"delete from published.{relation} as t where {differing}")
    (rewritten,) = connection.execute(
        f"insert into published.{relation} select * from source.{relation} as t where {differing}"
    ).fetchone() or (0,)
    counts = [
        connection.execute(f"select count(*) from {db}.{relation}").fetchone()[0]  # type: ignore[index]
        for db in ("source", "published")
    ]
    if counts[0] != counts[1]:
        return None
    expected = table_fingerprint(connection, f"source.{relation}", changed)
    if table_fingerprint(connection, f"published.{relation}", changed) != expected:
        raise PublishError(f"{schema}.{name} differs from the warehouse after the update")
    return int(counts[0]), int(rewritten)


def write_copy(
    warehouse: Path,
    destination: Path,
    schemas: Sequence[str],
    storage_version: str,
    progress: Callable[[str], None],
    scope: ChangeScope | None = None,
    since: str | None = None,
) -> tuple[tuple[PublishedTable, ...], str | None]:
    """Write ``schemas`` of ``warehouse`` into ``destination``, checked and closed.

    ``destination`` is a new file, or with ``since`` a byte copy of the previous copy, which took
    in the scoped changes stamped up to ``since``: then only what changed is rewritten. Returns the
    tables and, with a ``scope``, the latest change stamp the copy now holds.
    """
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
        changes_through = None
        if scope is not None:
            (changes_through,) = connection.execute(
                f"select cast(max(refreshed_at) as varchar) from source.{scope.changes}"
            ).fetchone() or (None,)
            if since is not None:
                connection.execute(
                    "create temp table changed_keys as"
                    f" select distinct {_quoted(scope.key)} as key from source.{scope.changes}"
                    " where refreshed_at > cast(? as timestamp)",
                    [since],
                )
        existing = {
            (schema, name)
            for schema, name in connection.execute(
                "select schema_name, table_name from duckdb_tables()"
                " where database_name = 'published'"
            ).fetchall()
        }
        for schema in dict.fromkeys(schema for schema, _, _ in tables):
            connection.execute(f"create schema if not exists published.{_quoted(schema)}")
        published = []
        for schema, name, comment in tables:
            relation = f"{_quoted(schema)}.{_quoted(name)}"
            same_columns = (schema, name) in existing and [
                column[:3] for column in table_columns(connection, "source", schema, name)
            ] == [column[:3] for column in table_columns(connection, "published", schema, name)]
            if since is None or not same_columns:
                rows = copy_checked(connection, schema, name, comment)
                progress(f"copied {schema}.{name}: {rows:,} rows")
            elif scope is not None and f"{schema}.{name}" in scope.tables:
                updated = update_keys(connection, schema, name, scope.key)
                if updated is None:
                    rows = copy_checked(connection, schema, name, comment)
                    progress(f"copied {schema}.{name}: {rows:,} rows (a {scope.key} is gone)")
                else:
                    rows, rewritten = updated
                    sync_comments(connection, schema, name, comment)
                    progress(f"updated {schema}.{name}: {rewritten:,} of {rows:,} rows rewritten")
            else:
                expected = table_fingerprint(connection, f"source.{relation}")
                if table_fingerprint(connection, f"published.{relation}") == expected:
                    rows = expected[0]
                    sync_comments(connection, schema, name, comment)
                    progress(f"kept {schema}.{name}: {rows:,} rows, unchanged")
                else:
                    rows = copy_checked(connection, schema, name, comment, expected)
                    progress(f"copied {schema}.{name}: {rows:,} rows")
            published.append(PublishedTable(schema, name, rows))
        for schema, name in sorted(existing - {(schema, name) for schema, name, _ in tables}):
            connection.execute(f"drop table published.{_quoted(schema)}.{_quoted(name)}")
            progress(f"dropped {schema}.{name}, no longer in the warehouse")
        connection.execute("checkpoint published")
        connection.execute("detach published")
    finally:
        connection.close()
    if wal_path(destination).exists():
        raise PublishError(f"{destination} kept a write-ahead log after it was closed")
    return tuple(published), changes_through


def publish(
    warehouse: Path,
    out: Path,
    schemas: Sequence[str] = DEFAULT_SCHEMAS,
    storage_version: str = STORAGE_VERSION,
    progress: Callable[[str], None] = lambda message: None,
    scope: ChangeScope | None = None,
) -> Publication:
    """Copy ``schemas`` of ``warehouse`` into ``out``, swapped in whole or not at all.

    With a ``scope``, a copy this function wrote before is updated (see the module's docstring).
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
        state = previous_state(out, storage_version) if scope is not None else None
        since = None
        try:
            if state is not None:
                since = usable_spare(out, state)
                if since is not None:
                    os.replace(spare_path(out), temp)
                    progress(f"updating {spare_path(out).name} in place")
                else:
                    shutil.copyfile(out, temp)
                    since = str(state["changes_through"])
            tables, changes_through = write_copy(
                warehouse, temp, schemas, storage_version, progress, scope, since
            )
            fsync_path(temp)
            pause = os.environ.get(PAUSE_ENV)
            if pause:
                progress(f"pausing {pause} s before the swap ({PAUSE_ENV})")
                time.sleep(float(pause))
            state_path(out).unlink(missing_ok=True)
            spare_path(out).unlink(missing_ok=True)
            if changes_through is not None and state is not None and out.exists():
                os.link(out, spare_path(out))
            os.replace(temp, out)
        except BaseException:
            remove_leftovers(out)
            raise
        fsync_path(out.parent)
        if changes_through is not None:
            record = {
                "identity": _identity(out),
                "storage_version": storage_version,
                "changes_through": changes_through,
            }
            if spare_path(out).exists():
                assert state is not None
                record["spare"] = {
                    "identity": _identity(spare_path(out)),
                    "changes_through": state["changes_through"],
                }
            state_path(out).write_text(json.dumps(record))
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
