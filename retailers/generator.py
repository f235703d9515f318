"""Deterministic data generator for the three retailer databases.

`generate()` builds one retailer-day as a DataFrame (source columns + `bad_kind` + `batch_day`)
without a database; `seed()` writes a date range with COPY, replacing each batch day by a
key-range delete on its ids (ids carry the batch day: ORD-20240115-000001, TXN-..., SAL-...).

Everything is vectorised with numpy from one Generator seeded by (seed, retailer, day), so the
same arguments always give the same rows, and 100k rows/day load in about a second.

Bad rows (`bad_kind`), each row at most one kind, kinds spread evenly over the bad rows:
  missing_sku        product code is '' (the column is NOT NULL at source)
  bad_quantity       quantity 0 or negative (total still = quantity x price)
  total_mismatch     total differs from quantity x price
  duplicate_id       a copy of another row whose id has a trailing space (the PK forbids exact
                     copies; the pipeline trims ids and so sees the same id twice)
  future_date        timestamp after `as_of` (default: today, UTC). For a batch day on or before
                     as_of the row is moved to as_of+1..as_of+7, so it is returned only by a
                     request for that future day, not by one for its batch day; for a batch day
                     already after as_of it stays on the batch day.
  unparseable_money  retailer 2 only (money is text there): '12,50', 'N/A', '$12.5', '12.50 EUR'
  overlong_text      product name longer than 255 characters, with non-ASCII text
  sql_text           the product code carries "'; DROP TABLE <table>; --"
Late rows (`late_fraction`) are good rows whose business date is 1-3 days before their batch day.
About 10% of rows share an exact timestamp with another row, to exercise paging ties.
"""

from __future__ import annotations

import datetime as dt
import io
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from typing import Iterable

import numpy as np
import pandas as pd

from retailers.common import catalogues
from retailers.common.db import connect, init_db
from retailers.common.registry import RETAILERS, spec

COMMON_BAD_KINDS = ["missing_sku", "bad_quantity", "total_mismatch", "duplicate_id",
                    "future_date", "overlong_text", "sql_text"]

COLUMNS = {
    "retailer_1": ["order_id", "order_date", "customer_id", "store_id", "sku", "product_name",
                   "category", "quantity", "price", "total", "discount_percentage",
                   "payment_method", "created_at"],
    "retailer_2": ["transaction_number", "date", "member_id", "location_id", "item_code",
                   "item_name", "department", "qty", "unit_cost", "amount", "tax_amount",
                   "loyalty_points_earned", "promotion_code", "sales_rep_id"],
    "retailer_3": ["sale_id", "timestamp", "buyer_id", "outlet_id", "product_code", "name",
                   "type", "count", "price_per_unit", "revenue", "shipping_cost",
                   "warranty_months", "return_policy_days", "supplier_id"],
}

# Shoppers come mostly between 8:00 and 21:00 (UTC, for simplicity).
_HOURS = np.array([1, 1, 1, 1, 1, 2, 4, 8, 14, 18, 20, 22, 26, 24, 20, 19, 21, 24, 25, 20, 14, 8, 4, 2], float)
HOUR_WEIGHTS = _HOURS / _HOURS.sum()
TIE_FRACTION = 0.10
OVERLONG_FILLER = " – édition spéciale, très longue description du produit ✓ «Qualité supérieure» " * 5
SQL_PAYLOAD = "'; DROP TABLE {table}; --"


def bad_kinds(code: str) -> list[str]:
    """The bad kinds a retailer can have: unparseable money only where money is text (r2)."""
    spec(code)
    return COMMON_BAD_KINDS + (["unparseable_money"] if code == "retailer_2" else [])


def _as_date(value: dt.date | str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def _utc_today() -> dt.date:
    return dt.datetime.now(dt.timezone.utc).date()


def _day_start(day: dt.date) -> np.datetime64:
    return np.datetime64(day.isoformat(), "s")


def _money_text(cents: np.ndarray) -> list[str]:
    """Exact 2-dp strings from integer cents (no float rounding): -3750 -> '-37.50'."""
    absolute = np.abs(cents)
    return [f"{'-' if neg else ''}{whole}.{frac:02d}" for neg, whole, frac in
            zip((cents < 0).tolist(), (absolute // 100).tolist(), (absolute % 100).tolist())]


def generate(code: str, day: dt.date | str, rows_per_day: int, bad_fraction: float = 0.0,
             late_fraction: float = 0.0, seed: int = 0, as_of: dt.date | str | None = None) -> pd.DataFrame:
    """One retailer's rows for batch `day`: source columns + `bad_kind` (None = good) + `batch_day`."""
    s = spec(code)
    day = _as_date(day)
    as_of = _as_date(as_of) if as_of is not None else _utc_today()
    if not 0 <= bad_fraction <= 1 or not 0 <= late_fraction <= 1:
        raise ValueError("bad_fraction and late_fraction must be between 0 and 1")
    n = int(rows_per_day)
    if n <= 0:
        return pd.DataFrame(columns=COLUMNS[code] + ["bad_kind", "batch_day"])
    rng = np.random.default_rng([int(seed), s.number, day.toordinal()])

    # Which rows are bad (and how), which are late. Kinds rotate so each appears when n_bad >= kinds.
    kinds = bad_kinds(code)
    kind = np.full(n, -1, dtype=np.int64)
    n_bad = min(n, int(round(n * bad_fraction)))
    bad_rows = rng.permutation(n)[:n_bad]
    kind[bad_rows] = np.resize(rng.permutation(len(kinds)), n_bad)
    is_kind = {name: kind == i for i, name in enumerate(kinds)}
    good_rows = np.flatnonzero(kind == -1)
    n_late = min(len(good_rows), int(round(n * late_fraction)))
    late = np.zeros(n, dtype=bool)
    late[rng.choice(good_rows, size=n_late, replace=False)] = True

    # The canonical sale: when, what, how many, who, where.
    seconds = rng.choice(24, size=n, p=HOUR_WEIGHTS) * 3600 + rng.integers(0, 3600, size=n)
    ties = rng.random(n) < TIE_FRACTION
    seconds[ties] = seconds[rng.integers(0, n, size=int(ties.sum()))]
    start = _day_start(day)
    ts = start + seconds.astype("timedelta64[s]")
    inserted = ts + rng.integers(0, 600, size=n).astype("timedelta64[s]")  # when the row was written (day D)
    ts[late] -= (rng.integers(1, 4, size=n_late) * 86400).astype("timedelta64[s]")
    future = is_kind["future_date"]
    if future.any() and day <= as_of:  # (a batch day after as_of is already in the future)
        days_ahead = (as_of - day).days + rng.integers(1, 8, size=int(future.sum()))
        ts[future] += (days_ahead * 86400).astype("timedelta64[s]")

    catalogue = catalogues.products()
    stocked, prices = catalogues.assortment(s.number)
    pick = rng.integers(0, len(stocked), size=n)
    product = stocked[pick]
    sku = catalogue.sku[product].astype(object)
    name = catalogue.name[product].astype(object)
    category = catalogue.category[product]
    list_cents = prices[pick]
    qty = np.minimum(rng.geometric(0.55, size=n), 12)
    customer = catalogues.customers(s.number)[rng.integers(0, len(catalogues.customers(s.number)), size=n)]
    store_index = rng.integers(0, len(catalogues.stores(s.number)), size=n)
    store = catalogues.stores(s.number)[store_index]

    # Row-level defects that do not depend on the retailer's money rules.
    sku[is_kind["missing_sku"]] = ""
    sku[is_kind["sql_text"]] = sku[is_kind["sql_text"]] + SQL_PAYLOAD.format(table=s.table)
    name[is_kind["overlong_text"]] = name[is_kind["overlong_text"]] + OVERLONG_FILLER
    n_badq = int(is_kind["bad_quantity"].sum())
    qty[is_kind["bad_quantity"]] = rng.integers(-5, 1, size=n_badq)
    n_mismatch = int(is_kind["total_mismatch"].sum())
    mismatch = np.zeros(n, dtype=np.int64)
    mismatch[is_kind["total_mismatch"]] = rng.integers(100, 5000, size=n_mismatch) * rng.choice([-1, 1], size=n_mismatch)

    width = max(6, len(str(n)))
    id_format = f"{s.id_prefix}-{day:%Y%m%d}-{{:0{width}d}}".format
    ids = np.array(list(map(id_format, range(1, n + 1))), dtype=object)
    base = dict(n=n, rng=rng, ids=ids, ts=ts, inserted=inserted, sku=sku, name=name,
                category=category, list_cents=list_cents, qty=qty, customer=customer,
                store=store, store_index=store_index, product=product, mismatch=mismatch, is_kind=is_kind)
    frame = _BUILDERS[code](**base)

    # duplicate_id: a wholesale copy of a good row of the day, its id plus a trailing space.
    dup_rows = np.flatnonzero(is_kind["duplicate_id"])
    if len(dup_rows):
        # Originals: good on-time rows when there are any, so late rows stay exactly late_fraction.
        on_time = good_rows[~late[good_rows]]
        pool = on_time if len(on_time) else good_rows if len(good_rows) else np.flatnonzero(~is_kind["duplicate_id"])
        if len(pool):
            originals = rng.choice(pool, size=len(dup_rows), replace=len(pool) < len(dup_rows))
            # Normally one space; only if originals must repeat (tiny days, huge bad_fraction)
            # does the k-th copy of the same original get k spaces, to keep the PK unique.
            spaces = pd.Series(originals).groupby(originals).cumcount().to_numpy() + 1
            frame.iloc[dup_rows] = frame.iloc[originals].to_numpy()
            frame.iloc[dup_rows, 0] = [f"{i}{' ' * k}" for i, k in zip(frame.iloc[originals, 0], spaces)]  # col 0: id
    labels = np.array([None] + kinds, dtype=object)
    frame["bad_kind"] = pd.Series(labels[kind + 1], index=frame.index, dtype=object)  # None = good
    frame["batch_day"] = day
    return frame


def _retailer_1(*, n, rng, ids, ts, inserted, sku, name, category, list_cents, qty, customer, store,
                mismatch, **_) -> pd.DataFrame:
    """Price is after discount; total = quantity x price (after discount)."""
    discount = rng.choice([0, 0, 0, 0, 0, 0, 0, 5, 10, 15, 20, 25], size=n)
    price = (list_cents * (100 - discount) + 50) // 100
    total = qty * price + mismatch
    return pd.DataFrame({
        "order_id": ids, "order_date": ts, "customer_id": customer, "store_id": store, "sku": sku,
        "product_name": name, "category": category, "quantity": qty, "price": price / 100,
        "total": total / 100, "discount_percentage": discount.astype(float),
        "payment_method": rng.choice(["credit_card", "debit_card", "cash", "paypal", "gift_card"],
                                     size=n, p=[0.4, 0.25, 0.15, 0.15, 0.05]),
        "created_at": inserted,
    })


def _retailer_2(*, n, rng, ids, ts, sku, name, category, list_cents, qty, customer, store,
                store_index, mismatch, is_kind, **_) -> pd.DataFrame:
    """Money as text; amount = qty x unit_cost before tax; tax depends on the location."""
    amount = qty * list_cents + mismatch
    tax = (amount * (5 + store_index % 6) + 50) // 100
    unit_text = np.array(_money_text(list_cents), dtype=object)
    amount_text = np.array(_money_text(amount), dtype=object)
    bad = np.flatnonzero(is_kind["unparseable_money"])
    if len(bad):
        styles = rng.integers(0, 4, size=len(bad))
        on_amount = rng.random(len(bad)) < 0.5
        for row, style, use_amount in zip(bad.tolist(), styles.tolist(), on_amount.tolist()):
            column = amount_text if use_amount else unit_text
            value = column[row]
            column[row] = [value.replace(".", ","), "N/A", "$" + value.rstrip("0").rstrip("."), value + " EUR"][style]
    promo = np.where(rng.random(n) < 0.2, rng.choice(["SPRING10", "LOYAL5", "BOGO", "WELCOME15"], size=n), None)
    rep = np.where(rng.random(n) < 0.6, np.char.add("REP-", np.char.zfill(rng.integers(1, 60, size=n).astype(str), 3)), None)
    return pd.DataFrame({
        "transaction_number": ids, "date": ts, "member_id": customer, "location_id": store,
        "item_code": sku, "item_name": name, "department": category, "qty": qty,
        "unit_cost": unit_text, "amount": amount_text, "tax_amount": _money_text(tax),
        "loyalty_points_earned": np.maximum(amount // 100, 0), "promotion_code": promo,
        "sales_rep_id": rep,
    })


def _retailer_3(*, n, rng, ids, ts, sku, name, category, list_cents, qty, customer, store, product,
                mismatch, **_) -> pd.DataFrame:
    """revenue = count x price_per_unit before shipping; shipping_cost separate."""
    revenue = qty * list_cents + mismatch
    electronics = category == "Electronics"
    return pd.DataFrame({
        "sale_id": ids, "timestamp": ts, "buyer_id": customer, "outlet_id": store,
        "product_code": sku, "name": name, "type": category, "count": qty,
        "price_per_unit": list_cents / 100, "revenue": revenue / 100,
        "shipping_cost": rng.choice([0, 0, 0, 499, 799, 999], size=n) / 100,
        "warranty_months": np.where(electronics, rng.choice([12, 24, 36], size=n), 0),
        "return_policy_days": rng.choice([30, 30, 30, 30, 30, 14, 60, 90], size=n),
        "supplier_id": np.char.add("SUP-", np.char.zfill((product % 50 + 1).astype(str), 3)),
    })


_BUILDERS = {"retailer_1": _retailer_1, "retailer_2": _retailer_2, "retailer_3": _retailer_3}


# -- writing -------------------------------------------------------------------------------

def _csv(frame: pd.DataFrame, code: str) -> io.StringIO:
    """CSV for COPY: NULL as \\N so that '' stays an empty string (missing_sku)."""
    buf = io.StringIO()
    frame[COLUMNS[code]].to_csv(buf, index=False, header=False, na_rep="\\N", float_format="%.2f",
                                date_format="%Y-%m-%d %H:%M:%S")
    buf.seek(0)
    return buf


def _days(start: dt.date, end: dt.date) -> Iterable[dt.date]:
    for offset in range((end - start).days + 1):
        yield start + dt.timedelta(days=offset)


def write_day(cur, code: str, frame: pd.DataFrame, day: dt.date) -> None:
    """Replace batch `day`: delete its key range (ids 'PFX-YYYYMMDD-...'), then COPY the rows."""
    s = spec(code)
    prefix = f"{s.id_prefix}-{day:%Y%m%d}-"
    # ids are COLLATE "C": every id with this prefix sorts in [prefix, prefix with '-' -> '.').
    cur.execute(f'DELETE FROM {s.table} WHERE {s.id_column} >= %s AND {s.id_column} < %s',
                (prefix, prefix[:-1] + "."))
    columns = ", ".join(f'"{c}"' for c in COLUMNS[code])
    # Rows land in the order a till writes them (by time): a day's pages then read neighbouring
    # blocks, so paging through a day costs the same per page whatever the table's size.
    ordered = frame.sort_values([s.ts_column, s.id_column], kind="stable")
    cur.copy_expert(f"COPY {s.table} ({columns}) FROM STDIN WITH (FORMAT csv, NULL '\\N')", _csv(ordered, code))


def seed(dsns: dict[str, str], start: dt.date | str, end: dt.date | str, rows_per_day: int,
         bad_fraction: float = 0.0, late_fraction: float = 0.0, seed: int = 0,
         as_of: dt.date | str | None = None, retailers: Iterable[str] | None = None) -> dict[str, dict]:
    """Seed each retailer's database for [start, end]; returns a summary per retailer.

    Each batch day is replaced in its own transaction, so re-seeding a range never doubles it.
    Retailers are seeded in parallel threads: one's COPY overlaps the next one's generation.
    """
    start, end = _as_date(start), _as_date(end)
    if end < start:
        raise ValueError(f"end ({end}) is before start ({start})")
    as_of = _as_date(as_of) if as_of is not None else _utc_today()
    codes = list(retailers) if retailers else [c for c in RETAILERS if c in dsns]
    missing = [c for c in codes if c not in dsns]
    if missing:
        raise ValueError(f"no database URL for {', '.join(missing)}")
    with ThreadPoolExecutor(max_workers=len(codes) or 1) as pool:
        futures = {code: pool.submit(_seed_one, code, dsns[code], start, end, rows_per_day,
                                     bad_fraction, late_fraction, seed, as_of) for code in codes}
        return {code: future.result() for code, future in futures.items()}


def _seed_one(code: str, dsn: str, start: dt.date, end: dt.date, rows_per_day: int,
              bad_fraction: float, late_fraction: float, seed: int, as_of: dt.date) -> dict:
    """One retailer: schema, then each day replaced, then VACUUM ANALYZE (keeps paging index-only)."""
    began = time.perf_counter()
    init_db(code, dsn)
    ts_column = COLUMNS[code][1]
    stats = {"days": 0, "rows": 0, "late": 0, "bad": {k: 0 for k in bad_kinds(code)}}
    with closing(connect(dsn)) as conn:
        for day in _days(start, end):
            frame = generate(code, day, rows_per_day, bad_fraction, late_fraction, seed, as_of)
            with conn, conn.cursor() as cur:
                write_day(cur, code, frame, day)
            stats["days"] += 1
            stats["rows"] += len(frame)
            if len(frame):
                stats["late"] += int((frame[ts_column] < pd.Timestamp(day)).sum())
            for kind, count in frame["bad_kind"].value_counts().items():
                stats["bad"][kind] += int(count)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f"VACUUM ANALYZE {spec(code).table}")
    stats["seconds"] = round(time.perf_counter() - began, 2)
    return stats
