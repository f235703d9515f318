"""The whole pipeline against the real parts: the three retailer apps over loopback, the raw zone,
the PostgreSQL warehouse. What BI sees must reconcile with the sources to the cent, and every
record a retailer served must be in fact_sales or in a quarantine."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pandas as pd
import pytest

from retailers.generator import generate
from tests.ingestion.conftest import api_credentials

RUN_DATE = date(2024, 3, 14)
LOOKBACK = 3
WINDOW = [RUN_DATE - timedelta(days=n) for n in range(LOOKBACK, -1, -1)]
SEED, ROWS, BAD, LATE = 23, 120, 0.1, 0.1
# Each retailer's timestamp and net merchandise amount (docs/ingestion.md: total_amount).
SOURCE_COLUMNS = {"retailer_1": ("order_date", "total"), "retailer_2": ("date", "amount"),
                  "retailer_3": ("timestamp", "revenue")}


def expected_valid_totals(code: str) -> dict[date, tuple[int, Decimal]]:
    """Per business day of the window: the generator's good rows (count, sum of totals)."""
    ts_column, total_column = SOURCE_COLUMNS[code]
    rows = pd.concat([generate(code, day, ROWS, BAD, LATE, SEED, "2030-01-01") for day in WINDOW])
    good = rows[rows["bad_kind"].isna()]
    totals: dict[date, tuple[int, Decimal]] = {}
    for ts, total in zip(good[ts_column], good[total_column]):
        day = ts.date()
        if WINDOW[0] <= day <= WINDOW[-1]:
            count, amount = totals.get(day, (0, Decimal(0)))
            totals[day] = (count + 1, amount + Decimal(str(total)).quantize(Decimal("0.01")))
    return totals


@pytest.fixture
def loaded(kedro_project, warehouse, retailer_apis, seed_retailers):
    seed_retailers(WINDOW[0], WINDOW[-1], rows_per_day=ROWS, bad_fraction=BAD, late_fraction=LATE, seed=SEED)
    kedro_project.write_yaml("local/credentials.yml", {
        **api_credentials(retailer_apis),
        "warehouse": {"con": warehouse.url},
    })
    kedro_project.run(run_date=RUN_DATE.isoformat(), lookback_days=LOOKBACK)
    return warehouse


def test_warehouse_totals_equal_the_sources_valid_rows_to_the_cent(loaded):
    facts = loaded.query(
        """SELECT r.retailer_code, d.date, count(*), sum(f.total_amount)::text
           FROM fact_sales f JOIN dim_retailer r USING (retailer_id) JOIN dim_date d USING (date_id)
           GROUP BY 1, 2""")
    loaded_totals = {(code, day): (count, Decimal(amount)) for code, day, count, amount in facts}
    for code in SOURCE_COLUMNS:
        for day, expected in expected_valid_totals(code).items():
            assert loaded_totals.get((code, day)) == expected, (code, day)


def test_every_served_record_is_a_fact_or_quarantined(loaded, kedro_project, retailer_databases):
    from tests.ingestion.conftest import rows_in_window

    quarantine = kedro_project.data / "01_raw" / "quarantine"
    for code, dsn in retailer_databases.items():
        served = rows_in_window(dsn, code, WINDOW[0].isoformat(), WINDOW[-1].isoformat())
        facts = loaded.scalar(
            "SELECT count(*) FROM fact_sales JOIN dim_retailer USING (retailer_id) WHERE retailer_code = %s", (code,))
        held_back = loaded.scalar("SELECT count(*) FROM warehouse_quarantine WHERE retailer_code = %s", (code,))
        ingestion_quarantined = sum(
            sum(1 for line in path.read_text().splitlines() if line.strip())
            for path in (quarantine / code).rglob("sales_data.json"))
        assert ingestion_quarantined > 0, f"{code}: the seeded bad rows should be quarantined"
        assert facts + held_back + ingestion_quarantined == served, code


def test_quality_passes_on_the_loaded_day(loaded):
    failed = loaded.query(
        "SELECT check_name, retailer_code FROM dq_check_results WHERE NOT passed AND severity = 'critical'")
    assert failed == []
    assert loaded.scalar("SELECT count(DISTINCT check_name) FROM dq_check_results") >= 10
