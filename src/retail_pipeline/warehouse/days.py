"""The window's retailer-day partitions: each (retailer, day) of the load rebuilt in a fresh
standalone table (COPY, then the indexes of fact_sales and a CHECK of its bounds), swapped in at
the end under the retailer's own sub-parent `fact_sales_r<id>` (the old partition dropped, the
new one attached), so the swap locks that retailer's subtree only
(010_fact_sales_by_retailer.sql)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Callable

import pandas as pd
from psycopg2 import sql

from retail_pipeline.warehouse.pgcopy import copy_frame
from retail_pipeline.warehouse.sqlfiles import statement, text

FACT_COPY_COLUMNS = [
    "sale_id", "date_id", "product_id", "customer_id", "store_id", "retailer_id", "transaction_id",
    "quantity", "unit_price", "total_amount", "discount_percentage", "tax_amount", "shipping_cost",
    "transaction_ts",
]

# Indexes of a day partition, matching the partitioned indexes of fact_sales (002_fact_sales.sql;
# the primary key gained retailer_id in 010_fact_sales_by_retailer.sql)
# so ATTACH adopts them instead of building new ones. {t}: table, {n}: final partition name.
PARTITION_INDEXES = [
    ("{n}_pkey", "ALTER TABLE {t} ADD CONSTRAINT {i} PRIMARY KEY (date_id, sale_id, retailer_id)"),
    ("{n}_natural_key", "ALTER TABLE {t} ADD CONSTRAINT {i} UNIQUE (retailer_id, transaction_id, product_id, date_id)"),
    ("{n}_product_idx", "CREATE INDEX {i} ON {t} (product_id)"),
    ("{n}_customer_idx", "CREATE INDEX {i} ON {t} (customer_id)"),
    ("{n}_store_idx", "CREATE INDEX {i} ON {t} (store_id)"),
]


@dataclass(frozen=True)
class DayTable:
    retailer_id: int
    date_id: int
    stage: str   # the new table, fact_sales_r<id>_YYYYMMDD_load
    name: str    # the partition it becomes, fact_sales_r<id>_YYYYMMDD
    parent: str  # the retailer's sub-parent, fact_sales_r<id>


def date_id_of(day: date) -> int:
    return day.year * 10000 + day.month * 100 + day.day


def retailer_parent(retailer_id: int) -> str:
    return f"fact_sales_r{retailer_id}"


def build_days(cur, facts: pd.DataFrame, days: list[date], run_id: str,
               step: Callable[[str], None], retailer_ids: list[int]) -> list[DayTable]:
    """Each (retailer, window day) in a fresh standalone table, loaded, indexed and checked.
    Step names carry the retailer (`copy r1 20240115`) only when the load has several."""
    date_ids = facts["date_id"].to_numpy()
    rids = facts["retailer_id"].to_numpy()
    tables = []
    for retailer_id in retailer_ids:
        mine = rids == retailer_id
        tag = f"r{retailer_id} " if len(retailer_ids) > 1 else ""
        for day in days:
            date_id = date_id_of(day)
            parent = retailer_parent(retailer_id)
            table = DayTable(retailer_id, date_id, f"{parent}_{date_id}_load", f"{parent}_{date_id}", parent)
            t = sql.Identifier(table.stage)
            cur.execute(statement("day_create", stage=table.stage, run_id=sql.Literal(run_id)))
            copy_frame(cur, t, facts[mine & (date_ids == date_id)], FACT_COPY_COLUMNS)
            step(f"copy {tag}{date_id}")
            for index, ddl in PARTITION_INDEXES:
                cur.execute(sql.SQL(ddl).format(t=t, i=sql.Identifier(index.format(n=table.stage))))
            cur.execute(statement("day_seal", stage=table.stage, bounds=f"{table.name}_bounds",
                                  lo=sql.Literal(date_id), hi=sql.Literal(date_id + 1)))
            step(f"index {tag}{date_id}")
            tables.append(table)
    return tables


def swap_days(cur, tables: list[DayTable], step: Callable[[str], None]) -> None:
    """Drop each retailer-day's old partition, attach the new one under the retailer's sub-parent
    (short, at the end; locks the retailer's subtree only).

    The old partition is dropped while attached, not detached first: DETACH turns its foreign
    keys into standalone ones, which creates (and the DROP then removes) triggers on every
    dimension table, locking the dimensions that every other retailer's load writes."""
    several = len({t.retailer_id for t in tables}) > 1
    cur.execute(text("partitions"), {"parents": sorted({t.parent for t in tables})})
    attached = {row[0] for row in cur.fetchall()}
    for table in tables:
        name, stage, parent = sql.Identifier(table.name), sql.Identifier(table.stage), sql.Identifier(table.parent)
        cur.execute(sql.SQL("DROP TABLE {} {}").format(sql.SQL("" if table.name in attached else "IF EXISTS"), name))
        cur.execute(sql.SQL("ALTER TABLE {} RENAME TO {}").format(stage, name))
        for index, _ in PARTITION_INDEXES:
            cur.execute(sql.SQL("ALTER INDEX {} RENAME TO {}").format(
                sql.Identifier(index.format(n=table.stage)), sql.Identifier(index.format(n=table.name))))
        cur.execute(sql.SQL("ALTER TABLE {} ATTACH PARTITION {} FOR VALUES FROM ({}) TO ({})").format(
            parent, name, sql.Literal(table.date_id), sql.Literal(table.date_id + 1)))
        step(f"attach {f'r{table.retailer_id} ' if several else ''}{table.date_id}")
