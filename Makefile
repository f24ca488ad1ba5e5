# Two entry points: `make run` (build the warehouse on the default dataset) and `make test`.
# Both bootstrap a local virtualenv from the pinned dependency files; nothing else is needed.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# The data folder: DATA_DIR, else CHARGER_DATA_DIR, else the project's own generated dataset.
DEFAULT_DATA_DIR := data/default
DATA_DIR ?= $(or $(CHARGER_DATA_DIR),$(DEFAULT_DATA_DIR))
BUILD_DIR ?= build
export CHARGER_DATA_DIR := $(abspath $(DATA_DIR))
export CHARGER_DUCKDB_PATH ?= $(abspath $(BUILD_DIR))/charger_telemetry.duckdb
# The serving copy of the marts that BI tools, the notebook and the app open (chargerlogs.publish).
PUBLISHED_DUCKDB_PATH ?= $(abspath $(BUILD_DIR))/published/charger_telemetry.duckdb
# The lake: bronze (make land), silver and gold (exported by make run) Parquet.
LAKE_DIR := $(or $(CHARGER_LAKE_DIR),$(abspath $(BUILD_DIR))/lake)
export DBT_PROFILES_DIR := $(CURDIR)
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
# dbt vars for this build, such as VARS='{big_change_threshold_pct: 20}'; the marts carry the values
# they were built with, so the docs and the notebook follow.
VARS ?=
DBT_VARS := $(if $(VARS),--vars '$(VARS)')

.PHONY: land run test schema-check venv data lint bench-generator bench bench-spark bench-anomalies bench-live bench-lake live system-packages store-packages serve serve-live serve-stop bench-serve clean

run: $(STAMP) data
	mkdir -p $(BUILD_DIR)
	$(if $(VARS),$(BIN)/python -m chargerlogs.project_vars '$(VARS)')
	$(if $(CHARGER_LAKE_DIR),$(BIN)/python -m chargerlogs.land --data $(CHARGER_DATA_DIR) --lake $(CHARGER_LAKE_DIR) --quiet)
	$(BIN)/dbt build --full-refresh $(DBT_VARS)
	$(BIN)/python -m chargerlogs.publish --warehouse $(CHARGER_DUCKDB_PATH) --out $(PUBLISHED_DUCKDB_PATH)
	$(BIN)/python -m chargerlogs.lake_export --warehouse $(CHARGER_DUCKDB_PATH) --lake $(LAKE_DIR)
	$(BIN)/dbt docs generate --static $(DBT_VARS)
	cp target/static_index.html $(BUILD_DIR)/docs.html
	$(BIN)/python -m chargerlogs.notebook --warehouse $(PUBLISHED_DUCKDB_PATH) --out $(BUILD_DIR)
	@echo ""
	@echo "Outputs:"
	@echo "  input data ($(DATA_ORIGIN)): $(CHARGER_DATA_DIR)"
	@echo "  DuckDB warehouse, dbt's own file (every layer; keep BI tools off it): $(CHARGER_DUCKDB_PATH)"
	@echo "  serving copy of the marts for BI tools (open read-only; DuckDB 1.0 or later): $(PUBLISHED_DUCKDB_PATH)"
	@echo "  Parquet lake for other engines and EDA (silver readings, gold marts, by day): $(LAKE_DIR)"
	@echo "  dbt docs, one static HTML page: $(abspath $(BUILD_DIR))/docs.html"
	@echo "  executed notebook: $(abspath $(BUILD_DIR))/charging_analysis.ipynb"
	@echo "  notebook as HTML, charts embedded: $(abspath $(BUILD_DIR))/charging_analysis.html"

test: $(STAMP) lint schema-check system-packages
	mkdir -p $(BUILD_DIR)
	$(BIN)/pytest

# Before deploying a schema change (docs/schema_policy.md): the latest version of each schema in
# schemas/ must be backward compatible with the one before it, and every drift case (a kind of change
# a producer can make) must end as documented when fed through staging with dbt (about 20 s).
schema-check: $(STAMP)
	$(BIN)/python -m chargerlogs.schema_check

# PostgreSQL (the dashboard's serving store), Chromium (its browser tests) and a Java runtime
# (Spark), from Debian's packages, installed only when missing (needs root then). The dashboard's
# own targets need only PostgreSQL (store-packages).
system-packages:
	scripts/install_system_packages.sh

store-packages:
	scripts/install_system_packages.sh postgresql

# The benchmark's reference statement (chargerlogs/bench) is plain DuckDB SQL, not part of the dbt
# project: it is linted with the same rules and no templater.
lint: $(STAMP)
	mkdir -p $(BUILD_DIR)
	$(BIN)/ruff check chargerlogs tests notebooks
	$(BIN)/ruff format --check chargerlogs tests notebooks
	$(BIN)/sqlfluff lint models analyses tests
	$(BIN)/sqlfluff lint --templater raw chargerlogs/bench

venv: $(STAMP)

$(STAMP): requirements.txt constraints.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt -c constraints.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

# make generates only its own folder, data/default (--force: regenerate it if a run stopped
# half-way). Any other data folder is read as it is, never written.
ifeq ($(abspath $(DATA_DIR)),$(abspath $(DEFAULT_DATA_DIR)))
DATA_ORIGIN := generated, seed 42
data: $(DEFAULT_DATA_DIR)/_generator/manifest.json

$(DEFAULT_DATA_DIR)/_generator/manifest.json: | $(STAMP)
	$(BIN)/chargerlogs-generate --out $(DEFAULT_DATA_DIR) --seed 42 --force
else
DATA_ORIGIN := your own folder, read only
data:
	@test -d "$(CHARGER_DATA_DIR)/charger_log_status" && test -d "$(CHARGER_DATA_DIR)/charger_log_session" \
		|| { echo "make: $(CHARGER_DATA_DIR) has no charger_log_status/ and charger_log_session/ to read" >&2; exit 1; }
endif

# Land the data folder's new files into the lake (default build/lake): `make land`, then
# `CHARGER_LAKE_DIR=$PWD/build/lake make run` builds from the bronze files.
land: $(STAMP) data
	$(BIN)/python -m chargerlogs.land --data $(CHARGER_DATA_DIR) --lake $(LAKE_DIR)

# Bytes per reading and one EDA query on the JSON, the lake's layers and the warehouse.
bench-lake: $(STAMP)
	test -f $(CHARGER_DUCKDB_PATH) || $(MAKE) run
	test -f $(LAKE_DIR)/ledger.parquet || $(MAKE) land
	$(BIN)/python -m chargerlogs.bench_lake --data $(CHARGER_DATA_DIR) --lake $(LAKE_DIR) --warehouse $(CHARGER_DUCKDB_PATH)

bench-generator: $(STAMP)
	$(BIN)/python -m chargerlogs.bench_generator

bench: $(STAMP)
	$(BIN)/python -m chargerlogs.bench_models

# The same dbt build (seeds and models) on make bench's dataset on DuckDB and on a local Spark
# (dbt --target spark, docs/spark.md): seconds and lines per second and core of each stage.
bench-spark: $(STAMP)
	$(BIN)/python -m chargerlogs.bench_spark

# The per-session dashboard on the warehouse that `make run` built: starts the PostgreSQL serving
# store (created under build/portal_db), publishes the marts into it, prints the address and a demo
# user's token, and serves until interrupted. `make serve-stop` stops the store (and that of
# `make live STORE=1`).
SERVE_PORT ?= 8000

serve: $(STAMP) store-packages
	test -f $(CHARGER_DUCKDB_PATH) || $(MAKE) run
	$(BIN)/python -m chargerlogs.serving.serve --warehouse $(CHARGER_DUCKDB_PATH) --port $(SERVE_PORT)

serve-stop: $(STAMP)
	$(BIN)/python -m chargerlogs.serving.serve --stop
	$(BIN)/python -m chargerlogs.serving.serve --stop $(LIVE_STORE_OPTIONS)

# Session page API latency under 20 concurrent clients for 30 s, on the largest session.
bench-serve: $(STAMP) store-packages
	test -f $(CHARGER_DUCKDB_PATH) || $(MAKE) run
	$(BIN)/python -m chargerlogs.serving.bench --warehouse $(CHARGER_DUCKDB_PATH)
# Datasets and warehouses go to build/bench-anomalies (ignored by git); a second run reuses the datasets.
bench-anomalies: $(STAMP)
	$(BIN)/python -m chargerlogs.bench_anomalies --work $(abspath $(BUILD_DIR))/bench-anomalies

# The near-real-time loop on a live feed: the generator writes one-minute batches of the default
# fleet into build/live/data (LIVE_SPEED simulated seconds per wall second), and the loop lands,
# builds incrementally and publishes build/live/published/charger_telemetry.duckdb, one line per
# batch, for LIVE_SECONDS wall seconds. Starts from scratch each time.
# STORE=1: also publish every batch into a serving store of its own (build/live/portal_db, port
# LIVE_STORE_PORT; started as make serve starts its store, and left running): `make serve-live`
# serves the dashboard on it, during the run or after. ALERTS=1: append the anomaly alerts of every
# whole-project batch to build/live/alerts.jsonl; ALERTS_WEBHOOK=URL: also POST them there.
LIVE_DIR ?= $(abspath $(BUILD_DIR))/live
LIVE_SECONDS ?= 120
LIVE_SPEED ?= 15
LIVE_STORE := $(LIVE_DIR)/portal_db
LIVE_STORE_PORT ?= 54330
LIVE_STORE_OPTIONS := --store $(LIVE_STORE) --store-port $(LIVE_STORE_PORT) --tokens $(LIVE_DIR)/demo_tokens.json
live: $(STAMP) $(if $(STORE),store-packages)
	$(if $(STORE),$(BIN)/python -m chargerlogs.serving.serve --stop $(LIVE_STORE_OPTIONS) >/dev/null)
	rm -rf $(LIVE_DIR)
	mkdir -p $(LIVE_DIR)
	$(BIN)/chargerlogs-generate --out $(LIVE_DIR)/data --seed 42 --live --speed $(LIVE_SPEED) \
		--duration-minutes 1440 --quiet & \
	generator=$$!; \
	$(BIN)/python -m chargerlogs.live_loop --data $(LIVE_DIR)/data --lake $(LIVE_DIR)/lake \
		--warehouse $(LIVE_DIR)/charger_telemetry.duckdb \
		--published $(LIVE_DIR)/published/charger_telemetry.duckdb \
		--seconds $(LIVE_SECONDS) --dbt-dir $(LIVE_DIR)/dbt $(if $(VARS),--vars '$(VARS)') \
		$(if $(STORE),$(LIVE_STORE_OPTIONS)) \
		$(if $(or $(ALERTS),$(ALERTS_WEBHOOK)),--alerts-file $(LIVE_DIR)/alerts.jsonl) \
		$(if $(ALERTS_WEBHOOK),--alerts-webhook '$(ALERTS_WEBHOOK)'); \
	status=$$?; kill $$generator 2>/dev/null; wait $$generator 2>/dev/null; exit $$status

# The dashboard on the live loop's store (make live STORE=1), as it is: nothing is published first.
serve-live: $(STAMP) store-packages
	$(BIN)/python -m chargerlogs.serving.serve --no-publish $(LIVE_STORE_OPTIONS) --port $(SERVE_PORT)

# Per-batch cost and latency of the live loop at 1,000 chargers, and its growth with history
# (1 day against BENCH_LIVE_HISTORY_DAYS days of 100 chargers; 30 holds 8.6 M lines in memory).
BENCH_LIVE_HISTORY_DAYS ?= 7
bench-live: $(STAMP)
	mkdir -p $(BUILD_DIR)
	$(BIN)/python -m chargerlogs.bench_live --work $(abspath $(BUILD_DIR)) --long-history-days $(BENCH_LIVE_HISTORY_DAYS)

clean:
	rm -rf $(BUILD_DIR) target logs
