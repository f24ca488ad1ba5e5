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
export DBT_PROFILES_DIR := $(CURDIR)
export DBT_SEND_ANONYMOUS_USAGE_STATS := false

.PHONY: run test venv data lint bench-generator bench bench-anomalies clean

run: $(STAMP) data
	mkdir -p $(BUILD_DIR)
	$(BIN)/dbt build
	$(BIN)/dbt docs generate --static
	cp target/static_index.html $(BUILD_DIR)/docs.html
	$(BIN)/python -m chargerlogs.notebook --warehouse $(CHARGER_DUCKDB_PATH) --out $(BUILD_DIR)
	@echo ""
	@echo "Outputs:"
	@echo "  input data ($(DATA_ORIGIN)): $(CHARGER_DATA_DIR)"
	@echo "  DuckDB warehouse (open read-only in a BI tool): $(CHARGER_DUCKDB_PATH)"
	@echo "  dbt docs, one static HTML page: $(abspath $(BUILD_DIR))/docs.html"
	@echo "  executed notebook: $(abspath $(BUILD_DIR))/charging_analysis.ipynb"
	@echo "  notebook as HTML, charts embedded: $(abspath $(BUILD_DIR))/charging_analysis.html"

test: $(STAMP) lint
	mkdir -p $(BUILD_DIR)
	$(BIN)/pytest

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

bench-generator: $(STAMP)
	$(BIN)/python -m chargerlogs.bench_generator

bench: $(STAMP)
	$(BIN)/python -m chargerlogs.bench_models

# Datasets and warehouses go to build/bench-anomalies (ignored by git); a second run reuses the datasets.
bench-anomalies: $(STAMP)
	$(BIN)/python -m chargerlogs.bench_anomalies --work $(abspath $(BUILD_DIR))/bench-anomalies

clean:
	rm -rf $(BUILD_DIR) target logs
