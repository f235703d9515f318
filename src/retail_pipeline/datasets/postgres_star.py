"""PostgresStarSchemaDataset: save a star-schema load into PostgreSQL in bulk, atomically, once.

kedro-datasets' SQL datasets append or replace whole tables; a warehouse needs upserts and
"replace this day". This dataset saves the dict `build_star_schema` returns::

    {"run_id": str, "window": {"start": "YYYY-MM-DD", "end": "YYYY-MM-DD"},
     "dimensions": {"dim_retailer": df, "dim_product": df, "dim_customer": df, "dim_store": df},
     "facts": df, "quarantine": df, "audit": df,
     "fact_loss": {"max_share": 0.5, "accept": false | ["retailer_code:YYYY-MM-DD", ...]}}

in ONE transaction (a failure anywhere leaves the warehouse as it was), serialised by a row
lock on load_lock (which bi_reader cannot take). The steps live in retail_pipeline.warehouse,
their SQL in sql/warehouse/load/:

1. dimensions (warehouse.dimensions);
2. every window day rebuilt in a fresh standalone table: COPY, indexes, bounds (warehouse.days);
3. exactly once (warehouse.exactly_once): compare the window's facts with the load's lines,
   refuse a day losing too much, record what leaves in fact_sales_changes, keep fact_sales_key
   in step, move lines that now live in the window out of their old day;
4. marts of the window's days and of the days a move touched (warehouse.marts);
5. the swap: each day's old partition detached and dropped, the new one attached;
6. quarantine rows of the window's days replaced, one `load_audit` row per retailer and day.

A rerun of a window makes it exactly what the raw zone says and touches no other day except to
remove a line that moved into the window. A failure ends in one line naming the cause
(warehouse.failures). `load()` returns the `load_audit` rows of the last load.

Catalog::

    warehouse_star_schema:
      type: retail_pipeline.datasets.postgres_star.PostgresStarSchemaDataset
      credentials: warehouse          # {con: postgresql+psycopg2://retail_loader:...}
      save_args: {lock_timeout: 60s}
"""

from __future__ import annotations

import logging
import time
from contextlib import closing
from datetime import date, timedelta
from typing import Any

import pandas as pd
import psycopg2
import psycopg2.errors
from kedro.io.core import AbstractDataset, DatasetError

from retail_pipeline.warehouse import days as day_tables
from retail_pipeline.warehouse.dimensions import upsert_dimensions
from retail_pipeline.warehouse.exactly_once import FactLossPolicy, maintain_keys
from retail_pipeline.warehouse.failures import LockWatcher, connection_lost, describe_lock_wait, server_says
from retail_pipeline.warehouse.marts import refresh_marts
from retail_pipeline.warehouse.pgcopy import copy_frame, frame_to_csv, mask, to_dsn
from retail_pipeline.warehouse.quarantine import replace_quarantine_and_audit, stage_quarantine
from retail_pipeline.warehouse.sqlfiles import text

logger = logging.getLogger(__name__)

# Kept importable from here (benchmarks, notebooks).
FACT_COPY_COLUMNS = day_tables.FACT_COPY_COLUMNS
_PARTITION_INDEXES = day_tables.PARTITION_INDEXES
__all__ = ["PostgresStarSchemaDataset", "copy_frame", "frame_to_csv", "to_dsn", "FACT_COPY_COLUMNS"]


class PostgresStarSchemaDataset(AbstractDataset[dict, pd.DataFrame]):
    """Bulk, atomic, idempotent star-schema load into PostgreSQL (see the module docstring)."""

    def __init__(
        self,
        credentials: dict[str, Any],
        save_args: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ):
        if not credentials or not credentials.get("con"):
            raise DatasetError(
                "PostgresStarSchemaDataset needs credentials with 'con' (the warehouse entry of "
                "conf/local/credentials.yml, written by `make up`).")
        self._con = credentials["con"]
        self._save_args = {"lock_timeout": "60s", "maintenance_work_mem": None, **(save_args or {})}
        self.metadata = metadata
        self.timings: dict[str, float] = {}
        self.changes: dict[str, int] = {}

    def _describe(self) -> dict[str, Any]:
        return {"con": mask(self._con), "save_args": self._save_args}

    def _connect(self, **kwargs):
        try:
            return psycopg2.connect(to_dsn(self._con), **kwargs)
        except psycopg2.OperationalError as exc:
            raise DatasetError(
                f"Cannot connect to the warehouse at {mask(self._con)}: {server_says(exc)}. "
                "Is the local stack up (`make up`)?") from exc

    # -- load: the last load's audit ---------------------------------------------------
    def load(self) -> pd.DataFrame:
        with closing(self._connect()) as conn, conn.cursor() as cur:
            cur.execute(
                "SELECT * FROM load_audit WHERE run_id = (SELECT run_id FROM load_audit "
                "ORDER BY loaded_at DESC LIMIT 1) ORDER BY retailer_code, sale_date")
            columns = [c.name for c in cur.description]
            return pd.DataFrame(cur.fetchall(), columns=columns)

    # -- save --------------------------------------------------------------------------
    def _step(self, name: str) -> None:
        """Marks the end of a step (timings; tests inject failures here)."""
        now = time.perf_counter()
        self.timings[name] = now - self._t
        self._t = now
        self._last_step = name

    def save(self, data: dict[str, Any]) -> None:  # type: ignore[override]
        run_id = str(data["run_id"])
        start = date.fromisoformat(data["window"]["start"])
        end = date.fromisoformat(data["window"]["end"])
        days = [start + timedelta(days=n) for n in range((end - start).days + 1)]
        policy = FactLossPolicy.from_load(data.get("fact_loss"))
        where = f"Warehouse load of {start}..{end} (run {run_id})"
        self.timings, self._last_step, self._t = {}, "start", time.perf_counter()
        t0, committing, xid = self._t, False, None
        conn = self._connect(application_name=f"retail_pipeline load {run_id}"[:63])
        watcher = LockWatcher(to_dsn(self._con), conn.get_backend_pid())
        try:
            with conn.cursor() as cur:
                cur.execute("SET temp_buffers = '256MB'")  # before the session's first temp table
                cur.execute("SET LOCAL lock_timeout = %s", (str(self._save_args["lock_timeout"]),))
                if self._save_args.get("maintenance_work_mem"):
                    cur.execute("SET LOCAL maintenance_work_mem = %s", (str(self._save_args["maintenance_work_mem"]),))
                cur.execute("SELECT txid_current(), current_setting('lock_timeout')::interval")
                xid, timeout = cur.fetchone()
                watcher.start(min(1.0, max(0.05, timeout.total_seconds() / 5)) if timeout.total_seconds() else 1.0)
                cur.execute(text("lock"))
                self._step("load lock")
                upsert_dimensions(cur, data["dimensions"], run_id, start, end, self._step)
                tables = day_tables.build_days(cur, data["facts"], days, run_id, self._step)
                stage_quarantine(cur, data["quarantine"])
                keys = maintain_keys(cur, run_id=run_id, tables=tables, policy=policy, where=where,
                                     step=self._step)
                refresh_marts(cur, tables, keys.other_date_ids)
                self._step("marts")
                day_tables.swap_days(cur, tables, self._step)
                self._step("swap")
                replace_quarantine_and_audit(cur, data["quarantine"], data["audit"], run_id, days)
                self._step("quarantine_audit")
            self._step("ready to commit")
            committing = True
            conn.commit()
            self._step("commit")
        except BaseException as exc:
            failure = self._failure(exc, conn, where, committing, xid, watcher)
            if failure is exc:
                raise
            raise failure from exc
        finally:
            watcher.stop()
            conn.close()
        self.changes = keys.changes
        logger.info("warehouse load %s..%s: %d fact rows in %.1fs (%s)%s", start, end, len(data["facts"]),
                    time.perf_counter() - t0, ", ".join(f"{k} {v:.2f}s" for k, v in self.timings.items()),
                    "; lines leaving the window's days: " + ", ".join(f"{n} {k}" for k, n in sorted(keys.changes.items()))
                    if keys.changes else "")

    def _failure(self, exc: BaseException, conn, where: str, committing: bool, xid: int | None,
                 watcher: LockWatcher) -> BaseException:
        """The exception to raise: one line saying what happened to the load and what to do."""
        step = f"after step '{self._last_step}'"
        if connection_lost(exc, conn):
            if committing:
                return DatasetError(
                    f"{where}: the connection to the warehouse was lost during COMMIT ({server_says(exc)}), so "
                    f"the outcome is unknown: the load may or may not have been committed (transaction {xid}: "
                    f"SELECT txid_status({xid}) tells). Rerun the same command: loads are idempotent, so a "
                    "rerun is the repair.")
            return DatasetError(
                f"{where} failed {step}: the server closed the connection ({server_says(exc)}). Nothing was "
                "committed, so the server rolled the load back and the warehouse is as it was; rerun once "
                "the server is back (its log says why it closed the connection).")
        rolled_back = _rollback(conn)
        if isinstance(exc, psycopg2.errors.LockNotAvailable):
            return DatasetError(
                f"{where} was rolled back {step}: lock timeout after {self._save_args['lock_timeout']} "
                f"(save_args.lock_timeout) waiting for {describe_lock_wait(watcher.last_wait)}. End or "
                "wait for that session, then rerun.")
        if isinstance(exc, (psycopg2.errors.UndefinedTable, psycopg2.errors.UndefinedColumn)):
            return DatasetError(f"{where} failed {step} and {rolled_back}: {server_says(exc)}; the warehouse "
                                "is not migrated to this version: run `python -m retail_pipeline.warehouse migrate`.")
        if isinstance(exc, psycopg2.Error):
            return DatasetError(f"{where} failed {step} and {rolled_back}: {server_says(exc)}")
        return exc  # our own refusals (DatasetError) and anything else: already say what happened


def _rollback(conn) -> str:
    try:
        conn.rollback()
        return "was rolled back, nothing was changed"
    except psycopg2.Error as exc:
        return f"the rollback failed too ({server_says(exc)}); nothing was committed, the server rolls it back"
