# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Charging analysis
#
# This notebook answers the warehouse's questions with short DuckDB queries over the **marts**
# (schema `marts`: `fct_session_briefings`, `fct_charging_profiles`, `rpt_big_changes`,
# `rpt_compressed_charging_profiles`, `fct_charger_summaries`, `rpt_quarantined_lines`,
# `rpt_ingestion_reconciliation`, `rpt_unexpected_keys`, for the fleet `dim_chargers`,
# `fct_charger_days`, `rpt_user_monthly_energy`, and `fct_anomalies`) and offline matplotlib charts:
#
# 1. What data went in, and what the data-quality layer did with it.
# 2. How long sessions last, and how much of that time is spent charging.
# 3. One session's briefing and charging profile.
# 4. The big changes along that session, and fleet-wide.
# 5. The average session time per charger.
# 6. Whether the energy the chargers report agrees with the energy their telemetry accounts for
#    (measured, plus estimated across lost telemetry), and whether a shortfall comes from lost
#    telemetry or from the meter.
# 7. The fleet in each charger's local time: when cars plug in, the energy per month, sessions
#    per charger, how often three-phase chargers charge on one phase, and how fully each charger
#    is used.
# 8. The anomalies the detectors found, by kind and severity, and one of each kind charted.
#
# Every answer below is computed from the data shown above it. The notebook reads the warehouse's
# rules as the marts state them: flags, counts and the thresholds they were built with are columns
# (`threshold_pct` and `deadband` of `rpt_big_changes`, `energy_mismatch_tolerance` of
# `fct_session_briefings`, `limit_value` and `expected_value` of `fct_anomalies`), so nothing here
# recomputes a model's rule or reads `dbt_project.yml`.
#
# **Times are true time.** A charger whose clock was reset stamps its sessions and readings years
# back; the marts correct them (`clock_offset_s`, `is_clock_corrected`). Every date, chart and
# aggregate over time here uses the corrected times (`corrected_started_at`, `corrected_ended_at`,
# `corrected_measured_at`); `started_at`, `ended_at` and `measured_at` are the charger's clock and
# are only shown as part of a session's briefing.
#
# **Run it** after `make run` (which builds the warehouse and publishes its serving copy,
# `build/published/charger_telemetry.duckdb`), or with
# `python -m chargerlogs.notebook --warehouse PATH --out DIR`, which executes it and writes the
# executed notebook and an HTML export. The export reads as a report: prose, tables and charts; the
# code stays in the notebook.

# %% [markdown]
# ## Parameters
#
# Read from environment variables:
#
# - `CHARGER_DUCKDB_PATH`: the warehouse file. Default `build/published/charger_telemetry.duckdb`
#   (the serving copy of the marts; the build file `build/charger_telemetry.duckdb` works too).
#   A relative path is taken from the repository root (the folder holding `dbt_project.yml`), as
#   dbt does.
# - `BRIEF_SESSION_ID`: the session to brief in sections 3 and 4. Default: chosen by a query (see
#   section 3).

# %% tags=["parameters"]
import os
from pathlib import Path

import duckdb
import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import Markdown, display


def find_repository_root(start: Path) -> Path:
    """The nearest folder at or above ``start`` that holds dbt_project.yml (else ``start``)."""
    for folder in (start, *start.parents):
        if (folder / "dbt_project.yml").is_file():
            return folder
    return start


REPOSITORY_ROOT = find_repository_root(Path.cwd().resolve())
WAREHOUSE_PATH = Path(
    os.environ.get("CHARGER_DUCKDB_PATH") or "build/published/charger_telemetry.duckdb"
)
if not WAREHOUSE_PATH.is_absolute():
    WAREHOUSE_PATH = (REPOSITORY_ROOT / WAREHOUSE_PATH).resolve()
BRIEF_SESSION_ID = (
    int(os.environ["BRIEF_SESSION_ID"]) if os.environ.get("BRIEF_SESSION_ID") else None
)

print(f"warehouse: {WAREHOUSE_PATH}")
print(f"session to brief: {BRIEF_SESSION_ID or 'chosen by query'}")

# %% [markdown]
# ## Loading the marts
#
# The warehouse file is attached **read-only** only while the marts (schema `marts`) are copied
# into an in-memory DuckDB database, then detached at once, so a `dbt build` writing the file is
# never blocked for more than a moment. The charging profile is copied for the briefed session
# only, and around the anomalies charted in section 8; the fleet-wide reading figures are aggregated
# while the file is attached. All later queries run in memory.

# %% tags=["load-marts"]
# %matplotlib inline
pd.set_option("display.max_rows", 60)
pd.set_option("display.max_columns", 60)
pd.set_option("display.width", 160)
pd.set_option("display.max_colwidth", 100)
plt.rcParams.update({"figure.dpi": 100, "axes.grid": True, "grid.alpha": 0.3})

if not WAREHOUSE_PATH.is_file():
    raise FileNotFoundError(f"warehouse {WAREHOUSE_PATH} not found: build it with make run")

COPIED_MARTS = (
    "fct_session_briefings",
    "fct_charger_summaries",
    "rpt_big_changes",
    "rpt_compressed_charging_profiles",
    "rpt_quarantined_lines",
    "rpt_ingestion_reconciliation",
    "rpt_unexpected_keys",
    "dim_chargers",
    "fct_charger_days",
    "rpt_user_monthly_energy",
    "fct_anomalies",
)

# The default session: a three-phase session with complete telemetry (no sparse coverage, no gap,
# reported and measured energy agree, no overlap) on a charger whose clock was right, so that the
# charger's times in its briefing are true time, and with the most big changes. The criteria only
# rank, so a warehouse without such a session still yields one.
DEFAULT_SESSION_SQL = """
with big_changes_per_session as (
    select session_id, count(*) as big_changes
    from rpt_big_changes
    group by session_id
)
select fct_session_briefings.session_id
from fct_session_briefings
left join big_changes_per_session
    on fct_session_briefings.session_id = big_changes_per_session.session_id
order by
    fct_session_briefings.phases_used = 3
        and not fct_session_briefings.has_sparse_telemetry
        and fct_session_briefings.gap_count = 0
        and not fct_session_briefings.has_energy_mismatch
        and not fct_session_briefings.is_overlapping
        and not fct_session_briefings.is_clock_corrected desc nulls last,
    coalesce(big_changes_per_session.big_changes, 0) desc,
    fct_session_briefings.session_id
limit 1
"""

# The anomaly of each kind that section 8 charts: the most severe (critical before warning), ties
# broken by the lowest anomaly_id, a hash that stays the same from build to build.
ANOMALY_EXAMPLES_SQL = """
select *
from fct_anomalies
qualify row_number() over (
    partition by kind
    order by severity = 'critical' desc, anomaly_id
) = 1
"""
# The charts show the readings from this long before an anomaly's start to this long after its end.
ANOMALY_MARGIN_MIN = 60

db = duckdb.connect()  # in memory
quoted_path = str(WAREHOUSE_PATH).replace("'", "''")
db.execute(f"attach '{quoted_path}' as warehouse (read_only)")
try:
    for mart in COPIED_MARTS:
        db.execute(f"create table {mart} as select * from warehouse.marts.{mart}")
    if BRIEF_SESSION_ID is None:
        BRIEF_SESSION_ID = int(db.execute(DEFAULT_SESSION_SQL).fetchone()[0])
    db.execute(
        "create table session_profile as select * from warehouse.marts.fct_charging_profiles"
        " where session_id = ? order by reading_seq",
        [BRIEF_SESSION_ID],
    )
    db.execute(f"create table anomaly_examples as {ANOMALY_EXAMPLES_SQL}")
    # Readings exist only inside sessions: an anomaly on an idle charger gets those of the sessions
    # around it, if any.
    db.execute(
        """
        create table anomaly_readings as
        select
            anomaly_examples.anomaly_id,
            profiles.session_id,
            profiles.reading_seq,
            profiles.corrected_measured_at,
            profiles.current_l1_a, profiles.current_l2_a, profiles.current_l3_a,
            profiles.voltage_l1_v, profiles.voltage_l2_v, profiles.voltage_l3_v,
            profiles.temperature_l1_c, profiles.temperature_l2_c, profiles.temperature_l3_c,
            profiles.power_kw,
            profiles.is_gap_before,
            profiles.accumulated_energy_kwh
        from anomaly_examples
        inner join warehouse.marts.fct_charging_profiles as profiles
            on anomaly_examples.charger_id = profiles.charger_id
            and profiles.corrected_measured_at
                between anomaly_examples.started_at - to_minutes(?)
                and anomaly_examples.ended_at + to_minutes(?)
        order by anomaly_examples.anomaly_id, profiles.corrected_measured_at, profiles.session_id
        """,
        [ANOMALY_MARGIN_MIN, ANOMALY_MARGIN_MIN],
    )
    db.execute("""
        create table readings_by_layout as
        select
            line_layout,
            count(*) as readings,
            count(*) filter (where is_late_arrival) as late_arrivals,
            count(*) filter (where has_missing_measurement) as with_missing_measurement,
            count(*) filter (where is_clock_corrected) as clock_corrected,
            min(corrected_measured_at) as first_corrected_measured_at,
            max(corrected_measured_at) as last_corrected_measured_at
        from warehouse.marts.fct_charging_profiles
        group by line_layout
        order by line_layout
    """)
finally:
    db.execute("detach warehouse")

if not db.execute(
    "select count(*) from fct_session_briefings where session_id = ?", [BRIEF_SESSION_ID]
).fetchone()[0]:
    raise ValueError(f"session {BRIEF_SESSION_ID} is not in fct_session_briefings")


def sql(query: str, params: list | None = None) -> pd.DataFrame:
    """Run a query on the in-memory copy of the marts and return the result as a DataFrame."""
    return db.execute(query, params or []).df()


def answer(text: str) -> None:
    """Show a section's answer as Markdown."""
    display(Markdown(f"**Answer.** {text}"))


def num(value: float, places: int = 1) -> str:
    """``value`` for a sentence: thousands separated, ``places`` decimals, none if it is whole.

    A whole number never reads as a float (``20`` rather than ``20.0``).
    """
    text = f"{value:,.{places}f}"
    return text.split(".")[0] if "." in text and not text.split(".")[1].strip("0") else text


# How the tables show a number, by kind.
FORMATS = {
    "count": "{:,.0f}",
    "id": "{:.0f}",
    "kwh": "{:,.2f}",
    "kw": "{:,.1f}",
    "h": "{:,.2f}",
    "min": "{:,.1f}",
    "eur": "{:,.2f}",
    "share": "{:.1%}",
    "pct": "{:.1f} %",
    "ratio": "{:.3f}",
    "value": "{:,.4g}",
    "time": "{:%Y-%m-%d %H:%M}",
}


def table(
    frame: pd.DataFrame, columns: dict[str, str], formats: dict[str, str] | None = None
) -> pd.DataFrame:
    """``frame`` ready to show: ``columns`` only (column: label), in that order, the first one as
    the index, each number formatted by its kind in ``formats`` (see ``FORMATS``), booleans as
    yes / no and missing values as a dash."""
    shown = frame[list(columns)].copy()
    for column in columns:
        kind = (formats or {}).get(column)
        if kind:
            pattern = FORMATS[kind]
            shown[column] = shown[column].map(
                lambda v, p=pattern: "–" if pd.isna(v) else p.format(v)
            )
        elif shown[column].dtype == bool:
            shown[column] = shown[column].map({True: "yes", False: "no"})
    return shown.rename(columns=columns).set_index(columns[next(iter(columns))])


def facts(rows: dict[str, str], label: str = "value") -> pd.DataFrame:
    """A two-column table of figures already written for people: name, value."""
    return pd.DataFrame({label: list(rows.values())}, index=pd.Index(list(rows), name="figure"))


display(
    table(
        sql(
            "select table_name, estimated_size as row_count from duckdb_tables()"
            " where database_name = 'memory' order by table_name"
        ),
        {"table_name": "table", "row_count": "rows"},
        {"row_count": "count"},
    )
)

# %% [markdown]
# ## 1. The data
#
# **Question:** what went into the warehouse: how many sessions and chargers over which dates,
# which file layouts, and what did the data-quality layer reject, drop as duplicates, correct or
# flag?
#
# The dates are true time: the first corrected start and the last corrected end.

# %%
overview = sql("""
select
    count(*) as sessions,
    count(distinct charger_id) as chargers,
    count(distinct user_id) as users,
    min(corrected_started_at) as first_corrected_started_at,
    max(corrected_ended_at) as last_corrected_ended_at,
    sum(reading_count) as readings_in_sessions,
    count(*) filter (where has_no_telemetry) as sessions_without_telemetry,
    round(sum(reported_energy_wh) / 1000, 1) as reported_energy_kwh
from fct_session_briefings
""")
o = overview.iloc[0]
display(
    facts(
        {
            "sessions": f"{o.sessions:,}",
            "chargers": f"{o.chargers:,}",
            "users": f"{o.users:,}",
            "first start (true time, UTC)": f"{o.first_corrected_started_at:%Y-%m-%d %H:%M}",
            "last end (true time, UTC)": f"{o.last_corrected_ended_at:%Y-%m-%d %H:%M}",
            "readings inside sessions": f"{o.readings_in_sessions:,.0f}",
            "sessions without telemetry": f"{o.sessions_without_telemetry:,}",
            "energy reported (kWh)": f"{o.reported_energy_kwh:,.1f}",
        }
    )
)

# %% [markdown]
# Chargers whose clock was wrong (reset), with the sessions the marts corrected to true time and
# the charger's largest clock offset (its clock minus true time, in years; the marts store
# `clock_offset_s` in seconds).

# %%
clock_corrections = sql("""
select
    charger_id,
    count(*) as sessions,
    count(*) filter (where is_clock_corrected) as clock_corrected_sessions,
    round(arg_max(clock_offset_s, abs(clock_offset_s)) / (365.25 * 86400), 2)
        as largest_clock_offset_years
from fct_session_briefings
group by charger_id
having bool_or(is_clock_corrected)
order by charger_id
""")
display(
    table(
        clock_corrections,
        {
            "charger_id": "charger",
            "sessions": "sessions",
            "clock_corrected_sessions": "sessions corrected",
            "largest_clock_offset_years": "largest clock offset (years)",
        },
        {"largest_clock_offset_years": "h"},
    )
)

# %% [markdown]
# Sessions per day and by hour of the day they started, in true time (`corrected_started_at`, UTC);
# the sessions whose times were corrected are drawn apart.

# %% tags=["sessions-per-day"]
sessions_per_day = sql("""
select
    cast(corrected_started_at as date) as started_date,
    count(*) as sessions,
    count(*) filter (where is_clock_corrected) as clock_corrected_sessions
from fct_session_briefings
group by all
order by started_date
""")
starts_by_hour = sql("""
select
    cast(corrected_started_at as date) as started_date,
    hour(corrected_started_at) as started_hour,
    count(*) as sessions
from fct_session_briefings
group by all
""")
start_grid = starts_by_hour.pivot(index="started_date", columns="started_hour", values="sessions")
start_grid = start_grid.reindex(columns=range(24)).fillna(0).astype(int)

fig, (day_ax, heat_ax) = plt.subplots(1, 2, figsize=(14, 5), width_ratios=(1, 1.3))
right_clock_sessions = sessions_per_day["sessions"] - sessions_per_day["clock_corrected_sessions"]
day_ax.bar(
    sessions_per_day["started_date"], right_clock_sessions, color="tab:blue", label="clock right"
)
day_ax.bar(
    sessions_per_day["started_date"],
    sessions_per_day["clock_corrected_sessions"],
    bottom=right_clock_sessions,
    color="tab:orange",
    hatch="//",
    label="clock reset, corrected",
)
day_ax.set_title("Sessions started per day")
day_ax.set_xlabel("date (UTC, true time)")
day_ax.set_ylabel("sessions")
day_ax.set_ylim(0, sessions_per_day["sessions"].max() * 1.25)
day_ax.tick_params(axis="x", rotation=60)
day_ax.legend(loc="upper center", ncol=2)
image = heat_ax.imshow(start_grid, aspect="auto", cmap="Blues")
heat_ax.set_xticks(range(0, 24, 2))
heat_ax.set_yticks(range(len(start_grid.index)), [f"{day:%Y-%m-%d}" for day in start_grid.index])
heat_ax.grid(False)
heat_ax.set_title("Sessions started by date and hour")
heat_ax.set_xlabel("hour of the day (UTC, true time)")
fig.colorbar(image, ax=heat_ax, label="sessions")
fig.tight_layout()
plt.show()

# %% [markdown]
# Input files per stream and layout. The status stream arrives in two layouts: the documented flat
# layout and Spark part files with nested phases; a file can even mix them, so each file is
# classed by the layouts of its lines (`flat_layout_lines`, `nested_layout_lines`). The session
# stream has one (flat) layout. Every non-blank line of every file is accounted for: kept,
# quarantined, or dropped as a duplicate, exact or re-sent (`is_reconciled`).

# %%
files = sql("""
select
    log_stream,
    case
        when flat_layout_lines > 0 and nested_layout_lines > 0 then 'mixed'
        when nested_layout_lines > 0 then 'nested'
        when flat_layout_lines > 0 then 'flat'
        else 'no JSON line'
    end as layout,
    is_gzip,
    count(*) as files,
    sum(raw_lines) as raw_lines,
    sum(clean_rows) as clean_rows,
    sum(quarantined_rows) as quarantined_rows,
    sum(duplicate_rows) as duplicate_rows,
    bool_and(is_reconciled) as is_reconciled
from rpt_ingestion_reconciliation
group by all
order by log_stream desc, layout
""")
display(
    table(
        files.assign(stream_layout=files["log_stream"] + " / " + files["layout"]),
        {
            "stream_layout": "stream / layout",
            "is_gzip": "gzip",
            "files": "files",
            "raw_lines": "lines",
            "clean_rows": "kept",
            "quarantined_rows": "quarantined",
            "duplicate_rows": "duplicates",
            "is_reconciled": "every line accounted for",
        },
        {
            "files": "count",
            "raw_lines": "count",
            "clean_rows": "count",
            "quarantined_rows": "count",
            "duplicate_rows": "count",
        },
    )
)

# %% [markdown]
# Readings attributed to sessions, by the layout their line arrived in, with late arrivals (flag
# `is_late_arrival`: the upload came more than var `late_arrival_threshold_s` after the measurement)
# and readings missing a measurement (from `fct_charging_profiles`, aggregated while loading).

# %%
layouts = sql("select * from readings_by_layout")
display(
    table(
        layouts,
        {
            "line_layout": "layout",
            "readings": "readings",
            "late_arrivals": "late",
            "with_missing_measurement": "missing a measurement",
            "clock_corrected": "clock corrected",
            "first_corrected_measured_at": "first (UTC)",
            "last_corrected_measured_at": "last (UTC)",
        },
        {
            "readings": "count",
            "late_arrivals": "count",
            "with_missing_measurement": "count",
            "clock_corrected": "count",
            "first_corrected_measured_at": "time",
            "last_corrected_measured_at": "time",
        },
    )
)

# %% [markdown]
# Quarantined lines by stream and reason code, and keys outside the documented layouts (kept, listed
# for the contract).

# %%
quarantine = sql("""
select log_stream, reason_code, count(*) as lines, count(distinct source_file) as files
from rpt_quarantined_lines
group by all
order by log_stream desc, lines desc, reason_code
""")
display(
    table(
        quarantine.assign(
            stream_reason=quarantine["log_stream"] + " / " + quarantine["reason_code"]
        ),
        {"stream_reason": "stream / reason", "lines": "lines", "files": "files"},
        {"lines": "count", "files": "count"},
    )
)

# %%
unexpected_keys = sql("""
select log_stream, json_key, count(*) as files, sum(line_count) as lines
from rpt_unexpected_keys
group by all
order by log_stream desc, lines desc
""")
display(
    table(
        unexpected_keys.assign(
            stream_key=unexpected_keys["log_stream"] + " / " + unexpected_keys["json_key"]
        ),
        {"stream_key": "stream / key", "files": "files", "lines": "lines"},
        {"files": "count", "lines": "count"},
    )
)

# %% [markdown]
# Sessions by data-quality flag and count. A missing measurement is common but rare within a
# session, so the briefings count such readings (`missing_measurement_reading_count`) and give their
# share of the session's readings (`missing_measurement_share`) rather than a flag.

# %%
session_flags = sql("""
select
    count(*) filter (where has_no_telemetry) as has_no_telemetry,
    count(*) filter (where has_sparse_telemetry) as has_sparse_telemetry,
    count(*) filter (where gap_count > 0) as with_telemetry_gap,
    count(*) filter (where estimated_gap_count > 0) as with_estimated_gap,
    count(*) filter (where is_shortfall_from_lost_telemetry) as is_shortfall_from_lost_telemetry,
    count(*) filter (where has_energy_mismatch) as has_energy_mismatch,
    count(*) filter (where is_clock_corrected) as is_clock_corrected,
    count(*) filter (where is_overlapping) as is_overlapping,
    count(*) filter (where is_implausible) as is_implausible,
    count(*) filter (where implausible_reading_count > 0) as with_implausible_readings,
    count(*) filter (where missing_measurement_reading_count > 0) as with_missing_measurements
from fct_session_briefings
""")
FLAG_LABELS = {
    "has_no_telemetry": "no telemetry",
    "has_sparse_telemetry": "sparse telemetry",
    "with_telemetry_gap": "a gap in the telemetry",
    "with_estimated_gap": "energy estimated across a gap",
    "is_shortfall_from_lost_telemetry": "energy short from lost telemetry",
    "has_energy_mismatch": "energy mismatch (metering)",
    "is_clock_corrected": "clock corrected",
    "is_overlapping": "overlapping another session",
    "is_implausible": "implausible",
    "with_implausible_readings": "implausible readings",
    "with_missing_measurements": "a reading missing a measurement",
}
display(
    facts(
        {label: f"{session_flags.iloc[0][flag]:,}" for flag, label in FLAG_LABELS.items()},
        "sessions",
    )
)

# %%
missing_measurements = sql("""
select
    sum(missing_measurement_reading_count) as missing_measurement_readings,
    sum(reading_count) as readings,
    median(missing_measurement_share) as median_share,
    max(missing_measurement_share) as max_share
from fct_session_briefings
""")
m = missing_measurements.iloc[0]
display(
    facts(
        {
            "readings missing a measurement": f"{m.missing_measurement_readings:,.0f}",
            "readings inside sessions": f"{m.readings:,.0f}",
            "median share per session": f"{m.median_share:.2%}",
            "largest share in a session": f"{m.max_share:.2%}",
        }
    )
)

# %% tags=["answer"]
status_files = files[files["log_stream"] == "status"]
raw_lines = int(files["raw_lines"].sum())
quarantined = int(files["quarantined_rows"].sum())
duplicates = int(files["duplicate_rows"].sum())
flags = session_flags.iloc[0]
missing = missing_measurements.iloc[0]
busiest_day = sessions_per_day.sort_values(
    ["sessions", "started_date"], ascending=[False, True]
).iloc[0]
unreconciled = int(files.loc[~files["is_reconciled"], "files"].sum())
reconciliation_sentence = (
    "Every line of every file is accounted for: kept, quarantined or dropped as a duplicate."
    if not unreconciled
    else f"{unreconciled} files have lines that are not accounted for; see the table above."
)
if len(clock_corrections):
    corrected_chargers = ", ".join(str(charger) for charger in clock_corrections["charger_id"])
    clock_sentence = (
        f"Reset charger clocks were corrected to true time in "
        f"{int(clock_corrections['clock_corrected_sessions'].sum())} sessions "
        f"({int(layouts['clock_corrected'].sum()):,} readings) on {len(clock_corrections)} "
        f"chargers ({corrected_chargers}), whose clocks were off by up to "
        f"{num(clock_corrections['largest_clock_offset_years'].abs().max())} years."
    )
else:
    clock_sentence = "No charger clock needed a correction."
status_layouts = ", ".join(
    f"{int(row.files)} {row.layout}" + (" gzip" if row.is_gzip else "")
    for row in status_files.itertuples()
)
answer(
    f"{int(o.sessions)} sessions on {int(o.chargers)} chargers, from "
    f"{o.first_corrected_started_at:%Y-%m-%d} to {o.last_corrected_ended_at:%Y-%m-%d}, with "
    f"{int(o.readings_in_sessions):,} readings inside sessions; the busiest day was "
    f"{busiest_day.started_date:%Y-%m-%d} with {int(busiest_day.sessions)} sessions started. "
    f"{clock_sentence} "
    f"{int(files['files'].sum())} files held {raw_lines:,} non-blank lines (status files: "
    f"{status_layouts}); "
    f"{quarantined:,} lines were quarantined and {duplicates:,} dropped as duplicates (exact or "
    f"re-sent copies). {reconciliation_sentence} "
    f"{int(layouts['late_arrivals'].sum()):,} session readings arrived late, and "
    f"{int(unexpected_keys['lines'].sum()) if len(unexpected_keys) else 0:,} lines carried "
    f"{len(unexpected_keys)} unexpected keys. "
    f"{int(flags.with_missing_measurements)} sessions have a reading with a missing measurement, "
    f"but only {int(missing.missing_measurement_readings):,} of {int(missing.readings):,} "
    f"readings do (at most {missing.max_share:.1%} of a session's readings). "
    f"{int(flags.is_implausible) or 'No'} sessions are implausible, and "
    f"{int(flags.with_implausible_readings)} have readings with implausible values."
)

# %% [markdown]
# ## 2. Session time
#
# **Question:** how long do sessions last, and how much of the time plugged in is spent actually
# charging (total power above var `active_power_threshold_w`)?

# %%
session_times = sql("""
select
    session_id,
    charger_id,
    session_duration_h,
    active_charging_s / 3600 as active_charging_h,
    phases_used
from fct_session_briefings
order by session_id
""")
time_summary = (
    session_times[["session_duration_h", "active_charging_h"]]
    .agg(["min", "median", "mean", "max"])
    .T.rename(index={"session_duration_h": "plugged in", "active_charging_h": "charging"})
)
display(
    table(
        time_summary.rename_axis("hours per session").reset_index(),
        {
            "hours per session": "hours per session",
            "min": "shortest",
            "median": "median",
            "mean": "mean",
            "max": "longest",
        },
        {"min": "h", "median": "h", "mean": "h", "max": "h"},
    )
)

# %%
fig, ax = plt.subplots(figsize=(9, 4))
ax.hist(session_times["session_duration_h"], bins=np.arange(0, 25, 1), edgecolor="white")
ax.axvline(
    session_times["session_duration_h"].median(),
    color="black",
    linestyle="--",
    label=f"median {session_times['session_duration_h'].median():.1f} h",
)
ax.set_title("Distribution of session time")
ax.set_xlabel("session time (h)")
ax.set_ylabel("sessions")
ax.legend()
plt.show()

# %%
fig, ax = plt.subplots(figsize=(7, 6))
for phases, group in session_times.groupby(session_times["phases_used"].fillna(0).astype(int)):
    ax.scatter(
        group["session_duration_h"],
        group["active_charging_h"],
        s=14,
        alpha=0.7,
        label=f"{phases} phase(s) used" if phases else "no telemetry",
    )
limit = float(session_times["session_duration_h"].max()) * 1.05
ax.plot([0, limit], [0, limit], color="black", linewidth=1, label="y = x (charging all the time)")
ax.set_xlim(0, limit)
ax.set_ylim(0, limit)
ax.set_title("Session time versus active charging time")
ax.set_xlabel("session time, plugged in (h)")
ax.set_ylabel("active charging time (h)")
ax.legend()
plt.show()

# %% tags=["answer"]
charging_share = (
    session_times["active_charging_h"].sum() / session_times["session_duration_h"].sum()
)
per_session_share = session_times["active_charging_h"] / session_times["session_duration_h"]
answer(
    f"Sessions last {num(session_times['session_duration_h'].min())} h to "
    f"{num(session_times['session_duration_h'].max())} h (median "
    f"{num(session_times['session_duration_h'].median())} h, mean "
    f"{num(session_times['session_duration_h'].mean())} h). Cars charge for "
    f"{charging_share:.0%} of all plugged-in time; in half of the sessions they charge for less "
    f"than {per_session_share.median():.0%} of the session, so session time overstates charging "
    f"time (every point lies on or below y = x)."
)

# %% [markdown]
# ## 3. One session: briefing and charging profile
#
# **Question:** what does one session look like: its briefing (times, energy, cost, power, phases,
# min / avg / max per phase, data-quality flags) and its charging profile over time?
#
# Unless `BRIEF_SESSION_ID` is set, the session is chosen by the query `DEFAULT_SESSION_SQL` of the
# loading cell: among three-phase sessions with complete telemetry (not sparse, no gap, reported and
# measured energy agree, no overlap) on a charger whose clock was right (`is_clock_corrected` false,
# so the charger's `started_at` in the briefing is true time), the one with the most big changes,
# ties broken by the lowest session id. Ranking by big changes picks a session with much to show,
# and also one whose sensors may misbehave: section 4 tells the real changes from a sensor glitch.
#
# The briefing shows both times: `corrected_started_at` is true time, `started_at` the charger's
# clock (years off for a charger whose clock was reset). The profile is drawn against the time since
# the session started, which the clock offset does not change. In the energy panel, the energy
# estimated across gaps in the telemetry (`accumulated_estimated_energy_wh`) is hatched above the
# measured energy.

# %%
briefing = sql("select * from fct_session_briefings where session_id = ?", [BRIEF_SESSION_ID])
b = briefing.iloc[0]


def kwh(wh: float) -> str:
    """Energy in Wh, written in kWh for a table (a dash when unknown)."""
    return "–" if pd.isna(wh) else f"{wh / 1000:,.2f} kWh"


flags_raised = [
    label
    for flag, label in (
        ("has_sparse_telemetry", "sparse telemetry"),
        ("has_energy_mismatch", "energy mismatch"),
        ("is_shortfall_from_lost_telemetry", "energy short from lost telemetry"),
        ("is_clock_corrected", "clock corrected"),
        ("is_overlapping", "overlapping"),
        ("is_implausible", "implausible"),
    )
    if b[flag]
]
display(
    facts(
        {
            "charger": f"{b.charger_id}",
            "user": f"{b.user_id}",
            "started (true time, UTC)": f"{b.corrected_started_at:%Y-%m-%d %H:%M}",
            "ended (true time, UTC)": f"{b.corrected_ended_at:%Y-%m-%d %H:%M}",
            "started by the charger's clock": f"{b.started_at:%Y-%m-%d %H:%M}",
            "plugged in": f"{b.session_duration_h:.2f} h",
            "charging": f"{b.active_charging_s / 3600:.2f} h",
            "phases used": f"{b.phases_used:.0f}" if pd.notna(b.phases_used) else "–",
            "readings": f"{b.reading_count:,}",
            "energy reported": kwh(b.reported_energy_wh),
            "energy measured": kwh(b.measured_energy_wh),
            "energy estimated across gaps": kwh(b.estimated_gap_energy_wh),
            "telemetry / reported energy": f"{b.energy_ratio:.3f}",
            "cost": f"{b.total_cost_eur:,.2f} EUR",
            "peak power": f"{b.peak_power_w / 1000:,.1f} kW",
            "gaps in the telemetry": f"{b.gap_count:,}",
            "readings missing a measurement": f"{b.missing_measurement_reading_count:,}",
            "data-quality flags": ", ".join(flags_raised) or "none",
        },
        f"session {BRIEF_SESSION_ID}",
    )
)

# %% [markdown]
# Current, voltage and temperature per phase over the session's readings.

# %%
per_phase = pd.DataFrame(
    {
        phase.upper(): [
            b[f"{stat}_{measure}_{phase}_{unit}"]
            for measure, unit in (("current", "a"), ("voltage", "v"), ("temperature", "c"))
            for stat in ("min", "avg", "max")
        ]
        for phase in ("l1", "l2", "l3")
    },
    index=pd.Index(
        [
            f"{measure} {stat}"
            for measure in ("current (A)", "voltage (V)", "temperature (°C)")
            for stat in ("min", "avg", "max")
        ],
        name="per reading",
    ),
)
display(per_phase.map(lambda v: "–" if pd.isna(v) else f"{v:,.1f}"))

# %%
profile = sql("""
select
    reading_seq,
    elapsed_s / 3600 as elapsed_h,
    current_l1_a, current_l2_a, current_l3_a,
    voltage_l1_v, voltage_l2_v, voltage_l3_v,
    temperature_l1_c, temperature_l2_c, temperature_l3_c,
    power_kw,
    is_active_interval,
    is_gap_before,
    interval_estimated_energy_wh > 0 as is_estimated_interval,
    accumulated_energy_kwh,
    accumulated_estimated_energy_wh / 1000 as accumulated_estimated_energy_kwh
from session_profile
order by reading_seq
""")
session_changes = sql(
    """
select reading_seq, elapsed_s / 3600 as elapsed_h, measure, phase, previous_value, new_value,
    change_abs, change_pct, direction
from rpt_big_changes
where session_id = ?
order by reading_seq, measure, phase
""",
    [BRIEF_SESSION_ID],
)
compressed = sql(
    """
select elapsed_s / 3600 as elapsed_h, power_w / 1000 as power_kw
from rpt_compressed_charging_profiles
where session_id = ?
order by reading_seq
""",
    [BRIEF_SESSION_ID],
)

# %% tags=["profile-figure"]
PHASES = ("l1", "l2", "l3")
PHASE_COLORS = {"l1": "tab:blue", "l2": "tab:orange", "l3": "tab:green"}
PANELS = (
    ("current_a", "current", "current (A)"),
    ("voltage_v", "voltage", "voltage (V)"),
    ("temperature_c", "temperature", "temperature (°C)"),
)

fig, axes = plt.subplots(5, 1, figsize=(11, 13), sharex=True)
for ax, (measure, column, label) in zip(axes, PANELS, strict=False):
    unit = measure.split("_")[1]
    for phase in PHASES:
        series = f"{column}_{phase}_{unit}"
        if profile[series].notna().any():
            ax.plot(
                profile["elapsed_h"],
                profile[series],
                linewidth=0.9,
                color=PHASE_COLORS[phase],
                label=phase.upper(),
            )
        marks = session_changes[
            (session_changes["measure"] == measure) & (session_changes["phase"] == phase.upper())
        ]
        if len(marks):
            ax.scatter(
                marks["elapsed_h"],
                marks["new_value"],
                marker="o",
                s=28,
                facecolors="none",
                edgecolors=PHASE_COLORS[phase],
                label=f"big change {phase.upper()}",
            )
    ax.set_ylabel(label)
    ax.legend(loc="upper right", ncol=2, fontsize="small")

power_ax, energy_ax = axes[3], axes[4]
power_ax.plot(
    profile["elapsed_h"], profile["power_kw"], color="black", linewidth=0.9, label="total"
)
# A full-height band over each interval flagged is_active_interval (the interval ending at a
# reading, hence the step before each point).
power_ax.fill_between(
    profile["elapsed_h"],
    0,
    profile["is_active_interval"].astype(float),
    step="pre",
    transform=power_ax.get_xaxis_transform(),
    color="tab:green",
    alpha=0.15,
    linewidth=0,
    label="active charging",
)
power_ax.plot(
    compressed["elapsed_h"],
    compressed["power_kw"],
    color="tab:purple",
    linestyle="--",
    linewidth=1,
    marker=".",
    label=f"compressed profile ({len(compressed)} readings)",
)
# The same band, hatched, over each gap (no reading for longer than var max_integration_gap_s):
# the power line bridges it linearly, as the estimated energy does up to var max_estimated_gap_s.
power_ax.fill_between(
    profile["elapsed_h"],
    0,
    profile["is_gap_before"].astype(float),
    step="pre",
    transform=power_ax.get_xaxis_transform(),
    facecolor="none",
    edgecolor="tab:gray",
    hatch="xx",
    linewidth=0,
    label="gap in telemetry",
)
power_marks = session_changes[
    (session_changes["measure"] == "power_w") & (session_changes["phase"] == "total")
]
power_ax.scatter(
    power_marks["elapsed_h"],
    power_marks["new_value"] / 1000,
    marker="o",
    s=28,
    facecolors="none",
    edgecolors="red",
    label="big change (total)",
)
power_ax.set_ylabel("total power (kW)")
power_ax.legend(loc="upper right", fontsize="small")

# Accumulated energy = measured + estimated across gaps: the measured part filled, the estimated
# part hatched on top of it, and the line dashed across each gap it bridges.
measured_kwh = profile["accumulated_energy_kwh"] - profile["accumulated_estimated_energy_kwh"]
energy_ax.fill_between(
    profile["elapsed_h"],
    0,
    measured_kwh,
    color="tab:brown",
    alpha=0.3,
    linewidth=0,
    label=f"measured ({briefing.measured_energy_wh[0] / 1000:.2f} kWh)",
)
energy_ax.fill_between(
    profile["elapsed_h"],
    measured_kwh,
    profile["accumulated_energy_kwh"],
    facecolor="none",
    edgecolor="tab:orange",
    hatch="////",
    linewidth=0,
    label=f"estimated across gaps ({briefing.estimated_gap_energy_wh[0] / 1000:.2f} kWh)",
)
energy_ax.plot(
    profile["elapsed_h"],
    profile["accumulated_energy_kwh"],
    color="tab:brown",
    label="accumulated energy (measured + estimated)",
)
# An estimated interval ends at its reading: its line runs from the reading before.
bridged = profile["is_estimated_interval"] | profile["is_estimated_interval"].shift(
    -1, fill_value=False
)
energy_ax.plot(
    profile["elapsed_h"],
    profile["accumulated_energy_kwh"].where(bridged),
    color="tab:orange",
    linestyle="--",
    linewidth=2,
    label="gap bridged by the estimate",
)
for index, elapsed_h in enumerate(power_marks["elapsed_h"]):
    energy_ax.axvline(
        elapsed_h,
        color="red",
        alpha=0.25,
        linewidth=0.8,
        label="big change of total power" if index == 0 else None,
    )
energy_ax.set_ylabel("accumulated energy (kWh)")
energy_ax.set_xlabel("time since the session started (h)")
energy_ax.legend(loc="lower right", fontsize="small")

fig.suptitle(
    f"Charging profile of session {BRIEF_SESSION_ID} (charger {int(briefing.charger_id[0])}), "
    f"started {briefing.corrected_started_at[0]:%Y-%m-%d %H:%M} UTC"
)
fig.tight_layout()
plt.show()

# %% tags=["answer"]
reported_kwh = b.reported_energy_wh / 1000 if pd.notna(b.reported_energy_wh) else float("nan")
clock_note = (
    f" (true time; the charger's clock was {num(abs(b.clock_offset_s) / 86400)} days "
    f"{'behind' if b.clock_offset_s < 0 else 'ahead'})"
    if b.is_clock_corrected
    else ""
)
answer(
    f"Session {BRIEF_SESSION_ID} on charger {int(b.charger_id)} lasted "
    f"{b.session_duration_h:.2f} h from {b.corrected_started_at:%Y-%m-%d %H:%M} UTC{clock_note}, "
    f"of which {b.active_charging_s / 3600:.2f} h charging (shaded in the power panel), on "
    f"{int(b.phases_used) if pd.notna(b.phases_used) else 0} phase(s). "
    f"Its {int(b.reading_count)} readings measure {b.measured_energy_wh / 1000:.2f} kWh and "
    f"{b.estimated_gap_energy_wh / 1000:.2f} kWh are estimated across "
    f"{int(b.estimated_gap_count) if pd.notna(b.estimated_gap_count) else 0} gap(s) (hatched), "
    f"together {b.telemetry_energy_wh / 1000:.2f} kWh against {reported_kwh:.2f} kWh reported "
    f"(ratio {b.energy_ratio:.3f}); power peaked at "
    f"{num(b.peak_power_w / 1000)} kW. The profile has {len(session_changes)} big changes at "
    f"{session_changes['reading_seq'].nunique()} readings, and the compressed profile keeps "
    f"{len(compressed)} of {len(profile)} readings."
)

# %% [markdown]
# ## 4. Big changes
#
# **Question:** which values changed by more than the threshold against the previous reading along
# the session, and how often do big changes occur across the fleet, by measure and phase?
#
# **A sensor glitch is not a change.** A temperature sensor that flips between two levels on
# alternate readings (23 °C, 38 °C, 23 °C, ...) makes every reading a big change, though nothing
# got hotter or cooler. The report keeps these changes, as it should: it applies the rule. Here they
# are told apart as a data-quality artefact: a temperature big change at the reading right after
# another one in the same series (session and phase) that went the other way, or right before such
# a one. The query reads the big changes as `rpt_big_changes` reports them and does not re-apply
# the rule.

# %% tags=["temperature-flips"]
temperature_flips = sql("""
with temperature_changes as (
    select
        session_id,
        phase,
        reading_seq,
        elapsed_s,
        previous_value,
        new_value,
        direction,
        lag(reading_seq) over series as previous_change_seq,
        lag(direction) over series as previous_change_direction,
        lead(reading_seq) over series as next_change_seq,
        lead(direction) over series as next_change_direction
    from rpt_big_changes
    where measure = 'temperature_c'
    window series as (partition by session_id, phase order by reading_seq)
)

select
    session_id,
    phase,
    reading_seq,
    elapsed_s,
    least(previous_value, new_value) as low_c,
    greatest(previous_value, new_value) as high_c
from temperature_changes
where
    (previous_change_seq = reading_seq - 1 and previous_change_direction != direction)
    or (next_change_seq = reading_seq + 1 and next_change_direction != direction)
order by session_id, phase, reading_seq
""")
session_flips = temperature_flips[temperature_flips["session_id"] == BRIEF_SESSION_ID]
flip_readings = set(session_flips["reading_seq"])

# The session's big changes, one row per reading (the glitch's readings are summed up in the
# answer, not listed).
changes_by_reading = (
    session_changes[~session_changes["reading_seq"].isin(flip_readings)]
    .assign(measure=lambda frame: frame["measure"].str.split("_").str[0])
    .groupby(["reading_seq", "elapsed_h", "measure"], as_index=False)
    .agg(phases=("phase", "/".join), direction=("direction", lambda d: "/".join(sorted(set(d)))))
    .assign(series=lambda frame: frame["measure"] + " " + frame["phases"])
    .groupby(["reading_seq", "elapsed_h"], as_index=False)
    .agg(changed=("series", ", ".join), direction=("direction", lambda d: "/".join(sorted(set(d)))))
)
display(
    table(
        changes_by_reading,
        {
            "reading_seq": "reading",
            "elapsed_h": "time into the session (h)",
            "changed": "big changes (measure and phase)",
            "direction": "direction",
        },
        {"elapsed_h": "h"},
    )
)

# %%
by_series = sql(
    """
select measure, phase, count(*) as big_changes
from rpt_big_changes
where session_id = ?
group by all
order by measure, phase
""",
    [BRIEF_SESSION_ID],
)
display(
    by_series.pivot(index="measure", columns="phase", values="big_changes").fillna(0).astype(int)
)

# %%
fleet_changes = sql("""
select measure, phase, count(*) as big_changes, count(distinct session_id) as sessions
from rpt_big_changes
group by all
order by measure, phase
""")
fleet_table = fleet_changes.pivot(index="measure", columns="phase", values="big_changes")
fleet_table = fleet_table.fillna(0).astype(int)

fig, ax = plt.subplots(figsize=(10, 4.5))
width = 0.8 / len(fleet_table.columns)
positions = np.arange(len(fleet_table.index))
for offset, phase in enumerate(fleet_table.columns):
    ax.bar(positions + offset * width, fleet_table[phase], width=width, label=phase)
ax.set_xticks(positions + width * (len(fleet_table.columns) - 1) / 2, fleet_table.index)
ax.set_title("Big changes across the fleet, by measure and phase")
ax.set_xlabel("measure (unit in the name)")
ax.set_ylabel("big changes (count)")
ax.legend(title="phase")
plt.show()
display(fleet_table)

# %% [markdown]
# **How the threshold and deadbands were chosen.** The threshold (var `big_change_threshold_pct`) is
# the mission's definition of a big change. A percentage alone fails near zero: an idle charger's
# current moving from 0.01 A to 0.05 A is a 400 % change, and a step from 0 A has no percentage at
# all. So each measure also has an absolute deadband (vars `big_change_deadband_*`) that a change
# must exceed: about the size of the sensor's resolution and noise (current is reported in
# centiamperes, voltage and temperature in whole units), well below what matters for charging (a car
# starting, stopping or throttling moves current by amperes and power by kilowatts). The values in
# force when the report was built are stored with it, in every row. A big change from a value inside
# the deadband (a car starting from 0 A) is reported without a percentage (`change_pct` is null):

# %% tags=["big-change-rule"]
rule = sql("""
select
    measure,
    any_value(threshold_pct) as threshold_pct,
    any_value(deadband) as deadband,
    count(*) as big_changes,
    count(*) filter (where change_pct is null) as from_inside_deadband,
    min(abs(change_pct)) as smallest_abs_change_pct
from rpt_big_changes
group by measure
order by measure
""")
display(
    table(
        rule,
        {
            "measure": "measure",
            "threshold_pct": "threshold",
            "deadband": "deadband",
            "big_changes": "big changes",
            "from_inside_deadband": "from inside the deadband",
            "smallest_abs_change_pct": "smallest change with a percentage",
        },
        {
            "threshold_pct": "pct",
            "deadband": "value",
            "big_changes": "count",
            "from_inside_deadband": "count",
            "smallest_abs_change_pct": "pct",
        },
    )
)

# %% tags=["answer"]
sessions_with_changes = sql("select count(distinct session_id) as n from rpt_big_changes").n[0]
per_session = sql("""
select median(changes) as median_changes
from (select session_id, count(*) as changes from rpt_big_changes group by session_id)
""").median_changes[0]
thresholds = " / ".join(f"{value:g} %" for value in sorted(rule["threshold_pct"].unique()))
deadbands = "; ".join(f"{row.measure} {row.deadband:g}" for row in rule.itertuples())
top = fleet_changes.sort_values(
    ["big_changes", "measure", "phase"], ascending=[False, True, True]
).iloc[0]
if len(session_flips):
    flip_phases = " and ".join(sorted(session_flips["phase"].unique()))
    glitch_sentence = (
        f"{len(session_flips)} of them are a temperature sensor glitch: on {flip_phases} the "
        f"temperature flips between about {session_flips['low_c'].median():.0f} °C and "
        f"{session_flips['high_c'].median():.0f} °C on alternate readings, "
        f"{session_flips['elapsed_s'].min() / 3600:.2f} h to "
        f"{session_flips['elapsed_s'].max() / 3600:.2f} h into the session, each change undoing "
        f"the one before. That is a data-quality artefact, not a real change in temperature; the "
        f"session has {len(session_changes) - len(session_flips)} big changes without it. "
    )
else:
    glitch_sentence = "None of them is a temperature flipping back and forth (a sensor glitch). "
fleet_flips = temperature_flips.groupby("session_id").size()
answer(
    f"Session {BRIEF_SESSION_ID} has {len(session_changes)} big changes (threshold {thresholds}, "
    f"deadbands {deadbands}). {glitch_sentence}Across the fleet there are "
    f"{int(fleet_changes['big_changes'].sum()):,} big changes in {int(sessions_with_changes)} "
    f"sessions (median {per_session:.0f} per session); the most frequent series is "
    f"{top.measure} {top.phase} ({int(top.big_changes):,}). "
    f"{int(rule['from_inside_deadband'].sum()):,} of them start from a value inside the deadband, "
    f"where a percentage means nothing. The same temperature glitch accounts for "
    f"{len(temperature_flips):,} of the fleet's "
    f"{int(rule.loc[rule['measure'] == 'temperature_c', 'big_changes'].sum()):,} temperature big "
    f"changes, in {len(fleet_flips)} sessions."
)

# %% [markdown]
# ## 5. Average session time per charger
#
# **Question:** what is the average session time of each charger, over how many sessions, and how
# spread out are its sessions (median, 90th percentile)?

# %%
chargers = sql("""
select
    charger_id,
    session_count,
    avg_session_duration_h,
    median_session_duration_s / 3600 as median_session_duration_h,
    p90_session_duration_s / 3600 as p90_session_duration_h,
    avg_active_charging_s / 3600 as avg_active_charging_h,
    total_energy_kwh
from fct_charger_summaries
order by avg_session_duration_h desc, charger_id
""")
display(
    table(
        chargers,
        {
            "charger_id": "charger",
            "session_count": "sessions",
            "avg_session_duration_h": "average (h)",
            "median_session_duration_h": "median (h)",
            "p90_session_duration_h": "90th percentile (h)",
            "avg_active_charging_h": "average charging (h)",
            "total_energy_kwh": "energy (kWh)",
        },
        {
            "session_count": "count",
            "avg_session_duration_h": "h",
            "median_session_duration_h": "h",
            "p90_session_duration_h": "h",
            "avg_active_charging_h": "h",
            "total_energy_kwh": "kwh",
        },
    )
)

# %%
fig, ax = plt.subplots(figsize=(12, 5))
positions = np.arange(len(chargers))
bars = ax.bar(positions, chargers["avg_session_duration_h"], color="tab:blue", label="average")
ax.scatter(
    positions,
    chargers["median_session_duration_h"],
    marker="_",
    s=160,
    color="black",
    label="median",
    zorder=3,
)
ax.scatter(
    positions,
    chargers["p90_session_duration_h"],
    marker="v",
    color="tab:red",
    label="90th percentile",
    zorder=3,
)
for bar, count in zip(bars, chargers["session_count"], strict=True):
    ax.annotate(
        f"n={count}",
        (bar.get_x() + bar.get_width() / 2, bar.get_height()),
        xytext=(0, 3),
        textcoords="offset points",
        ha="center",
        fontsize=7,
    )
ax.set_xticks(positions, chargers["charger_id"].astype(str), rotation=60)
ax.set_title("Average session time per charger (n = sessions)")
ax.set_xlabel("charger id")
ax.set_ylabel("session time (h)")
ax.legend()
fig.tight_layout()
plt.show()

# %%
per_charger_sessions = sql("select charger_id, session_duration_h from fct_session_briefings")
order = chargers["charger_id"].tolist()
fig, ax = plt.subplots(figsize=(12, 5))
ax.boxplot(
    [
        per_charger_sessions.loc[
            per_charger_sessions["charger_id"] == charger, "session_duration_h"
        ]
        for charger in order
    ],
    tick_labels=[str(charger) for charger in order],
    showmeans=True,
)
ax.tick_params(axis="x", rotation=60)
ax.set_title("Spread of session time per charger (box = quartiles, line = median, triangle = mean)")
ax.set_xlabel("charger id")
ax.set_ylabel("session time (h)")
fig.tight_layout()
plt.show()

# %% tags=["answer"]
longest = chargers.iloc[0]
shortest = chargers.iloc[-1]
widest = chargers.assign(
    spread=chargers["p90_session_duration_h"] - chargers["median_session_duration_h"]
).sort_values(["spread", "charger_id"], ascending=[False, True])
answer(
    f"Across {len(chargers)} chargers the average session time ranges from "
    f"{shortest.avg_session_duration_h:.2f} h (charger {int(shortest.charger_id)}, "
    f"{int(shortest.session_count)} sessions) to {longest.avg_session_duration_h:.2f} h "
    f"(charger {int(longest.charger_id)}, {int(longest.session_count)} sessions); the mean over "
    f"chargers is {chargers['avg_session_duration_h'].mean():.2f} h. The widest spread is at "
    f"charger {int(widest.iloc[0].charger_id)}, whose 90th percentile lies "
    f"{widest.iloc[0].spread:.1f} h above its median."
)

# %% [markdown]
# ## 6. Reported versus telemetry-integrated energy
#
# **Question:** does the energy each session reports agree with the energy its telemetry accounts
# for, how much of that energy is measured and how much estimated across lost telemetry, and which
# sessions disagree: a shortfall that lost telemetry explains, or a metering fault?
#
# Telemetry energy is the energy measured from the readings (`measured_energy_wh`, gaps not
# integrated) plus the energy estimated across gaps (`estimated_gap_energy_wh`, a linear bridge up
# to var `max_estimated_gap_s`). The marts give the verdicts: `is_shortfall_from_lost_telemetry`
# when the measured energy alone is off by more than the tolerance but measured plus estimated is
# within it, and `has_energy_mismatch` when even measured plus estimated is off, a metering fault
# or a difference lost telemetry does not explain. The tolerance they were decided with (var
# `energy_mismatch_tolerance`, a share) is stored with every briefing as column
# `energy_mismatch_tolerance`; the chart draws that band.

# %%
energy_totals = sql("""
select
    count(*) as sessions_with_telemetry,
    sum(reported_energy_wh) / 1000 as reported_energy_kwh,
    sum(measured_energy_wh) / 1000 as measured_energy_kwh,
    sum(estimated_gap_energy_wh) / 1000 as estimated_gap_energy_kwh,
    sum(telemetry_energy_wh) / 1000 as telemetry_energy_kwh,
    sum(estimated_gap_count) as estimated_gaps,
    count(*) filter (where estimated_gap_count > 0) as sessions_with_estimated_gap,
    count(*) filter (where is_shortfall_from_lost_telemetry) as shortfalls_from_lost_telemetry,
    count(*) filter (where has_energy_mismatch) as energy_mismatches
from fct_session_briefings
where not has_no_telemetry
""")
t = energy_totals.iloc[0]
display(
    facts(
        {
            "sessions with telemetry": f"{t.sessions_with_telemetry:,.0f}",
            "energy reported (kWh)": f"{t.reported_energy_kwh:,.2f}",
            "energy measured (kWh)": f"{t.measured_energy_kwh:,.2f}",
            "energy estimated across gaps (kWh)": f"{t.estimated_gap_energy_kwh:,.2f}",
            "telemetry energy, measured + estimated (kWh)": f"{t.telemetry_energy_kwh:,.2f}",
            "gaps bridged by an estimate": f"{t.estimated_gaps:,.0f}",
            "sessions with such a gap": f"{t.sessions_with_estimated_gap:,.0f}",
            "sessions short from lost telemetry": f"{t.shortfalls_from_lost_telemetry:,.0f}",
            "sessions with an energy mismatch": f"{t.energy_mismatches:,.0f}",
        }
    )
)

# %%
energy = sql("""
select
    session_id,
    charger_id,
    reported_energy_wh / 1000 as reported_energy_kwh,
    measured_energy_wh / 1000 as measured_energy_kwh,
    telemetry_energy_wh / 1000 as telemetry_energy_kwh,
    measured_energy_wh / reported_energy_wh as measured_energy_ratio,
    energy_ratio,
    is_shortfall_from_lost_telemetry,
    has_energy_mismatch
from fct_session_briefings
where not has_no_telemetry and energy_ratio is not null
order by session_id
""")
agreeing = energy[~energy["has_energy_mismatch"] & ~energy["is_shortfall_from_lost_telemetry"]]
shortfalls = energy[energy["is_shortfall_from_lost_telemetry"]]
flagged = energy[energy["has_energy_mismatch"]]

# One value per build: the var the flags were decided with.
tolerance = float(
    sql(
        "select any_value(energy_mismatch_tolerance) as tolerance from fct_session_briefings"
    ).tolerance[0]
)

fig, (scatter_ax, ratio_ax) = plt.subplots(1, 2, figsize=(13, 6))
limit = float(energy[["reported_energy_kwh", "telemetry_energy_kwh"]].max().max()) * 1.05
for ax, measured_column, y_column in (
    (scatter_ax, "measured_energy_kwh", "telemetry_energy_kwh"),
    (ratio_ax, "measured_energy_ratio", "energy_ratio"),
):
    # The sessions are labelled once, in the left panel's legend.
    labelled = ax is scatter_ax
    ax.scatter(
        agreeing["reported_energy_kwh"],
        agreeing[y_column],
        s=14,
        alpha=0.7,
        label="agreeing" if labelled else None,
    )
    # A lost-telemetry shortfall: the measured energy alone (hollow), joined to measured plus
    # estimated (filled).
    ax.vlines(
        shortfalls["reported_energy_kwh"],
        shortfalls[measured_column],
        shortfalls[y_column],
        color="tab:orange",
        linestyle="--",
        linewidth=1,
    )
    ax.scatter(
        shortfalls["reported_energy_kwh"],
        shortfalls[measured_column],
        s=30,
        facecolors="none",
        edgecolors="tab:orange",
        label="measured alone (lost-telemetry shortfall)" if labelled else None,
    )
    ax.scatter(
        shortfalls["reported_energy_kwh"],
        shortfalls[y_column],
        s=30,
        color="tab:orange",
        label="lost-telemetry shortfall, with the estimate" if labelled else None,
    )
    ax.scatter(
        flagged["reported_energy_kwh"],
        flagged[y_column],
        s=30,
        color="tab:red",
        label="energy mismatch" if labelled else None,
    )
    ax.set_xlim(0, limit)
    ax.set_xlabel("reported energy (kWh)")
# Mismatches are labelled with their session id, the labels staggered so that neighbours do not
# overlap; the table below lists them (the 15 furthest off, mismatches first).
for index, row in enumerate(flagged.sort_values("reported_energy_kwh").itertuples()):
    ratio_ax.annotate(
        str(row.session_id),
        (row.reported_energy_kwh, row.energy_ratio),
        xytext=(6, -12 + 12 * (index % 3)),
        textcoords="offset points",
        fontsize=7,
        color="tab:red",
    )
scatter_ax.plot([0, limit], [0, limit], color="black", linewidth=1, label="y = x")
scatter_ax.set_ylim(0, limit)
scatter_ax.set_ylabel("telemetry energy, measured + estimated (kWh)")
scatter_ax.set_title("Reported versus telemetry energy")
scatter_ax.legend(fontsize="small")
ratio_ax.axhline(1, color="black", linewidth=1, label="ratio 1 (y = x)")
ratio_ax.axhspan(
    1 - tolerance,
    1 + tolerance,
    color="tab:green",
    alpha=0.12,
    label=f"±{tolerance * 100:g} % tolerance",
)
ratio_ax.set_ylabel("telemetry energy / reported energy (ratio)")
ratio_ax.set_title("Energy ratio per session")
ratio_ax.legend(loc="lower right", fontsize="small")
fig.suptitle("Reported versus telemetry energy per session (measured + estimated across gaps)")
fig.tight_layout()
plt.show()

# %% tags=["energy-outliers"]
outliers = sql("""
select
    session_id,
    charger_id,
    case when has_energy_mismatch then 'energy mismatch' else 'lost telemetry' end as verdict,
    round(reported_energy_wh / 1000, 2) as reported_energy_kwh,
    round(measured_energy_wh / 1000, 2) as measured_energy_kwh,
    round(estimated_gap_energy_wh / 1000, 2) as estimated_gap_energy_kwh,
    round(energy_ratio, 3) as energy_ratio,
    reading_count,
    gap_count,
    estimated_gap_count,
    round(largest_gap_s / 60) as largest_gap_min,
    has_sparse_telemetry,
    round(missing_measurement_share, 3) as missing_measurement_share,
    is_overlapping
from fct_session_briefings
where has_energy_mismatch or is_shortfall_from_lost_telemetry
order by has_energy_mismatch desc, abs(energy_ratio - 1) desc, session_id
""")
display(
    table(
        outliers,
        {
            "session_id": "session",
            "charger_id": "charger",
            "verdict": "verdict",
            "reported_energy_kwh": "reported (kWh)",
            "measured_energy_kwh": "measured (kWh)",
            "estimated_gap_energy_kwh": "estimated (kWh)",
            "energy_ratio": "telemetry / reported",
            "gap_count": "gaps",
            "largest_gap_min": "largest gap (min)",
        },
        {
            "reported_energy_kwh": "kwh",
            "measured_energy_kwh": "kwh",
            "estimated_gap_energy_kwh": "kwh",
            "energy_ratio": "ratio",
            "gap_count": "count",
            "largest_gap_min": "count",
        },
    ).head(15)
)

# %% tags=["answer"]
totals = energy_totals.iloc[0]
mismatched = outliers[outliers["verdict"] == "energy mismatch"]
lost = outliers[outliers["verdict"] == "lost telemetry"]
answer(
    f"The telemetry of the {int(totals.sessions_with_telemetry)} sessions with readings accounts "
    f"for {totals.telemetry_energy_kwh:,.1f} kWh of the {totals.reported_energy_kwh:,.1f} kWh "
    f"they report: {totals.measured_energy_kwh:,.1f} kWh measured and "
    f"{totals.estimated_gap_energy_kwh:,.1f} kWh estimated, across {int(totals.estimated_gaps)} "
    f"gaps in {int(totals.sessions_with_estimated_gap)} sessions and where a phase's missing "
    f"current or voltage is carried from its previous reading. "
    f"Of {len(energy)} sessions with telemetry and a reported energy, {len(agreeing)} agree "
    f"(median ratio {energy['energy_ratio'].median():.3f}). {len(lost)} fall short by more than "
    f"the tolerance on measured energy alone but agree once the gaps are bridged, a shortfall "
    f"from lost telemetry: sessions {', '.join(str(s) for s in lost['session_id']) or 'none'}. "
    f"{len(mismatched)} {'deviates' if len(mismatched) == 1 else 'deviate'} by more than "
    f"the {tolerance * 100:g} % tolerance even with the "
    f"estimate, a metering fault or a loss the estimate does not explain: sessions "
    f"{', '.join(str(s) for s in mismatched['session_id']) or 'none'}."
)

# %% [markdown]
# ## 7. The fleet in local time
#
# **Question:** when do drivers plug in (weekday and hour at the charger's site), how much energy
# does the fleet deliver and bill per month, how many sessions does each charger see, how often do
# three-phase chargers charge on one phase only, and how fully is each charger used?
#
# Everything here is in each charger's own time zone (`dim_chargers.time_zone`): a plug-in at
# 07:00 UTC is 08:00 in Madrid and 07:00 in Lisbon or the Canaries. The plug-in times are the
# sessions' true-time starts (`corrected_started_at`) converted to that zone; days and months come
# from the calendar marts, which split every session over the local days it touches.

# %% tags=["plug-in-heat-map"]
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
plug_ins = sql("""
with session_starts as (
    select
        timezone(
            dim_chargers.time_zone, fct_session_briefings.corrected_started_at at time zone 'UTC'
        ) as local_started_at
    from fct_session_briefings
    inner join dim_chargers on fct_session_briefings.charger_id = dim_chargers.charger_id
)

select
    isodow(local_started_at) as iso_weekday,
    hour(local_started_at) as local_hour,
    count(*) as sessions
from session_starts
group by all
""")
plug_in_grid = (
    plug_ins.pivot(index="iso_weekday", columns="local_hour", values="sessions")
    .reindex(index=range(1, 8), columns=range(24))
    .fillna(0)
    .astype(int)
)

fig, plug_in_ax = plt.subplots(figsize=(12, 4))
image = plug_in_ax.imshow(plug_in_grid, aspect="auto", cmap="Blues")
plug_in_ax.set_xticks(range(24), [f"{hour:02d}" for hour in range(24)])
plug_in_ax.set_yticks(range(7), WEEKDAYS)
plug_in_ax.grid(False)
plug_in_ax.set_title("When drivers plug in: sessions started by weekday and hour (local time)")
plug_in_ax.set_xlabel("hour of the day at the charger's site")
fig.colorbar(image, ax=plug_in_ax, label="sessions started")
fig.tight_layout()
plt.show()

# %% [markdown]
# Energy per local month, from `rpt_user_monthly_energy`: the energy the chargers delivered
# (measured plus estimated) and the reported energy and cost billed to the month (a session's bill
# split over the days it delivered energy), with the users who charged. Below, the energy delivered
# per local day, by the chargers' power class (`fct_charger_days`, `dim_chargers`).

# %% tags=["monthly-energy"]
monthly_energy = sql("""
select
    local_month,
    count(distinct user_id) as users,
    count(distinct charger_id) as chargers,
    sum(sessions_started) as sessions_started,
    sum(delivered_energy_kwh) as delivered_energy_kwh,
    sum(billed_energy_kwh) as billed_energy_kwh,
    sum(billed_cost_eur) as billed_cost_eur
from rpt_user_monthly_energy
group by local_month
order by local_month
""")
display(
    table(
        monthly_energy.assign(month=monthly_energy["local_month"].map(lambda m: f"{m:%B %Y}")),
        {
            "month": "month (local)",
            "users": "users",
            "chargers": "chargers",
            "sessions_started": "sessions started",
            "delivered_energy_kwh": "delivered (kWh)",
            "billed_energy_kwh": "billed (kWh)",
            "billed_cost_eur": "billed (EUR)",
        },
        {
            "users": "count",
            "chargers": "count",
            "sessions_started": "count",
            "delivered_energy_kwh": "kwh",
            "billed_energy_kwh": "kwh",
            "billed_cost_eur": "eur",
        },
    )
)

daily_energy = sql("""
select
    fct_charger_days.local_date,
    coalesce(dim_chargers.power_class, 'unknown') as power_class,
    sum(fct_charger_days.delivered_energy_kwh) as delivered_energy_kwh
from fct_charger_days
inner join dim_chargers on fct_charger_days.charger_id = dim_chargers.charger_id
group by all
""")
daily_grid = daily_energy.pivot(
    index="local_date", columns="power_class", values="delivered_energy_kwh"
).fillna(0)


def power_class_order(power_class: str) -> float:
    """Sort key of a power class such as ``22 kW`` by its power; ``unknown`` last."""
    head = power_class.split()[0]
    return float(head) if head.replace(".", "", 1).isdigit() else float("inf")


fig, daily_ax = plt.subplots(figsize=(12, 4))
bottom = np.zeros(len(daily_grid))
for power_class in sorted(daily_grid.columns, key=power_class_order):
    daily_ax.bar(daily_grid.index, daily_grid[power_class], bottom=bottom, label=power_class)
    bottom += daily_grid[power_class].to_numpy()
daily_ax.set_xticks(daily_grid.index, [f"{day:%a %d %b}" for day in daily_grid.index])
daily_ax.tick_params(axis="x", rotation=45)
daily_ax.set_title("Energy delivered per local day, by charger power class")
daily_ax.set_ylabel("energy delivered (kWh)")
daily_ax.legend(title="power class")
fig.tight_layout()
plt.show()

# %% [markdown]
# Sessions and utilisation per charger: the sessions each charger saw (`dim_chargers`), and the
# share of its days (from the day it was first seen to the day it was last seen, idle days
# included) that a car was plugged in and that it was actually charging (`fct_charger_days`,
# overlapping sessions counted once).

# %% tags=["charger-use"]
charger_use = sql("""
with utilisation as (
    select
        charger_id,
        count(*) as days,
        sum(plugged_in_s) / sum(day_length_s) as plugged_in_share,
        sum(charging_s) / sum(day_length_s) as charging_share
    from fct_charger_days
    group by charger_id
)

select
    dim_chargers.charger_id,
    dim_chargers.power_class,
    dim_chargers.time_zone,
    dim_chargers.session_count,
    utilisation.days,
    utilisation.plugged_in_share,
    utilisation.charging_share
from dim_chargers
left join utilisation on dim_chargers.charger_id = utilisation.charger_id
order by utilisation.plugged_in_share desc, dim_chargers.charger_id
""")
fig, (sessions_ax, use_ax) = plt.subplots(1, 2, figsize=(13, 7), sharey=True)
positions = np.arange(len(charger_use))
class_colors = {
    power_class: color
    for power_class, color in zip(
        sorted(charger_use["power_class"].fillna("unknown").unique(), key=power_class_order),
        ("tab:blue", "tab:orange", "tab:green", "tab:purple", "tab:gray"),
        strict=False,
    )
}
for power_class, color in class_colors.items():
    selected = charger_use["power_class"].fillna("unknown") == power_class
    sessions_ax.barh(
        positions[selected],
        charger_use.loc[selected, "session_count"],
        color=color,
        label=power_class,
    )
sessions_ax.set_yticks(positions, charger_use["charger_id"].astype(str))
sessions_ax.invert_yaxis()
sessions_ax.set_title("Sessions per charger")
sessions_ax.set_xlabel("sessions")
sessions_ax.set_ylabel("charger (most used first)")
sessions_ax.legend(title="power class", loc="lower right")
use_ax.barh(
    positions,
    charger_use["plugged_in_share"] * 100,
    color="tab:blue",
    alpha=0.35,
    label="plugged in",
)
use_ax.barh(positions, charger_use["charging_share"] * 100, color="tab:green", label="charging")
use_ax.set_title("Utilisation: share of the time")
use_ax.set_xlabel("share of the time (%)")
use_ax.legend(loc="lower right")
fig.tight_layout()
plt.show()

# %% [markdown]
# Phases used per session, by the phases the charger has (`phases_seen`). A car that charges on one
# phase of a three-phase charger draws a third of the power the charger could give.

# %% tags=["phase-usage"]
phase_usage = sql("""
select
    dim_chargers.phases_seen,
    count(*) as sessions,
    count(*) filter (where fct_session_briefings.phases_used = 1) as one_phase_sessions,
    count(*) filter (where fct_session_briefings.phases_used = 2) as two_phase_sessions,
    count(*) filter (where fct_session_briefings.phases_used = 3) as three_phase_sessions,
    count(*) filter (where fct_session_briefings.phases_used is null) as sessions_without_telemetry
from fct_session_briefings
inner join dim_chargers on fct_session_briefings.charger_id = dim_chargers.charger_id
group by dim_chargers.phases_seen
order by dim_chargers.phases_seen
""")
display(
    table(
        phase_usage.assign(
            charger=phase_usage["phases_seen"].map(
                lambda phases: "no readings" if pd.isna(phases) else f"{phases:.0f}-phase chargers"
            ),
            one_phase_share=phase_usage["one_phase_sessions"] / phase_usage["sessions"],
        ),
        {
            "charger": "charger",
            "sessions": "sessions",
            "one_phase_sessions": "on 1 phase",
            "two_phase_sessions": "on 2 phases",
            "three_phase_sessions": "on 3 phases",
            "sessions_without_telemetry": "no telemetry",
            "one_phase_share": "share on 1 phase",
        },
        {
            "sessions": "count",
            "one_phase_sessions": "count",
            "two_phase_sessions": "count",
            "three_phase_sessions": "count",
            "sessions_without_telemetry": "count",
            "one_phase_share": "share",
        },
    )
)

# %% tags=["answer"]
busiest_slot = plug_ins.sort_values(
    ["sessions", "iso_weekday", "local_hour"], ascending=[False, True, True]
).iloc[0]
by_weekday = plug_ins.groupby("iso_weekday")["sessions"].sum()
busiest_weekday = by_weekday.sort_values(ascending=False, kind="stable").index[0]
month_sentences = "; ".join(
    f"in {row.local_month:%B %Y} the fleet delivered {row.delivered_energy_kwh:,.1f} kWh and "
    f"billed {row.billed_energy_kwh:,.1f} kWh for {row.billed_cost_eur:,.2f} EUR to "
    f"{row.users} users"
    for row in monthly_energy.itertuples()
)
three_phase = phase_usage[phase_usage["phases_seen"] == 3]
one_phase_on_three = int(three_phase["one_phase_sessions"].sum())
sessions_on_three = int(three_phase["sessions"].sum())
most_used = charger_use.iloc[0]
fleet_days = sql("""
select sum(plugged_in_s) / sum(day_length_s) as plugged_in_share,
    sum(charging_s) / sum(day_length_s) as charging_share
from fct_charger_days
""").iloc[0]
answer(
    f"Drivers plug in most often on {WEEKDAYS[int(busiest_slot.iso_weekday) - 1]}s at "
    f"{int(busiest_slot.local_hour):02d}:00 local time ({busiest_slot.sessions} sessions "
    f"started in that hour), and {WEEKDAYS[int(busiest_weekday) - 1]} is the busiest weekday "
    f"({by_weekday[busiest_weekday]} sessions). {month_sentences[0].upper()}{month_sentences[1:]}. "
    f"Chargers saw {charger_use['session_count'].min()} to {charger_use['session_count'].max()} "
    f"sessions each (median {num(charger_use['session_count'].median())}). Of the "
    f"{sessions_on_three} sessions on three-phase chargers, {one_phase_on_three} "
    f"({one_phase_on_three / sessions_on_three:.0%}) charged on one phase only, at a third of the "
    f"power the charger could give. Over the days they were in service, the chargers had a car "
    f"plugged in {fleet_days.plugged_in_share:.0%} of the time but were charging only "
    f"{fleet_days.charging_share:.1%} of the time; the most used, charger "
    f"{most_used.charger_id}, had a car plugged in {most_used.plugged_in_share:.0%} of the time."
)

# %% [markdown]
# ## 8. Anomalies
#
# **Question:** which anomalies did the detectors find (voltage sags and swells, overheating, phase
# losses, stuck sensors, energy mismatches), how many of each kind and severity, on how many
# chargers and for how long, and what did the detectors see in one anomaly of each kind?
#
# `fct_anomalies` holds one row per anomaly: the detectors' runs of flagged readings of one kind on
# one charger phase, merged, and the sessions whose briefing has an energy mismatch (README,
# "Anomaly detection"). Its times are true time; `critical` marks an anomaly that needs action now
# (a voltage beyond the deep limit, a temperature at the stop limit or a thermal trip, a phase
# loss), `warning` the others; `detectors` lists the rules that found it.

# %% tags=["anomaly-table"]
anomalies_by_kind = sql("""
with anomaly_detectors as (
    select kind, severity, unnest(string_split(detectors, ',')) as detector
    from fct_anomalies
),

detectors_by_kind as (
    select kind, severity, string_agg(distinct detector, ', ' order by detector) as detectors
    from anomaly_detectors
    group by all
)

select
    fct_anomalies.kind,
    fct_anomalies.severity,
    count(*) as anomalies,
    count(distinct fct_anomalies.charger_id) as chargers,
    count(*) filter (where fct_anomalies.session_id is null) as outside_sessions,
    sum(fct_anomalies.duration_s) / 60 as total_duration_min,
    max(fct_anomalies.duration_s) / 60 as longest_min,
    any_value(detectors_by_kind.detectors) as detectors
from fct_anomalies
inner join detectors_by_kind
    on fct_anomalies.kind = detectors_by_kind.kind
    and fct_anomalies.severity = detectors_by_kind.severity
group by fct_anomalies.kind, fct_anomalies.severity
""")
# The kinds in the order the detectors are documented; one the notebook does not know stops it here,
# before a kind goes uncharted.
ANOMALY_KINDS = {
    "voltage_sag": ("Voltage sag", "voltage sags"),
    "voltage_swell": ("Voltage swell", "voltage swells"),
    "overheating": ("Overheating", "overheatings"),
    "phase_loss": ("Phase loss", "phase losses"),
    "stuck_sensor": ("Stuck sensor", "stuck sensors"),
    "energy_mismatch": ("Energy mismatch", "energy mismatches"),
}
unknown_kinds = sorted(set(anomalies_by_kind["kind"]) - set(ANOMALY_KINDS))
if unknown_kinds:
    raise ValueError(f"fct_anomalies holds kinds this notebook cannot chart: {unknown_kinds}")
kind_order = {kind: position for position, kind in enumerate(ANOMALY_KINDS)}
anomalies_by_kind = anomalies_by_kind.sort_values(
    ["kind", "severity"],
    key=lambda column: column.map(kind_order) if column.name == "kind" else column,
).reset_index(drop=True)
display(
    table(
        anomalies_by_kind.assign(
            kind_severity=anomalies_by_kind["kind"] + " / " + anomalies_by_kind["severity"]
        ),
        {
            "kind_severity": "kind / severity",
            "anomalies": "anomalies",
            "chargers": "chargers",
            "outside_sessions": "outside a session",
            "total_duration_min": "total duration (min)",
            "longest_min": "longest (min)",
            "detectors": "found by",
        },
        {
            "anomalies": "count",
            "chargers": "count",
            "outside_sessions": "count",
            "total_duration_min": "min",
            "longest_min": "min",
        },
    )
)

# %% [markdown]
# One anomaly of each kind that `fct_anomalies` holds, chosen by the query
# `ANOMALY_EXAMPLES_SQL` of the loading cell: the most severe (critical before warning), ties broken
# by the lowest `anomaly_id` (a hash, the same in every build). Each chart shows the charger's
# readings (`fct_charging_profiles`, true time) from an hour before the anomaly's start to an hour
# after its end, with the anomaly's span shaded (`started_at` to `ended_at`) and gaps in the
# telemetry hatched; the anomaly's phase is drawn bold, the others faint. The top panel is the
# anomaly's `measure`; the bottom one what the detector weighs it against: the current (the load
# that a phase's learned voltage and temperature follow), the voltage for a phase loss (a phase
# whose voltage is gone lost its supply), the power for an energy mismatch, whose top panel is the
# session's accumulated energy (measured plus estimated across gaps) against the energy it reported.
#
# **Limits.** The horizontal lines are the mart's own evidence: `limit_value` (dashed), the limit
# that the rule of the anomaly's worst episode applied, and `expected_value` (dotted), what was
# expected at its worst reading. When a learned baseline found the worst episode, its limit is the
# edge of the phase's own band, not a fixed one. The fixed limits are vars that `fct_anomalies` does
# not carry as columns, so they are named here and not drawn: the EN 50160 band, Un ± var
# `voltage_band_share` around Un = var `nominal_voltage_v` (judged on 10-minute means), the deep
# limit Un ± var `voltage_deep_share` (judged on raw readings), the temperature limit var
# `temperature_limit_c` and the stop limit var `temperature_stop_c`. A stuck sensor has no limit:
# its rule is a duration (var `stuck_min_readings` readings over var `stuck_min_duration_s`). An
# energy mismatch's band is the briefing's `energy_mismatch_tolerance` around the reported energy.
#
# The marts hold readings only inside sessions: for an anomaly on an idle charger, outside every
# session, the chart shows its span over whatever readings of the charger lie around it, and its
# text says so.

# %% tags=["anomaly-examples"]
# What each detector checks, for the text under a chart (the rules themselves live in the models).
DETECTOR_RULES = {
    "voltage_10min_mean": "a 10-minute mean voltage outside the EN 50160 band",
    "voltage_deep_reading": "raw readings beyond the deep limit",
    "voltage_baseline": "a voltage away from what the phase's learned baseline expects at its "
    "current",
    "temperature_limit": "a sustained temperature at or above the temperature limit",
    "temperature_rise_rate": "a temperature rising faster than a steady load explains",
    "temperature_baseline": "a temperature above what the phase's learned rise per ampere explains",
    "phase_current_lost": "a phase without current while the two others charge",
    "voltage_frozen": "one voltage repeated on consecutive readings while the reading's other "
    "values move",
    "energy_reconciliation": "the briefing's energy mismatch: telemetry energy outside the "
    "tolerance around the reported energy",
}
# The panel under each measure: what the detector weighs the anomaly against.
CONTEXT_MEASURE = {"voltage_v": "current_a", "temperature_c": "current_a", "current_a": "voltage_v"}
MEASURE_UNITS = {"voltage_v": "V", "temperature_c": "°C", "current_a": "A"}
examples = sql("select * from anomaly_examples").sort_values(
    "kind", key=lambda column: column.map(kind_order)
)
example_readings = sql("select * from anomaly_readings")
session_tolerances = sql("""
select fct_session_briefings.session_id, fct_session_briefings.energy_mismatch_tolerance
from fct_session_briefings
inner join anomaly_examples on fct_session_briefings.session_id = anomaly_examples.session_id
""").set_index("session_id")["energy_mismatch_tolerance"]


def duration(seconds: float) -> str:
    """A duration for a sentence: minutes below an hour, else hours."""
    return f"{num(seconds / 60, 0)} min" if seconds < 3600 else f"{num(seconds / 3600)} h"


def with_breaks(readings: pd.DataFrame) -> pd.DataFrame:
    """``readings`` with a blank row just before each gap and each change of session, so that no
    line is drawn across lost telemetry or from one session into the next."""
    breaks = readings["is_gap_before"] | (readings["session_id"] != readings["session_id"].shift())
    breaks.iloc[:1] = False
    blanks = readings.loc[breaks, ["corrected_measured_at"]] - pd.Timedelta(milliseconds=1)
    return pd.concat([readings, blanks]).sort_values("corrected_measured_at", kind="stable")


def draw_phases(ax: plt.Axes, drawn: pd.DataFrame, measure: str, anomaly_phase: str) -> None:
    """Draw ``measure`` (such as ``voltage_v``) per phase, the anomaly's phase bold."""
    name, unit = measure.split("_")
    for phase in PHASES:
        column = f"{name}_{phase}_{unit}"
        if drawn[column].notna().any():
            is_anomaly_phase = phase.upper() == anomaly_phase
            ax.plot(
                drawn["corrected_measured_at"],
                drawn[column],
                color=PHASE_COLORS[phase],
                linewidth=1.6 if is_anomaly_phase else 0.8,
                alpha=1 if is_anomaly_phase else 0.4,
                label=phase.upper(),
            )
    ax.set_ylabel(f"{name} ({MEASURE_UNITS[measure]})")


def evidence(example: pd.Series, readings: pd.DataFrame) -> str:
    """What the detector saw, in the anomaly's own evidence values."""
    unit = MEASURE_UNITS.get(example.measure)
    worst, expected, limit = example.extreme_value, example.expected_value, example.limit_value
    expected_text = (
        f"{num(expected)} {unit} was expected (dotted)"
        if pd.notna(expected)
        else "no learned baseline was known yet"
    )
    if example.kind in ("voltage_sag", "voltage_swell"):
        moved = "fell" if example.kind == "voltage_sag" else "rose"
        return (
            f"At its worst the voltage of {example.phase} {moved} to {num(worst)} V, where "
            f"{expected_text}; the rule's limit was {num(limit)} V (dashed). The EN 50160 band "
            f"(var `nominal_voltage_v` ± var `voltage_band_share`) is not a column of the mart "
            f"and is not drawn."
        )
    if example.kind == "overheating":
        return (
            f"The sustained temperature of {example.phase} reached {num(worst)} °C, where the "
            f"phase's load explains {num(expected)} °C (dotted); the rule's limit was "
            f"{num(limit)} °C (dashed). The fixed limit (var `temperature_limit_c`) is not a "
            f"column of the mart and is not drawn. The current below is the load that heats the "
            f"terminals."
        )
    if example.kind == "phase_loss":
        return (
            f"The current of {example.phase} fell to {num(worst, 2)} A, at most its limit of "
            f"{num(limit, 2)} A (dashed), while the two other phases carried {num(expected, 2)} A "
            f"(dotted); below, the voltage of each phase."
        )
    if example.kind == "stuck_sensor":
        phase = example.phase.lower()
        inside = readings[
            readings["corrected_measured_at"].between(example.started_at, example.ended_at)
        ]
        others = inside[[f"voltage_{other}_v" for other in PHASES if other != phase]]
        return (
            f"The voltage of {example.phase} read {num(worst)} V on "
            f"{int((inside[f'voltage_{phase}_v'] == worst).sum())} of the {len(inside)} readings "
            f"of its span, while the other phases' voltages kept moving (faint, "
            f"{num(others.min().min())} V to {num(others.max().max())} V) and so did its current "
            f"({num(inside[f'current_{phase}_a'].min(), 2)} A to "
            f"{num(inside[f'current_{phase}_a'].max(), 2)} A, below). A stuck sensor has no limit "
            f"value."
        )
    if example.kind == "energy_mismatch":
        tolerance = session_tolerances[example.session_id]
        return (
            f"The session's telemetry accounts for {num(worst / 1000, 2)} kWh (measured plus "
            f"estimated across gaps, where the accumulated energy ends) against "
            f"{num(expected / 1000, 2)} kWh reported (ratio {worst / expected:.3f}); the band of "
            f"±{tolerance * 100:g} % around the reported energy ends at {num(limit / 1000, 2)} kWh "
            f"(dashed)."
        )
    raise ValueError(f"no chart for anomaly kind {example.kind}")


# The top panel of each chart, by kind.
anomaly_axes = {}
for _, example in examples.iterrows():
    readings = example_readings[example_readings["anomaly_id"] == example.anomaly_id]
    drawn = with_breaks(readings)
    found_by = "; ".join(
        f"`{detector}` ({DETECTOR_RULES.get(detector, 'see the README')})"
        for detector in example.detectors.split(",")
    )
    where = f"phase {example.phase}, " if pd.notna(example.phase) else ""
    if pd.isna(example.session_id):
        where += "outside every session"
        if readings.empty:
            readings_note = (
                " The marts hold no reading of this charger around it (readings are kept only "
                "inside sessions), so only its span is drawn."
            )
        else:
            readings_note = (
                " The readings drawn are those of the sessions around it: its own are not in the "
                "marts, which keep readings only inside sessions."
            )
    else:
        where += f"session {int(example.session_id)}"
        readings_note = ""
    display(
        Markdown(
            f"**{ANOMALY_KINDS[example.kind][0]}** (`{example.kind}`, {example.severity}): anomaly "
            f"`{example.anomaly_id}` on charger {example.charger_id}, {where}, from "
            f"{example.started_at:%Y-%m-%d %H:%M:%S} to {example.ended_at:%Y-%m-%d %H:%M:%S} UTC "
            f"({duration(example.duration_s)}). Found by {found_by}. "
            f"{evidence(example, readings)}{readings_note}"
        )
    )

    fig, (top_ax, bottom_ax) = plt.subplots(
        2, 1, figsize=(11, 6), sharex=True, height_ratios=(2, 1)
    )
    if example.kind == "energy_mismatch":
        # Accumulated energy is bridged across gaps (the estimate), as in section 3.
        session = readings[readings["session_id"] == example.session_id]
        top_ax.plot(
            session["corrected_measured_at"],
            session["accumulated_energy_kwh"],
            color="tab:brown",
            label="accumulated energy (measured + estimated)",
        )
        reported_kwh = example.expected_value / 1000
        tolerance = session_tolerances[example.session_id]
        top_ax.axhspan(
            reported_kwh * (1 - tolerance),
            reported_kwh * (1 + tolerance),
            color="tab:green",
            alpha=0.12,
            label=f"±{tolerance * 100:g} % tolerance",
        )
        top_ax.axhline(
            reported_kwh,
            color="black",
            linestyle=":",
            label=f"reported (expected_value, {reported_kwh:.2f} kWh)",
        )
        top_ax.axhline(
            example.limit_value / 1000,
            color="tab:red",
            linestyle="--",
            label=f"edge of the tolerance (limit_value, {example.limit_value / 1000:.2f} kWh)",
        )
        top_ax.set_ylabel("energy (kWh)")
        bottom_ax.plot(
            drawn["corrected_measured_at"], drawn["power_kw"], color="black", linewidth=0.9
        )
        bottom_ax.set_ylabel("total power (kW)")
    else:
        unit = MEASURE_UNITS[example.measure]
        draw_phases(top_ax, drawn, example.measure, example.phase)
        if pd.notna(example.expected_value):
            top_ax.axhline(
                example.expected_value,
                color="black",
                linestyle=":",
                label=f"expected at the worst reading (expected_value, "
                f"{example.expected_value:.1f} {unit})",
            )
        if pd.notna(example.limit_value):
            top_ax.axhline(
                example.limit_value,
                color="tab:red",
                linestyle="--",
                label=f"limit its rule applied (limit_value, {example.limit_value:.1f} {unit})",
            )
        draw_phases(bottom_ax, drawn, CONTEXT_MEASURE[example.measure], example.phase)
    for ax in (top_ax, bottom_ax):
        ax.axvspan(
            example.started_at,
            example.ended_at,
            color="tab:red",
            alpha=0.12,
            label="anomaly" if ax is top_ax else None,
        )
        if len(readings):
            ax.fill_between(
                readings["corrected_measured_at"],
                0,
                readings["is_gap_before"].astype(float),
                step="pre",
                transform=ax.get_xaxis_transform(),
                facecolor="none",
                edgecolor="tab:gray",
                hatch="xx",
                linewidth=0,
                label="gap in telemetry"
                if ax is top_ax and readings["is_gap_before"].any()
                else None,
            )
    margin = pd.Timedelta(minutes=ANOMALY_MARGIN_MIN)
    bottom_ax.set_xlim(example.started_at - margin, example.ended_at + margin)
    locator = mdates.AutoDateLocator()
    bottom_ax.xaxis.set_major_locator(locator)
    bottom_ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    bottom_ax.set_xlabel("time (UTC, true time)")
    top_ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="small")
    top_ax.set_title(
        f"{ANOMALY_KINDS[example.kind][0]} ({example.severity}) on charger {example.charger_id}"
        + (f", phase {example.phase}" if pd.notna(example.phase) else "")
        + (f", session {int(example.session_id)}" if pd.notna(example.session_id) else "")
    )
    fig.tight_layout()
    plt.show()
    anomaly_axes[example.kind] = top_ax

# %% tags=["answer"]
by_kind = anomalies_by_kind.groupby("kind", sort=False)["anomalies"].sum()
kind_counts = ", ".join(
    f"{count} {ANOMALY_KINDS[kind][count != 1].lower()}" for kind, count in by_kind.items()
)
fleet_anomalies = sql("""
select
    count(*) as anomalies,
    count(distinct charger_id) as chargers,
    count(*) filter (where severity = 'critical') as critical,
    count(*) filter (where session_id is null) as outside_sessions,
    sum(duration_s) as total_duration_s
from fct_anomalies
""").iloc[0]
if fleet_anomalies.anomalies:
    answer(
        f"The detectors found {int(fleet_anomalies.anomalies)} anomalies on "
        f"{int(fleet_anomalies.chargers)} chargers, {int(fleet_anomalies.critical)} of them "
        f"critical: {kind_counts}; together they last "
        f"{duration(fleet_anomalies.total_duration_s)}. "
        f"{int(fleet_anomalies.outside_sessions) or 'None'} of them lie outside every session. "
        f"One anomaly of each of the {len(examples)} kinds is charted above."
    )
else:
    answer("The detectors found 0 anomalies in this warehouse: there is nothing to chart.")

# %%
db.close()
