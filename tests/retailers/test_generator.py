"""The generator alone (no database): determinism, the bad-record mix, late rows, money rules."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from retailers.generator import COLUMNS, bad_kinds, generate

DAY = dt.date(2024, 1, 15)
AS_OF = dt.date(2024, 6, 1)
CODES = ["retailer_1", "retailer_2", "retailer_3"]


@pytest.mark.parametrize("code", CODES)
def test_same_seed_same_frame_other_seed_other_frame(code):
    a = generate(code, DAY, 300, 0.1, 0.1, seed=7, as_of=AS_OF)
    b = generate(code, DAY, 300, 0.1, 0.1, seed=7, as_of=AS_OF)
    c = generate(code, DAY, 300, 0.1, 0.1, seed=8, as_of=AS_OF)
    pd.testing.assert_frame_equal(a, b)
    assert not a[COLUMNS[code]].equals(c[COLUMNS[code]])
    assert list(a.columns) == COLUMNS[code] + ["bad_kind", "batch_day"]


@pytest.mark.parametrize("code", CODES)
def test_each_bad_kind_present_at_the_requested_fraction(code):
    frame = generate(code, DAY, 400, 0.2, 0.0, seed=3, as_of=AS_OF)
    counts = frame["bad_kind"].value_counts()
    assert set(counts.index) == set(bad_kinds(code))
    assert counts.sum() == 80
    assert counts.max() - counts.min() <= 1  # spread evenly
    assert frame["bad_kind"].isna().sum() == 320
    assert frame.loc[frame["bad_kind"].isna(), "bad_kind"].map(lambda v: v is None).all()
    assert ("unparseable_money" in counts) == (code == "retailer_2")


@pytest.mark.parametrize("code", CODES)
def test_bad_rows_are_bad_in_their_own_way(code):
    frame = generate(code, DAY, 400, 0.25, 0.0, seed=5, as_of=AS_OF)
    id_, ts, _, _, sku, name = COLUMNS[code][:6]
    qty = COLUMNS[code][7]
    kind = frame["bad_kind"]
    assert (frame.loc[kind == "missing_sku", sku] == "").all()
    assert (frame.loc[kind == "bad_quantity", qty] <= 0).all()
    assert frame.loc[kind == "sql_text", sku].str.contains("'; DROP TABLE").all()
    overlong = frame.loc[kind == "overlong_text", name]
    assert (overlong.str.len() > 255).all() and overlong.map(lambda s: not s.isascii()).all()
    assert (frame.loc[kind == "future_date", ts] > pd.Timestamp(AS_OF + dt.timedelta(days=1))).all()
    dups = frame[kind == "duplicate_id"]
    assert dups[id_].str.endswith(" ").all()
    assert dups[id_].str.rstrip().isin(frame.loc[kind.isna(), id_]).all()
    assert frame[id_].is_unique and frame[id_].str.strip().duplicated().sum() == len(dups)
    assert (frame[id_].str.strip().str.slice(0, 13) == frame[id_].str[:3] + "-20240115-").all()


def _cents(value) -> int:
    return int(Decimal(str(value)) * 100)


@pytest.mark.parametrize("code", CODES)
def test_good_rows_total_is_quantity_times_price_and_mismatch_is_not(code):
    frame = generate(code, DAY, 300, 0.2, 0.0, seed=11, as_of=AS_OF)
    qty, price, total = {"retailer_1": ("quantity", "price", "total"),
                         "retailer_2": ("qty", "unit_cost", "amount"),
                         "retailer_3": ("count", "price_per_unit", "revenue")}[code]
    for kind, expect_equal in ((None, True), ("total_mismatch", False), ("bad_quantity", True)):
        rows = frame[frame["bad_kind"].isna()] if kind is None else frame[frame["bad_kind"] == kind]
        assert len(rows)
        for _, row in rows.iterrows():
            assert (_cents(row[total]) == row[qty] * _cents(row[price])) is expect_equal


def test_retailer_2_money_is_text_with_two_decimals_and_some_unparseable():
    frame = generate("retailer_2", DAY, 300, 0.2, 0.0, seed=2, as_of=AS_OF)
    good = frame[frame["bad_kind"] != "unparseable_money"]
    for col in ("unit_cost", "amount", "tax_amount"):
        assert good[col].str.fullmatch(r"-?\d+\.\d\d").all()
    bad = frame[frame["bad_kind"] == "unparseable_money"]
    assert not (bad["unit_cost"].str.fullmatch(r"-?\d+\.\d\d") & bad["amount"].str.fullmatch(r"-?\d+\.\d\d")).any()


@pytest.mark.parametrize("code", CODES)
def test_late_rows_are_good_and_one_to_three_days_early(code):
    frame = generate(code, DAY, 300, 0.1, 0.2, seed=4, as_of=AS_OF)
    ts = COLUMNS[code][1]
    late = frame[frame[ts] < pd.Timestamp(DAY)]
    assert len(late) == 60
    assert late["bad_kind"].isna().all()
    assert (late[ts] >= pd.Timestamp(DAY - dt.timedelta(days=3))).all()
    assert (frame["batch_day"] == DAY).all()


@pytest.mark.parametrize("code", CODES)
def test_ties_and_non_ascii_names_among_good_rows(code):
    frame = generate(code, DAY, 300, 0.0, 0.0, seed=9, as_of=AS_OF)
    ts, name = COLUMNS[code][1], COLUMNS[code][5]
    assert frame[ts].duplicated().sum() >= 10
    assert (~frame[name].map(str.isascii)).sum() > 0


def test_future_date_for_a_day_after_as_of_stays_on_that_day():
    frame = generate("retailer_1", dt.date(2024, 7, 1), 200, 0.2, 0.0, seed=1, as_of=AS_OF)
    future = frame[frame["bad_kind"] == "future_date"]
    assert len(future) and (future["order_date"].dt.date == dt.date(2024, 7, 1)).all()


def test_zero_rows_and_big_days_have_consistent_ids():
    assert generate("retailer_3", DAY, 0, 0.1, 0.1, seed=1, as_of=AS_OF).empty
    ids = generate("retailer_3", DAY, 50, 0, 0, seed=1, as_of=AS_OF)["sale_id"]
    assert ids.iloc[0] == "SAL-20240115-000001" and ids.iloc[-1] == "SAL-20240115-000050"
    assert np.all(ids.str.len() == 19)
