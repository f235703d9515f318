"""PostgresStarSchemaDataset: save a star-schema load into PostgreSQL in bulk, atomically.

kedro-datasets' SQL datasets append or replace whole tables; a warehouse needs upserts and
"replace this day". This dataset saves the dict `build_star_schema` returns::

    {"run_id": str, "window": {"start": "YYYY-MM-DD", "end": "YYYY-MM-DD"},
     "dimensions": {"dim_retailer": df, "dim_product": df, "dim_customer": df, "dim_store": df},
     "facts": df, "quarantine": df, "audit": df}

in ONE transaction (a failure anywhere leaves the warehouse as it was):

1. dimensions: COPY the distinct rows into temp tables, refuse hash collisions, then one
   `INSERT ... ON CONFLICT (pk) DO UPDATE ... WHERE changed` per dimension; `dim_date` gets
   every day of the window from generate_series;
2. facts: every window day is rebuilt in a fresh standalone table (COPY of a pyarrow-written
   CSV, no index yet; under wal_level=minimal a table created in the same transaction skips
   WAL), then indexed, given a CHECK matching the partition bounds;
3. marts of those days from the fresh tables (delete + insert), the monthly mart for their
   months;
4. the swap: detach and drop the day's old partition, attach the new one (the server checks
   each foreign key once per partition, not per row);
5. quarantine rows of the window's days replaced, one `load_audit` row per retailer and day.

So a rerun of a day makes that day exactly what the raw zone says, and touches nothing else:
history size does not matter. Loads serialise on an advisory lock.

Catalog::

    warehouse_star_schema:
      type: retail_pipeline.datasets.postgres_star.PostgresStarSchemaDataset
      credentials: warehouse          # {con: postgresql+psycopg2://retail_loader:...}
      save_args: {lock_timeout: 60s}

`load()` returns the `load_audit` rows of the last load (for reconciliation).
"""

from __future__ import annotations

import io
import logging
import re
import time
from contextlib import closing
from datetime import date, timedelta
from typing import Any

import pandas as pd
import psycopg2
import pyarrow as pa
import pyarrow.csv as pacsv
from kedro.io.core import AbstractDataset, DatasetError
from psycopg2 import sql
from psycopg2.extras import execute_values

logger = logging.getLogger(__name__)

LOAD_LOCK_KEY = 72_501_002  # pg_advisory_xact_lock key: one warehouse load at a time

FACT_COPY_COLUMNS = [
    "sale_id", "date_id", "product_id", "customer_id", "store_id", "retailer_id", "transaction_id",
    "quantity", "unit_price", "total_amount", "discount_percentage", "tax_amount", "shipping_cost",
    "transaction_ts",
]

# Indexes of a day partition, matching the partitioned indexes of fact_sales (002_fact_sales.sql)
# so ATTACH adopts them instead of building new ones. {t}: table, {n}: final partition name.
_PARTITION_INDEXES = [
    ("{n}_pkey", "ALTER TABLE {t} ADD CONSTRAINT {i} PRIMARY KEY (date_id, sale_id)"),
    ("{n}_natural_key", "ALTER TABLE {t} ADD CONSTRAINT {i} UNIQUE (retailer_id, transaction_id, product_id, date_id)"),
    ("{n}_product_idx", "CREATE INDEX {i} ON {t} (product_id)"),
    ("{n}_customer_idx", "CREATE INDEX {i} ON {t} (customer_id)"),
    ("{n}_store_idx", "CREATE INDEX {i} ON {t} (store_id)"),
]

_DIMENSIONS = {
    # name: (key, natural key, attribute columns updated when changed, copy columns)
    "dim_product": ("product_id", ("retailer_id", "product_sku"), ("product_name", "category"),
                    ["product_id", "retailer_id", "product_sku", "product_name", "category", "attributes_as_of"]),
    "dim_customer": ("customer_id", ("retailer_id", "customer_external_id"), (),
                     ["customer_id", "retailer_id", "customer_external_id"]),
    "dim_store": ("store_id", ("retailer_id", "store_external_id"), (),
                  ["store_id", "retailer_id", "store_external_id"]),
}

_DIM_DATE = """
INSERT INTO dim_date (date_id, date, year, quarter, month, week, day, day_of_week, day_name, is_weekend)
SELECT to_char(d, 'YYYYMMDD')::int, d::date, extract(year FROM d), extract(quarter FROM d),
       extract(month FROM d), extract(week FROM d), extract(day FROM d), extract(isodow FROM d),
       trim(to_char(d, 'FMDay')), extract(isodow FROM d) IN (6, 7)
FROM generate_series(%(start)s::date, %(end)s::date, interval '1 day') AS d
ON CONFLICT (date_id) DO NOTHING
"""


def to_dsn(con: str) -> str:
    return re.sub(r"^postgresql\+\w+://", "postgresql://", con)


def _mask(con: str) -> str:
    return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", con)


def frame_to_csv(frame: pd.DataFrame) -> io.BytesIO:
    """A frame as CSV bytes written by pyarrow (NaN/None -> empty unquoted = NULL; strings quoted)."""
    buffer = io.BytesIO()
    table = pa.Table.from_pandas(frame, preserve_index=False)
    pacsv.write_csv(table, buffer, write_options=pacsv.WriteOptions(include_header=False, batch_size=65536))
    buffer.seek(0)
    return buffer


def copy_frame(cur, table: sql.Composable, frame: pd.DataFrame, columns: list[str]) -> None:
    """COPY `frame[columns]` into `table` through an in-memory CSV."""
    if frame.empty:
        return
    statement = sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT csv)").format(
        table, sql.SQL(", ").join(map(sql.Identifier, columns)))
    cur.copy_expert(statement, frame_to_csv(frame[columns]), size=1 << 20)


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

    def _describe(self) -> dict[str, Any]:
        return {"con": _mask(self._con), "save_args": self._save_args}

    def _connect(self):
        try:
            return psycopg2.connect(to_dsn(self._con))
        except psycopg2.OperationalError as exc:
            raise DatasetError(
                f"Cannot connect to the warehouse at {_mask(self._con)}: {str(exc).strip()}. "
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

    def save(self, data: dict[str, Any]) -> None:  # type: ignore[override]
        run_id = str(data["run_id"])
        start = date.fromisoformat(data["window"]["start"])
        end = date.fromisoformat(data["window"]["end"])
        days = [start + timedelta(days=n) for n in range((end - start).days + 1)]
        self.timings = {}
        self._t = time.perf_counter()
        t0 = self._t
        conn = self._connect()
        try:
            with conn:  # one transaction: commit at the end, rollback on any error
                with conn.cursor() as cur:
                    self._prepare(cur)
                    self._dimensions(cur, data["dimensions"], run_id, start, end)
                    stages = self._build_days(cur, data["facts"], days, run_id)
                    self._marts(cur, stages, days)
                    self._step("marts")
                    self._swap(cur, stages)
                    self._step("swap")
                    self._quarantine_and_audit(cur, data["quarantine"], data["audit"], run_id, days)
                    self._step("quarantine_audit")
            self._step("commit")
        except psycopg2.Error as exc:
            raise DatasetError(
                f"Warehouse load of {start}..{end} (run {run_id}) failed and was rolled back, "
                f"nothing was changed: {(exc.pgerror or str(exc)).strip()}") from exc
        finally:
            conn.close()
        logger.info("warehouse load %s..%s: %d fact rows in %.1fs (%s)", start, end, len(data["facts"]),
                    time.perf_counter() - t0, ", ".join(f"{k} {v:.2f}s" for k, v in self.timings.items()))

    def _prepare(self, cur) -> None:
        cur.execute("SET temp_buffers = '256MB'")  # before the session's first temp table
        cur.execute("SET LOCAL lock_timeout = %s", (str(self._save_args["lock_timeout"]),))
        if self._save_args.get("maintenance_work_mem"):
            cur.execute("SET LOCAL maintenance_work_mem = %s", (str(self._save_args["maintenance_work_mem"]),))
        cur.execute("SET LOCAL synchronous_commit = off")
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (LOAD_LOCK_KEY,))

    def _dimensions(self, cur, dims: dict[str, pd.DataFrame], run_id: str, start: date, end: date) -> None:
        retailers = dims["dim_retailer"]
        cur.executemany(
            "INSERT INTO dim_retailer AS d (retailer_id, retailer_code, retailer_name) VALUES (%s, %s, %s) "
            "ON CONFLICT (retailer_id) DO UPDATE SET retailer_code = EXCLUDED.retailer_code, "
            "retailer_name = EXCLUDED.retailer_name, updated_at = now() "
            "WHERE (d.retailer_code, d.retailer_name) IS DISTINCT FROM (EXCLUDED.retailer_code, EXCLUDED.retailer_name)",
            [(int(r.retailer_id), str(r.retailer_code), str(r.retailer_name)) for r in retailers.itertuples()],
        )
        cur.execute(_DIM_DATE, {"start": start, "end": end})
        for name, (key, natural, attributes, columns) in _DIMENSIONS.items():
            frame = dims[name]
            if frame.empty:
                continue
            tmp = sql.Identifier(f"tmp_{name}")
            cur.execute(sql.SQL("CREATE TEMP TABLE {} (LIKE {} INCLUDING DEFAULTS) ON COMMIT DROP").format(
                tmp, sql.Identifier(name)))
            copy_frame(cur, tmp, frame, columns)
            self._step(f"{name} copy")
            ident = lambda c: sql.Identifier(c)  # noqa: E731
            dim = sql.Identifier(name)
            k = ident(key)
            cur.execute(sql.SQL("ANALYZE {}").format(tmp))
            cur.execute(sql.SQL("SELECT DISTINCT retailer_id FROM {} WHERE retailer_id NOT IN "
                                "(SELECT retailer_id FROM dim_retailer)").format(tmp))
            unknown = [r[0] for r in cur.fetchall()]
            if unknown:
                raise DatasetError(f"{name} rows name retailer_id(s) {unknown} missing from dim_retailer; "
                                   "add them to parameters warehouse.retailers.")
            # A computed key that already names another natural key is a hash collision: refuse.
            cur.execute(sql.SQL(
                "SELECT t.{k}, {tn}, {dn} FROM {tmp} t JOIN {dim} d USING ({k}) "
                "WHERE ({tn}) IS DISTINCT FROM ({dn}) LIMIT 3").format(
                k=k, tmp=tmp, dim=dim,
                tn=sql.SQL(", ").join(sql.SQL("t.") + ident(c) for c in natural),
                dn=sql.SQL(", ").join(sql.SQL("d.") + ident(c) for c in natural)))
            clashes = cur.fetchall()
            if clashes:
                raise DatasetError(f"Surrogate key collision in {name} ({clashes}); nothing was loaded. "
                                   "Report it: the key hash needs widening.")
            self._step(f"{name} checks")
            if attributes:
                # Type 1 attributes: update where changed, the latest observation wins.
                cur.execute(sql.SQL(
                    "UPDATE {dim} d SET {sets}, attributes_as_of = t.attributes_as_of, run_id = %(run_id)s, "
                    "updated_at = now() FROM {tmp} t WHERE d.{k} = t.{k} "
                    "AND ({d_attrs}) IS DISTINCT FROM ({t_attrs}) "
                    "AND (d.attributes_as_of IS NULL OR t.attributes_as_of >= d.attributes_as_of)").format(
                    dim=dim, tmp=tmp, k=k,
                    sets=sql.SQL(", ").join(sql.SQL("{c} = t.{c}").format(c=ident(c)) for c in attributes),
                    d_attrs=sql.SQL(", ").join(sql.SQL("d.") + ident(c) for c in attributes),
                    t_attrs=sql.SQL(", ").join(sql.SQL("t.") + ident(c) for c in attributes)), {"run_id": run_id})
            # New members only (set-based anti-join), in key order for the primary-key index.
            cur.execute(sql.SQL(
                "INSERT INTO {dim} ({cols}, run_id) SELECT {tcols}, %(run_id)s FROM {tmp} t "
                "WHERE NOT EXISTS (SELECT 1 FROM {dim} d WHERE d.{k} = t.{k}) ORDER BY t.{k} "
                "ON CONFLICT ({k}) DO NOTHING").format(
                dim=dim, tmp=tmp, k=k, cols=sql.SQL(", ").join(map(ident, columns)),
                tcols=sql.SQL(", ").join(sql.SQL("t.") + ident(c) for c in columns)), {"run_id": run_id})
            self._step(name)

    def _build_days(self, cur, facts: pd.DataFrame, days: list[date], run_id: str) -> list[tuple[int, str, str]]:
        """Each window day in a fresh standalone table, loaded, indexed and checked."""
        date_ids = facts["date_id"].to_numpy()
        stages = []
        for day in days:
            date_id = int(day.strftime("%Y%m%d"))
            name = f"fact_sales_{date_id}"
            stage = f"{name}_load"
            t = sql.Identifier(stage)
            cur.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(t))
            cur.execute(sql.SQL("CREATE TABLE {} (LIKE fact_sales INCLUDING DEFAULTS)").format(t))
            cur.execute(sql.SQL("ALTER TABLE {} ALTER COLUMN run_id SET DEFAULT {}").format(t, sql.Literal(run_id)))
            day_rows = facts[date_ids == date_id] if len(days) > 1 else facts
            copy_frame(cur, t, day_rows, FACT_COPY_COLUMNS)
            self._step(f"copy {date_id}")
            cur.execute(sql.SQL("ALTER TABLE {} ALTER COLUMN run_id DROP DEFAULT").format(t))
            for index, statement in _PARTITION_INDEXES:
                cur.execute(sql.SQL(statement).format(t=t, i=sql.Identifier(index.format(n=stage))))
            cur.execute(sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} CHECK (date_id >= {} AND date_id < {})").format(
                t, sql.Identifier(f"{name}_bounds"), sql.Literal(date_id), sql.Literal(date_id + 1)))
            self._step(f"index {date_id}")
            stages.append((date_id, stage, name))
        return stages

    def _marts(self, cur, stages: list[tuple[int, str, str]], days: list[date]) -> None:
        date_ids = [s[0] for s in stages]
        cur.execute("DELETE FROM mart_daily_sales WHERE date_id = ANY(%s)", (date_ids,))
        cur.execute("DELETE FROM mart_daily_category_sales WHERE date_id = ANY(%s)", (date_ids,))
        for _, stage, _ in stages:
            t = sql.Identifier(stage)
            cur.execute(sql.SQL("""
                INSERT INTO mart_daily_sales (date_id, sale_date, retailer_id, retailer_code, store_id,
                    store_external_id, transactions, units_sold, revenue, tax_amount, shipping_cost)
                SELECT a.date_id, dd.date, a.retailer_id, r.retailer_code, a.store_id, s.store_external_id,
                       a.transactions, a.units_sold, a.revenue, a.tax_amount, a.shipping_cost
                FROM (SELECT date_id, retailer_id, store_id, count(*) AS transactions,
                             sum(quantity) AS units_sold, sum(total_amount) AS revenue,
                             sum(tax_amount) AS tax_amount, sum(shipping_cost) AS shipping_cost
                      FROM {t} GROUP BY date_id, retailer_id, store_id) a
                JOIN dim_date dd USING (date_id)
                JOIN dim_retailer r USING (retailer_id)
                JOIN dim_store s USING (store_id)""").format(t=t))
            cur.execute(sql.SQL("""
                INSERT INTO mart_daily_category_sales (date_id, retailer_id, category, transactions, units_sold, revenue)
                SELECT a.date_id, a.retailer_id, coalesce(p.category, '(none)'),
                       sum(a.transactions), sum(a.units_sold), sum(a.revenue)
                FROM (SELECT date_id, retailer_id, product_id, count(*) AS transactions,
                             sum(quantity) AS units_sold, sum(total_amount) AS revenue
                      FROM {t} GROUP BY date_id, retailer_id, product_id) a
                JOIN dim_product p USING (product_id)
                GROUP BY 1, 2, 3""").format(t=t))
        months = sorted({(d.year, d.month) for d in days})
        for year, month in months:
            cur.execute("DELETE FROM mart_monthly_category_sales WHERE year = %s AND month = %s", (year, month))
            cur.execute("""
                INSERT INTO mart_monthly_category_sales (year, month, retailer_id, retailer_code, category,
                    transactions, units_sold, revenue)
                SELECT %(y)s, %(m)s, c.retailer_id, r.retailer_code, c.category,
                       sum(c.transactions), sum(c.units_sold), sum(c.revenue)
                FROM mart_daily_category_sales c JOIN dim_retailer r USING (retailer_id)
                WHERE c.date_id BETWEEN %(lo)s AND %(hi)s
                GROUP BY c.retailer_id, r.retailer_code, c.category""",
                {"y": year, "m": month, "lo": year * 10000 + month * 100 + 1, "hi": year * 10000 + month * 100 + 31})

    def _swap(self, cur, stages: list[tuple[int, str, str]]) -> None:
        """Detach and drop each day's old partition, attach the new one (short, at the end)."""
        cur.execute("""
            SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
            WHERE i.inhparent = 'fact_sales'::regclass""")
        attached = {row[0] for row in cur.fetchall()}
        for date_id, stage, name in stages:
            if name in attached:
                cur.execute(sql.SQL("ALTER TABLE fact_sales DETACH PARTITION {}").format(sql.Identifier(name)))
                cur.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(name)))
            else:
                cur.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(name)))
            cur.execute(sql.SQL("ALTER TABLE {} RENAME TO {}").format(sql.Identifier(stage), sql.Identifier(name)))
            for index, _ in _PARTITION_INDEXES:
                cur.execute(sql.SQL("ALTER INDEX {} RENAME TO {}").format(
                    sql.Identifier(index.format(n=stage)), sql.Identifier(index.format(n=name))))
            cur.execute(sql.SQL("ALTER TABLE fact_sales ATTACH PARTITION {} FOR VALUES FROM ({}) TO ({})").format(
                sql.Identifier(name), sql.Literal(date_id), sql.Literal(date_id + 1)))
            self._step(f"attach {date_id}")

    def _quarantine_and_audit(self, cur, quarantine: pd.DataFrame, audit: pd.DataFrame, run_id: str,
                              days: list[date]) -> None:
        codes = sorted(set(audit["retailer_code"]) | set(quarantine["retailer_code"]))
        cur.execute("DELETE FROM warehouse_quarantine WHERE sale_date = ANY(%s) AND retailer_code = ANY(%s)",
                    (days, codes))
        cur.execute("CREATE TEMP TABLE tmp_quarantine (retailer_code text, transaction_id text, sale_date date, "
                    "reason text, record jsonb) ON COMMIT DROP")
        copy_frame(cur, sql.Identifier("tmp_quarantine"), quarantine,
                   ["retailer_code", "transaction_id", "sale_date", "reason", "record"])
        cur.execute("INSERT INTO warehouse_quarantine (run_id, retailer_code, transaction_id, sale_date, reason, record) "
                    "SELECT %s, retailer_code, transaction_id, sale_date, reason, record FROM tmp_quarantine", (run_id,))
        execute_values(
            cur,
            "INSERT INTO load_audit (run_id, retailer_code, sale_date, rows_loaded, total_amount_loaded, rows_quarantined) "
            "VALUES %s ON CONFLICT (run_id, retailer_code, sale_date) DO UPDATE SET "
            "rows_loaded = EXCLUDED.rows_loaded, total_amount_loaded = EXCLUDED.total_amount_loaded, "
            "rows_quarantined = EXCLUDED.rows_quarantined, loaded_at = now()",
            [(run_id, r.retailer_code, r.sale_date, int(r.rows_loaded), round(float(r.total_amount_loaded), 2),
              int(r.rows_quarantined)) for r in audit.itertuples()])
