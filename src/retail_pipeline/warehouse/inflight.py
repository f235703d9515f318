"""Mart aggregates computed from the facts in flight: each chunk of a load is summed per
(day, retailer, store) and per (day, retailer, product) while it streams to the server, so the
marts of the window's days are written from a few thousand partial sums instead of re-reading
the day tables (issue 11: the re-read cost as much as the index builds).

Sums are of money rounded to the cent (staged rows are), added in float64 and rounded again:
exact to the cent far beyond any day's revenue (2^53 cents). Tax and shipping stay NULL for a
retailer that never has them, as SQL's sum() of NULLs.
"""

from __future__ import annotations

import pandas as pd
from psycopg2 import sql

from retail_pipeline.warehouse.pgcopy import copy_frame
from retail_pipeline.warehouse.sqlfiles import text

STORE_KEYS = ["date_id", "retailer_id", "store_id"]
PRODUCT_KEYS = ["date_id", "retailer_id", "product_id"]
STORE_SUMS = ["units_sold", "revenue", "tax_amount", "shipping_cost"]
PRODUCT_SUMS = ["units_sold", "revenue"]
_RENAME = {"quantity": "units_sold", "total_amount": "revenue"}
_COMPACT_EVERY = 16  # partial frames kept before they are summed into one (bounded memory)


def _partial(facts: pd.DataFrame, keys: list[str], sums: list[str]) -> pd.DataFrame:
    frame = facts.rename(columns=_RENAME)
    grouped = frame.groupby(keys, sort=False)
    out = grouped[sums].sum(min_count=1)
    out.insert(0, "transactions", grouped.size())
    return out


def _combine(parts: list[pd.DataFrame], sums: list[str]) -> pd.DataFrame:
    if len(parts) == 1:
        return parts[0]
    both = pd.concat(parts)
    grouped = both.groupby(level=list(range(both.index.nlevels)), sort=False)
    out = grouped[sums].sum(min_count=1)
    out.insert(0, "transactions", grouped["transactions"].sum())
    return out


class MartPartials:
    """Running sums of a load's facts for the daily marts (see the module docstring)."""

    def __init__(self) -> None:
        self._stores: list[pd.DataFrame] = []
        self._products: list[pd.DataFrame] = []

    def add(self, facts: pd.DataFrame) -> None:
        if facts.empty:
            return
        self._stores.append(_partial(facts, STORE_KEYS, STORE_SUMS))
        self._products.append(_partial(facts, PRODUCT_KEYS, PRODUCT_SUMS))
        if len(self._stores) >= _COMPACT_EVERY:
            self._stores = [_combine(self._stores, STORE_SUMS)]
            self._products = [_combine(self._products, PRODUCT_SUMS)]

    def frames(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(per store, per product) sums, one row per key, money rounded to the cent."""
        out = []
        for parts, keys, sums in ((self._stores, STORE_KEYS, STORE_SUMS), (self._products, PRODUCT_KEYS, PRODUCT_SUMS)):
            if not parts:
                out.append(pd.DataFrame(columns=[*keys, "transactions", *sums]))
                continue
            frame = _combine(parts, sums).reset_index()
            for col in sums:
                if col != "units_sold":
                    frame[col] = frame[col].round(2)
            out.append(frame[[*keys, "transactions", *sums]])
        return out[0], out[1]

    def stage(self, cur) -> None:
        """The sums into temp tables tmp_mart_store and tmp_mart_product (mart_from_flight.sql)."""
        stores, products = self.frames()
        cur.execute(text("mart_flight_stage"))
        copy_frame(cur, sql.Identifier("tmp_mart_store"), stores, list(stores.columns))
        copy_frame(cur, sql.Identifier("tmp_mart_product"), products, list(products.columns))
