"""fact_id_ranges after real loads (the retailer APIs, ingestion, the transformation's loader):
each load replaces its window days' fact_sales_id_range rows with their exact ranges, so the
check passes run after run, a rerun that reloads a day included. Needs the loader that keeps
fact_sales_id_range (migration 016)."""

from __future__ import annotations

from datetime import date, timedelta

from tests.quality.conftest import RETAILERS

DAYS = [date(2024, 2, 5) + timedelta(days=n) for n in range(3)]
EXACT = """SELECT retailer_id, date_id, min(transaction_id COLLATE "C"), max(transaction_id COLLATE "C")
           FROM fact_sales GROUP BY 1, 2 ORDER BY 1, 2"""


def test_fact_id_ranges_pass_after_real_loads_and_a_reload(warehouse, kedro_project, seed_retailers):
    seed_retailers(DAYS[0], DAYS[-1], rows_per_day=20, bad_fraction=0.05, seed=7)
    for run_date, run_id in ((DAYS[1], "dq-ranges-1"), (DAYS[2], "dq-ranges-2")):   # the second reloads DAYS[1]
        kedro_project.run(run_date=run_date.isoformat(), lookback_days=1, run_id=run_id)
        checked = [r for r in warehouse.results(run_id) if r["check_name"] == "fact_id_ranges"]
        assert {r["retailer_code"] for r in checked} == set(RETAILERS)
        assert all(r["passed"] and r["severity"] == "critical" for r in checked), checked
    ranges = warehouse.execute("SELECT retailer_id, date_id, first_transaction_id, last_transaction_id "
                               "FROM fact_sales_id_range ORDER BY 1, 2")
    assert len(ranges) == len(RETAILERS) * len(DAYS) and ranges == warehouse.execute(EXACT)
