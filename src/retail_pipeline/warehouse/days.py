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

from retail_pipeline.warehouse.pgbinary import copy_binary
from retail_pipeline.warehouse.sqlfiles import statement, text

FACT_COPY_COLUMNS = [
    "sale_id", "date_id", "product_id", "customer_id", "store_id", "retailer_id", "transaction_id",
    "quantity", "unit_price", "total_amount", "discount_percentage", "tax_amount", "shipping_cost",
    "transaction_ts",
]
# Their PostgreSQL types (002_fact_sales.sql), for the binary COPY (warehouse.pgbinary).
FACT_COPY_TYPES = ["int8", "int4", "int8", "int8", "int8", "int2", "text", "int4", "numeric", "numeric", "numeric",
                   "numeric", "numeric", "timestamptz"]

# Indexes of a day partition, matching the partitioned indexes of fact_sales (002_fact_sales.sql;
# the primary key gained retailer_id in 010_fact_sales_by_retailer.sql; 011 dropped the natural
# key and the customer and store indexes, which no query needs) so ATTACH adopts them instead of
# building new ones. {t}: table, {n}: final partition name.
PARTITION_INDEXES = [
    ("{n}_pkey", "ALTER TABLE {t} ADD CONSTRAINT {i} PRIMARY KEY (date_id, sale_id, retailer_id)"),
    ("{n}_product_idx", "CREATE INDEX {i} ON {t} (product_id)"),
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


def create_days(cur, days: list[date], run_id: str, retailer_ids: list[int]) -> list[DayTable]:
    """A fresh standalone table per (retailer, window day), empty: the load's chunks are COPYed
    into them (`copy_facts`), then `seal_days` indexes them."""
    tables = []
    for retailer_id in retailer_ids:
        parent = retailer_parent(retailer_id)
        for day in days:
            date_id = date_id_of(day)
            table = DayTable(retailer_id, date_id, f"{parent}_{date_id}_load", f"{parent}_{date_id}", parent)
            cur.execute(statement("day_create", stage=table.stage, run_id=sql.Literal(run_id)))
            tables.append(table)
    return tables


def _tag(tables: list[DayTable], table: DayTable) -> str:
    """Step names carry the retailer (`copy r1 20240115`) only when the load has several."""
    return f"r{table.retailer_id} {table.date_id}" if len({t.retailer_id for t in tables}) > 1 else str(table.date_id)


def copy_facts(cur, tables: list[DayTable], facts: pd.DataFrame, step: Callable[[str], None]) -> None:
    """One chunk of facts into its (retailer, day) tables (one binary COPY per table with rows; the
    step is marked for every table, so a test can stop any day's copy)."""
    date_ids, rids = facts["date_id"].to_numpy(), facts["retailer_id"].to_numpy()
    for table in tables:
        mine = (rids == table.retailer_id) & (date_ids == table.date_id)
        if mine.any():
            copy_binary(cur, sql.Identifier(table.stage), facts[mine], FACT_COPY_COLUMNS, FACT_COPY_TYPES)
        step(f"copy {_tag(tables, table)}")


def seal_days(cur, tables: list[DayTable], step: Callable[[str], None]) -> None:
    """After the last chunk: each table's indexes, built once over all its rows, and a CHECK
    matching its whole partition constraint, day and retailer (so ATTACH does not scan it)."""
    for table in tables:
        t = sql.Identifier(table.stage)
        for index, ddl in PARTITION_INDEXES:
            cur.execute(sql.SQL(ddl).format(t=t, i=sql.Identifier(index.format(n=table.stage))))
        cur.execute(statement("day_seal", stage=table.stage, bounds=f"{table.name}_bounds",
                              lo=sql.Literal(table.date_id), hi=sql.Literal(table.date_id + 1),
                              rid=sql.Literal(table.retailer_id)))
        step(f"index {_tag(tables, table)}")


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
