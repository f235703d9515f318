"""Dimension upserts of a load: COPY the members into temp tables, refuse unknown retailers and
key collisions, update changed type 1 attributes, insert new members (all set-based)."""

from __future__ import annotations

from datetime import date
from typing import Callable

import pandas as pd
from kedro.io.core import DatasetError
from psycopg2 import sql

from retail_pipeline.warehouse.pgcopy import copy_frame
from retail_pipeline.warehouse.sqlfiles import statement, text

DIMENSIONS = {
    # name: (key, natural key, attribute columns updated when changed, copy columns)
    "dim_product": ("product_id", ("retailer_id", "product_sku"), ("product_name", "category"),
                    ["product_id", "retailer_id", "product_sku", "product_name", "category", "attributes_as_of"]),
    "dim_customer": ("customer_id", ("retailer_id", "customer_external_id"), (),
                     ["customer_id", "retailer_id", "customer_external_id"]),
    "dim_store": ("store_id", ("retailer_id", "store_external_id"), (),
                  ["store_id", "retailer_id", "store_external_id"]),
}


def _columns(columns, prefix: str = "") -> sql.Composed:
    return sql.SQL(", ").join(sql.SQL(prefix) + sql.Identifier(c) for c in columns)


def upsert_dimensions(cur, dims: dict[str, pd.DataFrame], run_id: str, start: date, end: date,
                      step: Callable[[str], None]) -> None:
    retailers = dims["dim_retailer"]
    cur.executemany(text("dim_retailer"), [
        (int(r.retailer_id), str(r.retailer_code), str(r.retailer_name)) for r in retailers.itertuples()])
    cur.execute(text("dim_date"), {"start": start, "end": end})
    for name, (key, natural, attributes, columns) in DIMENSIONS.items():
        frame = dims[name]
        if frame.empty:
            continue
        tmp, dim = f"tmp_{name}", name
        cur.execute(statement("dim_stage", tmp=tmp, dim=dim))
        copy_frame(cur, sql.Identifier(tmp), frame, columns)
        step(f"{name} copy")
        cur.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(tmp)))
        cur.execute(statement("dim_unknown_retailers", tmp=tmp))
        unknown = [r[0] for r in cur.fetchall()]
        if unknown:
            raise DatasetError(f"{name} rows name retailer_id(s) {unknown} missing from dim_retailer; "
                               "declare them in conf/base/retailers.yml.")
        cur.execute(statement("dim_collisions", tmp=tmp, dim=dim, key=key,
                              t_natural=_columns(natural, "t."), d_natural=_columns(natural, "d.")))
        clashes = cur.fetchall()
        if clashes:
            raise DatasetError(f"Surrogate key collision in {name} ({clashes}); nothing was loaded. "
                               "Report it: the key hash needs widening.")
        step(f"{name} checks")
        if attributes:
            sets = sql.SQL(", ").join(sql.SQL("{c} = t.{c}").format(c=sql.Identifier(c)) for c in attributes)
            cur.execute(statement("dim_update", tmp=tmp, dim=dim, key=key, sets=sets,
                                  d_attrs=_columns(attributes, "d."), t_attrs=_columns(attributes, "t.")),
                        {"run_id": run_id})
        cur.execute(statement("dim_insert", tmp=tmp, dim=dim, key=key, columns=_columns(columns),
                              t_columns=_columns(columns, "t.")), {"run_id": run_id})
        step(name)
