"""Orders with nested lines (retailer 4), for retailers/generator.py.

One frame row per order LINE (rows per day = lines; an order has 1-5), with the order's fields
repeated. Bad kinds are drawn per line like the other styles' rows, plus `fractional_cents`
(a money value such as 1250.5). Three kinds concern the order, so their lines are grouped into
orders of their own: late lines (good lines, 1-3 local days before the batch day) and
future_date lines form late and future orders; a duplicate_id line is a second copy of a good
line inside that line's order, with the same line_no (order_ref + line_no is the line's id).
Times are drawn as local wall-clock times in the style's time zone and made instants there:
on the spring-forward day a time in the missing hour moves an hour on, on the fall-back day a
time in the repeated hour falls on either side of the change.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from retailers.common import catalogues
from retailers.common.generation import (
    HOUR_WEIGHTS, OVERLONG_FILLER, SQL_PAYLOAD, TIE_FRACTION, bad_kinds_of, id_format, pick_kinds, pick_late,
)
from retailers.common.registry import RetailerSpec

ORDER_COLUMNS = ["order_ref", "placed_at", "customer_ref", "shop_ref", "currency"]
LINE_COLUMNS = ["position", "line_no", "sku", "title", "family", "units", "unit_price_cents",
                "line_total_cents"]
COLUMNS = ORDER_COLUMNS + LINE_COLUMNS
MAX_LINES = 5
ON_TIME, LATE, FUTURE = 0, 1, 2


def _group_into_orders(rng: np.random.Generator, members: np.ndarray, first: int) -> tuple[np.ndarray, int]:
    """Cut `members` (line indexes) into consecutive orders of 1..MAX_LINES lines numbered from
    `first`: (each member's order number, the number of orders)."""
    sizes = rng.integers(1, MAX_LINES + 1, size=len(members))
    ends = np.cumsum(sizes)
    count = int(np.searchsorted(ends, len(members)) + 1) if len(members) else 0
    numbers = np.repeat(np.arange(first, first + count), sizes[:count])[: len(members)]
    return numbers, count


def _rank_in_group(keys: np.ndarray) -> np.ndarray:
    """1, 2, 3... for the successive occurrences of each key (in array order)."""
    return pd.Series(keys).groupby(keys).cumcount().to_numpy() + 1


def generate_orders(s: RetailerSpec, day: dt.date, n: int, bad_fraction: float, late_fraction: float,
                    rng: np.random.Generator, as_of: dt.date) -> pd.DataFrame:
    """One retailer-4 day of n > 0 lines: COLUMNS + `bad_kind` (None = good) + `batch_day`."""
    kinds = bad_kinds_of(s.code)
    kind = pick_kinds(rng, n, kinds, bad_fraction)
    is_kind = {name: kind == i for i, name in enumerate(kinds)}
    late, good_rows = pick_late(rng, kind, late_fraction)

    # What each line sells, and its line-level defects.
    catalogue = catalogues.products()
    stocked, prices = catalogues.assortment(s.number)
    pick = rng.integers(0, len(stocked), size=n)
    product = stocked[pick]
    sku = catalogue.sku[product].astype(object)
    # the price of the batch day; titles and families of each line's own day, once orders are placed
    _, _, factor = catalogues.attributes_on(s.number, product, np.full(n, np.datetime64(day.isoformat(), "D")))
    unit = np.where(factor == 1.0, prices[pick], np.maximum((prices[pick] * factor).astype(np.int64) // 10 * 10 + 9, 49))
    title = catalogue.name[product].astype(object)
    family = catalogue.category[product].astype(object)
    units = np.minimum(rng.geometric(0.55, size=n), 12)
    sku[is_kind["missing_sku"]] = ""
    sku[is_kind["sql_text"]] = sku[is_kind["sql_text"]] + SQL_PAYLOAD.format(table=s.table)
    units[is_kind["bad_quantity"]] = rng.integers(-5, 1, size=int(is_kind["bad_quantity"].sum()))
    total = units * unit
    n_mismatch = int(is_kind["total_mismatch"].sum())
    total[is_kind["total_mismatch"]] += rng.integers(100, 5000, size=n_mismatch) * rng.choice([-1, 1], size=n_mismatch)
    unit_money, total_money = np.array(unit.tolist(), dtype=object), np.array(total.tolist(), dtype=object)
    fractional = np.flatnonzero(is_kind["fractional_cents"])
    on_total = rng.random(len(fractional)) < 0.5
    for row, use_total in zip(fractional.tolist(), on_total.tolist()):
        column = total_money if use_total else unit_money
        column[row] = column[row] + 0.5

    # duplicate_id lines copy a good on-time line (into its order, below); without one they
    # stay ordinary lines of their own, as in the row styles.
    on_time_good = good_rows[~late[good_rows]]
    dup_rows = np.flatnonzero(is_kind["duplicate_id"]) if len(on_time_good) else np.array([], dtype=np.int64)
    group = np.where(late, LATE, np.where(is_kind["future_date"], FUTURE, ON_TIME))
    group[dup_rows] = -1

    # Lines into orders, per group; each line's order number and place in its order.
    order_of = np.full(n, -1, dtype=np.int64)
    order_group: list[int] = []
    for g in (ON_TIME, LATE, FUTURE):
        members = rng.permutation(np.flatnonzero(group == g))
        numbers, count = _group_into_orders(rng, members, len(order_group))
        order_of[members] = numbers
        order_group += [g] * count
    m = len(order_group)
    regular = np.flatnonzero(group != -1)
    position = np.zeros(n, dtype=np.int64)
    position[regular] = _rank_in_group(order_of[regular])  # place in the order, in line index order
    line_no = position.copy()
    if len(dup_rows):  # a second copy of a good line, at the end of that line's order
        originals = rng.choice(on_time_good, size=len(dup_rows), replace=len(on_time_good) < len(dup_rows))
        order_of[dup_rows] = order_of[originals]
        for array in (product, sku, title, family, units, unit_money, total_money, line_no):
            array[dup_rows] = array[originals]
        sizes = np.bincount(order_of[regular], minlength=m)
        position[dup_rows] = sizes[order_of[dup_rows]] + _rank_in_group(order_of[dup_rows])

    # Orders: when (local wall clock), who, where. ~TIE_FRACTION of the on-time orders take
    # another on-time order's instant (ties across groups would be undone by the day shifts).
    order_group_arr = np.array(order_group, dtype=np.int64)
    seconds = rng.choice(24, size=m, p=HOUR_WEIGHTS) * 3600 + rng.integers(0, 3600, size=m)
    summer_side = rng.random(m) < 0.5  # for a time in the fall-back hour: which of its two instants
    on_time = np.flatnonzero(order_group_arr == ON_TIME)
    ties = on_time[rng.random(len(on_time)) < TIE_FRACTION]
    if len(ties):
        copied = rng.choice(on_time, size=len(ties))
        seconds[ties], summer_side[ties] = seconds[copied], summer_side[copied]
    shift_days = np.zeros(m, dtype=np.int64)
    is_late, is_future = order_group_arr == LATE, order_group_arr == FUTURE
    shift_days[is_late] = -rng.integers(1, 4, size=int(is_late.sum()))
    if is_future.any() and day <= as_of:  # (a batch day after as_of is already in the future)
        shift_days[is_future] = (as_of - day).days + rng.integers(1, 8, size=int(is_future.sum()))
    wall = pd.DatetimeIndex(np.datetime64(day.isoformat(), "s")
                            + (shift_days * 86400 + seconds).astype("timedelta64[s]"))
    placed = wall.tz_localize(s.timezone, ambiguous=summer_side, nonexistent=pd.Timedelta(hours=1))
    sold_on = np.datetime64(day.isoformat(), "D") + shift_days[order_of].astype("timedelta64[D]")
    title[:], family[:], _ = catalogues.attributes_on(s.number, product, sold_on)  # the catalogue of the sale's day
    title[is_kind["overlong_text"]] = title[is_kind["overlong_text"]] + OVERLONG_FILLER
    customers, shops = catalogues.customers(s.number), catalogues.stores(s.number)
    customer = customers[rng.integers(0, len(customers), size=m)]
    shop = shops[rng.integers(0, len(shops), size=m)]
    refs = np.array(list(map(id_format(s, day, m), range(1, m + 1))), dtype=object)

    rows = np.lexsort((position, order_of))  # by order, then place in the order
    o = order_of[rows]
    labels = np.array([None] + kinds, dtype=object)
    return pd.DataFrame({
        "order_ref": refs[o], "placed_at": placed[o], "customer_ref": customer[o], "shop_ref": shop[o],
        "currency": "EUR", "position": position[rows], "line_no": line_no[rows], "sku": sku[rows],
        "title": title[rows], "family": family[rows], "units": units[rows],
        "unit_price_cents": unit_money[rows], "line_total_cents": total_money[rows],
        "bad_kind": pd.Series(labels[kind[rows] + 1], dtype=object), "batch_day": day,
    })
