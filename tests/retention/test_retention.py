"""Retention against the real parts: days loaded by the real pipeline (retailer APIs, local
zone, PostgreSQL), then a dry run, the refusals, the real run, a quality run and a rerun."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date, timedelta

import pytest

from retail_pipeline.retention.config import load_settings
from retail_pipeline.retention.rules import RetentionRefused
from retail_pipeline.retention.run import retention
from tests.fixtures.kedro_project import RETAILERS
from tests.retention.conftest import zone_files

DAYS = [date(2024, 3, 1) + timedelta(days=n) for n in range(6)]   # 1..6 March
TODAY = date(2024, 3, 7)                                           # the next daily run is for the 6th
CUTOFF = date(2024, 3, 3)                                          # keep_days 4: the 1st and 2nd go
OLD = {d.isoformat() for d in DAYS if d < CUTOFF}


def warehouse_state(wh) -> dict:
    """What the warehouse holds, per table and day, for before/after comparisons."""
    def per_day(sql):
        return sorted(tuple(str(v) for v in row) for row in wh.query(sql))
    return {
        "partitions": per_day("""SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                                 JOIN pg_class p ON p.oid = i.inhparent
                                 WHERE p.relname LIKE 'fact\\_sales\\_r%%' AND c.relkind = 'r'"""),
        "facts": per_day("SELECT retailer_id, date_id, count(*), sum(total_amount) FROM fact_sales GROUP BY 1, 2"),
        "ranges": per_day("SELECT retailer_id, date_id, count(*) FROM fact_sales_id_range GROUP BY 1, 2"),
        "mart_daily": per_day("SELECT retailer_id, date_id, sum(transactions)::bigint, sum(revenue) FROM mart_daily_sales GROUP BY 1, 2"),
        "mart_category": per_day("SELECT retailer_id, date_id, count(*) FROM mart_daily_category_sales GROUP BY 1, 2"),
        "mart_monthly": per_day("SELECT * FROM mart_monthly_category_sales"),
        "quarantine": per_day("SELECT retailer_code, sale_date, count(*) FROM warehouse_quarantine GROUP BY 1, 2"),
        "audit": per_day("SELECT retailer_code, sale_date, count(*) FROM load_audit GROUP BY 1, 2"),
        "changes": per_day("SELECT retailer_code, from_date, count(*) FROM fact_sales_changes GROUP BY 1, 2"),
        "dq": per_day("SELECT run_date, count(*) FROM dq_check_results GROUP BY 1"),
        "dims": per_day("SELECT 'p', count(*) FROM dim_product UNION ALL SELECT 'c', count(*) FROM dim_customer "
                        "UNION ALL SELECT 's', count(*) FROM dim_store UNION ALL SELECT 'd', count(*) FROM dim_date"),
    }


def old(state: dict) -> dict:
    """The entries of a warehouse_state that belong to a day before the cutoff."""
    def is_old(row):
        return any(v in OLD or v.replace("-", "") in {d.replace("-", "") for d in OLD} or
                   any(v.endswith(d.replace("-", "")) for d in OLD) for v in row)
    return {name: [row for row in rows if is_old(row)] for name, rows in state.items() if name != "mart_monthly"}


@pytest.fixture
def loaded(retention_project, seed_retailers):
    """Six days loaded by two real runs (the 1st-2nd, then the 3rd-6th), each with its quality
    checks; a landing-zone page for an old and a kept day; one warehouse quarantine row of the 1st."""
    project = retention_project
    seed_retailers(DAYS[0], DAYS[-1], rows_per_day=30, bad_fraction=0.05, seed=5)
    project.run(run_date=DAYS[1].isoformat(), lookback_days=1)
    project.run(run_date=DAYS[-1].isoformat(), lookback_days=3)
    for day in (DAYS[0], DAYS[4]):
        page = project.zone_root / f"landing/retailer_1/year=2024/month=03/day={day.day:02d}/run-1/page-0001.json.gz"
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_bytes(b"\x1f\x8b page")
    project.warehouse.query(
        "INSERT INTO warehouse_quarantine (run_id, retailer_code, transaction_id, sale_date, reason, record) "
        "VALUES ('test', 'retailer_2', 'T-1', '2024-03-01', 'missing product', '{}')")
    return project


def exact_ranges(wh) -> list[tuple]:
    """Each retailer-day's lowest and highest fact id, byte by byte: what fact_sales_id_range holds."""
    return wh.query("""SELECT retailer_id, date_id, min(transaction_id COLLATE "C"), max(transaction_id COLLATE "C")
                       FROM fact_sales GROUP BY 1, 2 ORDER BY 1, 2""")


def test_the_loads_leave_exact_id_ranges_that_the_quality_check_accepts(loaded):
    wh = loaded.warehouse
    assert wh.query("SELECT retailer_id, date_id, first_transaction_id, last_transaction_id "
                    "FROM fact_sales_id_range ORDER BY 1, 2") == exact_ranges(wh)
    checked = wh.query("SELECT run_date::text, retailer_code, passed FROM dq_check_results "
                       "WHERE check_name = 'fact_id_ranges' ORDER BY 1, 2")
    assert {row[:2] for row in checked} == {(day, code) for day in ("2024-03-02", "2024-03-06") for code in RETAILERS}
    assert all(passed for *_, passed in checked), checked


def test_retention_removes_old_days_only_keeps_marts_consistent_and_audits(loaded):
    project, wh = loaded, loaded.warehouse
    settings = load_settings("local", str(project.conf))
    assert settings.lookback_days == 3 and settings.warehouse_con == wh.url
    before, files_before = warehouse_state(wh), zone_files(project.zone_root)
    assert all(old(before)[name] for name in ("partitions", "facts", "ranges", "mart_daily", "audit", "dq", "quarantine"))
    assert any(path.startswith("landing/") for path in files_before)

    # The look-back rule: keeping 3 days would remove the 3rd, which the next daily run (the 6th) reads.
    with pytest.raises(RetentionRefused, match=r"2024-03-03 is inside the look-back window 2024-03-03\.\.2024-03-06"):
        retention(settings, 3, today=TODAY, backfill_dir=project.backfill_dir)
    # ... and an unfinished backfill of this warehouse still to load the 2nd protects it.
    identity = wh.scalar(open("sql/runs/warehouse_identity.sql").read())
    project.backfill_dir.mkdir(parents=True)
    state = project.backfill_dir / "2024-03-01_2024-03-02_ingestion+transformation_local.json"
    state.write_text(json.dumps({"start": "2024-03-01", "end": "2024-03-02", "done": {"2024-03-01": "x"},
                                 "warehouse": identity, "lookback_days": 0}))
    with pytest.raises(RetentionRefused, match=r"2024-03-02 is inside .* unfinished backfill"):
        retention(settings, 4, today=TODAY, backfill_dir=project.backfill_dir)
    state.write_text(json.dumps({**json.loads(state.read_text()), "warehouse": "another-warehouse"}))

    dry = retention(settings, 4, today=TODAY, dry_run=True, backfill_dir=project.backfill_dir)
    assert warehouse_state(wh) == before and zone_files(project.zone_root) == files_before  # removed nothing
    assert dry.cutoff == CUTOFF and {item.day for item in dry.items} <= {*DAYS[:2], date(2024, 3, 1)}
    kinds = {item.kind for item in dry.items}
    assert {"fact_partition", "fact_sales_id_range", "mart_daily_sales", "mart_daily_category_sales",
            "mart_monthly_category_sales_rebuilt", "load_audit", "warehouse_quarantine", "dq_check_results",
            "zone_raw", "zone_quarantine", "zone_landing", "zone_manifests"} <= kinds, kinds

    real = retention(settings, 4, today=TODAY, backfill_dir=project.backfill_dir, run_id="retention-test-1")
    assert real.items == dry.items                      # the dry run listed exactly what went
    after = warehouse_state(wh)
    assert all(rows == [] for rows in old(after).values()), old(after)
    for name in ("partitions", "facts", "ranges", "mart_daily", "mart_category", "quarantine", "audit", "changes"):
        kept = [row for row in before[name] if row not in old(before)[name]]
        assert after[name] == kept, name             # every kept day untouched
    assert after["dims"] == before["dims"]            # dimensions are kept whole
    assert wh.query("SELECT retailer_id, date_id, first_transaction_id, last_transaction_id "
                    "FROM fact_sales_id_range ORDER BY 1, 2") == exact_ranges(wh)   # ranges went with their facts
    assert after["dq"] == [("2024-03-06", before["dq"][-1][1])]
    partitions = {item.target for item in real.items if item.kind == "fact_partition"}
    assert len(partitions) == 8 and not {row[0] for row in after["partitions"]} & partitions  # 4 retailers x 2 days

    # The monthly mart is March from the 3rd on, as the facts say; every daily mart agrees with the facts.
    assert wh.query("""SELECT retailer_id, category, transactions, revenue FROM mart_monthly_category_sales
                       ORDER BY 1, 2""") == wh.query(
        """SELECT f.retailer_id, coalesce(p.category, '(none)'), count(*), sum(f.total_amount) FROM fact_sales f
           JOIN dim_product p USING (product_id) GROUP BY 1, 2 ORDER BY 1, 2""")
    assert sorted(after["mart_daily"]) == sorted(
        tuple(str(v) for v in row) for row in wh.query(
            "SELECT retailer_id, date_id, count(*), sum(total_amount) FROM fact_sales GROUP BY 1, 2"))

    files_after = zone_files(project.zone_root)
    assert {p: s for p, s in files_before.items() if p not in files_after} == {
        p: s for p, s in files_before.items()
        if any(f"/year=2024/month=03/day={d:02d}/" in p or f"run_date=2024-03-{d:02d}/" in p for d in (1, 2))}
    assert all(files_after[p] == files_before[p] for p in files_after)
    assert not (project.zone_root / "raw/retailer_1/year=2024/month=03/day=01").exists()   # emptied folders pruned
    assert sum(i.removed for i in real.items if i.kind.startswith("zone_")) == len(files_before) - len(files_after)

    audit = wh.query("SELECT kind, retailer_code, day, target, removed FROM retention_audit "
                     "WHERE retention_run_id = 'retention-test-1' ORDER BY audit_id")
    assert sorted(audit) == sorted((i.kind, i.retailer_code, i.day, i.target, float(i.removed)) for i in real.items)
    assert wh.query("SELECT DISTINCT keep_days, cutoff FROM retention_audit") == [(4, CUTOFF)]

    # A quality run of the kept window passes after retention; a second retention is a no-op.
    project.run("quality", run_date=DAYS[-1].isoformat(), lookback_days=3, run_id="dq-after-retention")
    assert wh.query("SELECT check_name, retailer_code FROM dq_check_results WHERE run_id = 'dq-after-retention' "
                    "AND NOT passed AND severity = 'critical'") == []
    again = retention(settings, 4, today=TODAY, backfill_dir=project.backfill_dir)
    assert again.items == [] and wh.scalar("SELECT count(*) FROM retention_audit") == len(audit)


def test_a_rerun_of_a_removed_day_is_refused_unless_asked_for(loaded, monkeypatch):
    project, wh = loaded, loaded.warehouse
    settings = load_settings("local", str(project.conf))
    retention(settings, 4, today=TODAY, backfill_dir=project.backfill_dir)
    with pytest.raises(Exception, match=r"retailer_\d 2024-03-02 was removed by retention") as refused:
        project.run("transformation", run_date="2024-03-02", lookback_days=0)
    assert "retail.reload_removed_days=on" in str(refused.value)
    assert wh.scalar("SELECT count(*) FROM load_audit WHERE sale_date = '2024-03-02'") == 0
    project.run("ingestion", run_date="2024-03-02", lookback_days=0)
    monkeypatch.setenv("PGOPTIONS", "-c retail.reload_removed_days=on")        # the operator's explicit reload
    project.run("transformation", run_date="2024-03-02", lookback_days=0)
    assert wh.scalar("SELECT count(*) FROM fact_sales WHERE date_id = 20240302") > 0


def test_the_command_line_lists_and_refuses(loaded):
    project = loaded
    cmd = [sys.executable, "-m", "retail_pipeline.retention", "--conf-source", str(project.conf), "--today",
           TODAY.isoformat(), "--backfill-dir", str(project.backfill_dir)]
    env = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "true"}
    refused = subprocess.run([*cmd, "--keep-days", "2"], capture_output=True, text=True, env=env, timeout=300)
    assert refused.returncode == 3, refused.stderr
    assert "2024-03-03 is inside the look-back window" in refused.stderr and "--keep-days 4" in refused.stderr
    listed = subprocess.run([*cmd, "--keep-days", "4", "--dry-run", "--json"], capture_output=True, text=True,
                            env=env, timeout=300)
    assert listed.returncode == 0, listed.stderr
    report = json.loads(listed.stdout)
    assert report["dry_run"] and report["cutoff"] == CUTOFF.isoformat()
    settings = load_settings("local", str(project.conf))
    expected = retention(settings, 4, today=TODAY, dry_run=True, backfill_dir=project.backfill_dir)
    assert report["items"] == [item.as_dict() for item in expected.items]
    assert expected.items and warehouse_state(project.warehouse)["partitions"]
