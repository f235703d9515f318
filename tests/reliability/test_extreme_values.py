"""Issue 9, item 5: one row can stop everything.

The reproduced values are planted straight into the retailers' own databases (retailer 2 keeps
money as TEXT, so anything can be there) and go through the whole product - the real APIs,
ingestion, transformation into a fresh warehouse, quality - in one `kedro run`: each bad value is
quarantined at ingestion with a reason, the rows at the bounds are loaded, nothing stops the run,
and the accounting holds. The warehouse side is checked on its own too: the CHECK constraints are
the rules of schemas/rules.py, partitions carry them, the marts cannot overflow, and a change of
the rules reaches the constraints.
"""

from __future__ import annotations

import datetime as dt
import json
from contextlib import closing
from decimal import Decimal

import psycopg2
import pytest
from psycopg2.extras import execute_values

from retail_pipeline.schemas import rules
from retail_pipeline.warehouse import migrate
from tests.ingestion.conftest import api_credentials
from tests.reliability.accounting import assert_accounted

pytestmark = pytest.mark.slow

RUN_DATE = "2024-03-05"
START = "2024-03-04"  # lookback_days=1
AT_BOUNDS = 101       # rows at every per-row bound, one retailer, store and day


def wire_product(kedro_project, retailer_apis, warehouse):
    """The test project wired to the real retailer APIs, their databases and a fresh warehouse."""
    kedro_project.write_yaml("local/credentials.yml", {
        **api_credentials(retailer_apis),
        "warehouse": {"con": warehouse.url},
        **{f"{code}_db": {"con": api["dsn"]} for code, api in retailer_apis.items()},
    })
    kedro_project.zone_root = kedro_project.data / "01_raw"
    return kedro_project


def accounted(project, retailer_apis, warehouse, start=START, end=RUN_DATE) -> dict:
    return assert_accounted(raw_root=project.zone_root, warehouse_dsn=warehouse.dsn,
                            source_dsns={code: api["dsn"] for code, api in retailer_apis.items()},
                            start=start, end=end)


def plant(dsn: str, table: str, rows: list[dict]) -> None:
    columns = list(rows[0])
    with closing(psycopg2.connect(dsn)) as conn, conn, conn.cursor() as cur:
        execute_values(cur, f"INSERT INTO {table} ({', '.join(columns)}) VALUES %s",
                       [tuple(r[c] for c in columns) for r in rows])


def r2(number: str, **money) -> dict:
    row = {"transaction_number": number, "date": f"{RUN_DATE} 11:00:00", "member_id": "M-EXTREME",
           "location_id": "LOC-EXTREME", "item_code": "SKU-EXTREME", "item_name": "Extreme item",
           "department": "Extreme", "qty": 1, "unit_cost": "1.00", "amount": "1.00", "tax_amount": "0.00"}
    return {**row, **money}


def zone_lines(root, zone: str, code: str, day: str) -> list[dict]:
    y, m, d = day.split("-")
    path = root / zone / code / f"year={y}" / f"month={m}" / f"day={d}" / "sales_data.json"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_reproduced_values_are_quarantined_with_reasons_and_the_run_finishes(
        kedro_project, retailer_apis, seed_retailers, warehouse):
    project = wire_product(kedro_project, retailer_apis, warehouse)
    seed_retailers(START, RUN_DATE, rows_per_day=60, seed=9, as_of="2030-01-01")
    plant(retailer_apis["retailer_1"]["dsn"], "sales", [{
        "order_id": "ORD-ZERO-PRICE", "order_date": f"{RUN_DATE} 09:00:00", "customer_id": "CUST-1",
        "store_id": "STORE-01", "sku": "SKU-00001", "product_name": "Free sample", "category": "Food",
        "quantity": 1, "price": Decimal("0.00"), "total": Decimal("0.00"), "discount_percentage": 0}])
    at_bounds = [r2(f"TXN-AT-BOUNDS-{n:04d}", qty=rules.MAX_QUANTITY, unit_cost=f"{rules.MAX_UNIT_PRICE}.00",
                    amount=f"{rules.MAX_TOTAL_AMOUNT}.00", tax_amount=f"{rules.MAX_EXTRA_AMOUNT}.00")
                 for n in range(AT_BOUNDS)]
    plant(retailer_apis["retailer_2"]["dsn"], "transactions", [
        r2("TXN-NEGATIVE-ZERO", unit_cost="-0.00", amount="-0.00"),
        r2("TXN-THREE-DECIMALS", qty=2, unit_cost="12.345", amount="24.69"),
        r2("TXN-HUGE-AMOUNT", amount="1234567890123456789012345678901234567890.00"),
        *at_bounds])

    project.run(None, run_date=RUN_DATE, lookback_days=1, run_id="extreme-1")  # all three pipelines

    root = project.zone_root
    held = {r["transaction_id"]: r["reasons"] for code in ("retailer_1", "retailer_2")
            for r in zone_lines(root, "quarantine", code, RUN_DATE)}
    assert "unit_price must be > 0 (got 0.0)" in held["ORD-ZERO-PRICE"]
    assert "unit_price must be > 0 (got -0.0)" in held["TXN-NEGATIVE-ZERO"]
    assert any("more than 2 decimals" in r and "'12.345'" in r and "never rounded" in r
               for r in held["TXN-THREE-DECIMALS"])
    assert "total_amount must be <= 10000000000 (got 1.2345678901234568e+39)" in held["TXN-HUGE-AMOUNT"]
    manifest = json.loads((root / f"manifests/retailer_2/run_date={RUN_DATE}/manifest.json").read_text())
    assert manifest["reasons_by_kind"]["excess_decimals"] == 1 and manifest["reasons_by_kind"]["out_of_range"] >= 3

    bounds_facts = warehouse.query(
        "SELECT count(*), sum(total_amount), max(unit_price), max(quantity) FROM fact_sales "
        "WHERE transaction_id LIKE 'TXN-AT-BOUNDS-%'")[0]
    assert bounds_facts == (AT_BOUNDS, AT_BOUNDS * rules.MAX_TOTAL_AMOUNT, rules.MAX_UNIT_PRICE, rules.MAX_QUANTITY)
    assert warehouse.scalar("SELECT count(*) FROM fact_sales WHERE transaction_id IN "
                            "('ORD-ZERO-PRICE', 'TXN-NEGATIVE-ZERO', 'TXN-THREE-DECIMALS', 'TXN-HUGE-AMOUNT')") == 0
    with closing(psycopg2.connect(warehouse.dsn)) as conn, conn.cursor() as cur:  # exact, not float
        cur.execute("SELECT m.revenue, m.tax_amount FROM mart_daily_sales m JOIN dim_store s USING (store_id) "
                    "WHERE s.store_external_id = 'LOC-EXTREME' AND m.sale_date = %s", (RUN_DATE,))
        assert cur.fetchall() == [(Decimal(AT_BOUNDS * rules.MAX_TOTAL_AMOUNT), Decimal(AT_BOUNDS * rules.MAX_EXTRA_AMOUNT))]
    # the quality pipeline finished and reported (a critical failure would have raised above)
    assert warehouse.scalar("SELECT count(*) FROM dq_check_results WHERE run_id = 'extreme-1'") > 0
    assert (project.data / "08_reporting" / "dq_report_latest.html").exists()
    accounted(project, retailer_apis, warehouse)


# -- the warehouse side on its own ---------------------------------------------------------------
RULE_COLUMNS = {  # fact_sales column -> its bound in rules.py
    "quantity": rules.MAX_QUANTITY, "unit_price": rules.MAX_UNIT_PRICE,
    "total_amount": rules.MAX_TOTAL_AMOUNT, "discount_percentage": rules.MAX_DISCOUNT_PERCENTAGE,
    "tax_amount": rules.MAX_EXTRA_AMOUNT, "shipping_cost": rules.MAX_EXTRA_AMOUNT,
}


def test_every_bound_fits_its_warehouse_column_and_mart_sums_have_no_limit(warehouse):
    types = dict(((t, c), (p, s)) for t, c, p, s in warehouse.query(
        "SELECT table_name, column_name, numeric_precision, numeric_scale FROM information_schema.columns "
        "WHERE table_schema = 'public' AND data_type = 'numeric'"))
    for column, bound in RULE_COLUMNS.items():
        if column == "quantity":
            continue  # integer
        precision, scale = types[("fact_sales", column)]
        assert scale == rules.MONEY_SCALE and bound <= 10 ** (precision - scale) - 10 ** -scale, column
    assert rules.MAX_QUANTITY < 2 ** 31
    for key in [("mart_daily_sales", "revenue"), ("mart_daily_sales", "tax_amount"),
                ("mart_daily_sales", "shipping_cost"), ("mart_daily_category_sales", "revenue"),
                ("mart_monthly_category_sales", "revenue"), ("load_audit", "total_amount_loaded")]:
        assert types[key] == (None, None), f"{key} must be unconstrained numeric, is {types[key]}"


def _day_fixture(cur, date_id: int) -> None:
    day = dt.date(date_id // 10000, date_id // 100 % 100, date_id % 100)
    cur.execute("INSERT INTO dim_retailer VALUES (1, 'retailer_1', 'Retailer 1') ON CONFLICT DO NOTHING")
    cur.execute("INSERT INTO dim_date (date_id, date, year, quarter, month, week, day, day_of_week, day_name, "
                "is_weekend) VALUES (%s, %s, 2024, 1, 3, 10, %s, 2, 'Tuesday', false) ON CONFLICT DO NOTHING",
                (date_id, day, day.day))
    cur.execute("INSERT INTO dim_product VALUES (1, 1, 'SKU', 'n', 'c') ON CONFLICT DO NOTHING")
    cur.execute("INSERT INTO dim_customer VALUES (1, 1, 'C') ON CONFLICT DO NOTHING")
    cur.execute("INSERT INTO dim_store VALUES (1, 1, 'S') ON CONFLICT DO NOTHING")


FACT = ("INSERT INTO {table} (sale_id, date_id, product_id, customer_id, store_id, retailer_id, transaction_id, "
        "quantity, unit_price, total_amount, transaction_ts, run_id) "
        "VALUES (%s, %s, 1, 1, 1, 1, %s, %s, %s, %s, '2024-03-05T10:00:00Z', 'test')")


@pytest.mark.parametrize("quantity, price, total, rule", [
    (1, "0.00", "0.00", "fact_sales_total_amount_rule"),
    (1, "-0.01", "-0.01", "fact_sales_total_amount_rule"),
    (rules.MAX_QUANTITY + 1, "1.00", f"{rules.MAX_QUANTITY + 1}.00", "fact_sales_quantity_rule"),
    (1, f"{rules.MAX_UNIT_PRICE}.01", f"{rules.MAX_UNIT_PRICE}.01", "fact_sales_unit_price_rule"),
    (2, "1.00", "2.02", "fact_sales_total_matches_rule"),
])
def test_day_tables_carry_the_rules_and_attach(warehouse, quantity, price, total, rule):
    """The loader's way: a standalone day table LIKE fact_sales, COPY/INSERT, ATTACH."""
    with closing(psycopg2.connect(warehouse.dsn)) as conn, conn.cursor() as cur:
        _day_fixture(cur, 20240305)
        cur.execute("CREATE TABLE day_load (LIKE fact_sales INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
        cur.execute(FACT.format(table="day_load"), (1, 20240305, "OK", 10, "2.50", "25.00"))
        cur.execute("SAVEPOINT s")
        with pytest.raises(psycopg2.errors.CheckViolation, match=rule):
            cur.execute(FACT.format(table="day_load"), (2, 20240305, "BAD", quantity, price, total))
        cur.execute("ROLLBACK TO SAVEPOINT s")
        cur.execute("SELECT fact_sales_retailer_partition(1)")  # the retailer's sub-parent
        cur.execute("ALTER TABLE fact_sales_r1 ATTACH PARTITION day_load FOR VALUES FROM (20240305) TO (20240306)")
        cur.execute("SELECT count(*) FROM fact_sales")
        assert cur.fetchone() == (1,)
        conn.rollback()
        # a day table without the rules cannot become a partition
        cur.execute("SELECT fact_sales_retailer_partition(1)")
        cur.execute("CREATE TABLE day_bare (LIKE fact_sales INCLUDING DEFAULTS)")
        with pytest.raises(psycopg2.errors.DatatypeMismatch, match="missing constraint"):
            cur.execute("ALTER TABLE fact_sales_r1 ATTACH PARTITION day_bare FOR VALUES FROM (20240305) TO (20240306)")


def _constraint(warehouse, name: str) -> list[tuple]:
    return warehouse.query("SELECT conrelid::regclass::text, pg_get_constraintdef(oid), convalidated "
                           "FROM pg_constraint WHERE conname = %s ORDER BY 1", (name,))


def test_a_change_of_the_rules_reaches_the_constraints_and_old_rows_are_named(warehouse, monkeypatch):
    with closing(psycopg2.connect(warehouse.dsn)) as conn, conn, conn.cursor() as cur:
        _day_fixture(cur, 20240305)
        # a retailer-day partition built the loader's way: LIKE fact_sales (local copies of the
        # rules), attached under the retailer's sub-parent, two levels down
        cur.execute("SELECT fact_sales_retailer_partition(1)")
        cur.execute("CREATE TABLE fact_sales_r1_20240305 (LIKE fact_sales INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
        cur.execute("ALTER TABLE fact_sales_r1 ATTACH PARTITION fact_sales_r1_20240305 FOR VALUES FROM (20240305) TO (20240306)")
        cur.execute(FACT.format(table="fact_sales"), (1, 20240305, "T-1", 2, "900000.00", "1800000.00"))
    assert all(valid for *_, valid in _constraint(warehouse, "fact_sales_unit_price_rule"))  # none NOT VALID
    assert migrate.apply_migrations(warehouse.url) == []  # idempotent while the rules stand

    raised = {**rules.SALE_RULES, "max_unit_price": 2_000_000}
    monkeypatch.setattr(migrate, "SALE_RULES", raised)
    assert migrate.apply_migrations(warehouse.url) == ["007_sale_rules.sql"]
    defs = _constraint(warehouse, "fact_sales_unit_price_rule")
    assert [table for table, *_ in defs] == ["fact_sales", "fact_sales_r1", "fact_sales_r1_20240305"]
    assert all("2000000" in definition and valid for _, definition, valid in defs)

    # lowered below a stored row: the migration refuses, naming the day, the rule and the repair
    monkeypatch.setattr(migrate, "SALE_RULES", {**rules.SALE_RULES, "max_unit_price": 500_000})
    with pytest.raises(migrate.MigrationError) as failure:
        migrate.apply_migrations(warehouse.url)
    last = str(failure.value).splitlines()[-1]
    assert last.startswith("The facts of 2024-03-05 break fact_sales_unit_price_rule")
    assert "kedro run --params run_date=2024-03-05,lookback_days=0" in last
    assert all("2000000" in definition for _, definition, _ in _constraint(warehouse, "fact_sales_unit_price_rule"))

    monkeypatch.setattr(migrate, "SALE_RULES", rules.SALE_RULES)
    assert migrate.apply_migrations(warehouse.url) == ["007_sale_rules.sql"]
    assert all(f"<= ({rules.MAX_UNIT_PRICE})" in d for _, d, _ in _constraint(warehouse, "fact_sales_unit_price_rule"))


def test_an_unknown_placeholder_is_refused_before_anything_runs(tmp_path):
    (tmp_path / "001_x.sql").write_text("SELECT {{max_price_typo}}")
    with pytest.raises(migrate.MigrationError, match=r"unknown rule\(s\) \['max_price_typo'\]"):
        migrate.render((tmp_path / "001_x.sql").read_text(), "001_x.sql")
