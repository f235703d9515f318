"""Retailer 4's generator (orders of 1-5 lines, rows = lines) and its two tables in PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from retailers.generator import bad_kinds, generate, seed
from tests.retailers.conftest import r4_query

DAY = dt.date(2024, 1, 15)
AS_OF = dt.date(2024, 6, 1)


def test_same_arguments_same_lines_other_seed_or_code_other_lines():
    a = generate("retailer_4", DAY, 300, 0.2, 0.1, seed=7, as_of=AS_OF)
    pd.testing.assert_frame_equal(a, generate("retailer_4", DAY, 300, 0.2, 0.1, seed=7, as_of=AS_OF))
    assert not a.drop(columns="bad_kind").equals(generate("retailer_4", DAY, 300, 0.2, 0.1, seed=8, as_of=AS_OF)
                                                 .drop(columns="bad_kind"))
    other = generate("paris_web", DAY, 300, 0.2, 0.1, seed=7, as_of=AS_OF, style="retailer_4")
    assert not a["sku"].equals(other["sku"])  # another instance of the style: data of its own
    assert len(a) == 300 and a["order_ref"].str.fullmatch(r"WEB-20240115-\d{6}").all()


def test_orders_have_one_to_five_lines_and_line_ids_are_unique_but_for_duplicates():
    frame = generate("retailer_4", DAY, 600, 0.2, 0.1, seed=3, as_of=AS_OF)
    regular = frame[frame["bad_kind"] != "duplicate_id"]
    sizes = regular.groupby("order_ref").size()
    assert sizes.between(1, 5).all() and set(sizes) == {1, 2, 3, 4, 5}
    assert not frame.duplicated(["order_ref", "position"]).any()  # the table's key
    line_ids = frame["order_ref"] + "-" + frame["line_no"].astype(str)
    dups = frame["bad_kind"] == "duplicate_id"
    assert line_ids[dups].isin(line_ids[~dups & frame["bad_kind"].isna()]).all()
    assert line_ids.duplicated().sum() == dups.sum()
    per_order = frame.groupby("order_ref")[["placed_at", "customer_ref", "shop_ref"]].nunique()
    assert (per_order == 1).all().all()  # order fields are the order's


def test_bad_kinds_per_line_evenly_and_each_bad_in_its_own_way():
    frame = generate("retailer_4", DAY, 400, 0.2, 0.0, seed=5, as_of=AS_OF)
    counts = frame["bad_kind"].value_counts()
    assert set(counts.index) == set(bad_kinds("retailer_4")) and "fractional_cents" in counts
    assert counts.sum() == 80 and counts.max() - counts.min() <= 1
    kind = frame["bad_kind"]
    assert (frame.loc[kind == "missing_sku", "sku"] == "").all()
    assert frame.loc[kind == "sql_text", "sku"].str.endswith("'; DROP TABLE orders; --").all()
    assert (frame.loc[kind == "overlong_text", "title"].str.len() > 255).all()
    assert (frame.loc[kind == "bad_quantity", "units"] <= 0).all()
    money = frame[["unit_price_cents", "line_total_cents"]]
    fractional = money.map(lambda v: v % 1 != 0)
    assert fractional[kind == "fractional_cents"].any(axis=1).all()
    assert not fractional[kind != "fractional_cents"].any().any()
    assert money[kind != "fractional_cents"].map(lambda v: isinstance(v, int)).all().all()
    good = frame[kind.isna() | (kind == "bad_quantity")]
    assert (good["line_total_cents"] == good["units"] * good["unit_price_cents"]).all()
    mismatch = frame[kind == "total_mismatch"]
    assert (mismatch["line_total_cents"] != mismatch["units"] * mismatch["unit_price_cents"]).all()
    future = frame[kind == "future_date"]
    assert (future["placed_at"].dt.date > AS_OF).all()
    assert set(future["order_ref"]).isdisjoint(frame.loc[kind != "future_date", "order_ref"])  # orders of their own


def test_late_lines_are_good_in_late_orders_one_to_three_local_days_early_and_ties_exist():
    frame = generate("retailer_4", DAY, 300, 0.1, 0.2, seed=4, as_of=AS_OF)
    local_day = frame["placed_at"].dt.date
    late = frame[local_day < DAY]
    assert len(late) == 60 and late["bad_kind"].isna().all()
    assert (local_day[local_day < DAY] >= DAY - dt.timedelta(days=3)).all()
    assert set(late["order_ref"]).isdisjoint(frame.loc[local_day >= DAY, "order_ref"])
    orders = frame.drop_duplicates("order_ref")
    assert orders["placed_at"].duplicated().sum() >= 0.05 * len(orders)  # ~10% share an instant


@pytest.mark.parametrize("day, hours", [(dt.date(2024, 3, 31), 23), (dt.date(2024, 10, 27), 25)])
def test_dst_days_have_their_local_length_and_no_time_outside_them(day, hours):
    frame = generate("retailer_4", day, 3000, 0.0, 0.0, seed=2, as_of=AS_OF)
    placed = frame.drop_duplicates("order_ref")["placed_at"]
    assert (placed.dt.date == day).all()
    start = pd.Timestamp(day, tz="Europe/Paris")
    assert (placed.max() - start) < pd.Timedelta(hours=hours)
    offsets = {p.utcoffset() for p in placed}
    assert offsets == {dt.timedelta(hours=1), dt.timedelta(hours=2)}
    if hours == 23:  # 02:00-02:59 does not exist that night
        assert not (placed.dt.hour == 2).any()
    else:  # 02:00-02:59 happens twice; orders on both sides
        assert {p.utcoffset() for p in placed[placed.dt.hour == 2]} == offsets


def test_seed_writes_orders_and_lines_and_reseeding_replaces_both(r4_database):
    dsn = r4_database
    r4_query(dsn, "TRUNCATE orders")
    first = seed({"retailer_4": dsn}, "2024-01-14", "2024-01-15", 120, 0.2, 0.1, 1, "2030-01-01")["retailer_4"]
    assert first["rows"] == 240 and first["late"] == 24 and first["bad"]["fractional_cents"] > 0
    seed({"retailer_4": dsn}, "2024-01-15", "2024-01-15", 50, 0.2, 0.1, 1, "2030-01-01")
    (lines,), = r4_query(dsn, "SELECT count(*) FROM order_lines")
    assert lines == 120 + 50
    frame = generate("retailer_4", "2024-01-15", 50, 0.2, 0.1, 1, "2030-01-01")
    db = r4_query(dsn, "SELECT o.order_ref, o.placed_at, l.position, l.line_no, l.sku, l.title, "
                       "l.unit_price_cents, l.line_total_cents FROM orders o JOIN order_lines l USING (order_ref) "
                       "WHERE o.order_ref LIKE 'WEB-20240115-%%' ORDER BY 1, 3")
    expected = frame.sort_values(["order_ref", "position"])
    assert len(db) == len(expected)
    for got, (_, row) in zip(db, expected.iterrows()):
        assert got[0] == row["order_ref"] and got[1] == row["placed_at"].to_pydatetime()
        assert got[2:6] == (row["position"], row["line_no"], row["sku"], row["title"])  # '' and SQL text intact
        assert (got[6], got[7]) == (row["unit_price_cents"], row["line_total_cents"])  # 1250.5 stays 1250.5
    (orphans,), = r4_query(dsn, "SELECT count(*) FROM order_lines l WHERE NOT EXISTS "
                                "(SELECT 1 FROM orders o WHERE o.order_ref = l.order_ref)")
    assert orphans == 0
    r4_query(dsn, "TRUNCATE orders")  # empties the lines too (no foreign key to cascade)
    assert r4_query(dsn, "SELECT count(*) FROM order_lines") == [(0,)]
