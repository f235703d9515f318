"""Checks shared by the exactly-once tests (warehouse level: no source databases here).

- `assert_saved`: per retailer and window day, the ids of the rows saved (the raw zone's rows the
  load read, latest version of an id) are exactly fact ids + warehouse-quarantine ids, and the
  money adds up to the cent; no (retailer, transaction_id) twice in all of fact_sales;
  fact_sales_id_range covers every day's ids.
- `changes`: the rows of fact_sales_changes, for assertions.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from decimal import Decimal

from tests.reliability.accounting import duplicate_lines, warehouse_days


def latest_versions(rows: list[dict]) -> list[dict]:
    """The rows a load sees: the latest version (by ingested_at) of each (retailer, transaction)."""
    latest: dict[tuple, dict] = {}
    for row in sorted(rows, key=lambda r: r["ingested_at"]):
        latest[(row["retailer_code"], row["transaction_id"])] = row
    return list(latest.values())


def assert_ranges_cover(wh) -> None:
    """fact_sales_id_range has a row for every retailer-day with facts, covering its ids (the
    loader looks for a load's lines only on the days whose range overlaps them)."""
    uncovered = wh.query("""
        SELECT f.retailer_id, f.date_id, f.lo, f.hi, r.first_transaction_id, r.last_transaction_id
        FROM (SELECT retailer_id, date_id, min(transaction_id COLLATE "C") lo, max(transaction_id COLLATE "C") hi
              FROM fact_sales GROUP BY 1, 2) f
        LEFT JOIN fact_sales_id_range r USING (retailer_id, date_id)
        WHERE r.date_id IS NULL OR f.lo < r.first_transaction_id OR f.hi > r.last_transaction_id""")
    assert not uncovered, f"fact_sales_id_range does not cover these days' ids: {uncovered[:5]}"


def assert_saved(wh, rows: list[dict], start: str, end: str) -> None:
    """facts + warehouse quarantine = what was saved for [start, end], to the cent; no line twice."""
    lo, hi = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
    saved = [r for r in latest_versions(rows) if lo.isoformat() <= r["sale_date"] <= hi.isoformat()]
    problems = []
    for code in sorted({r["retailer_code"] for r in saved} | {"retailer_1", "retailer_2", "retailer_3"}):
        held = warehouse_days(wh.dsn, code, lo, hi)
        for day, (facts, fact_money, wq, wq_money) in held.items():
            mine = [r for r in saved if r["retailer_code"] == code and r["sale_date"] == day.isoformat()]
            ids = Counter(r["transaction_id"] for r in mine)
            money = sum((Decimal(str(r["total_amount"])) for r in mine), Decimal("0")).quantize(Decimal("0.01"))
            if ids != facts + wq:
                problems.append(f"{code} {day}: saved {sorted(ids)} != facts {sorted(facts)} + quarantine {sorted(wq)}")
            if money != (fact_money + wq_money).quantize(Decimal("0.01")):
                problems.append(f"{code} {day}: saved money {money} != facts {fact_money} + quarantine {wq_money}")
    duplicates = duplicate_lines(wh.dsn)
    if duplicates:
        problems.append(f"lines in fact_sales more than once: {duplicates}")
    assert not problems, "accounting failed:\n  " + "\n  ".join(problems)
    assert_ranges_cover(wh)


def changes(wh, run_id: str | None = None) -> list[tuple]:
    """(run_id, retailer_code, transaction_id, change_kind, from_date, to_date, quantity, total_amount)."""
    where, params = ("WHERE run_id = %s", (run_id,)) if run_id else ("", None)
    return wh.query("SELECT run_id, retailer_code, transaction_id, change_kind, from_date::text, to_date::text, "
                    f"quantity, total_amount FROM fact_sales_changes {where} ORDER BY change_id", params)


def marts_agree(wh) -> None:
    """The marts say what the facts say, for every day and month."""
    daily = wh.query("SELECT date_id, retailer_id, count(*), sum(total_amount) FROM fact_sales GROUP BY 1, 2 ORDER BY 1, 2")
    mart = wh.query("SELECT date_id, retailer_id, sum(transactions), sum(revenue) FROM mart_daily_sales "
                    "GROUP BY 1, 2 ORDER BY 1, 2")
    assert mart == daily
    monthly = wh.query("SELECT date_id / 100, retailer_id, count(*), sum(total_amount) FROM fact_sales "
                       "GROUP BY 1, 2 ORDER BY 1, 2")
    mart_monthly = wh.query("SELECT year * 100 + month, retailer_id, sum(transactions), sum(revenue) "
                            "FROM mart_monthly_category_sales GROUP BY 1, 2 ORDER BY 1, 2")
    assert mart_monthly == monthly
