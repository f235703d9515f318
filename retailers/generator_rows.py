"""Rows of the styles with one row per sale (retailers 1-3), for retailers/generator.py.

Vectorised with numpy from the day's Generator (retailers.common.generation.day_rng): the order
of its draws is part of the data, so changing it changes every seeded database.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from retailers.common import catalogues
from retailers.common.generation import (
    OVERLONG_FILLER, SQL_PAYLOAD, bad_kinds_of, id_format, pick_kinds, pick_late, tie_seconds,
)
from retailers.common.registry import RetailerSpec

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


def _money_text(cents: np.ndarray) -> list[str]:
    """Exact 2-dp strings from integer cents (no float rounding): -3750 -> '-37.50'."""
    absolute = np.abs(cents)
    return [f"{'-' if neg else ''}{whole}.{frac:02d}" for neg, whole, frac in
            zip((cents < 0).tolist(), (absolute // 100).tolist(), (absolute % 100).tolist())]


def generate_rows(s: RetailerSpec, day: dt.date, n: int, bad_fraction: float, late_fraction: float,
                  rng: np.random.Generator, as_of: dt.date) -> pd.DataFrame:
    """One style 1-3 retailer-day of n > 0 rows: source columns + `bad_kind` (None = good) + `batch_day`."""
    code = s.code
    # Which rows are bad (and how), which are late. Kinds rotate so each appears when n_bad >= kinds.
    kinds = bad_kinds_of(code)
    kind = pick_kinds(rng, n, kinds, bad_fraction)
    is_kind = {name: kind == i for i, name in enumerate(kinds)}
    late, good_rows = pick_late(rng, kind, late_fraction)
    n_late = int(late.sum())

    # The canonical sale: when, what, how many, who, where.
    seconds = tie_seconds(rng, n)
    start = np.datetime64(day.isoformat(), "s")
    ts = start + seconds.astype("timedelta64[s]")
    inserted = ts + rng.integers(0, 600, size=n).astype("timedelta64[s]")  # when the row was written (day D)
    ts[late] -= (rng.integers(1, 4, size=n_late) * 86400).astype("timedelta64[s]")
    future = is_kind["future_date"]
    if future.any() and day <= as_of:  # (a batch day after as_of is already in the future)
        days_ahead = (as_of - day).days + rng.integers(1, 8, size=int(future.sum()))
        ts[future] += (days_ahead * 86400).astype("timedelta64[s]")

    stocked, prices = catalogues.assortment(s.number)
    pick = rng.integers(0, len(stocked), size=n)
    product = stocked[pick]
    sku = catalogues.products().sku[product].astype(object)
    # the catalogue of each sale's own day: renames, category moves, price changes (catalogues.on_day)
    name, category, factor = catalogues.attributes_on(s.number, product, ts.astype("datetime64[D]"))
    list_cents = np.where(factor == 1.0, prices[pick], np.maximum((prices[pick] * factor).astype(np.int64) // 10 * 10 + 9, 49))
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

    ids = np.array(list(map(id_format(s, day, n), range(1, n + 1))), dtype=object)
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
