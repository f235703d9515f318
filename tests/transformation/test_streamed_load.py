"""Issue 11, section 1: a load streamed in chunks (PostgresStarSchemaDataset given `chunks`)
holds exactly what the same load in one piece holds, and a failure between chunks leaves the
warehouse as it was.

Chunks are cut at arbitrary rows: a retailer_4 order's lines (one canonical row each) fall in
two chunks, a product appears in several chunks with its name changed in a later one (the
latest observation wins), and quarantine rows and audit days are spread over the chunks.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from retail_pipeline.datasets.postgres_star import PostgresStarSchemaDataset
from retail_pipeline.pipelines.transformation.nodes import build_retailer_star_schema, build_star_schema, stage_sales
from tests.transformation.conftest import sale
from tests.transformation.exactly_once_checks import assert_ranges_cover, marts_agree
from tests.transformation.test_warehouse_load import snapshot

CODE = "retailer_4"
RETAILERS = {CODE: {"retailer_id": 4, "name": "R4", "timezone": "UTC"}}
WAREHOUSE = {"max_fact_loss_share": 0.5}
RUN_DATE, LOOKBACK = "2024-01-15", 1


def order_lines() -> list[dict]:
    """Orders of 1-5 lines over two days (line i of order n is transaction WEB-<n>-<i>), one bad
    line (quantity 0: quarantined), and SKU-1 renamed by a later sale."""
    rows = []
    for n in range(12):
        day = "2024-01-14" if n % 2 else "2024-01-15"
        for i in range(1, 2 + n % 5):
            rows.append(sale(CODE, f"WEB-{n:03d}-{i}", f"SKU-{(n + i) % 4}", day, quantity=1 + i % 3,
                             unit_price=round(3.33 * (n + i), 2), store=f"S{n % 3}", customer=f"C{n % 5}",
                             hour=8 + n % 10))
    rows[5]["quantity"] = 0
    rows[5]["total_amount"] = 0.0
    rows.append(sale(CODE, "WEB-999-1", "SKU-1", "2024-01-15", name="SKU-1 renamed", hour=23))
    return rows


def staged(rows: list[dict], run_id: str, run_date: str = RUN_DATE,
           lookback: int = LOOKBACK) -> tuple[pd.DataFrame, pd.DataFrame]:
    return stage_sales(RETAILERS, run_date, lookback, run_id, pd.DataFrame(rows))


def whole_load(rows: list[dict], run_id: str, run_date: str = RUN_DATE, lookback: int = LOOKBACK) -> dict:
    good, held = staged(rows, run_id, run_date, lookback)
    return build_retailer_star_schema({**RETAILERS[CODE], "code": CODE}, RETAILERS, WAREHOUSE, run_date,
                                      lookback, run_id, False, good, held)


def streamed_load(rows: list[dict], run_id: str, pieces: int, fail_after: int | None = None,
                  run_date: str = RUN_DATE, lookback: int = LOOKBACK, last: str | None = None) -> dict:
    """The same load as `whole_load`, its facts, members, quarantine and audit in `pieces` chunks
    (the line of transaction `last`, if given, in the last chunk)."""
    good, held = staged(rows, run_id, run_date, lookback)
    load = whole_load(rows, run_id, run_date, lookback)
    if last is not None:
        good = pd.concat([good[good["transaction_id"] != last], good[good["transaction_id"] == last]])

    def chunks():
        for n, (rows_at, held_at) in enumerate(zip(np.array_split(np.arange(len(good)), pieces),
                                                   np.array_split(np.arange(len(held)), pieces))):
            if fail_after is not None and n == fail_after:
                raise RuntimeError("the raw zone went away between chunks")
            part = build_star_schema(good.iloc[rows_at], held.iloc[held_at], RETAILERS, WAREHOUSE, run_date,
                                     lookback, run_id)
            yield {"facts": part["facts"], "quarantine": part["quarantine"], "audit": part["audit"],
                   "dimensions": {k: v for k, v in part["dimensions"].items() if k != "dim_retailer"}}

    return {"run_id": run_id, "window": load["window"], "retailers": [CODE], "fact_loss": load["fact_loss"],
            "dimensions": {"dim_retailer": load["dimensions"]["dim_retailer"]}, "chunks": chunks()}


def dataset(wh) -> PostgresStarSchemaDataset:
    return PostgresStarSchemaDataset(credentials={"con": wh.url}, retailer=CODE)


def same(wh) -> dict:
    """The snapshot, products without their lineage (run_id, load times differ by run)."""
    out = snapshot(wh)
    out["products"] = wh.query("SELECT product_id, retailer_id, product_sku, product_name, category, attributes_as_of "
                               "FROM dim_product ORDER BY product_id")
    return out


def audit(wh) -> list[tuple]:
    return wh.query("SELECT sale_date, rows_loaded, total_amount_loaded, rows_quarantined FROM load_audit "
                    "WHERE run_id = (SELECT run_id FROM load_audit ORDER BY loaded_at DESC LIMIT 1) ORDER BY 1")


def test_a_load_in_chunks_holds_what_the_load_in_one_piece_holds(warehouse):
    wh, rows = warehouse, order_lines()
    lines_of_order_1 = [r["transaction_id"] for r in rows if r["transaction_id"].startswith("WEB-001-")]
    assert len(lines_of_order_1) > 1
    dataset(wh).save(whole_load(rows, "whole"))
    whole, whole_audit = same(wh), audit(wh)
    renamed = wh.scalar("SELECT product_name FROM dim_product WHERE product_sku = 'SKU-1'")
    assert renamed == "SKU-1 renamed"

    wh.query("TRUNCATE fact_sales_id_range, mart_daily_sales, mart_daily_category_sales, mart_monthly_category_sales, "
             "warehouse_quarantine, load_audit, fact_sales_changes")
    wh.query("DELETE FROM fact_sales")
    wh.query("DELETE FROM dim_product; DELETE FROM dim_customer; DELETE FROM dim_store")
    dataset(wh).save(streamed_load(rows, "streamed", pieces=5))

    assert same(wh) == whole
    assert audit(wh) == whole_audit
    # accounting: every valid raw row is a fact or in the warehouse quarantine, to the cent
    loaded = wh.query("SELECT count(*), sum(total_amount) FROM fact_sales")[0]
    held = wh.scalar("SELECT count(*) FROM warehouse_quarantine")
    assert loaded[0] + held == len(rows) and held == 1
    assert float(loaded[1]) == round(sum(r["total_amount"] for r in rows), 2)
    assert sum(a[1] for a in audit(wh)) == loaded[0] and round(sum(a[2] for a in audit(wh)), 2) == loaded[1]
    assert_ranges_cover(wh)
    marts_agree(wh)


def test_a_failure_between_chunks_leaves_the_old_days_intact(warehouse):
    wh, rows = warehouse, order_lines()
    dataset(wh).save(whole_load(rows, "first"))
    before = snapshot(wh)
    tables = wh.query("SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace ORDER BY 1")

    changed = [dict(r, unit_price=r["unit_price"] + 1, total_amount=round(r["quantity"] * (r["unit_price"] + 1), 2))
               for r in rows]
    with pytest.raises(Exception, match="went away between chunks"):
        dataset(wh).save(streamed_load(changed, "second", pieces=4, fail_after=2))
    assert snapshot(wh) == before
    assert wh.query("SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace ORDER BY 1") == tables
    assert wh.scalar("SELECT count(*) FROM load_audit WHERE run_id = 'second'") == 0

    dataset(wh).save(streamed_load(changed, "second", pieces=4))  # the rerun is the repair
    assert float(wh.scalar("SELECT sum(total_amount) FROM fact_sales")) == round(sum(r["total_amount"] for r in changed), 2)
    assert_ranges_cover(wh)
    marts_agree(wh)


def test_the_wait_for_a_slow_chunk_is_its_own_step_not_the_next_copy(warehouse):
    """The load's step times (its log line, the benchmark's load_step_*_s) say where a streamed
    load spends its time: waiting for the client to build the next chunk is `chunk wait`, not
    part of the first copy step after it."""
    wh, rows = warehouse, order_lines()
    load = streamed_load(rows, "slow", pieces=3)
    fast = load["chunks"]

    def slow():
        for n, chunk in enumerate(fast):
            if n == 2:
                time.sleep(1.0)  # the client reading a slow raw zone
            yield chunk

    ds = dataset(wh)
    ds.save({**load, "chunks": slow()})
    assert ds.timings["chunk wait"] >= 0.5
    assert ds.timings["dim_product copy"] < 0.5 and "stream setup" in ds.timings
    assert wh.scalar("SELECT count(*) FROM fact_sales") + wh.scalar("SELECT count(*) FROM warehouse_quarantine") == len(rows)
