"""The near-real-time loop: land new files, build incrementally, publish, one line per batch.

Usage: ``python -m chargerlogs.live_loop --data DIR --lake DIR --warehouse FILE --published FILE``
(``--help`` explains every option); ``make live`` runs it next to the live generator.

Each turn of the loop lands the files that arrived in the data folder since the last turn
(:mod:`chargerlogs.land`: each file once, into the lake's bronze layer), builds the warehouse
incrementally with dbt, invoked in this one long-lived process (the project is parsed once, not per
batch), publishes the serving copy (:mod:`chargerlogs.publish`, an atomic swap that readers never
see half-done; the marts rebuilt session by session are updated session by session), and prints
one progress line: the batch's files and lines, the seconds of each step, and the latency from the
moment its oldest file landed in the folder to the moment the published copy held it. The
dashboard's marts are built every batch; every ``--full-every`` batches the whole project is (the
fleet, data-quality and anomaly marts); each incremental model takes in all the changes since its
own last build, so a model built less often catches up exactly.

dbt-duckdb keeps its database open between invocations; the loop closes it after each build so that
the publication (and any other process) can read the file. The views (the staging models, which read
the input files at query time, and the de-duplicated readings) are created once per process, by
the first build that needs them: their SQL is fixed once the project is parsed, so creating them
again at every batch would only cost time.

Two sinks, each off unless its option is given:

- ``--store DIR`` (with ``--store-port`` and ``--tokens``): after each publication the loop
  publishes the dashboard's marts into the PostgreSQL serving store of the per-session dashboard
  (:mod:`chargerlogs.serving.publish`: only the sessions whose content changed are written, in one
  transaction), the sessions still charging among them, marked in progress. The server is started
  (and created) when the loop starts. The progress line adds the seconds of that step and the
  latency from landing to the store holding the batch. A failed publication is reported in one line
  and made good by the next batch's.
- ``--alerts-file FILE`` (and ``--alerts-webhook URL``): after each run that built the anomaly
  models, every anomaly new or changed since it was last emitted is appended to the JSON Lines file
  and sent to the webhook (:mod:`chargerlogs.alerts`). The progress line adds the alerts emitted
  and the detection latency: from the landing of the oldest file not yet examined by the anomaly
  models to the alerts being written. A failing webhook is reported in one line; its alerts are sent
  again after the next batch.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from chargerlogs import alerts, land, project_vars, publish
from chargerlogs.cli import OneLineErrorParser, non_negative_int, positive_int
from chargerlogs.serving import marts
from chargerlogs.serving import publish as store_publish

PROG = "python -m chargerlogs.live_loop"
PROJECT_DIR = Path(__file__).resolve().parents[1]
# What the per-session dashboard reads, with every model upstream of it, and the line ledger.
HOT_SELECTION = (
    "+fct_session_briefings",
    "+fct_charging_profiles",
    "+rpt_big_changes",
    "+rpt_compressed_charging_profiles",
    "+fct_sessions_in_progress",
    "+fct_charging_profiles_in_progress",
    "+fct_charger_summaries",
    "int_log_lines_classified",
)

Say = Callable[[str], None]


class LoopError(Exception):
    """A build or a publication that failed: the message names the step."""


@dataclass
class AlertsReport:
    """The alerts one turn emitted after an anomaly build."""

    new: int
    updated: int
    seconds: float
    latency_s: float


@dataclass
class BatchReport:
    """What one turn of the loop did and how long each step took."""

    number: int
    files: int
    lines: int
    selection: str
    land_s: float
    build_s: float
    publish_s: float
    latency_s: float
    store_s: float | None = None
    store_latency_s: float | None = None
    alerts: AlertsReport | None = None
    # what went wrong in a sink (the loop goes on), one line each
    notes: list[str] = field(default_factory=list)

    def line(self) -> str:
        text = (
            f"batch {self.number}: {self.files} files, {self.lines:,} lines, "
            f"land {self.land_s:.2f} s, "
            f"dbt {self.selection} {self.build_s:.2f} s, publish {self.publish_s:.2f} s, "
            f"landed-to-published {self.latency_s:.2f} s"
        )
        if self.store_s is not None and self.store_latency_s is not None:
            text += f", store {self.store_s:.2f} s, landed-to-store {self.store_latency_s:.2f} s"
        if self.alerts is not None:
            emitted = self.alerts.new + self.alerts.updated
            text += (
                f", alerts {emitted} ({self.alerts.new} new, {self.alerts.updated} updated) "
                f"{self.alerts.seconds:.2f} s, landed-to-alert {self.alerts.latency_s:.2f} s"
            )
        return text


@dataclass
class LoopSummary:
    """Every batch of a run of the loop."""

    batches: list[BatchReport] = field(default_factory=list)

    def percentile(self, values: list[float], share: float) -> float:
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]

    def latency_line(self, name: str, values: list[float]) -> str:
        return (
            f"{name} latency: p50 {statistics.median(values):.2f} s, "
            f"p95 {self.percentile(values, 0.95):.2f} s, max {max(values):.2f} s"
        )

    def lines(self) -> list[str]:
        if not self.batches:
            return ["no batch arrived"]
        wall = [
            batch.land_s + batch.build_s + batch.publish_s + (batch.store_s or 0.0)
            for batch in self.batches
        ]
        lines = [
            f"{len(self.batches)} batches, {sum(b.lines for b in self.batches):,} lines",
            f"per-batch wall time: p50 {statistics.median(wall):.2f} s, "
            f"p95 {self.percentile(wall, 0.95):.2f} s",
            self.latency_line("landed-to-published", [batch.latency_s for batch in self.batches]),
        ]
        stored = [b.store_latency_s for b in self.batches if b.store_latency_s is not None]
        if stored:
            lines.append(self.latency_line("landed-to-store", stored))
        checked = [batch.alerts for batch in self.batches if batch.alerts is not None]
        if checked:
            emitted = [report for report in checked if report.new + report.updated]
            lines.append(
                f"alerts: {sum(r.new for r in checked)} new, {sum(r.updated for r in checked)} "
                f"updated, after {len(checked)} anomaly builds"
            )
            if emitted:
                lines.append(self.latency_line("landed-to-alert", [r.latency_s for r in emitted]))
        return lines


class Warehouse:
    """dbt on this project in this process: parsed once, its database released after each build.

    The parse writes the manifest (target/manifest.json) once; the builds write no JSON artifacts
    (``--no-write-json``): dbt would otherwise serialise the whole manifest again, and the run
    results, at the end of every batch, in the loop's critical path. The results are read from
    each invocation's return value instead, and the compiled SQL is still written.
    """

    def __init__(self, target_path: Path, log_path: Path, vars_yaml: str | None = None) -> None:
        from dbt.cli.main import dbtRunner

        self.common = [
            "--project-dir",
            str(PROJECT_DIR),
            "--profiles-dir",
            str(PROJECT_DIR),
            "--target-path",
            str(target_path),
            "--log-path",
            str(log_path),
            "--quiet",
        ]
        if vars_yaml:
            self.common += ["--vars", vars_yaml]
        parsed = dbtRunner().invoke(["parse", *self.common])
        if not parsed.success:
            raise LoopError(f"dbt parse failed: {parsed.exception}")
        self.runner = dbtRunner(manifest=parsed.result)
        self.publication_scope = session_scope(parsed.result)
        # the selections whose views this process has created: "dashboard", "all"
        self.views_created: set[str] = set()

    def build(self, *, whole: bool) -> None:
        """Run the whole project, or the dashboard's marts and what they read. The views of a
        selection are created by its first build in this process only (their SQL cannot change
        while it runs); the whole project's include the dashboard's."""
        selection = "all" if whole else "dashboard"
        args = ["run"] if whole else ["run", "--select", *HOT_SELECTION]
        if selection in self.views_created or "all" in self.views_created:
            args += ["--exclude", "config.materialized:view"]
        elif self.views_created:  # the whole project after the dashboard: the views not yet made
            args += ["--exclude", *(f"config.materialized:view,{item}" for item in HOT_SELECTION)]
        self.invoke(*args)
        self.views_created.add(selection)

    def invoke(self, *args: str) -> None:
        try:
            result = self.runner.invoke([*args, *self.common, "--no-write-json"])
        finally:
            _release_database()
        if not result.success:
            failed = [
                f"{item.node.name}: {str(item.message).splitlines()[0] if item.message else ''}"
                for item in (result.result or [])
                if str(item.status) in ("error", "fail")
            ]
            raise LoopError(f"dbt {args[0]} failed: {'; '.join(failed) or result.exception}")


def session_scope(manifest: Any) -> publish.ChangeScope | None:
    """The marts rebuilt session by session (their meta says so), for the serving copy's update."""
    models = [node for node in manifest.nodes.values() if node.resource_type == "model"]
    scoped = [node for node in models if node.config.meta.get("rebuilt_by") == "session_id"]
    changes = {node.config.meta["rebuilt_when_refreshed"] for node in scoped}
    if len(changes) != 1:
        return None
    (changed,) = changes
    (source,) = [node for node in models if node.name == changed]
    return publish.ChangeScope(
        frozenset(f"{node.schema}.{node.alias}" for node in scoped),
        "session_id",
        f"{source.schema}.{source.alias}",
    )


def _release_database() -> None:
    """Close the DuckDB database dbt-duckdb keeps open, so that other readers can open the file."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    environment = DuckDBConnectionManager._ENV
    DuckDBConnectionManager.close_all_connections()
    if environment is not None:
        environment.close()


class StoreFeed:
    """The per-session dashboard's serving store, into which each batch's marts are published."""

    def __init__(self, owner_conninfo: str, token_file: Path) -> None:
        self.owner = owner_conninfo
        self.token_file = token_file

    def feed(self, published: Path) -> store_publish.PublishReport:
        """Publish the marts of the serving copy ``published`` into the store (what changed)."""
        return store_publish.publish(marts.read_marts(published), self.owner, self.token_file)


class AlertSink:
    """The alerts file and, when given, the webhook."""

    def __init__(self, path: Path, webhook_url: str | None) -> None:
        self.log = alerts.AlertLog(path)
        self.webhook = alerts.Webhook(webhook_url, path) if webhook_url else None

    def emit(self, published: Path) -> tuple[int, int]:
        """Append the alerts of the anomalies new or changed in ``published``: (new, updated)."""
        due = self.log.changes(alerts.read_anomalies(published))
        self.log.append(due, datetime.now(UTC))
        new = sum(alert["alert"] == "new" for alert in due)
        return new, len(due) - new

    def deliver(self) -> str | None:
        """Send the pending alerts to the webhook; a line saying why when it failed."""
        if self.webhook is None:
            return None
        delivery = self.webhook.deliver()
        if delivery.error is None:
            return None
        return (
            f"webhook {self.webhook.url} failed ({delivery.error}): {delivery.pending} alerts "
            "pending, sent again after the next batch"
        )


@dataclass
class Sinks:
    """Where each batch goes after its publication, besides the serving copy."""

    store: StoreFeed | None = None
    alerts: AlertSink | None = None
    # when the oldest landed file that no anomaly build has examined yet arrived (UNIX s)
    unexamined_since: float | None = None

    def after_publication(
        self, report: BatchReport, published: Path, *, whole: bool, oldest_arrival: float
    ) -> None:
        """Feed the store and emit the alerts of a published batch, filling in ``report``."""
        if self.store is not None:
            started = time.monotonic()
            try:
                self.store.feed(published)
                report.store_latency_s = time.time() - oldest_arrival
            except store_publish.STORE_ERRORS as error:
                report.notes.append(
                    f"store failed ({str(error).splitlines()[0]}): published again after the "
                    "next batch"
                )
            report.store_s = time.monotonic() - started
        if self.alerts is None:
            return
        if self.unexamined_since is None or oldest_arrival < self.unexamined_since:
            self.unexamined_since = oldest_arrival
        if whole:
            started = time.monotonic()
            try:
                new, updated = self.alerts.emit(published)
            except alerts.AlertError as error:
                report.notes.append(f"alerts failed ({error}): examined again after the next build")
            else:
                report.alerts = AlertsReport(
                    new=new,
                    updated=updated,
                    seconds=time.monotonic() - started,
                    latency_s=time.time() - self.unexamined_since,
                )
                self.unexamined_since = None
        failure = self.alerts.deliver()
        if failure:
            report.notes.append(failure)


def turn(
    data: Path,
    lake: Path,
    warehouse: Warehouse,
    warehouse_file: Path,
    published: Path,
    *,
    number: int,
    whole: bool,
    sinks: Sinks | None = None,
) -> BatchReport | None:
    """One turn: land what arrived, build, publish, feed the sinks; None when nothing arrived."""
    folders = [data / stream for stream in land.STREAMS]
    if not any(folder.is_dir() for folder in folders):
        return None  # the feed has not started (it refuses a folder it did not create)
    for folder in folders:
        folder.mkdir(exist_ok=True)
    started = time.monotonic()
    landed = land.land(str(data), lake, say=False)
    land_s = time.monotonic() - started
    if not landed:
        return None
    oldest_arrival = min(os.stat(row.source_file).st_mtime for row in landed)
    build_started = time.monotonic()
    warehouse.build(whole=whole)
    build_s = time.monotonic() - build_started
    publish_started = time.monotonic()
    publish.publish(warehouse_file, published, scope=warehouse.publication_scope)
    publish_s = time.monotonic() - publish_started
    report = BatchReport(
        number=number,
        files=len(landed),
        lines=sum(row.line_count for row in landed),
        selection="all" if whole else "dashboard",
        land_s=land_s,
        build_s=build_s,
        publish_s=publish_s,
        latency_s=time.time() - oldest_arrival,
    )
    if sinks is not None:
        sinks.after_publication(report, published, whole=whole, oldest_arrival=oldest_arrival)
    return report


def run_loop(
    data: Path,
    lake: Path,
    warehouse: Warehouse,
    published: Path,
    warehouse_file: Path,
    *,
    seconds: float,
    poll_s: float,
    full_every: int,
    until_idle_s: float | None,
    say: Say,
    sinks: Sinks | None = None,
) -> LoopSummary:
    """Turn until ``seconds`` have passed (or no file came for ``until_idle_s``); the summary."""
    summary = LoopSummary()
    stop = {"now": False}

    def on_signal(number: int, frame: FrameType | None) -> None:
        stop["now"] = True

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        warehouse.invoke("seed")
        began = last_arrival = time.monotonic()
        while not stop["now"] and time.monotonic() - began < seconds:
            number = len(summary.batches) + 1
            whole = full_every > 0 and number % full_every == 0
            report = turn(
                data,
                lake,
                warehouse,
                warehouse_file,
                published,
                number=number,
                whole=whole,
                sinks=sinks,
            )
            if report is None:
                if until_idle_s is not None and time.monotonic() - last_arrival > until_idle_s:
                    break
                time.sleep(poll_s)
                continue
            last_arrival = time.monotonic()
            summary.batches.append(report)
            say(report.line())
            for note in report.notes:
                say(f"batch {report.number}: {note}")
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return summary


def build_parser() -> OneLineErrorParser:
    """The command line."""
    parser = OneLineErrorParser(
        prog=PROG,
        description="Land new files, build the warehouse incrementally, publish; batch by batch.",
    )
    parser.add_argument(
        "--data", required=True, type=Path, help="the landing (data) folder to watch"
    )
    parser.add_argument("--lake", required=True, type=Path, help="the lake folder (bronze, ledger)")
    parser.add_argument("--warehouse", required=True, type=Path, help="dbt's DuckDB file")
    parser.add_argument(
        "--published", required=True, type=Path, help="the serving copy swapped in after each batch"
    )
    parser.add_argument(
        "--seconds", type=positive_int, default=120, help="how long to run, in seconds (120)"
    )
    parser.add_argument(
        "--until-idle",
        type=positive_int,
        default=None,
        help="stop earlier when no file has arrived for this many seconds",
    )
    parser.add_argument(
        "--poll", type=float, default=0.5, help="seconds between two looks at the folder (0.5)"
    )
    parser.add_argument(
        "--full-every",
        type=non_negative_int,
        default=10,
        help="build the whole project every this many batches, the dashboard's marts in "
        "between (10; 0: never)",
    )
    parser.add_argument("--vars", default=None, help="dbt vars, as for dbt --vars")
    parser.add_argument(
        "--dbt-dir", type=Path, default=Path("build/live_dbt"), help="dbt's target and log folder"
    )
    store = parser.add_argument_group(
        "serving store",
        "Publish every batch into the PostgreSQL serving store of the per-session dashboard "
        "(chargerlogs.serving), sessions in progress included.",
    )
    # the same options as python -m chargerlogs.serving.publish, the store off by default
    store_publish.add_server_arguments(
        store,
        store_default=None,
        store_help="folder of the store's local PostgreSQL server (data, socket, log, passwords), "
        "started and created if needed; the store is fed only when this is given",
    )
    sink = parser.add_argument_group(
        "anomaly alerts",
        "After each whole-project run (--full-every), emit every anomaly of fct_anomalies that is "
        "new or whose end, severity or openness changed since it was last emitted.",
    )
    sink.add_argument(
        "--alerts-file",
        type=Path,
        default=None,
        help="JSON Lines file the alerts are appended to, one anomaly per line with emitted_at; "
        "also the memory of what was emitted, read back on start",
    )
    sink.add_argument(
        "--alerts-webhook",
        type=webhook_url,
        default=None,
        metavar="URL",
        help='also POST the alerts as JSON {"alerts": [...]} to this http(s) URL; a failed '
        "POST is reported and sent again after the next batch (needs --alerts-file)",
    )
    return parser


def webhook_url(text: str) -> str:
    """An argparse type: an http or https URL with a host."""
    try:
        return alerts.check_webhook_url(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def open_sinks(options: argparse.Namespace) -> Sinks:
    """The sinks the options ask for: the store started and brought up to date, the alerts file
    read back."""
    sinks = Sinks()
    if options.store is not None:
        sinks.store = StoreFeed(store_publish.open_store(options).owner, options.tokens)
    if options.alerts_file is not None:
        sinks.alerts = AlertSink(options.alerts_file, options.alerts_webhook)
    return sinks


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code (1 with one line on stderr when a step fails)."""
    parser = build_parser()
    options = parser.parse_args(argv)
    if options.vars is not None:
        try:
            project_vars.check_vars(options.vars)
        except ValueError as error:
            parser.error(f"--vars: {error}")
    if options.alerts_webhook and options.alerts_file is None:
        parser.error("--alerts-webhook needs --alerts-file (the alerts it is sent)")
    if options.alerts_file is not None and options.full_every == 0:
        parser.error("--alerts-file needs --full-every 1 or more: only whole runs find anomalies")
    fatal = (
        LoopError,
        land.LandingError,
        publish.PublishError,
        alerts.AlertError,
        ValueError,
        *store_publish.STORE_ERRORS,
    )
    options.lake.mkdir(parents=True, exist_ok=True)
    options.published.parent.mkdir(parents=True, exist_ok=True)
    os.environ["CHARGER_DATA_DIR"] = str(options.data.resolve())
    os.environ["CHARGER_LAKE_DIR"] = str(options.lake.resolve())
    os.environ["CHARGER_DUCKDB_PATH"] = str(options.warehouse.resolve())

    def say(line: str) -> None:
        print(line, flush=True)

    try:
        sinks = open_sinks(options)
        warehouse = Warehouse(options.dbt_dir / "target", options.dbt_dir / "logs", options.vars)
        say(f"{PROG}: watching {options.data} for {options.seconds} s")
        summary = run_loop(
            options.data,
            options.lake,
            warehouse,
            options.published,
            options.warehouse,
            seconds=options.seconds,
            poll_s=options.poll,
            full_every=options.full_every,
            until_idle_s=options.until_idle,
            say=say,
            sinks=sinks,
        )
    except fatal as error:
        print(f"{PROG}: error: {str(error).splitlines()[0]}", file=sys.stderr)
        return 1
    for line in summary.lines():
        say(f"{PROG}: {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
