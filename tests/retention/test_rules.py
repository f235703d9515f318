"""Retention's pure rules: the cutoff, the look-back rule and its refusal, backfill state, paths."""

from __future__ import annotations

from datetime import date

import pytest

from retail_pipeline.retention.rules import (
    Item,
    PendingRun,
    RetentionRefused,
    backfill_todo,
    check_cutoff,
    cutoff_day,
    day_prefix,
    manifest_day,
    pending_runs,
    summary,
    zone_day,
)
from retail_pipeline.user_errors import UserError

TODAY = date(2024, 3, 20)


def test_keep_days_keeps_the_days_from_today_minus_n():
    assert cutoff_day(TODAY, 10) == date(2024, 3, 10)
    assert cutoff_day(TODAY, 0) == TODAY
    for bad in (-1, 1.5, True, "3"):
        with pytest.raises(UserError, match="keep_days"):
            cutoff_day(TODAY, bad)


def test_the_next_daily_run_protects_yesterday_minus_the_lookback():
    runs = pending_runs(TODAY, 3, {"retailer_1": date(2024, 3, 19)}, [])
    assert runs == [PendingRun(date(2024, 3, 19), 3, "the next daily run")]
    assert runs[0].window_start == date(2024, 3, 16)
    check_cutoff(date(2024, 3, 16), runs, TODAY, 4)          # removes up to the 15th: allowed
    with pytest.raises(RetentionRefused) as refused:
        check_cutoff(date(2024, 3, 17), runs, TODAY, 3)
    message = str(refused.value)
    assert "2024-03-16 is inside the look-back window 2024-03-16..2024-03-19 of the run for 2024-03-19" in message
    assert "--keep-days 4" in message and "Nothing was removed" in message


def test_a_retailer_behind_protects_every_run_it_still_has_to_run():
    runs = pending_runs(TODAY, 3, {"retailer_1": date(2024, 3, 19), "retailer_2": date(2024, 3, 10),
                                   "retailer_3": None}, [])
    assert [(r.run_date, r.window_start) for r in runs] == [(date(2024, 3, 19), date(2024, 3, 16)),
                                                             (date(2024, 3, 11), date(2024, 3, 8))]
    assert "retailer_2 was last loaded for 2024-03-10" in runs[1].why
    with pytest.raises(RetentionRefused, match=r"2024-03-08 is inside .* retailer_2 was last loaded") as refused:
        check_cutoff(date(2024, 3, 9), runs, TODAY, 11)
    assert "--keep-days 12" in str(refused.value)
    check_cutoff(date(2024, 3, 8), runs, TODAY, 12)


def test_an_unfinished_backfill_of_this_warehouse_protects_its_days():
    state = {"start": "2024-03-01", "end": "2024-03-05", "warehouse": "wh-1", "lookback_days": 1,
             "done": {"2024-03-01": "r1", "2024-03-02": "r2"}}
    assert backfill_todo(state, "wh-1", 3) == ([date(2024, 3, 3), date(2024, 3, 4), date(2024, 3, 5)], 1)
    assert backfill_todo(state, "another-warehouse", 3) is None
    assert backfill_todo({**state, "lookback_days": None}, "wh-1", 3)[1] == 3   # older files: the conf's
    assert backfill_todo({"start": "garbage"}, "wh-1", 3) is None
    runs = pending_runs(TODAY, 3, {}, [(date(2024, 3, 3), 1, "bf.json")])
    with pytest.raises(RetentionRefused, match=r"2024-03-02 .* the unfinished backfill bf.json"):
        check_cutoff(date(2024, 3, 5), runs, TODAY, 15)


def test_zone_and_manifest_paths():
    assert zone_day("retailer_1/year=2024/month=03/day=05/sales_data.json") == ("retailer_1", date(2024, 3, 5))
    assert zone_day("retailer_1/year=2024/month=03/day=05/run=x/page-1.json.gz") == ("retailer_1", date(2024, 3, 5))
    assert zone_day("retailer_1/year=2024/month=02/day=30/sales_data.json") is None
    assert zone_day("retailer_1/notes.txt") is None
    assert manifest_day("retailer_2/run_date=2024-03-05/manifest.json") == ("retailer_2", date(2024, 3, 5))
    assert manifest_day("retailer_2/run_date=2024-13-05/manifest.json") is None
    assert day_prefix("landing", "retailer_1", date(2024, 3, 5)) == "landing/retailer_1/year=2024/month=03/day=05/"
    assert day_prefix("manifests", "retailer_1", date(2024, 3, 5)) == "manifests/retailer_1/run_date=2024-03-05/"


def test_summary_counts_items_and_rows_per_kind():
    items = [Item("fact_partition", "r1", date(2024, 3, 1), "p1", 10), Item("fact_partition", "r2", date(2024, 3, 1), "p2", 5),
             Item("zone_raw", "r1", date(2024, 3, 1), "raw/...", 1)]
    assert summary(items) == {"fact_partition": (2, 15), "zone_raw": (1, 1)}
