"""Issue 13 §1: dim_product keeps versions, and every fact points to the version valid on its day,
whatever order days are loaded in, including late rows and reruns (real PostgreSQL).

SKU-A is renamed and moved from Bakery to Dairy on 2024-01-13; SKU-B never changes. One load per
day (lookback 0) unless a test says otherwise.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from retail_pipeline.datasets.postgres_star import PostgresStarSchemaDataset
from retail_pipeline.pipelines.transformation.keys import surrogate_key
from retail_pipeline.pipelines.transformation.nodes import build_retailer_star_schema, stage_sales
from tests.transformation.conftest import sale
from tests.transformation.exactly_once_checks import assert_ranges_cover, marts_agree

CODE = "retailer_1"
RETAILERS = {CODE: {"retailer_id": 1, "name": "R1", "timezone": "UTC"}}
DAYS = [f"2024-01-{d}" for d in range(10, 16)]
CHANGE = "2024-01-13"
OLD = {"name": "Alpha", "category": "Bakery"}
NEW = {"name": "Alpha v2", "category": "Dairy"}
DURABLE_A = int(surrogate_key(pd.Series([CODE]), pd.Series(["SKU-A"]))[0])


def day_rows(day: str, change: str = CHANGE) -> list[dict]:
    attrs = NEW if day >= change else OLD
    n = day[-2:]
    return [sale(CODE, f"A-{n}-1", "SKU-A", day, unit_price=10.0, hour=9, **attrs),
            sale(CODE, f"A-{n}-2", "SKU-A", day, unit_price=10.0, quantity=2, hour=15, **attrs),
            sale(CODE, f"B-{n}-1", "SKU-B", day, unit_price=4.0, hour=11, name="Beta", category="Snacks")]


def load(wh, rows: list[dict], run_date: str, lookback: int = 0, run_id: str | None = None) -> None:
    run_id = run_id or f"run-{run_date}-{lookback}"
    good, held = stage_sales(RETAILERS, run_date, lookback, run_id, pd.DataFrame(rows))
    data = build_retailer_star_schema({**RETAILERS[CODE], "code": CODE}, RETAILERS, {"max_fact_loss_share": 0.5},
                                      run_date, lookback, run_id, False, good, held)
    PostgresStarSchemaDataset(credentials={"con": wh.url}, retailer=CODE).save(data)


def versions(wh, sku: str = "SKU-A") -> list[tuple]:
    return wh.query("""SELECT product_id, product_key, product_name, category, valid_from::text, valid_to::text,
                              is_current FROM dim_product WHERE product_sku = %s ORDER BY valid_from""", (sku,))


def categories_at_sale(wh) -> list[tuple]:
    """The BI query of docs/warehouse.md: revenue by category at sale time (the documented join)."""
    return wh.query("""SELECT d.date::text, p.category, sum(f.total_amount)::float FROM fact_sales f
                       JOIN dim_product p USING (product_id) JOIN dim_date d USING (date_id)
                       WHERE p.product_sku = 'SKU-A' GROUP BY 1, 2 ORDER BY 1""")


def state(wh) -> dict:
    return {"products": wh.query("SELECT product_id, product_key, retailer_id, product_sku, product_name, category, "
                                 "valid_from, valid_to, is_current FROM dim_product ORDER BY product_id"),
            "facts": wh.query("SELECT date_id, transaction_id, product_id, total_amount FROM fact_sales ORDER BY 1, 2"),
            "marts": wh.query("SELECT * FROM mart_daily_category_sales ORDER BY 1, 2, 3"),
            "observations": wh.query("SELECT retailer_id, product_sku, date_id, product_key, product_name, category "
                                     "FROM product_observations ORDER BY 1, 2, 3")}


def assert_consistent(wh) -> None:
    """No overlapping versions, one current version per product, every fact on its day's version,
    marts agree with the facts, the ledger with the facts."""
    assert wh.scalar("""SELECT count(*) FROM dim_product a JOIN dim_product b
                        ON a.product_key = b.product_key AND a.product_id < b.product_id
                        AND a.valid_from < b.valid_to AND b.valid_from < a.valid_to""") == 0
    assert wh.scalar("SELECT count(*) FROM (SELECT product_key FROM dim_product GROUP BY 1 "
                     "HAVING count(*) FILTER (WHERE is_current) <> 1) x") == 0
    assert wh.scalar("""SELECT count(*) FROM fact_sales f JOIN dim_product p USING (product_id)
                        JOIN dim_date d USING (date_id)
                        WHERE NOT (d.date >= p.valid_from AND d.date < p.valid_to)""") == 0
    marts_agree(wh)
    assert wh.query("SELECT date_id, category, sum(revenue) FROM mart_daily_category_sales GROUP BY 1, 2 ORDER BY 1, 2") \
        == wh.query("""SELECT f.date_id, coalesce(p.category, '(none)'), sum(f.total_amount) FROM fact_sales f
                       JOIN dim_product p USING (product_id) GROUP BY 1, 2 ORDER BY 1, 2""")
    assert_ranges_cover(wh)


def load_days_in_order(wh, rows_of=day_rows) -> None:
    for day in DAYS:
        load(wh, rows_of(day), day)


def test_a_rename_and_category_move_gives_two_versions_and_historically_correct_categories(warehouse):
    wh = warehouse
    load_days_in_order(wh)

    (first, *_), (second, *_) = versions(wh)
    assert versions(wh) == [(DURABLE_A, DURABLE_A, "Alpha", "Bakery", "2024-01-10", CHANGE, False),
                            (second, DURABLE_A, "Alpha v2", "Dairy", CHANGE, "9999-12-31", True)]
    assert second == wh.scalar("SELECT product_version_key(%s, %s)", (DURABLE_A, CHANGE))
    assert categories_at_sale(wh) == [(d, "Bakery" if d < CHANGE else "Dairy", 30.0) for d in DAYS]
    # the marts by category are historically correct too
    assert wh.query("""SELECT date_id, category, revenue::float FROM mart_daily_category_sales
                       WHERE category IN ('Bakery', 'Dairy') ORDER BY 1""") == [
        (int(d.replace("-", "")), "Bakery" if d < CHANGE else "Dairy", 30.0) for d in DAYS]
    assert wh.query("SELECT category, revenue::float FROM mart_monthly_category_sales ORDER BY 1") == [
        ("Bakery", 90.0), ("Dairy", 90.0), ("Snacks", 24.0)]
    # "as of today": every sale of the product under its current category
    assert wh.query("""SELECT c.category, sum(f.total_amount)::float FROM fact_sales f
                       JOIN dim_product p USING (product_id)
                       JOIN dim_product_current c USING (product_key)
                       WHERE p.product_sku = 'SKU-A' GROUP BY 1""") == [("Dairy", 180.0)]
    assert_consistent(wh)


def test_top_products_rank_a_renamed_product_once_under_its_current_name(warehouse):
    """A product's ranking is the product's, not one row per version: SKU-A's six days (180.0)
    under today's name and category, the current version's key."""
    wh = warehouse
    load_days_in_order(wh)
    current = wh.scalar("SELECT current_product_id FROM dim_product_current WHERE product_sku = 'SKU-A'")
    assert wh.query("""SELECT product_id, product_key, product_sku, product_name, category, units_sold,
                              revenue::float, revenue_rank FROM mart_top_products ORDER BY revenue_rank""") == [
        (current, DURABLE_A, "SKU-A", "Alpha v2", "Dairy", 18, 180.0, 1),
        (int(surrogate_key(pd.Series([CODE]), pd.Series(["SKU-B"]))[0]),
         int(surrogate_key(pd.Series([CODE]), pd.Series(["SKU-B"]))[0]), "SKU-B", "Beta", "Snacks", 6, 24.0, 2)]


def test_a_late_row_reveals_the_change_a_day_earlier_and_moves_the_boundary(warehouse):
    wh = warehouse
    load_days_in_order(wh)
    before = versions(wh)
    late = sale(CODE, "A-12-late", "SKU-A", "2024-01-12", unit_price=10.0, hour=20,
                ingested_at="2024-01-16T02:00:00Z", **NEW)
    rows = [r for d in DAYS[2:] for r in day_rows(d)] + [late]
    load(wh, rows, DAYS[-1], lookback=3, run_id="late")  # window 12..15: the look-back catches it

    moved = wh.scalar("SELECT product_version_key(%s, '2024-01-12')", (DURABLE_A,))
    assert versions(wh) == [(DURABLE_A, DURABLE_A, "Alpha", "Bakery", "2024-01-10", "2024-01-12", False),
                            (moved, DURABLE_A, "Alpha v2", "Dairy", "2024-01-12", "9999-12-31", True)]
    assert before[1][0] not in {v[0] for v in versions(wh)}  # the version from the 13th is gone, not kept
    assert categories_at_sale(wh) == [("2024-01-10", "Bakery", 30.0), ("2024-01-11", "Bakery", 30.0),
                                      ("2024-01-12", "Dairy", 40.0), ("2024-01-13", "Dairy", 30.0),
                                      ("2024-01-14", "Dairy", 30.0), ("2024-01-15", "Dairy", 30.0)]
    assert wh.scalar("SELECT count(DISTINCT product_id) FROM fact_sales WHERE date_id >= 20240112 "
                     "AND product_id IN (SELECT product_id FROM dim_product WHERE product_sku = 'SKU-A')") == 1
    assert_consistent(wh)


def test_reloading_an_old_day_repoints_facts_outside_the_window(warehouse):
    """Day 12 reloaded alone with the late row: the version now starts on the 12th, so the facts of
    the 13th..15th (not loaded now) move to the new key; nothing else changes."""
    wh = warehouse
    load_days_in_order(wh)
    late = sale(CODE, "A-12-late", "SKU-A", "2024-01-12", unit_price=10.0, hour=20,
                ingested_at="2024-01-16T02:00:00Z", **NEW)
    load(wh, day_rows("2024-01-12") + [late], "2024-01-12", run_id="old-day")
    moved = wh.scalar("SELECT product_version_key(%s, '2024-01-12')", (DURABLE_A,))
    assert [v[0] for v in versions(wh)] == [DURABLE_A, moved]
    assert wh.query("SELECT DISTINCT date_id FROM fact_sales WHERE product_id = %s ORDER BY 1", (moved,)) == [
        (20240112,), (20240113,), (20240114,), (20240115,)]
    assert_consistent(wh)


def test_reloading_a_day_into_the_run_before_it_starts_a_version_after_it(warehouse):
    """Days 12 (Alpha), 13 and 14 (Alpha v2); day 13 reloaded as Alpha: the version of Alpha v2 now
    starts on the 14th, a day outside the window."""
    wh = warehouse
    for day, attrs in (("2024-01-12", OLD), ("2024-01-13", NEW), ("2024-01-14", NEW)):
        load(wh, [sale(CODE, f"A-{day}", "SKU-A", day, **attrs)], day)
    load(wh, [sale(CODE, "A-2024-01-13", "SKU-A", "2024-01-13", **OLD)], "2024-01-13", run_id="again")
    assert [(v[2], v[4], v[5]) for v in versions(wh)] == [("Alpha", "2024-01-12", "2024-01-14"),
                                                         ("Alpha v2", "2024-01-14", "9999-12-31")]
    assert wh.scalar("SELECT count(*) FROM fact_sales f JOIN dim_product p USING (product_id) "
                     "WHERE f.date_id = 20240114 AND p.valid_from = '2024-01-14'") == 1


def test_reruns_of_the_window_and_of_an_old_day_change_nothing(warehouse):
    wh = warehouse
    load_days_in_order(wh)
    first = state(wh)
    load(wh, [r for d in DAYS[2:] for r in day_rows(d)], DAYS[-1], lookback=3, run_id="rerun-window")
    assert state(wh) == first
    load(wh, day_rows("2024-01-11"), "2024-01-11", run_id="rerun-old")
    load(wh, day_rows(CHANGE), CHANGE, run_id="rerun-change-day")
    assert state(wh) == first
    assert len(versions(wh)) == 2
    assert_consistent(wh)


def test_days_loaded_in_reverse_order_give_the_same_versions_and_facts(warehouse, pg_server, warehouse_template,
                                                                       loader_password):
    from tests.fixtures.warehouse import copy_warehouse

    wh = warehouse
    load_days_in_order(wh)
    in_order = state(wh)
    other = copy_warehouse(pg_server, warehouse_template, loader_password, prefix="rev")
    for day in reversed(DAYS):
        load(other, day_rows(day), day)
    assert state(other) == in_order
    assert_consistent(other)


def test_a_change_first_seen_inside_a_multi_day_window_splits_the_new_product(warehouse):
    """A product never seen before, changed within the one load's window: both versions at once."""
    wh = warehouse
    load(wh, [r for d in DAYS for r in day_rows(d)], DAYS[-1], lookback=5, run_id="all-at-once")
    assert [v[2:] for v in versions(wh)] == [("Alpha", "Bakery", "2024-01-10", CHANGE, False),
                                             ("Alpha v2", "Dairy", CHANGE, "9999-12-31", True)]
    assert categories_at_sale(wh) == [(d, "Bakery" if d < CHANGE else "Dairy", 30.0) for d in DAYS]
    assert_consistent(wh)


def test_a_product_changing_back_gets_a_third_version(warehouse):
    wh = warehouse

    def rows_of(day: str) -> list[dict]:
        rows = day_rows(day)
        if day >= "2024-01-15":  # back to the old name and category
            rows = [{**r, "product_name": OLD["name"], "category": OLD["category"]} if r["product_sku"] == "SKU-A" else r
                    for r in rows]
        return rows

    load_days_in_order(wh, rows_of)
    assert [(v[2], v[4], v[5]) for v in versions(wh)] == [("Alpha", "2024-01-10", CHANGE),
                                                         ("Alpha v2", CHANGE, "2024-01-15"),
                                                         ("Alpha", "2024-01-15", "9999-12-31")]
    assert dt.date.fromisoformat(versions(wh)[-1][4]) == dt.date(2024, 1, 15)


def test_facts_get_their_day_version_at_copy_time():
    """KnownVersions: the version covering each fact's day, else the durable key (no DB)."""
    from retail_pipeline.warehouse.product_versions import KnownVersions

    known = KnownVersions([(7, 20240110, 20240113, 7), (7, 20240113, 99991231, 70), (9, 0, 99991231, 9)])
    facts = pd.DataFrame({"product_id": [7, 7, 7, 9, 11, 7], "date_id": [20240110, 20240112, 20240113, 20240101,
                                                                          20240113, 20240109]})
    assert known.point(facts)["product_id"].tolist() == [7, 7, 70, 9, 11, 7]
    assert facts["product_id"].tolist() == [7, 7, 7, 9, 11, 7]  # the caller's frame is left alone


def test_a_daily_load_keys_its_facts_at_copy_time_and_repoints_nothing(warehouse, caplog):
    """Steady state: the versions known when the load starts cover the day, so the tail re-points
    no fact (the UPDATE path is for changes seen for the first time)."""
    import logging

    wh = warehouse
    load_days_in_order(wh)
    caplog.set_level(logging.DEBUG, logger="retail_pipeline.warehouse.dimensions")
    load(wh, day_rows("2024-01-16"), "2024-01-16")
    counts = [r.getMessage() for r in caplog.records if r.getMessage().startswith("product versions:")]
    assert counts == ["product versions: {'versions written': 0, 'facts re-pointed in the window': 0, "
                      "'facts re-pointed outside': 0, 'versions dropped': 0}"]
    assert wh.scalar("SELECT count(*) FROM fact_sales WHERE date_id = 20240116 AND product_id = %s",
                     (versions(wh)[1][0],)) == 2


def test_a_load_reads_the_versions_of_changed_products_only(warehouse):
    """What a load reads at start grows with the products that changed, not with the catalogue:
    SKU-B (one version, whose key is its durable key) is not read, and its facts keep that key."""
    from contextlib import closing

    import psycopg2

    from retail_pipeline.warehouse.product_versions import KnownVersions

    wh = warehouse
    load_days_in_order(wh)
    with closing(psycopg2.connect(wh.dsn)) as conn, conn.cursor() as cur:
        known = KnownVersions.load(cur, [1])
    assert sorted(known._ids.tolist()) == sorted(row[0] for row in versions(wh))  # SKU-A's two versions
    load(wh, day_rows("2024-01-16"), "2024-01-16")
    beta = versions(wh, "SKU-B")
    assert len(beta) == 1 and beta[0][0] == beta[0][1]
    assert wh.scalar("SELECT count(*) FROM fact_sales WHERE date_id = 20240116 AND product_id = %s",
                     (beta[0][0],)) == 1
    assert_consistent(wh)


@pytest.mark.parametrize("seed", [13, 7, 21, 42])
def test_any_order_of_overlapping_windows_gives_the_versions_of_all_the_days(warehouse, seed):
    """Attributes flip-flop day by day, some days without a sale; windows of 1-3 days loaded in a
    shuffled order (each day at least once): the versions are the runs of the days' attributes."""
    import random

    wh = warehouse
    rnd = random.Random(seed)
    days = [dt.date(2024, 2, 1) + dt.timedelta(days=n) for n in range(14)]
    attrs = {d: rnd.choice([OLD, NEW]) for d in days if rnd.random() > 0.2}

    def rows(day: dt.date) -> list[dict]:
        a = attrs.get(day)
        return [sale(CODE, f"A-{day:%m%d}", "SKU-A", day.isoformat(), **a)] if a else []

    loads = [(end, rnd.randint(0, 2)) for end in days] + [(rnd.choice(days), rnd.randint(0, 2)) for _ in range(6)]
    rnd.shuffle(loads)
    for n, (end, back) in enumerate(loads):
        window = [end - dt.timedelta(days=k) for k in range(back, -1, -1)]
        batch = [r for d in window for r in rows(d)]
        if batch:
            load(wh, batch, end.isoformat(), lookback=back, run_id=f"shuffled-{n}")
    sold = sorted(attrs)
    expected = []
    for d in sold:
        if not expected or expected[-1][0] != attrs[d]["name"]:
            expected.append((attrs[d]["name"], d.isoformat()))
    got = [(v[2], v[4]) for v in versions(wh)]
    assert got == expected
    assert [v[5] for v in versions(wh)] == [v[1] for v in expected[1:]] + ["9999-12-31"]
    assert wh.scalar("""SELECT count(*) FROM fact_sales f JOIN dim_product p USING (product_id)
                        JOIN dim_date d USING (date_id) WHERE NOT (d.date >= p.valid_from AND d.date < p.valid_to)""") == 0
    assert_ranges_cover(wh)
