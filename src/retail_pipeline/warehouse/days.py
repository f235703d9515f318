"""The window's day partitions: each day rebuilt in a fresh standalone table (COPY, then the
indexes of fact_sales and a CHECK of its bounds), swapped in at the end (detach and drop the old
partition, attach the new one)."""

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

# Indexes of a day partition, matching the partitioned indexes of fact_sales (002_fact_sales.sql)
# so ATTACH adopts them instead of building new ones. {t}: table, {n}: final partition name.
PARTITION_INDEXES = [
    ("{n}_pkey", "ALTER TABLE {t} ADD CONSTRAINT {i} PRIMARY KEY (date_id, sale_id)"),
    ("{n}_natural_key", "ALTER TABLE {t} ADD CONSTRAINT {i} UNIQUE (retailer_id, transaction_id, product_id, date_id)"),
    ("{n}_product_idx", "CREATE INDEX {i} ON {t} (product_id)"),
    ("{n}_customer_idx", "CREATE INDEX {i} ON {t} (customer_id)"),
    ("{n}_store_idx", "CREATE INDEX {i} ON {t} (store_id)"),
]


@dataclass(frozen=True)
class DayTable:
    date_id: int
    stage: str  # the new table, fact_sales_YYYYMMDD_load
    name: str   # the partition it becomes, fact_sales_YYYYMMDD


def date_id_of(day: date) -> int:
    return day.year * 10000 + day.month * 100 + day.day


def build_days(cur, facts: pd.DataFrame, days: list[date], run_id: str,
               step: Callable[[str], None]) -> list[DayTable]:
    """Each window day in a fresh standalone table, loaded, indexed and checked."""
    date_ids = facts["date_id"].to_numpy()
    tables = []
    for day in days:
        date_id = date_id_of(day)
        table = DayTable(date_id, f"fact_sales_{date_id}_load", f"fact_sales_{date_id}")
        t = sql.Identifier(table.stage)
        cur.execute(statement("day_create", stage=table.stage, run_id=sql.Literal(run_id)))
        copy_frame(cur, t, facts[date_ids == date_id] if len(days) > 1 else facts, FACT_COPY_COLUMNS)
        step(f"copy {date_id}")
        for index, ddl in PARTITION_INDEXES:
            cur.execute(sql.SQL(ddl).format(t=t, i=sql.Identifier(index.format(n=table.stage))))
        cur.execute(statement("day_seal", stage=table.stage, bounds=f"{table.name}_bounds",
                              lo=sql.Literal(date_id), hi=sql.Literal(date_id + 1)))
        step(f"index {date_id}")
        tables.append(table)
    return tables


def swap_days(cur, tables: list[DayTable], step: Callable[[str], None]) -> None:
    """Detach and drop each day's old partition, attach the new one (short, at the end)."""
    cur.execute(text("partitions"))
    attached = {row[0] for row in cur.fetchall()}
    for table in tables:
        name, stage = sql.Identifier(table.name), sql.Identifier(table.stage)
        if table.name in attached:
            cur.execute(sql.SQL("ALTER TABLE fact_sales DETACH PARTITION {}").format(name))
            cur.execute(sql.SQL("DROP TABLE {}").format(name))
        else:
            cur.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(name))
        cur.execute(sql.SQL("ALTER TABLE {} RENAME TO {}").format(stage, name))
        for index, _ in PARTITION_INDEXES:
            cur.execute(sql.SQL("ALTER INDEX {} RENAME TO {}").format(
                sql.Identifier(index.format(n=table.stage)), sql.Identifier(index.format(n=table.name))))
        cur.execute(sql.SQL("ALTER TABLE fact_sales ATTACH PARTITION {} FOR VALUES FROM ({}) TO ({})").format(
            name, sql.Literal(table.date_id), sql.Literal(table.date_id + 1)))
        step(f"attach {table.date_id}")
