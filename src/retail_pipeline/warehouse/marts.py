"""The marts of the days a load changed: the window's days from their new tables, and days
outside the window that lost a line to a move from fact_sales itself; then the monthly mart for
every month touched (from the small daily category mart, so a load never rescans history)."""

from __future__ import annotations

import calendar

from psycopg2 import sql

from retail_pipeline.warehouse.days import DayTable
from retail_pipeline.warehouse.sqlfiles import statement, text


def refresh_marts(cur, tables: list[DayTable], other_date_ids: list[int]) -> None:
    date_ids = [t.date_id for t in tables] + list(other_date_ids)
    cur.execute(text("mart_delete"), {"date_ids": date_ids})
    sources = [(t.date_id, sql.Identifier(t.stage)) for t in tables]
    sources += [(d, sql.Identifier("fact_sales")) for d in other_date_ids]
    for date_id, source in sources:
        cur.execute(statement("mart_daily", source=source), {"date_id": date_id})
    for year, month in sorted({(d // 10000, d // 100 % 100) for d in date_ids}):
        last = calendar.monthrange(year, month)[1]
        cur.execute(text("mart_monthly"), {"y": year, "m": month, "lo": year * 10000 + month * 100 + 1,
                                           "hi": year * 10000 + month * 100 + last})
