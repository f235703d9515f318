"""Product history (slowly changing dimension, type 2): dim_product keeps one row per version of a
product, and every fact points to the version valid on its day (012_product_history.sql).

A load sends, instead of one row per product, its product-days (`tmp_dim_product`: the latest
sale's name and category of each product and day it sold). Two steps:

- at COPY time (`KnownVersions`): each fact gets the key of the version that covered its day when
  the load started (the versions of the products that have several, read once), else the
  product's durable key, which is also its first version's key;
- in the tail, under the dimension lock (`apply_product_versions`): the window's observations
  replaced, the touched products' versions recomputed as if from all their observations (so the
  result does not depend on the order days are loaded in, and a rerun finds the same keys; the
  SQL reads the window's days and the existing versions only, not all history), written,
  then only the facts whose version changed re-pointed: the window's new day tables where a
  product-day resolved differently (usually none), and attached facts of versions whose range
  moved (a late row revealing a change earlier, an old day reloaded); versions that are gone
  are dropped last.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
from psycopg2 import sql

from retail_pipeline.warehouse.days import date_id_of, retailer_parent
from retail_pipeline.warehouse.sqlfiles import statement, text

OBSERVATION_COLUMNS = ["retailer_id", "product_sku", "date_id", "product_key", "product_name", "category",
                       "observed_at"]
_DAY = 100_000_000  # date ids (YYYYMMDD) are below this: a (product, day) pair as one int64


class KnownVersions:
    """The load's retailers' product versions when the load starts, to key facts at COPY time."""

    def __init__(self, rows: list[tuple[int, int, int, int]]) -> None:
        frame = pd.DataFrame(rows, columns=["product_key", "from_id", "to_id", "product_id"])
        self._products = pd.Index(pd.unique(frame["product_key"].to_numpy(dtype=np.int64)))
        codes = self._products.get_indexer(frame["product_key"].to_numpy(dtype=np.int64)).astype(np.int64)
        order = np.argsort(codes * _DAY + frame["from_id"].to_numpy(dtype=np.int64), kind="stable")
        self._starts = (codes * _DAY + frame["from_id"].to_numpy(dtype=np.int64))[order]
        self._ends = (codes * _DAY + frame["to_id"].to_numpy(dtype=np.int64))[order]
        self._ids = frame["product_id"].to_numpy(dtype=np.int64)[order]

    @classmethod
    def load(cls, cur, retailer_ids: list[int]) -> "KnownVersions":
        cur.execute(text("product_known"), {"retailer_ids": list(retailer_ids)})
        return cls(cur.fetchall())

    def point(self, facts: pd.DataFrame) -> pd.DataFrame:
        """The facts with product_id (the durable key) replaced by the version covering date_id,
        when one is known (a new frame; the caller's is left as it is)."""
        if not len(self._ids) or facts.empty:
            return facts
        keys = facts["product_id"].to_numpy(dtype=np.int64)
        codes = self._products.get_indexer(keys).astype(np.int64)
        rows = np.flatnonzero(codes >= 0)  # facts of products with several versions: usually few
        if not len(rows):
            return facts
        codes = codes[rows]
        wanted = codes * _DAY + facts["date_id"].to_numpy(dtype=np.int64)[rows]
        at = np.searchsorted(self._starts, wanted, side="right") - 1
        safe = np.clip(at, 0, None)
        hit = (at >= 0) & (wanted < self._ends[safe]) & (self._starts[safe] // _DAY == codes)
        keys = keys.copy()
        keys[rows[hit]] = self._ids[safe[hit]]
        return facts.assign(product_id=keys)


def _day_tables(cur, retailer_ids: list[int], start: date, end: date) -> list[sql.Identifier]:
    """The load's new day tables (warehouse.days names them `<retailer parent>_<date_id>_load`),
    those that exist."""
    names = [f"{retailer_parent(r)}_{date_id_of(date.fromordinal(d))}_load"
             for r in retailer_ids for d in range(start.toordinal(), end.toordinal() + 1)]
    cur.execute("SELECT n FROM unnest(%s::text[]) n WHERE to_regclass(quote_ident(n)) IS NOT NULL", (names,))
    return [sql.Identifier(row[0]) for row in cur.fetchall()]


def apply_product_versions(cur, retailer_ids: list[int], run_id: str, start: date, end: date) -> dict[str, int]:
    """Under the dimension lock: observations replaced, versions recomputed and written, facts
    re-pointed (see the module docstring). Returns counts for the log and the tests."""
    cur.execute(statement("product_stage", tmp="tmp_dim_product"))
    window = {"retailer_ids": list(retailer_ids), "lo": date_id_of(start), "hi": date_id_of(end)}
    cur.execute(text("product_observe"), window)
    cur.execute(text("product_versions"), window)
    cur.execute(text("product_upsert"), {"run_id": run_id})
    written = cur.fetchone()[0]
    cur.execute(text("product_repoint_days"))
    cur.execute("SELECT count(*) FROM tmp_product_repoint")
    days = 0
    if cur.fetchone()[0]:
        for table in _day_tables(cur, retailer_ids, start, end):
            cur.execute(statement("product_repoint_day", stage=table))
            days += cur.rowcount
    cur.execute(text("product_moves"))
    moved = 0
    for retailer_id, lo, hi in cur.fetchall():  # usually none
        cur.execute(statement("product_repoint_facts", parent=retailer_parent(retailer_id)),
                    {"retailer_id": retailer_id, "lo": lo, "hi": hi, "window_lo": window["lo"],
                     "window_hi": window["hi"]})
        moved += cur.fetchone()[0]
    cur.execute(text("product_drop"))
    return {"versions written": written, "facts re-pointed in the window": days,
            "facts re-pointed outside": moved, "versions dropped": cur.rowcount}
