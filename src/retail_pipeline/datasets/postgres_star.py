"""PostgresStarSchemaDataset: save a star-schema load into PostgreSQL in bulk, atomically, once.

kedro-datasets' SQL datasets append or replace whole tables; a warehouse needs upserts and
"replace this day". This dataset saves the dict `build_star_schema` returns::

    {"run_id": str, "window": {"start": "YYYY-MM-DD", "end": "YYYY-MM-DD"},
     "retailers": ["retailer_code", ...],   # optional: the retailers whose days it replaces
     "dimensions": {"dim_retailer": df, "dim_product": df, "dim_customer": df, "dim_store": df},
     "facts": df, "quarantine": df, "audit": df,
     "fact_loss": {"max_share": 0.5, "accept": false | ["retailer_code:YYYY-MM-DD", ...]}}

A load replaces the window's days of its retailers (`retailers`, default: every retailer of
`dim_retailer`) and nothing of any other retailer: fact_sales is partitioned by retailer, then
by day (010_fact_sales_by_retailer.sql). The pipeline saves one load per retailer, each through
its own `<code>.warehouse_star_schema` (this dataset with `retailer: <code>`, which refuses a
load of any other retailer), so retailers load concurrently.

First, in a short committed transaction, the retailers' load_lock rows and fact_sales
sub-partitions when missing (a new retailer's first load). Then ONE transaction (a failure
anywhere leaves the warehouse as it was), serialised per retailer by a row lock on load_lock
(scope = the retailer code, which bi_reader cannot take; loads of different retailers take
different rows and run side by side). The steps live in retail_pipeline.warehouse, their SQL
in sql/warehouse/load/:

1. dimensions staged: members COPYed into temp tables and checked (warehouse.dimensions);
2. every retailer-day of the window rebuilt in a fresh standalone table: COPY, indexes, bounds
   (warehouse.days);
3. exactly once (warehouse.exactly_once): compare the window's facts with the load's lines,
   refuse a day losing too much, record what leaves in fact_sales_changes, move lines that now
   live in the window out of their old day (found through fact_sales_id_range), replace the
   window days' id ranges;
   -- steps 1-3, the bulk of the work, touch only the retailers' own rows and partitions and
   run while other retailers' loads do the same; then the tail, under the dimension lock
   (dim_lock.sql: attaching a partition locks the dimension its foreign key references, so
   the tails of concurrent loads take turns instead of deadlocking):
4. dimensions written: dim_retailer rows, dim_date for the window, new members and changed
   attributes (each retailer's members are its own rows);
5. marts of the window's days and of the days a move touched, the retailers' rows only
   (warehouse.marts);
6. the swap: each retailer-day's old partition dropped, the new one attached under the
   retailer's sub-parent (locks that retailer's subtree only);
7. quarantine rows of the window's days replaced, one `load_audit` row per retailer and day.

A rerun of a window makes it exactly what the raw zone says and touches no other day except to
remove a line that moved into the window. A failure ends in one line naming the cause
(warehouse.failures). `load()` returns the `load_audit` rows of the last load.

Catalog::

    "{retailer}.warehouse_star_schema":
      type: retail_pipeline.datasets.postgres_star.PostgresStarSchemaDataset
      retailer: "{retailer}"          # this dataset loads (and reads the audit of) one retailer
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
from retail_pipeline.warehouse.dimensions import apply_dimensions
from retail_pipeline.warehouse.exactly_once import FactLossPolicy, maintain_exactly_once
from retail_pipeline.warehouse.failures import LockWatcher, connection_lost, describe_lock_wait, server_says
from retail_pipeline.warehouse.marts import refresh_marts
from retail_pipeline.warehouse.pgcopy import copy_frame, frame_to_csv, mask, to_dsn
from retail_pipeline.warehouse.quarantine import replace_quarantine_and_audit
from retail_pipeline.warehouse.stream import CHUNK_WAIT, ReadAgain, Streamed, one_chunk, stream_chunks
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
        retailer: str | None = None,
    ):
        if not credentials or not credentials.get("con"):
            raise DatasetError(
                "PostgresStarSchemaDataset needs credentials with 'con' (the warehouse entry of "
                "conf/local/credentials.yml, written by `make up`).")
        self._con = credentials["con"]
        self._retailer = retailer or None
        self._save_args = {"lock_timeout": "60s", "maintenance_work_mem": None, **(save_args or {})}
        self.metadata = metadata
        self.timings: dict[str, float] = {}
        self.changes: dict[str, int] = {}

    def _describe(self) -> dict[str, Any]:
        return {"con": mask(self._con), "retailer": self._retailer, "save_args": self._save_args}

    def _connect(self, **kwargs):
        try:
            return psycopg2.connect(to_dsn(self._con), **kwargs)
        except psycopg2.OperationalError as exc:
            raise DatasetError(
                f"Cannot connect to the warehouse at {mask(self._con)}: {server_says(exc)}. "
                "Is the local stack up (`make up`)?") from exc

    # -- load: the last load's audit ---------------------------------------------------
    def load(self) -> pd.DataFrame:
        """The last load's audit rows (of this dataset's retailer, when it has one)."""
        mine = "retailer_code = %(code)s" if self._retailer else "true"
        with closing(self._connect()) as conn, conn.cursor() as cur:
            cur.execute(
                f"SELECT * FROM load_audit WHERE {mine} AND run_id = (SELECT run_id FROM load_audit "
                f"WHERE {mine} ORDER BY loaded_at DESC LIMIT 1) ORDER BY retailer_code, sale_date",
                {"code": self._retailer})
            columns = [c.name for c in cur.description]
            return pd.DataFrame(cur.fetchall(), columns=columns)

    # -- save --------------------------------------------------------------------------
    def _step(self, name: str) -> None:
        """Marks the end of a step (timings; tests inject failures here)."""
        now = time.perf_counter()
        self.timings[name] = self.timings.get(name, 0.0) + now - self._t  # a step per chunk adds up
        self._t = now
        if name != CHUNK_WAIT:
            self._last_step = name

    def _scope(self, data: dict[str, Any]) -> tuple[list[str], list[int]]:
        """(codes, ids) of the retailers whose window days this load replaces, checked."""
        dim_retailer = data["dimensions"]["dim_retailer"]
        ids = {str(c): int(i) for c, i in zip(dim_retailer["retailer_code"], dim_retailer["retailer_id"])}
        codes = sorted(str(c) for c in (data.get("retailers") or ids))
        unknown = [c for c in codes if c not in ids]
        if unknown:
            raise DatasetError(f"Warehouse load of {', '.join(unknown)}: no dim_retailer row for them in the load.")
        if self._retailer and codes != [self._retailer]:
            raise DatasetError(f"This warehouse dataset loads retailer {self._retailer} only; the load is of "
                               f"{', '.join(codes) or 'no retailer'}.")
        scope_ids = [ids[c] for c in codes]
        facts = data.get("facts")  # a streamed load's chunks are checked as they come
        strays = sorted(set(pd.unique(facts["retailer_id"]).tolist()) - set(scope_ids)) if facts is not None else []
        if strays:
            raise DatasetError(f"Warehouse load of {', '.join(codes)} holds facts of retailer_id(s) {strays}, "
                               "which it does not replace; nothing was loaded.")
        return codes, scope_ids

    def _prepare(self, codes: list[str], retailer_ids: list[int], where: str) -> None:
        """The short committed transaction before the load: the load_lock rows and fact_sales
        sub-partitions of new retailers (no-ops for a retailer loaded before)."""
        for attempt in (1, 2):  # two first loads of one new retailer may race to create its rows
            conn = self._connect(application_name=f"retail_pipeline prepare {' '.join(codes)}"[:63])
            try:
                with conn, conn.cursor() as cur:
                    cur.execute("SET LOCAL lock_timeout = %s", (str(self._save_args["lock_timeout"]),))
                    cur.execute(text("lock_rows"), {"scopes": codes})
                    for retailer_id in retailer_ids:
                        cur.execute(text("retailer_partition"), {"retailer_id": retailer_id})
                return
            except (psycopg2.errors.DuplicateTable, psycopg2.errors.UniqueViolation):
                if attempt == 2:
                    raise
            except psycopg2.Error as exc:
                if isinstance(exc, (psycopg2.errors.UndefinedTable, psycopg2.errors.UndefinedFunction)):
                    raise DatasetError(f"{where} failed before it started: {server_says(exc)}; the warehouse "
                                       "is not migrated to this version: run `python -m retail_pipeline.warehouse "
                                       "migrate`.") from exc
                raise DatasetError(f"{where} failed before it started, nothing was changed: "
                                   f"{server_says(exc)}") from exc
            finally:
                conn.close()

    def _stream(self, cur, data: dict[str, Any], days: list[date], run_id: str, retailer_ids: list[int],
                where: str) -> Streamed:
        """Steps 1-2 over the load's chunks (warehouse.stream); once more, from a savepoint, when
        the chunks ask to be read again (ReadAgain: versions of a transaction in two chunks)."""
        chunks = data["chunks"] if "chunks" in data else [one_chunk(data)]
        cur.execute("SAVEPOINT stream")
        try:
            streamed = stream_chunks(cur, chunks, days=days, run_id=run_id, retailer_ids=retailer_ids,
                                     step=self._step, where=where)
        except ReadAgain as again:
            logger.info("%s: %s", where, again)
            cur.execute("ROLLBACK TO SAVEPOINT stream")
            streamed = stream_chunks(cur, chunks, days=days, run_id=run_id, retailer_ids=retailer_ids,
                                     step=self._step, where=where)
        cur.execute("RELEASE SAVEPOINT stream")
        return streamed

    def save(self, data: dict[str, Any]) -> None:  # type: ignore[override]
        run_id = str(data["run_id"])
        start = date.fromisoformat(data["window"]["start"])
        end = date.fromisoformat(data["window"]["end"])
        days = [start + timedelta(days=n) for n in range((end - start).days + 1)]
        policy = FactLossPolicy.from_load(data.get("fact_loss"))
        codes, retailer_ids = self._scope(data)
        who = f" {codes[0]}" if len(codes) == 1 else ""  # a retailer's own load names it
        where = f"Warehouse load of{who + ',' if who else ''} {start}..{end} (run {run_id})"
        self._prepare(codes, retailer_ids, where)
        self.timings, self._last_step, self._t = {}, "start", time.perf_counter()
        t0, committing, xid = self._t, False, None
        conn = self._connect(application_name=f"retail_pipeline load{who} {run_id}"[:63])
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
                cur.execute(text("lock"), {"scopes": codes})
                self._step("load lock")
                # in parallel with other retailers' loads: their rows and locks are not touched
                streamed = self._stream(cur, data, days, run_id, retailer_ids, where)
                tables = streamed.tables
                keys = maintain_exactly_once(cur, run_id=run_id, tables=tables, policy=policy, where=where,
                                             step=self._step, retailer_ids=retailer_ids)
                # the tail, one load at a time: shared dimensions, marts, swap, commit
                cur.execute(text("dim_lock"))
                self._step("dimension lock")
                apply_dimensions(cur, data["dimensions"], streamed.staged_dims, run_id, start, end, self._step,
                                 scope=codes)
                refresh_marts(cur, tables, keys.other_date_ids, retailer_ids, streamed.marts)
                self._step("marts")
                day_tables.swap_days(cur, tables, self._step)
                self._step("swap")
                replace_quarantine_and_audit(cur, streamed.quarantine_codes, streamed.audit, run_id, days)
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
        self.changes, self.looked_up = keys.changes, keys.looked_up
        logger.info("warehouse load of%s %s..%s: %d fact rows in %.1fs (%s); days outside the window looked up: "
                    "%d%s", who, start, end, streamed.facts, time.perf_counter() - t0,
                    ", ".join(f"{k} {v:.2f}s" for k, v in self.timings.items()), len(keys.looked_up),
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
