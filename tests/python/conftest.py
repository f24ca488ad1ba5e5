"""Shared helpers for the pipeline tests: run dbt in a subprocess, query the warehouse, read logs.

dbt always runs with its own target, log and DuckDB paths under a temporary folder, so that tests
never share files with a build of the default warehouse running at the same time.
"""

from __future__ import annotations

import csv
import gzip
import json
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest

from chargerlogs import dbt_runner

PROJECT_DIR = Path(__file__).resolve().parents[2]
VENV_BIN = PROJECT_DIR / ".venv" / "bin"
DBT = str(VENV_BIN / "dbt") if (VENV_BIN / "dbt").exists() else "dbt"

SEED_REASONS = PROJECT_DIR / "seeds" / "quarantine_reasons.csv"
# Tables are found by name in every layer's schema: tests name what they read, not where it lives.
SEARCH_PATH = "marts,intermediate,staging,reference"

# The data-quality models and everything they read: the seed of reason codes, staging, the
# classification, de-duplication and clock models. Nothing of the charging marts.
DATA_QUALITY_SELECTION: tuple[str, ...] = (
    "quarantine_reasons",
    "+rpt_ingestion_reconciliation",
    "+rpt_quarantined_lines",
    "+rpt_unexpected_keys",
    "+rpt_schema_drift",
    "+int_readings_clock_corrected",
    "assert_no_systematic_schema_drift",
    "assert_insertion_order_is_preserved",
)

DATA_QUALITY_TABLES: tuple[str, ...] = (
    "rpt_ingestion_reconciliation",
    "rpt_quarantined_lines",
    "rpt_unexpected_keys",
    "rpt_schema_drift",
    "int_log_lines_classified",
    "int_readings_classified",
    "int_sessions_classified",
    "int_sessions_deduplicated",
)


def seed_reasons(log_stream: str, disposition: str) -> list[str]:
    """The reason codes of the seed that apply to ``log_stream`` with ``disposition``."""
    with SEED_REASONS.open(newline="", encoding="utf-8") as handle:
        return [
            row["reason_code"]
            for row in csv.DictReader(handle)
            if row["disposition"] == disposition and row["streams"] in (log_stream, "both")
        ]


def run_dbt(
    args: Sequence[str],
    data_dir: Path,
    db_path: Path,
    tmp: Path,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run one dbt command on ``data_dir`` into ``db_path``; on error fail with dbt's output.

    The JSON files are read unless ``env`` names a lake (``CHARGER_LAKE_DIR``).
    """
    result = dbt_runner.run_dbt(
        args,
        data_dir=data_dir,
        db_path=db_path,
        target_path=tmp / "target",
        log_path=tmp / "logs",
        # a machine zone far from UTC: results must not depend on it
        env={"TZ": "America/Sao_Paulo", "CHARGER_LAKE_DIR": "", **(env or {})},
    )
    try:
        return dbt_runner.check(result)
    except dbt_runner.ProcessError as error:
        pytest.fail(f"{error}\n{error.output_tail}", pytrace=False)


def build_data_quality(data_dir: Path, tmp: Path) -> Path:
    """``dbt build`` of the data-quality selection; return the DuckDB file.

    Runs the models, their unit tests and their data tests; tests that also read models outside
    the selection (the charging marts) are left out.
    """
    db_path = tmp / "warehouse.duckdb"
    args = ["build", "--select", *DATA_QUALITY_SELECTION, "--indirect-selection", "cautious"]
    run_dbt(args, data_dir, db_path, tmp)
    return db_path


def query(db_path: Path, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
    """Run one query on a read-only connection and close it (an open connection blocks dbt)."""
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        con.execute(f"set search_path = '{SEARCH_PATH}'")
        return con.execute(sql, list(params or [])).fetchall()
    finally:
        con.close()


def query_dicts(
    db_path: Path, sql: str, params: Sequence[Any] | None = None
) -> list[dict[str, Any]]:
    """Like :func:`query`, each row as a dict keyed by column name."""
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        con.execute(f"set search_path = '{SEARCH_PATH}'")
        cursor = con.execute(sql, list(params or []))
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    finally:
        con.close()


def file_lines(path: Path) -> list[str]:
    """Every line of a (possibly gzip) log file, blank ones included, without line endings."""
    raw = path.read_bytes()
    if path.name.endswith(".gz"):
        raw = gzip.decompress(raw)
    text = raw.decode("utf-8")
    if not text:
        return []
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line.removesuffix("\r") for line in lines]


def count_non_blank_lines(path: Path) -> int:
    """Non-blank lines of a (possibly gzip) log file: what the warehouse must account for."""
    return sum(1 for line in file_lines(path) if line.strip())


def write_lines(
    path: Path, lines: Sequence[str | dict[str, Any]], *, newline_at_end: bool = True
) -> Path:
    """Write a log file: dicts are JSON-encoded, strings written as they are; ``.gz`` compresses."""
    text = "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines)
    if lines and newline_at_end:
        text += "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    data = text.encode("utf-8")
    path.write_bytes(gzip.compress(data, mtime=0) if path.name.endswith(".gz") else data)
    return path


def table_fingerprint(db_path: Path, table: str) -> tuple[int, int]:
    """Row count and an order-independent hash of every row of ``table``."""
    rows = query(db_path, f"select count(*), coalesce(sum(hash(t)), 0) from {table} as t")
    count, digest = rows[0]
    return int(count), int(digest)


@dataclass(frozen=True)
class DefaultWarehouse:
    """The default dataset (as ``make run`` makes it), its manifest, and its full build."""

    data_dir: Path
    manifest: dict[str, Any]
    db_path: Path
    tmp: Path


def generate_default_dataset(out: Path) -> None:
    """Run the generator with the arguments of ``make run``."""
    generator = VENV_BIN / "chargerlogs-generate"
    command = [str(generator) if generator.exists() else "chargerlogs-generate"]
    command += ["--out", str(out), "--seed", "42", "--quiet"]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        pytest.fail(f"generator failed: {result.stderr}", pytrace=False)


@pytest.fixture(scope="session")
def default_warehouse(tmp_path_factory: pytest.TempPathFactory) -> DefaultWarehouse:
    """Generate the default dataset and run the whole ``dbt build`` on it once per test session.

    Every model, seed, unit test, data test and contract of the project runs here, into a
    temporary DuckDB file; the default-build and notebook tests read this one build.
    """
    tmp = tmp_path_factory.mktemp("default_warehouse")
    data_dir = tmp / "data"
    generate_default_dataset(data_dir)
    manifest = json.loads((data_dir / "_generator" / "manifest.json").read_text())
    db_path = tmp / "warehouse.duckdb"
    run_dbt(["build"], data_dir, db_path, tmp)
    return DefaultWarehouse(data_dir, manifest, db_path, tmp)


@dataclass(frozen=True)
class PortalStore:
    """The dashboard's serving store on a PostgreSQL server of its own, published from the
    default warehouse: connection strings of the owner and the app role, and the demo tokens."""

    cluster: Any
    owner: str
    app: str
    tokens: dict[int, str]
    token_file: Path
    warehouse: Path


@pytest.fixture(scope="session")
def portal_store(default_warehouse: DefaultWarehouse) -> Iterator[PortalStore]:
    """Start a PostgreSQL server in a temporary folder, publish the default warehouse into it,
    and stop it at the end. Fails, never skips, when PostgreSQL is not installed."""
    from chargerlogs.serving.cluster import ClusterError, LocalCluster, server_bindir
    from chargerlogs.serving.marts import read_marts
    from chargerlogs.serving.publish import publish
    from chargerlogs.serving.store import bootstrap
    from chargerlogs.serving.tokens import read_token_file

    try:
        server_bindir()
    except ClusterError as error:
        pytest.fail(str(error), pytrace=False)
    # directly under /tmp: pytest's own temporary folders are closed to the postgres user
    root = Path(tempfile.mkdtemp(prefix="portal_store_"))
    root.chmod(0o755)
    cluster = LocalCluster(root, port=54339)
    try:
        cluster.start()
        store = bootstrap(cluster)
        token_file = root / "demo_tokens.json"
        publish(read_marts(default_warehouse.db_path), store.owner, token_file)
        yield PortalStore(
            cluster,
            store.owner,
            store.app,
            read_token_file(token_file),
            token_file,
            default_warehouse.db_path,
        )
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)
