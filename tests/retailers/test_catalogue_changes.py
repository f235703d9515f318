"""Issue 13 §1: the generator's catalogues change over time (renames, category moves, price
changes on given days), deterministically, and every good row carries its sale day's catalogue."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from retailers.common import catalogues
from retailers.generator import generate

AS_OF = dt.date(2024, 6, 1)


def fresh(retailer: int, day: dt.date):
    return catalogues.on_day.__wrapped__(retailer, day)  # computed again, not from the cache


def test_the_catalogue_before_the_first_change_is_the_base_catalogue():
    names, categories, factors = fresh(1, catalogues.CHANGE_EPOCH)
    base = catalogues.products()
    assert list(names) == list(base.name) and list(categories) == list(base.category)
    assert (factors == 1.0).all()


def test_changes_are_deterministic_per_retailer_and_day():
    day = dt.date(2024, 5, 17)
    for got, again in zip(fresh(2, day), catalogues.on_day(2, day)):
        assert list(got) == list(again)
    assert list(fresh(1, day)[0]) != list(fresh(2, day)[0])  # each retailer changes its own way


def test_each_product_changes_only_on_its_schedule_and_every_kind_happens():
    days = [catalogues.CHANGE_EPOCH + dt.timedelta(days=n) for n in range(120)]
    states = [fresh(3, d) for d in days]
    kinds = {"rename": 0, "move": 0, "price": 0}
    change_days: dict[int, list[int]] = {}
    for n in range(1, len(days)):
        (n0, c0, f0), (n1, c1, f1) = states[n - 1], states[n]
        renamed, moved, repriced = n0 != n1, c0 != c1, f0 != f1
        assert not (renamed & moved).any() and not (moved & repriced).any()  # one change per event
        kinds["rename"] += int(renamed.sum())
        kinds["move"] += int(moved.sum())
        kinds["price"] += int(repriced.sum())
        for product in np.flatnonzero(renamed | moved | repriced):
            change_days.setdefault(int(product), []).append(n)
    assert min(kinds.values()) > 100  # ~512 products x 5 events, a third of each kind
    for product, seen in change_days.items():
        assert all((b - a) % catalogues.CHANGE_EVERY_DAYS == 0 for a, b in zip(seen, seen[1:])), product


@pytest.mark.parametrize("code,number,cols", [
    ("retailer_1", 1, ("order_date", "sku", "product_name", "category")),
    ("retailer_4", 4, ("placed_at", "sku", "title", "family")),
])
def test_good_rows_carry_the_catalogue_of_their_own_sale_day(code, number, cols):
    """Late rows (sold days before the batch day) included: a change shows on its day."""
    ts, sku, name, category = cols
    frame = generate(code, dt.date(2024, 3, 5), 600, 0.0, 0.3, seed=11, as_of=AS_OF)
    sold_on = pd.to_datetime(frame[ts]).map(lambda t: t.date())
    assert sold_on.nunique() > 1  # late rows from earlier days are there
    index = {s: i for i, s in enumerate(catalogues.products().sku)}
    for day, rows in frame.groupby(sold_on):
        names, categories, _ = catalogues.on_day(number, day)
        products = rows[sku].map(index).to_numpy()
        assert list(rows[name]) == list(names[products]) and list(rows[category]) == list(categories[products])
    changed = [n for n in range(1, 6) if (catalogues.on_day(number, dt.date(2024, 3, n))[0]
                                          != catalogues.on_day(number, dt.date(2024, 3, n + 1))[0]).any()]
    assert changed  # renames happen within these days


def test_generation_stays_fast():
    import time

    start = time.perf_counter()
    generate("retailer_2", dt.date(2025, 9, 1), 20_000, 0.02, 0.05, seed=3, as_of=AS_OF)
    assert time.perf_counter() - start < 5.0  # (a cold day's catalogue costs ~0.05 s)
