"""The transformation benchmark's data: one day of canonical rows (three retailers) written as
the raw zone, and a warehouse history built in SQL the way the loader builds days."""

from __future__ import annotations

import time
from contextlib import closing
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg2

DAY = date(2024, 6, 15)
WAREHOUSE_COLUMNS = [
    "retailer_code", "transaction_id", "product_sku", "product_name", "category", "quantity", "unit_price",
    "total_amount", "discount_percentage", "tax_amount", "shipping_cost", "transaction_ts", "sale_date",
    "customer_id", "store_id",
]



# -- data ---------------------------------------------------------------------------------
def canonical_rows(n: int, seed: int = 7, offset: int = 0) -> pd.DataFrame:
    """n valid canonical records for DAY, split across three retailers (vectorised); `offset`
    numbers them after the first `offset` records (a big day written slice by slice)."""
    rng = np.random.default_rng(seed + offset)
    position = np.arange(offset, offset + n)
    retailer = position % 3 + 1
    code = pd.Series(np.char.add("retailer_", retailer.astype(str)), dtype="str")
    seq = pd.Series(position // 3, dtype="int64").astype("str").str.zfill(8)
    prefix = pd.Series(np.array(["ORD-", "TXN-", "SAL-"])[retailer - 1], dtype="str")
    # Catalogue sizes of the retailer simulators (retailers/common/catalogues.py): ~10k products
    # (SKUs shared across retailers), 5000/8000/3000 customers and 25/12/40 stores.
    sku_n = rng.integers(0, 10_000, n)
    customers = np.array([5000, 8000, 3000])[retailer - 1]
    stores = np.array([25, 12, 40])[retailer - 1]
    sku = "SKU-" + pd.Series(sku_n).astype("str").str.zfill(5)
    qty = rng.integers(1, 6, n)
    price = np.round(rng.uniform(1, 500, n), 2)
    total = np.round(qty * price, 2)
    seconds = rng.integers(0, 86_400, n)
    ts = (pd.Timestamp(DAY) + pd.to_timedelta(seconds, unit="s")).strftime("%Y-%m-%dT%H:%M:%SZ")
    frame = pd.DataFrame({
        "retailer_code": code,
        "transaction_id": prefix + f"{DAY:%Y%m%d}-" + seq,
        "product_sku": sku,
        "product_name": "Product " + sku,
        "category": pd.Series(np.array([f"Category {i}" for i in range(12)])[sku_n % 12], dtype="str"),
        "quantity": qty,
        "unit_price": price,
        "total_amount": total,
        "discount_percentage": np.where(retailer == 1, np.round(rng.uniform(0, 30, n), 2), np.nan),
        "tax_amount": np.where(retailer == 2, np.round(total * 0.08, 2), np.nan),
        "shipping_cost": np.where(retailer == 3, np.round(rng.uniform(0, 15, n), 2), np.nan),
        "transaction_ts": pd.Series(ts, dtype="str"),
        "sale_date": DAY.isoformat(),
        "customer_id": "C" + pd.Series((rng.random(n) * customers).astype(np.int64)).astype("str").str.zfill(6),
        "store_id": "ST" + pd.Series((rng.random(n) * stores).astype(np.int64)).astype("str").str.zfill(3),
    })
    frame["source_record"] = ('{"id": "' + frame["transaction_id"] + '", "sku": "' + frame["product_sku"]
                              + '", "qty": ' + frame["quantity"].astype("str") + ', "total": '
                              + frame["total_amount"].astype("str") + "}")
    frame["source_page"] = position // 3 // 10_000 + 1
    frame["run_id"] = "bench-ingest"
    frame["ingested_at"] = f"{DAY + timedelta(days=1)}T01:00:00Z"
    return frame


def write_raw_zone(raw_zone: Path, rows: pd.DataFrame, append: bool = False) -> None:
    for code, part in rows.groupby("retailer_code"):
        path = raw_zone / "raw" / str(code) / f"year={DAY:%Y}" / f"month={DAY:%m}" / f"day={DAY:%d}" / "sales_data.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a" if append else "w") as out:
            part.to_json(out, orient="records", lines=True)


def write_big_raw_zone(raw_zone: Path, n: int, slice_rows: int = 500_000) -> None:
    """A day of n records (three retailers) written slice by slice, never whole in memory."""
    for offset in range(0, n, slice_rows):
        write_raw_zone(raw_zone, canonical_rows(min(slice_rows, n - offset), offset=offset), append=offset > 0)



def make_history(dsn: str, rows: int, days: int, late_days: int = 0) -> float:
    """history `rows` facts over `days` days before DAY, built in SQL like the loader builds days.
    In the last `late_days` days, 1 line in 100 has an id of DAY's form (`canonical_rows`'
    prefixes, sorting after DAY's own ids): their id ranges overlap the load's."""
    from retail_pipeline.warehouse.days import PARTITION_INDEXES

    start = time.perf_counter()
    per_day = max(1, rows // days)
    with closing(psycopg2.connect(dsn)) as conn:
        with conn, conn.cursor() as cur:
            cur.execute("INSERT INTO dim_retailer VALUES (1,'retailer_1','Retailer 1'),(2,'retailer_2','Retailer 2'),"
                        "(3,'retailer_3','Retailer 3') ON CONFLICT DO NOTHING")
            cur.execute("""
                INSERT INTO dim_product (product_id, retailer_id, product_sku, product_name, category, run_id)
                SELECT 1000000000 + g, 1 + g % 3, 'HSKU-' || g, 'History product ' || g, 'Category ' || (g % 12), 'history'
                FROM generate_series(0, 29999) g;
                INSERT INTO dim_customer (customer_id, retailer_id, customer_external_id, run_id)
                SELECT 2000000000 + g, 1 + g % 3, 'HC' || g, 'history' FROM generate_series(0, 299999) g;
                INSERT INTO dim_store (store_id, retailer_id, store_external_id, run_id)
                SELECT 3000000000 + g, 1 + g % 3, 'HST' || g, 'history' FROM generate_series(0, 299) g;""")
            cur.execute("""
                INSERT INTO dim_date (date_id, date, year, quarter, month, week, day, day_of_week, day_name, is_weekend)
                SELECT to_char(d, 'YYYYMMDD')::int, d::date, extract(year FROM d), extract(quarter FROM d),
                       extract(month FROM d), extract(week FROM d), extract(day FROM d), extract(isodow FROM d),
                       trim(to_char(d, 'FMDay')), extract(isodow FROM d) IN (6, 7)
                FROM generate_series(%s::date, %s::date, interval '1 day') d ON CONFLICT DO NOTHING""",
                        (DAY - timedelta(days=days), DAY - timedelta(days=1)))
            cur.execute("SELECT to_regclass('fact_sales_key') IS NOT NULL, to_regclass('fact_sales_id_range') IS NOT NULL")
            keyed, ranged = cur.fetchone()  # the exactly-once bookkeeping of this commit (016) or an older one (006)
            by_retailer = "fact_sales_retailer_partition" if _has_function(cur, "fact_sales_retailer_partition") else None
        for n in range(days, 0, -1):
            day = DAY - timedelta(days=n)
            date_id = int(f"{day:%Y%m%d}")
            # one table per retailer and day under the retailer's sub-parent (010), else per day
            parts = ([(f"fact_sales_r{r}_{date_id}", f"fact_sales_r{r}", f"1 + ((g * 7919) % 30000) % 3 = {r}", r)
                      for r in (1, 2, 3)] if by_retailer else [(f"fact_sales_{date_id}", "fact_sales", "true", None)])
            with conn, conn.cursor() as cur:
                for name, parent, only, retailer in parts:
                    if retailer:
                        cur.execute(f"SELECT {by_retailer}({retailer})")
                    cur.execute(f"CREATE TABLE {name} (LIKE fact_sales INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
                    cur.execute(f"""
                        INSERT INTO {name} (sale_id, date_id, product_id, customer_id, store_id, retailer_id,
                            transaction_id, quantity, unit_price, total_amount, tax_amount, transaction_ts, run_id)
                        SELECT {date_id}::bigint * 100000000 + g, {date_id},
                               1000000000 + (g * 7919) % 30000, 2000000000 + (g * 104729) % 300000,
                               3000000000 + (g * 31) % 300, 1 + ((g * 7919) % 30000) % 3,
                               {_history_id(date_id, n <= late_days)}, 1 + g % 5, 9.99, (1 + g % 5) * 9.99, 0.8,
                               timestamptz '{day}' + make_interval(secs => g % 86400), 'history'
                        FROM generate_series(1::bigint, {per_day}) g WHERE {only}""")
                    for index, statement in PARTITION_INDEXES:
                        cur.execute(statement.format(t=name, i=index.format(n=name)))
                    cur.execute(f"ALTER TABLE {name} ADD CONSTRAINT {name}_bounds CHECK (date_id >= {date_id} AND date_id < {date_id + 1}"
                                f"{f' AND retailer_id = {retailer}' if retailer else ''})")
                    cur.execute(f"ALTER TABLE {parent} ATTACH PARTITION {name} FOR VALUES FROM ({date_id}) TO ({date_id + 1})")
                    if ranged:  # each day's id range, as the loader keeps it (016_fact_sales_id_ranges.sql)
                        cur.execute(f"INSERT INTO fact_sales_id_range SELECT retailer_id, date_id, "
                                    f"min(transaction_id COLLATE \"C\"), max(transaction_id COLLATE \"C\") "
                                    f"FROM {name} GROUP BY 1, 2")
                    if keyed:  # where each line lives, as loaders before 016 kept it (006_exactly_once.sql)
                        cur.execute(f"INSERT INTO fact_sales_key (retailer_id, transaction_id, product_id, date_id) "
                                    f"SELECT retailer_id, transaction_id, product_id, date_id FROM {name}")
                cur.execute("""INSERT INTO mart_daily_category_sales
                               SELECT %s, r, 'Category ' || c, 1000, 3000, 29970 FROM generate_series(1, 3) r,
                               generate_series(0, 11) c""", (date_id,))
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("VACUUM (ANALYZE)")  # a settled warehouse, as history would be: every table
    return time.perf_counter() - start


def _history_id(date_id: int, late: bool) -> str:
    """The SQL of a history line's transaction id (see make_history)."""
    if not late:
        return f"'H-{date_id}-' || g"
    prefix = "(ARRAY['ORD-', 'TXN-', 'SAL-'])[1 + ((g * 7919) % 30000) % 3]"
    return f"CASE WHEN g % 100 = 0 THEN {prefix} || '{DAY:%Y%m%d}-L{date_id}-' || g ELSE 'H-{date_id}-' || g END"


def _has_function(cur, name: str) -> bool:
    cur.execute("SELECT to_regproc(%s) IS NOT NULL", (name,))
    return cur.fetchone()[0]
