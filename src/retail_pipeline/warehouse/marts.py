"""The marts of the retailer-days a load changed: the window's days from the sums computed while
their facts streamed (warehouse.inflight; from their new tables when a caller has none), and
days outside the window that lost a line to a move from fact_sales itself; then the monthly mart
for every month touched (from the small daily category mart, so a load never rescans history).
Only the load's retailers' mart rows are replaced."""

from __future__ import annotations

import calendar

from psycopg2 import sql

from retail_pipeline.warehouse.days import DayTable
from retail_pipeline.warehouse.inflight import MartPartials
from retail_pipeline.warehouse.sqlfiles import statement, text


def refresh_marts(cur, tables: list[DayTable], other_date_ids: list[int], retailer_ids: list[int],
                  partials: MartPartials | None = None) -> None:
    """Marts are keyed by retailer: only the load's retailers' rows are replaced, so loads of
    other retailers recomputing the same days at the same time touch other rows."""
    retailer_ids = list(retailer_ids)
    date_ids = sorted({t.date_id for t in tables} | set(other_date_ids))
    cur.execute(text("mart_delete"), {"date_ids": date_ids, "retailer_ids": retailer_ids})
    sources = [(d, sql.Identifier("fact_sales"), retailer_ids) for d in other_date_ids]
    if partials is not None:
        partials.stage(cur)
        cur.execute(text("mart_daily_flight"))
    else:
        sources += [(t.date_id, sql.Identifier(t.stage), [t.retailer_id]) for t in tables]
    for date_id, source, rids in sources:
        cur.execute(statement("mart_daily", source=source), {"date_id": date_id, "retailer_ids": rids})
    for year, month in sorted({(d // 10000, d // 100 % 100) for d in date_ids}):
        last = calendar.monthrange(year, month)[1]
        cur.execute(text("mart_monthly"), {"y": year, "m": month, "lo": year * 10000 + month * 100 + 1,
                                           "hi": year * 10000 + month * 100 + last,
                                           "retailer_ids": retailer_ids})
