"""Deterministic data generator for the retailer databases.

`generate()` builds one retailer-day as a DataFrame (source columns + `bad_kind` + `batch_day`)
without a database; `seed()` writes a date range with COPY, replacing each batch day by a
key-range delete on its ids (ids carry the batch day: ORD-20240115-000001, TXN-..., SAL-...,
WEB-...). Styles 1-3 have one row per sale (retailers/generator_rows.py); style 4 one row per
order line, its orders and lines going to two tables (retailers/generator_orders.py).

Everything is vectorised with numpy from one Generator seeded by (seed, retailer, day), so the
same arguments always give the same rows, and 100k rows/day load in about a second. An instance
under another code than its style's (`code=`) gets data of its own.

Bad rows (`bad_kind`), each row at most one kind, kinds spread evenly over the bad rows:
  missing_sku        product code is '' (the column is NOT NULL at source)
  bad_quantity       quantity 0 or negative (total still = quantity x price)
  total_mismatch     total differs from quantity x price
  duplicate_id       a copy of another row whose id has a trailing space (the PK forbids exact
                     copies; the pipeline trims ids and so sees the same id twice); retailer 4:
                     the same line (same line_no) twice in its order
  future_date        timestamp after `as_of` (default: today, UTC). For a batch day on or before
                     as_of the row is moved to as_of+1..as_of+7, so it is returned only by a
                     request for that future day, not by one for its batch day; for a batch day
                     already after as_of it stays on the batch day.
  unparseable_money  retailer 2 only (money is text there): '12,50', 'N/A', '$12.5', '12.50 EUR'
  fractional_cents   retailer 4 only (money in cents): a unit price or line total like 1250.5
  overlong_text      product name longer than 255 characters, with non-ASCII text
  sql_text           the product code carries "'; DROP TABLE <table>; --"
Late rows (`late_fraction`) are good rows whose business date is 1-3 days before their batch day.
About 10% of rows (retailer 4: orders) share an exact timestamp with another, to exercise paging ties.
"""

from __future__ import annotations

import datetime as dt
import io
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from typing import Iterable

import pandas as pd

from retailers import generator_orders, generator_rows
from retailers.common.db import connect, init_db
from retailers.common.generation import as_date, bad_kinds_of, day_rng, utc_today
from retailers.common.registry import RETAILERS, instance, spec

COLUMNS = {**generator_rows.COLUMNS, "retailer_4": generator_orders.COLUMNS}

# Kept importable under their old names.
_as_date, _utc_today = as_date, utc_today


def bad_kinds(style: str) -> list[str]:
    """The bad kinds a style can have: unparseable money where money is text (r2), fractional
    cents where it is in cents (r4)."""
    spec(style)
    return bad_kinds_of(style)


def generate(code: str, day: dt.date | str, rows_per_day: int, bad_fraction: float = 0.0,
             late_fraction: float = 0.0, seed: int = 0, as_of: dt.date | str | None = None,
             style: str | None = None) -> pd.DataFrame:
    """Retailer `code`'s rows for batch `day` (retailer 4: order lines): source columns +
    `bad_kind` (None = good) + `batch_day`. `style`: when `code` is not a style's own name."""
    s = instance(code, style).spec
    day = as_date(day)
    as_of = as_date(as_of) if as_of is not None else utc_today()
    if not 0 <= bad_fraction <= 1 or not 0 <= late_fraction <= 1:
        raise ValueError("bad_fraction and late_fraction must be between 0 and 1")
    n = int(rows_per_day)
    if n <= 0:
        return pd.DataFrame(columns=COLUMNS[s.code] + ["bad_kind", "batch_day"])
    rng = day_rng(seed, s, day, code)
    if s.code == "retailer_4":
        return generator_orders.generate_orders(s, day, n, bad_fraction, late_fraction, rng, as_of)
    return generator_rows.generate_rows(s, day, n, bad_fraction, late_fraction, rng, as_of)


# -- writing -------------------------------------------------------------------------------

def _csv(frame: pd.DataFrame, style: str, columns: list[str] | None = None) -> io.StringIO:
    """CSV for COPY: NULL as \\N so that '' stays an empty string (missing_sku)."""
    buf = io.StringIO()
    frame[columns or COLUMNS[style]].to_csv(buf, index=False, header=False, na_rep="\\N", float_format="%.2f",
                                            date_format="%Y-%m-%d %H:%M:%S")
    buf.seek(0)
    return buf


def _days(start: dt.date, end: dt.date) -> Iterable[dt.date]:
    for offset in range((end - start).days + 1):
        yield start + dt.timedelta(days=offset)


def _copy(cur, table: str, columns: list[str], buf: io.StringIO) -> None:
    names = ", ".join(f'"{c}"' for c in columns)
    cur.copy_expert(f"COPY {table} ({names}) FROM STDIN WITH (FORMAT csv, NULL '\\N')", buf)


def write_day(cur, style: str, frame: pd.DataFrame, day: dt.date) -> None:
    """Replace batch `day` of a style's database: delete its key range (ids 'PFX-YYYYMMDD-...')
    in every table of the style, then COPY the rows."""
    s = spec(style)
    prefix = f"{s.id_prefix}-{day:%Y%m%d}-"
    # ids are COLLATE "C": every id with this prefix sorts in [prefix, prefix with '-' -> '.').
    for table in reversed(s.tables):
        cur.execute(f'DELETE FROM {table} WHERE {s.id_column} >= %s AND {s.id_column} < %s',
                    (prefix, prefix[:-1] + "."))
    # Rows land in the order a till writes them (by time): a day's pages then read neighbouring
    # blocks, so paging through a day costs the same per page whatever the table's size.
    if style != "retailer_4":
        ordered = frame.sort_values([s.ts_column, s.id_column], kind="stable")
        _copy(cur, s.table, COLUMNS[style], _csv(ordered, style))
        return
    ordered = frame.sort_values(["placed_at", "order_ref", "position"], kind="stable")
    orders = ordered.drop_duplicates("order_ref")[generator_orders.ORDER_COLUMNS].copy()
    orders["placed_at"] = orders["placed_at"].dt.tz_convert("UTC").dt.strftime("%Y-%m-%d %H:%M:%S+00")
    lines = ["order_ref", *generator_orders.LINE_COLUMNS]
    _copy(cur, "orders", generator_orders.ORDER_COLUMNS, _csv(orders, style, generator_orders.ORDER_COLUMNS))
    _copy(cur, "order_lines", lines, _csv(ordered, style, lines))


def late_rows(style: str, frame: pd.DataFrame, day: dt.date) -> int:
    """Rows whose business date (local, for retailer 4) is before their batch day."""
    if not len(frame):
        return 0
    s = spec(style)
    ts = frame[s.ts_column]
    first = pd.Timestamp(day, tz=s.timezone) if ts.dt.tz is not None else pd.Timestamp(day)
    return int((ts < first).sum())


def seed(dsns: dict[str, str], start: dt.date | str, end: dt.date | str, rows_per_day: int,
         bad_fraction: float = 0.0, late_fraction: float = 0.0, seed: int = 0,
         as_of: dt.date | str | None = None, retailers: Iterable[str] | None = None,
         styles: dict[str, str] | None = None) -> dict[str, dict]:
    """Seed each retailer's database for [start, end]; returns a summary per retailer.

    `dsns`: code -> database URL; `styles`: code -> style for codes that are not a style's own
    name. Each batch day is replaced in its own transaction, so re-seeding a range never
    doubles it. Retailers are seeded in parallel threads: one's COPY overlaps the next one's
    generation.
    """
    start, end = as_date(start), as_date(end)
    if end < start:
        raise ValueError(f"end ({end}) is before start ({start})")
    as_of = as_date(as_of) if as_of is not None else utc_today()
    styles = styles or {}
    codes = list(retailers) if retailers else [c for c in dsns if c in RETAILERS or c in styles]
    missing = [c for c in codes if c not in dsns]
    if missing:
        raise ValueError(f"no database URL for {', '.join(missing)}")
    with ThreadPoolExecutor(max_workers=len(codes) or 1) as pool:
        futures = {code: pool.submit(_seed_one, code, styles.get(code, code), dsns[code], start, end,
                                     rows_per_day, bad_fraction, late_fraction, seed, as_of) for code in codes}
        return {code: future.result() for code, future in futures.items()}


def _seed_one(code: str, style: str, dsn: str, start: dt.date, end: dt.date, rows_per_day: int,
              bad_fraction: float, late_fraction: float, seed: int, as_of: dt.date) -> dict:
    """One retailer: schema, then each day replaced, then VACUUM ANALYZE (keeps paging index-only)."""
    began = time.perf_counter()
    s = instance(code, style).spec
    init_db(s.code, dsn)
    stats = {"days": 0, "rows": 0, "late": 0, "bad": {k: 0 for k in bad_kinds(s.code)}}
    with closing(connect(dsn)) as conn:
        for day in _days(start, end):
            frame = generate(code, day, rows_per_day, bad_fraction, late_fraction, seed, as_of, style=s.code)
            with conn, conn.cursor() as cur:
                write_day(cur, s.code, frame, day)
            stats["days"] += 1
            stats["rows"] += len(frame)
            stats["late"] += late_rows(s.code, frame, day)
            for kind, count in frame["bad_kind"].value_counts().items():
                stats["bad"][kind] += int(count)
        conn.autocommit = True
        with conn.cursor() as cur:
            for table in s.tables:
                cur.execute(f"VACUUM ANALYZE {table}")
    stats["seconds"] = round(time.perf_counter() - began, 2)
    return stats
