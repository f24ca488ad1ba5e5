"""The serving copy of the marts (chargerlogs.publish): whole, swapped in atomically, read by 1.x.

Every copy here is published from the shared full build of the default dataset (see conftest), or
from a changed copy of that build file, into a temporary folder; nothing is rebuilt from scratch.
The command always runs in a subprocess, as ``make run`` runs it. An older DuckDB client is
installed from PyPI into its own virtualenv under ``build/``, kept there between runs.
"""

from __future__ import annotations

import hashlib
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pytest
from conftest import PROJECT_DIR, DefaultWarehouse, run_dbt

from chargerlogs.publish import (
    DEFAULT_SCHEMAS,
    OLDEST_READER,
    PAUSE_ENV,
    PROG,
    STORAGE_VERSION,
    ChangeScope,
    publish,
    spare_path,
    state_path,
    temp_path,
    wal_path,
)

PUBLISH = (sys.executable, "-m", "chargerlogs.publish")
PUBLISHED_NAME = "charger_telemetry.duckdb"
READ_EVERY_TABLE = Path(__file__).with_name("read_every_table.py")
OLDER_CLIENT_DIR = PROJECT_DIR / "build" / f"duckdb-{OLDEST_READER}"
# The tables the reader of the serving copy watches: one that the second build changes, one not.
CHANGED_TABLE = "marts.rpt_big_changes"
UNCHANGED_TABLE = "marts.fct_charging_profiles"
WATCHED_TABLES = (CHANGED_TABLE, UNCHANGED_TABLE)
STEP_TIMEOUT_S = 120

# A process that holds the copy open read-only: it prints the row count and row hash of each
# table named on its command line once at start, then once for every line read from its input,
# and closes the copy when its input ends.
HOLDING_READER = """
import json, sys
import duckdb
connection = duckdb.connect(sys.argv[1], read_only=True)
def report():
    print(json.dumps({
        table: connection.execute(
            f"select count(*), coalesce(sum(hash(t)), 0) from {table} as t"
        ).fetchone()
        for table in sys.argv[2:]
    }), flush=True)
report()
for _ in sys.stdin:
    report()
connection.close()
"""


def run_publish(
    warehouse: Path, out: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m chargerlogs.publish`` from ``warehouse`` into ``out``; never raises."""
    return subprocess.run(
        [*PUBLISH, "--warehouse", str(warehouse), "--out", str(out), *args],
        cwd=PROJECT_DIR,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=STEP_TIMEOUT_S,
        check=False,
    )


def publish_ok(warehouse: Path, out: Path) -> subprocess.CompletedProcess[str]:
    """Publish and fail the test with the command's output unless it succeeded."""
    result = run_publish(warehouse, out)
    if result.returncode != 0:
        pytest.fail(f"publish exited with {result.returncode}: {result.stderr}", pytrace=False)
    return result


def query(db_path: Path, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    """Run one query on a read-only connection and close it (names are schema-qualified: the
    copy has only the published schemas, so conftest's search path does not apply)."""
    connection = duckdb.connect(str(db_path), read_only=True)
    try:
        return connection.execute(sql, params or []).fetchall()
    finally:
        connection.close()


def tables_of(db_path: Path) -> list[str]:
    """``schema.table`` of every table of the published schemas in ``db_path``."""
    rows = query(
        db_path,
        "select schema_name || '.' || table_name from duckdb_tables()"
        " where list_contains(?, schema_name) order by 1",
        [list(DEFAULT_SCHEMAS)],
    )
    return [name for (name,) in rows]


def fingerprints(db_path: Path, tables: tuple[str, ...] | list[str]) -> dict[str, list[int]]:
    """Row count and row hash of each table, as lists (the holding reader prints JSON)."""
    sql = "select count(*), coalesce(sum(hash(t)), 0) from {} as t"
    return {
        table: [int(value) for value in query(db_path, sql.format(table))[0]] for table in tables
    }


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_line(process: subprocess.Popen[str], stream: str, timeout_s: float) -> str:
    """The next line ``process`` writes on ``stream`` ('stdout' or 'stderr'), within a timeout."""
    pipe = getattr(process, stream)
    ready, _, _ = select.select([pipe], [], [], timeout_s)
    if not ready:
        pytest.fail(f"no line on {stream} within {timeout_s} s", pytrace=False)
    return pipe.readline()


@contextmanager
def holding_reader(out: Path) -> Iterator[Callable[[], dict[str, list[int]]]]:
    """A process holding ``out`` open read-only (:data:`HOLDING_READER`) for the block.

    Yields a function that returns what the reader sees of :data:`WATCHED_TABLES` now; the first
    call returns what it saw on opening. At the end the reader must close and exit cleanly.
    """
    reader = subprocess.Popen(
        [sys.executable, "-c", HOLDING_READER, str(out), *WATCHED_TABLES],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    reports_on_opening = True

    def seen() -> dict[str, list[int]]:
        nonlocal reports_on_opening
        if reports_on_opening:
            reports_on_opening = False
        else:
            reader.stdin.write("again\n")
            reader.stdin.flush()
        return json.loads(read_line(reader, "stdout", STEP_TIMEOUT_S))

    try:
        yield seen
        reader.stdin.close()
        assert reader.wait(timeout=STEP_TIMEOUT_S) == 0, reader.stderr.read()
    finally:
        if reader.poll() is None:
            reader.kill()
            reader.wait()


@pytest.fixture(scope="module")
def build_file(default_warehouse: DefaultWarehouse) -> Path:
    """The DuckDB file of the shared full build of the default dataset."""
    return default_warehouse.db_path


@pytest.fixture(scope="module")
def published(build_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The serving copy published from the shared build."""
    out = tmp_path_factory.mktemp("published") / PUBLISHED_NAME
    publish_ok(build_file, out)
    return out


@pytest.fixture(scope="module")
def trimmed_build(build_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the build file whose big-change report lost its temperature rows."""
    path = tmp_path_factory.mktemp("trimmed") / "warehouse.duckdb"
    shutil.copyfile(build_file, path)
    connection = duckdb.connect(str(path))
    try:
        connection.execute(f"delete from {CHANGED_TABLE} where measure = 'temperature_c'")
    finally:
        connection.close()
    return path


@pytest.fixture(scope="session")
def older_client() -> Path:
    """The Python of a virtualenv under build/ holding DuckDB ``OLDEST_READER`` from PyPI.

    Made once and kept (``.installed`` holds the version it was made for); made again when that
    version changes. Fails, never skips, when it cannot be made.
    """
    python = OLDER_CLIENT_DIR / "bin" / "python"
    stamp = OLDER_CLIENT_DIR / ".installed"
    if python.exists() and stamp.is_file() and stamp.read_text().strip() == OLDEST_READER:
        return python
    shutil.rmtree(OLDER_CLIENT_DIR, ignore_errors=True)
    steps = (
        [sys.executable, "-m", "venv", str(OLDER_CLIENT_DIR)],
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--only-binary",
            ":all:",
            f"duckdb=={OLDEST_READER}",
        ],
        [str(python), "-c", "import duckdb; print(duckdb.__version__)"],
    )
    for step in steps:
        result = subprocess.run(step, capture_output=True, text=True, timeout=600, check=False)
        if result.returncode != 0:
            last = (result.stderr.strip().splitlines() or ["no output"])[-1]
            pytest.fail(
                f"cannot make the DuckDB {OLDEST_READER} client in {OLDER_CLIENT_DIR}: "
                f"{' '.join(step[:4])} ... exited with {result.returncode}: {last}",
                pytrace=False,
            )
    if result.stdout.strip() != OLDEST_READER:
        pytest.fail(f"{python} imports DuckDB {result.stdout.strip()}", pytrace=False)
    stamp.write_text(OLDEST_READER + "\n")
    return python


def read_every_table(python: Path | str, db_path: Path) -> dict:
    """What ``python`` (and its DuckDB) reads from every published table of ``db_path``."""
    result = subprocess.run(
        [str(python), str(READ_EVERY_TABLE), str(db_path), *DEFAULT_SCHEMAS],
        capture_output=True,
        text=True,
        timeout=STEP_TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


# What the copy holds


def test_the_copy_holds_every_mart_with_the_rows_of_the_build(
    build_file: Path, published: Path
) -> None:
    tables = tables_of(build_file)
    assert "marts.fct_session_briefings" in tables and "reference.quarantine_reasons" in tables
    assert tables_of(published) == tables
    assert fingerprints(published, tables) == fingerprints(build_file, tables)
    assert all(count > 0 for count, _ in fingerprints(published, tables).values())


def test_the_copy_holds_only_the_published_schemas(published: Path) -> None:
    relations = query(
        published,
        "select distinct schema_name from duckdb_tables()"
        " union select distinct schema_name from duckdb_views() where not internal",
    )
    assert sorted(schema for (schema,) in relations) == sorted(DEFAULT_SCHEMAS)


def test_the_copy_keeps_columns_types_not_null_and_comments(
    build_file: Path, published: Path
) -> None:
    columns_sql = (
        "select schema_name, table_name, column_name, data_type, is_nullable, comment"
        " from duckdb_columns() where list_contains(?, schema_name) order by all"
    )
    tables_sql = (
        "select schema_name, table_name, comment from duckdb_tables()"
        " where list_contains(?, schema_name) order by all"
    )
    schemas = [list(DEFAULT_SCHEMAS)]
    build_columns = query(build_file, columns_sql, schemas)
    assert all(comment for *_, comment in build_columns)  # persist_docs wrote every description
    assert not all(nullable for *_, nullable, _ in build_columns)
    assert query(published, columns_sql, schemas) == build_columns
    assert query(published, tables_sql, schemas) == query(build_file, tables_sql, schemas)


def test_the_copy_is_written_in_the_storage_version_older_clients_read(published: Path) -> None:
    rows = query(
        published,
        "select tags['storage_version'] from duckdb_databases()"
        " where database_name = current_database()",
    )
    assert rows == [(f"{STORAGE_VERSION}+",)]


# Readers never block, never see a mix


def test_a_reader_holding_the_copy_blocks_neither_the_build_nor_the_publish(
    default_warehouse: DefaultWarehouse, build_file: Path, tmp_path: Path
) -> None:
    out = tmp_path / "published" / PUBLISHED_NAME
    publish_ok(build_file, out)
    old_state = fingerprints(out, WATCHED_TABLES)
    with holding_reader(out) as seen:
        assert seen() == old_state

        # A second build while the reader holds the copy: dbt rebuilds the big-change report,
        # with a higher threshold, into a copy of the build file.
        rebuilt = tmp_path / "warehouse.duckdb"
        shutil.copyfile(build_file, rebuilt)
        run_dbt(
            ["run", "--select", "rpt_big_changes", "--full-refresh"]
            + ["--vars", "{big_change_threshold_pct: 50}"],
            default_warehouse.data_dir,
            rebuilt,
            tmp_path,
        )
        new_state = fingerprints(rebuilt, WATCHED_TABLES)
        assert new_state[CHANGED_TABLE][0] < old_state[CHANGED_TABLE][0]

        publish_ok(rebuilt, out)

        assert seen() == old_state
        assert fingerprints(out, WATCHED_TABLES) == new_state


# A killed publish


def test_a_publish_killed_before_the_swap_leaves_the_copy_whole(
    build_file: Path, trimmed_build: Path, tmp_path: Path
) -> None:
    out = tmp_path / "published" / PUBLISHED_NAME
    publish_ok(build_file, out)
    bytes_before = sha256(out)
    state_before = fingerprints(out, WATCHED_TABLES)
    trimmed_state = fingerprints(trimmed_build, WATCHED_TABLES)
    assert trimmed_state != state_before

    killed = subprocess.Popen(
        [*PUBLISH, "--warehouse", str(trimmed_build), "--out", str(out)],
        cwd=PROJECT_DIR,
        env={**os.environ, PAUSE_ENV: "600"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + STEP_TIMEOUT_S
        line = ""
        while not line.startswith("pausing"):
            line = read_line(killed, "stderr", max(deadline - time.monotonic(), 0.1))
            assert line, f"publish ended before its pause: exit {killed.wait()}"
        assert temp_path(out).is_file()
    finally:
        killed.send_signal(signal.SIGKILL)
        killed.wait()
    assert killed.returncode == -signal.SIGKILL

    assert sha256(out) == bytes_before
    assert fingerprints(out, WATCHED_TABLES) == state_before
    assert temp_path(out).is_file()

    again = publish_ok(trimmed_build, out)
    assert f"removed {temp_path(out).name}" in again.stderr
    assert sorted(path.name for path in out.parent.iterdir()) == [PUBLISHED_NAME]
    assert fingerprints(out, WATCHED_TABLES) == trimmed_state


# Older clients


def test_an_older_duckdb_reads_every_mart_of_the_copy(
    older_client: Path, build_file: Path, published: Path
) -> None:
    expected = read_every_table(sys.executable, build_file)
    seen = read_every_table(older_client, published)
    assert seen["duckdb"] == OLDEST_READER
    assert sorted(seen["tables"]) == tables_of(build_file)
    assert seen["tables"] == expected["tables"]
    assert all(table["rows"] > 0 and table["is_described"] for table in seen["tables"].values())


def test_the_older_duckdb_cannot_open_the_build_file(older_client: Path, build_file: Path) -> None:
    # What the copy is for: the build file is in DuckDB 2's format, which 1.x clients refuse.
    result = subprocess.run(
        [str(older_client), str(READ_EVERY_TABLE), str(build_file), *DEFAULT_SCHEMAS],
        capture_output=True,
        text=True,
        timeout=STEP_TIMEOUT_S,
        check=False,
    )
    assert result.returncode != 0
    assert "version number" in result.stderr


# The command line


def test_help_explains_every_option() -> None:
    result = subprocess.run(
        [*PUBLISH, "--help"], cwd=PROJECT_DIR, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0
    for option in ("--warehouse", "--out", "--schema", "--storage-version"):
        assert option in result.stdout
    assert STORAGE_VERSION in result.stdout and "read-only" in result.stdout


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("missing warehouse", "not found"),
        ("copy over the build file", "another file than --warehouse"),
        ("unknown schema", "has no schema nowhere"),
        ("a view in the schema", "is a view"),
        ("warehouse held by a writer", "cannot open warehouse"),
        ("a write-ahead log beside the copy", "opened the copy read-write"),
    ],
)
def test_bad_input_fails_with_one_line(
    case: str, message: str, trimmed_build: Path, tmp_path: Path
) -> None:
    warehouse, out, extra = trimmed_build, tmp_path / "published" / PUBLISHED_NAME, []
    writer = None
    if case == "missing warehouse":
        warehouse = tmp_path / "missing.duckdb"
    elif case == "copy over the build file":
        out = trimmed_build
    elif case == "unknown schema":
        extra = ["--schema", "nowhere"]
    elif case == "a view in the schema":
        extra = ["--schema", "staging"]
    elif case == "warehouse held by a writer":
        writer = duckdb.connect(str(trimmed_build))
    else:
        out.parent.mkdir()
        wal_path(out).write_bytes(b"")
    try:
        result = run_publish(warehouse, out, *extra)
    finally:
        if writer is not None:
            writer.close()
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith(f"{PROG}: error: ")]
    assert errors == result.stderr.splitlines()[-1:]
    assert message in errors[0]
    assert not out.exists() or out == trimmed_build
    assert not temp_path(out).exists()


# Updating a copy batch by batch (the live loop)

SCOPE = ChangeScope(
    tables=frozenset({"marts.fct_charging_profiles", "marts.rpt_big_changes"}),
    key="session_id",
    changes="intermediate.int_sessions_clock_corrected",
)


def assert_copy_matches(out: Path, warehouse: Path) -> None:
    """The copy holds the published tables of the warehouse, each with the same rows."""
    tables = tables_of(warehouse)
    assert tables_of(out) == tables
    assert fingerprints(out, tables) == fingerprints(warehouse, tables)


def scoped_publish(warehouse: Path, out: Path) -> list[str]:
    """Publish ``warehouse`` into ``out`` with :data:`SCOPE`; the progress lines."""
    lines: list[str] = []
    publish(warehouse, out, scope=SCOPE, progress=lines.append)
    return lines


def change_sessions(warehouse: Path, sessions: int) -> list[str]:
    """Rewrite the profiles of a few sessions as a rebuild would, stamping them; their ids."""
    connection = duckdb.connect(str(warehouse))
    try:
        ids = [
            session_id
            for (session_id,) in connection.execute(
                "select distinct session_id from marts.fct_charging_profiles order by 1 limit ?",
                [sessions],
            ).fetchall()
        ]
        connection.execute(
            "update marts.fct_charging_profiles set power_w = power_w + 1"
            " where list_contains(?, session_id)",
            [ids],
        )
        connection.execute(
            "update intermediate.int_sessions_clock_corrected"
            " set refreshed_at = now()::timestamp + interval 1 day"
            " where list_contains(?, session_id)",
            [ids],
        )
    finally:
        connection.close()
    return ids


@pytest.fixture
def changing_build(build_file: Path, tmp_path: Path) -> Path:
    """A copy of the shared build file that a test may change."""
    path = tmp_path / "warehouse.duckdb"
    shutil.copyfile(build_file, path)
    return path


def test_a_scoped_publication_rewrites_only_the_stamped_sessions(
    changing_build: Path, tmp_path: Path
) -> None:
    out = tmp_path / "published" / PUBLISHED_NAME
    first = scoped_publish(changing_build, out)
    assert all(line.startswith("copied ") for line in first)
    assert json.loads(state_path(out).read_text())["changes_through"]

    ids = change_sessions(changing_build, 3)
    connection = duckdb.connect(str(changing_build))
    try:
        (rows,) = connection.execute(
            "select count(*) from marts.fct_charging_profiles where list_contains(?, session_id)",
            [ids],
        ).fetchone()
        connection.execute(f"delete from {CHANGED_TABLE} where measure = 'temperature_c'")
    finally:
        connection.close()
    second = scoped_publish(changing_build, out)

    assert any(
        line.startswith(f"updated marts.fct_charging_profiles: {rows:,} of ") for line in second
    )
    # the big-change report lost rows of sessions that were not stamped: found by its row count
    assert f"copied {CHANGED_TABLE}" in "\n".join(second)
    assert "kept marts.fct_session_briefings" in "\n".join(second)
    assert_copy_matches(out, changing_build)


def test_stamped_sessions_rebuilt_with_the_same_rows_are_left_in_place(
    changing_build: Path, tmp_path: Path
) -> None:
    out = tmp_path / "published" / PUBLISHED_NAME
    scoped_publish(changing_build, out)
    ids = change_sessions(changing_build, 2)
    connection = duckdb.connect(str(changing_build))
    try:
        # every session stamped again, as a rebuild of every charger would; two changed
        connection.execute(
            "update intermediate.int_sessions_clock_corrected"
            " set refreshed_at = now()::timestamp + interval 1 day"
        )
        (rows,) = connection.execute(
            "select count(*) from marts.fct_charging_profiles where list_contains(?, session_id)",
            [ids],
        ).fetchone()
    finally:
        connection.close()
    lines = scoped_publish(changing_build, out)
    assert any(
        line.startswith(f"updated marts.fct_charging_profiles: {rows:,} of ") for line in lines
    )
    assert any(line.startswith("updated marts.rpt_big_changes: 0 of ") for line in lines)
    assert_copy_matches(out, changing_build)


def test_the_file_a_swap_replaced_is_updated_in_place_by_the_next_publication(
    changing_build: Path, tmp_path: Path
) -> None:
    out = tmp_path / "published" / PUBLISHED_NAME
    scoped_publish(changing_build, out)
    first_inode = out.stat().st_ino
    change_sessions(changing_build, 2)
    second = scoped_publish(changing_build, out)
    assert not any(line.startswith("updating ") for line in second)  # no spare yet: a byte copy
    assert spare_path(out).stat().st_ino == first_inode
    second_inode = out.stat().st_ino

    # the spare took in neither change since: both reach it
    ids = change_sessions(changing_build, 3)
    third = scoped_publish(changing_build, out)
    assert third[0] == f"updating {spare_path(out).name} in place"
    assert out.stat().st_ino == first_inode
    assert spare_path(out).stat().st_ino == second_inode
    assert_copy_matches(out, changing_build)
    rows_sql = "select count(*) from marts.fct_charging_profiles where list_contains(?, session_id)"
    assert query(out, rows_sql, [ids]) == query(changing_build, rows_sql, [ids])


def test_a_spare_that_a_reader_still_holds_is_left_alone(
    changing_build: Path, tmp_path: Path
) -> None:
    out = tmp_path / "published" / PUBLISHED_NAME
    scoped_publish(changing_build, out)
    old_state = fingerprints(out, WATCHED_TABLES)
    with holding_reader(out) as seen:
        assert seen() == old_state
        change_sessions(changing_build, 2)
        scoped_publish(changing_build, out)  # the reader's file becomes the spare
        change_sessions(changing_build, 2)
        lines = scoped_publish(changing_build, out)
        assert not any(line.startswith("updating ") for line in lines)
        assert_copy_matches(out, changing_build)
        assert seen() == old_state


def test_a_copy_changed_by_anyone_else_is_published_whole(
    changing_build: Path, tmp_path: Path
) -> None:
    out = tmp_path / "published" / PUBLISHED_NAME
    scoped_publish(changing_build, out)
    publish(changing_build, out)  # a publication without scope: the side file no longer matches
    change_sessions(changing_build, 2)
    lines = scoped_publish(changing_build, out)
    assert lines and all(line.startswith("copied ") for line in lines)
    assert_copy_matches(out, changing_build)


def test_a_new_column_or_comment_reaches_an_updated_copy(
    changing_build: Path, tmp_path: Path
) -> None:
    out = tmp_path / "published" / PUBLISHED_NAME
    scoped_publish(changing_build, out)
    connection = duckdb.connect(str(changing_build))
    try:
        connection.execute("alter table marts.fct_charging_profiles add column extra integer")
        connection.execute("comment on table marts.dim_chargers is 'One row per charger (new).'")
        connection.execute("comment on column marts.dim_users.user_id is null")
    finally:
        connection.close()
    lines = "\n".join(scoped_publish(changing_build, out))
    assert "copied marts.fct_charging_profiles" in lines
    assert "kept marts.dim_chargers" in lines
    comment_sql = "select comment from duckdb_tables() where table_name = 'dim_chargers'"
    assert query(out, comment_sql) == [("One row per charger (new).",)]
    column_sql = (
        "select comment from duckdb_columns()"
        " where table_name = 'dim_users' and column_name = 'user_id'"
    )
    assert query(out, column_sql) == [(None,)]
    columns_sql = (
        "select column_name from duckdb_columns() where table_name = 'fct_charging_profiles'"
    )
    assert query(out, columns_sql) == query(changing_build, columns_sql)


def test_an_older_duckdb_reads_an_updated_copy(
    older_client: Path, changing_build: Path, tmp_path: Path
) -> None:
    out = tmp_path / "published" / PUBLISHED_NAME
    scoped_publish(changing_build, out)
    change_sessions(changing_build, 5)
    assert any(line.startswith("updated ") for line in scoped_publish(changing_build, out))
    seen = read_every_table(older_client, out)
    assert seen["duckdb"] == OLDEST_READER
    assert seen["tables"] == read_every_table(sys.executable, changing_build)["tables"]
