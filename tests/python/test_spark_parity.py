"""The same project built on DuckDB and on Spark gives the same marts.

One small generated dataset with every defect kind the generator writes is built twice:
``dbt build`` on DuckDB and ``dbt build --target spark`` (local Spark, session method), each with
its unit tests, data tests and contracts. Every mart of the DuckDB build must then exist on Spark
with the same columns, the same rows by key, equal integers, texts, booleans, dates and
timestamps, and doubles equal within 1e-9 relative. The Spark tables are Parquet files under the
warehouse folder, read here through DuckDB.
"""

from __future__ import annotations

import math
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest
from conftest import VENV_BIN, query, run_dbt

from chargerlogs.bench_spark import model_seconds, stage_of

RELATIVE_TOLERANCE = 1e-9

# A small fleet with every defect of the generator made frequent enough to occur in both streams,
# a reset clock and every anomaly kind (seed 3 gives each at least once): about 55,000 status lines.
GENERATOR_ARGS: tuple[str, ...] = (
    "--seed", "3", "--chargers", "6", "--days", "3", "--rows-per-file", "5000",
    "--duplicate-rate", "0.08", "--resend-rate", "0.02", "--conflict-rate", "0.01",
    "--late-rate", "0.03", "--truncate-rate", "0.05", "--null-key-rate", "0.05",
    "--null-measurement-rate", "0.01", "--type-mismatch-rate", "0.05",
    "--out-of-range-rate", "0.01", "--extra-field-rate", "0.01", "--glitch-rate", "0.01",
    "--end-before-start-rate", "0.3", "--anomaly-rate", "0.5", "--clock-reset-chargers", "1",
)  # fmt: skip

# The reason codes these defects give: the dataset must show each of them, on both engines.
EXPECTED_REASON_CODES = {
    "malformed_json",
    "missing_key_field",
    "type_mismatch",
    "out_of_range",
    "end_before_start",
    "exact_duplicate",
    "resent_duplicate",
    "conflicting_duplicate",
}

FLOAT_TYPES = ("DOUBLE", "FLOAT", "REAL", "DECIMAL")


@dataclass(frozen=True)
class ParityBuilds:
    """The DuckDB file and the Spark warehouse folder built from one dataset."""

    data_dir: Path
    db_path: Path
    spark_warehouse: Path
    spark_target: Path


@pytest.fixture(scope="module")
def parity_builds(tmp_path_factory: pytest.TempPathFactory) -> ParityBuilds:
    """Generate the dataset, then build it on DuckDB and on Spark, each with every test."""
    tmp = tmp_path_factory.mktemp("spark_parity")
    data_dir = tmp / "data"
    command = [str(VENV_BIN / "chargerlogs-generate"), "--out", str(data_dir), "--quiet"]
    generated = subprocess.run(
        command + list(GENERATOR_ARGS), capture_output=True, text=True, check=False
    )
    if generated.returncode != 0:
        pytest.fail(f"generator failed: {generated.stderr}", pytrace=False)
    db_path = tmp / "warehouse.duckdb"
    run_dbt(["build"], data_dir, db_path, tmp / "duckdb")
    spark_dir = tmp / "spark"
    run_dbt(
        ["build", "--target", "spark"],
        data_dir,
        db_path,
        tmp / "spark_dbt",
        env={"CHARGER_SPARK_DIR": str(spark_dir)},
    )
    return ParityBuilds(data_dir, db_path, spark_dir / "warehouse", tmp / "spark_dbt" / "target")


def mart_columns(db_path: Path) -> dict[str, list[tuple[str, str]]]:
    """Every table of the DuckDB marts schema with its (column, type) pairs in order."""
    rows = query(
        db_path,
        "select table_name, column_name, data_type from information_schema.columns "
        "where table_schema = 'marts' order by table_name, ordinal_position",
    )
    marts: dict[str, list[tuple[str, str]]] = {}
    for table, column, data_type in rows:
        marts.setdefault(table, []).append((column, data_type))
    return marts


def normalised_select(columns: Sequence[tuple[str, str]], relation: str) -> str:
    """A select of the columns in comparable form: instants as epoch microseconds, dates as text."""
    expressions = []
    for column, data_type in columns:
        if data_type.startswith("TIMESTAMP"):
            expressions.append(f"epoch_us({column}) as {column}")
        elif data_type == "DATE":
            expressions.append(f"cast({column} as varchar) as {column}")
        else:
            expressions.append(column)
    return f"select {', '.join(expressions)} from {relation}"


def spark_relation(warehouse: Path, table: str) -> str:
    """The Parquet files of a Spark table of the marts database as a DuckDB relation."""
    return f"read_parquet('{warehouse / 'marts.db' / table}/*.parquet')"


def sort_key(row: Sequence[Any], float_positions: set[int]) -> tuple[Any, ...]:
    """Rows ordered by their exact values, then by their doubles rounded far above the tolerance."""
    key: list[Any] = []
    for position, value in enumerate(row):
        if position in float_positions and value is not None:
            value = float(f"{float(value):.6g}")
        key.append((value is None, value if value is not None else 0))
    exact = [part for position, part in enumerate(key) if position not in float_positions]
    rounded = [part for position, part in enumerate(key) if position in float_positions]
    return tuple(exact + rounded)


def values_agree(expected: Any, actual: Any, is_float: bool) -> bool:
    """Equal, or for doubles within the relative tolerance (both null, or both NaN, agree)."""
    if expected is None or actual is None:
        return expected is None and actual is None
    if not is_float:
        return expected == actual
    expected, actual = float(expected), float(actual)
    if math.isnan(expected) or math.isnan(actual):
        return math.isnan(expected) and math.isnan(actual)
    return abs(expected - actual) <= RELATIVE_TOLERANCE * max(abs(expected), abs(actual))


def mart_differences(builds: ParityBuilds, table: str, columns: list[tuple[str, str]]) -> list[str]:
    """The differences between the DuckDB and the Spark rows of one mart (at most a few)."""
    con = duckdb.connect(str(builds.db_path), read_only=True)
    try:
        duckdb_rows = con.execute(normalised_select(columns, f"marts.{table}")).fetchall()
        spark_names = [
            row[0]
            for row in con.execute(
                f"describe select * from {spark_relation(builds.spark_warehouse, table)}"
            ).fetchall()
        ]
        if spark_names != [column for column, _ in columns]:
            return [f"{table}: Spark columns {spark_names}"]
        spark_rows = con.execute(
            normalised_select(columns, spark_relation(builds.spark_warehouse, table))
        ).fetchall()
    finally:
        con.close()
    if len(duckdb_rows) != len(spark_rows):
        return [f"{table}: {len(duckdb_rows)} rows on DuckDB, {len(spark_rows)} on Spark"]
    floats = {i for i, (_, data_type) in enumerate(columns) if data_type.startswith(FLOAT_TYPES)}
    differences = []
    pairs = zip(
        sorted(duckdb_rows, key=lambda row: sort_key(row, floats)),
        sorted(spark_rows, key=lambda row: sort_key(row, floats)),
        strict=True,
    )
    for expected, actual in pairs:
        for position, (column, _) in enumerate(columns):
            if not values_agree(expected[position], actual[position], position in floats):
                differences.append(
                    f"{table}.{column}: DuckDB {expected[position]!r}, Spark {actual[position]!r}"
                    f" in DuckDB row {expected!r}"
                )
                break
        if len(differences) >= 3:
            break
    return differences


def test_dataset_has_every_defect_kind(parity_builds: ParityBuilds) -> None:
    reasons = {
        row[0]
        for row in query(
            parity_builds.db_path,
            "select distinct reason_code from int_log_lines_classified "
            "where reason_code is not null",
        )
    }
    assert EXPECTED_REASON_CODES <= reasons, EXPECTED_REASON_CODES - reasons


def test_every_mart_is_built_on_spark(parity_builds: ParityBuilds) -> None:
    marts = set(mart_columns(parity_builds.db_path))
    spark_tables = {path.name for path in (parity_builds.spark_warehouse / "marts.db").iterdir()}
    assert len(marts) >= 15
    assert marts == spark_tables


def test_every_mart_is_equal_on_both_engines(parity_builds: ParityBuilds) -> None:
    differences = []
    row_counts = {}
    for table, columns in mart_columns(parity_builds.db_path).items():
        differences += mart_differences(parity_builds, table, columns)
        count_sql = f"select count(*) from marts.{table}"
        row_counts[table] = query(parity_builds.db_path, count_sql)[0][0]
    assert not differences, "\n".join(differences)
    # the comparison compared rows: the dataset fills the marts it is meant to fill
    assert row_counts["fct_session_briefings"] > 0
    assert row_counts["rpt_quarantined_lines"] > 0
    assert row_counts["fct_anomalies"] > 0


def test_every_model_has_a_benchmark_stage(parity_builds: ParityBuilds) -> None:
    # make bench-spark sums dbt's timing of each model into its stage
    models = model_seconds(parity_builds.spark_target)
    assert "fct_session_briefings.v1" in models
    assert {stage_of(model) for model in models} >= {"session attribution (ASOF)", "marts"}
