"""Dimension upserts of a load, in two steps: stage (COPY the members into temp tables, refuse
unknown retailers and key collisions: reads only, runs in parallel with other retailers' loads)
and apply (under the dimension lock: insert new members; all set-based). Products are staged as
product-days and kept as versions (warehouse.product_versions)."""

from __future__ import annotations

import logging
from datetime import date
from typing import Callable

import pandas as pd
from kedro.io.core import DatasetError
from psycopg2 import sql

from retail_pipeline.warehouse.pgcopy import copy_frame
from retail_pipeline.warehouse.product_versions import OBSERVATION_COLUMNS, apply_product_versions
from retail_pipeline.warehouse.sqlfiles import statement, text

logger = logging.getLogger(__name__)

DIMENSIONS = {
    # name: (key, natural key, grain of the staged rows, copy columns)
    "dim_product": ("product_key", ("retailer_id", "product_sku"), ("retailer_id", "product_sku", "date_id"),
                    OBSERVATION_COLUMNS),
    "dim_customer": ("customer_id", ("retailer_id", "customer_external_id"), ("customer_id",),
                     ["customer_id", "retailer_id", "customer_external_id"]),
    "dim_store": ("store_id", ("retailer_id", "store_external_id"), ("store_id",),
                  ["store_id", "retailer_id", "store_external_id"]),
}
VERSIONED = "dim_product"  # staged as product-days, written as versions (product_versions.py)
# The fact columns no foreign key checks (021_fact_sales_member_keys.sql): the load does.
NAMED_BY_FACTS = {"dim_customer": "customer_id", "dim_store": "store_id"}


def _columns(columns, prefix: str = "") -> sql.Composed:
    return sql.SQL(", ").join(sql.SQL(prefix) + sql.Identifier(c) for c in columns)


def stage_members(cur, name: str) -> None:
    """The temp table tmp_<name> for a load's members (product-days for dim_product)."""
    if name == VERSIONED:
        cur.execute(statement("product_stage", tmp=f"tmp_{name}"))
    else:
        cur.execute(statement("dim_stage", tmp=f"tmp_{name}", dim=name))


def copy_members(cur, name: str, frame: pd.DataFrame) -> None:
    """COPY one chunk of a dimension's members into tmp_<name> (created by dim_stage.sql)."""
    copy_frame(cur, sql.Identifier(f"tmp_{name}"), frame, DIMENSIONS[name][3])


def dedup_members(cur, name: str) -> None:
    """One row per key in tmp_<name> after several chunks (per product and day: its latest sale)."""
    grain = DIMENSIONS[name][2]
    latest = sql.SQL(", observed_at DESC NULLS LAST" if name == VERSIONED else "")
    cur.execute(statement("dim_dedup", tmp=f"tmp_{name}", dedup=f"tmp_{name}_dedup", key=_columns(grain),
                          latest=latest))


def refuse_unlisted_members(facts: pd.DataFrame, dims: dict[str, pd.DataFrame], where: str) -> None:
    """Refuse a chunk whose facts name a customer or store that is not among its own members
    (the members are inserted with the facts; fact_sales has no foreign key to them)."""
    for name, key in NAMED_BY_FACTS.items():
        unlisted = pd.unique(facts.loc[~facts[key].isin(dims[name][key]), key])
        if len(unlisted):
            raise DatasetError(f"{where} holds facts naming {len(unlisted)} {key}(s) missing from the chunk's "
                               f"{name} members (e.g. {unlisted[:3].tolist()}); nothing was loaded.")


def check_members(cur, name: str, loading_retailer_ids: list[int], step: Callable[[str], None]) -> None:
    """Refuse members of unknown retailers (neither in dim_retailer nor loaded now) and keys that
    already name another natural key (a hash collision). Reads only."""
    key, natural, _attributes, _copied = DIMENSIONS[name]
    tmp = f"tmp_{name}"
    cur.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(tmp)))
    cur.execute(statement("dim_unknown_retailers", tmp=tmp), {"loading": list(loading_retailer_ids)})
    unknown = [r[0] for r in cur.fetchall()]
    if unknown:
        raise DatasetError(f"{name} rows name retailer_id(s) {unknown} missing from dim_retailer; "
                           "declare them in conf/base/retailers.yml.")
    cur.execute(statement("dim_collisions", tmp=tmp, dim=name, key=key,
                          t_natural=_columns(natural, "t."), d_natural=_columns(natural, "d.")))
    clashes = cur.fetchall()
    if clashes:
        raise DatasetError(f"Surrogate key collision in {name} ({clashes}); nothing was loaded. "
                           "Report it: the key hash needs widening.")
    step(f"{name} checks")


def apply_dimensions(cur, dims: dict[str, pd.DataFrame], staged: list[str], run_id: str, start: date,
                     end: date, step: Callable[[str], None], scope: list[str] | None = None) -> None:
    """Write the dimensions, under the dimension lock (dim_lock.sql): dim_retailer rows of the
    load's retailers (`scope`, default all the load names), dim_date for the window (shared by
    every retailer: ON CONFLICT DO NOTHING), then the staged members of product, customer and
    store (each retailer's members are its own rows): product versions recomputed from the
    window's product-days (always, so a day that lost a product's sales is accounted for), new
    customers and stores inserted."""
    retailers = dims["dim_retailer"]
    if scope is not None:
        retailers = retailers[retailers["retailer_code"].isin(scope)]
    cur.executemany(text("dim_retailer"), [
        (int(r.retailer_id), str(r.retailer_code), str(r.retailer_name))
        for r in retailers.sort_values("retailer_id").itertuples()])
    cur.execute(text("dim_date"), {"start": start, "end": end})
    changed = apply_product_versions(cur, [int(i) for i in retailers["retailer_id"]], run_id, start, end)
    step(VERSIONED)
    logger.debug("product versions: %s", changed)
    for name in staged:
        if name == VERSIONED:
            continue
        key, _natural, _grain, columns = DIMENSIONS[name]
        tmp, dim = f"tmp_{name}", name
        cur.execute(statement("dim_insert", tmp=tmp, dim=dim, key=key, columns=_columns(columns),
                              t_columns=_columns(columns, "t.")), {"run_id": run_id})
        step(name)
