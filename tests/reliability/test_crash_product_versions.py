"""A crash in the middle of the load's newer steps: the binary COPY of the facts (warehouse/pgbinary.py)
and the product-version step (warehouse/product_versions.py). Both run inside the load's one
transaction, so a SIGKILL of the whole PostgreSQL cluster there must leave the warehouse as the
last committed load left it (facts, versions, observations, ledger), and a rerun must load the
new rows exactly once, with every fact on its day's product version.

The rerun's window renames SKU-0 and moves it to another category from 2024-01-15, so the
product-version step has a version to write when the cluster dies.
"""

from __future__ import annotations

import pytest

from retail_pipeline.warehouse import pgbinary
from tests.reliability.accounting import duplicate_lines
from tests.reliability.test_warehouse_exactly_once import inject, last_line
from tests.transformation.conftest import RawZone, sale
from tests.transformation.exactly_once_checks import assert_saved
from tests.transformation.test_product_history import assert_consistent

DAYS = ("2024-01-14", "2024-01-15")


def window_rows(n: int, renamed_from: str | None = None) -> list[dict]:
    """n sales a day per retailer of SKU-0..SKU-(n-1); SKU-0 renamed and moved on days >= renamed_from."""
    rows = []
    for day in DAYS:
        for r in (1, 2, 3):
            for i in range(n):
                changed = i == 0 and renamed_from is not None and day >= renamed_from
                rows.append(sale(f"retailer_{r}", f"R{r}-{day[-2:]}-{i}", f"SKU-{i}", day, unit_price=10 + i,
                                 name="Renamed 0" if changed else None, category="Other" if changed else "Cat",
                                 ingested_at=f"{day}T23:00:00Z"))
    return rows


def warehouse_state(wh) -> dict:
    return {"facts": wh.query("SELECT retailer_id, transaction_id, product_id, date_id, total_amount, run_id "
                              "FROM fact_sales ORDER BY 1, 2"),
            "ranges": wh.query("SELECT * FROM fact_sales_id_range ORDER BY 1, 2"),
            "products": wh.query("SELECT product_id, product_key, product_name, category, valid_from, valid_to "
                                 "FROM dim_product ORDER BY 1"),
            "observations": wh.query("SELECT * FROM product_observations ORDER BY 1, 2, 3"),
            "marts": wh.query("SELECT * FROM mart_daily_category_sales ORDER BY 1, 2, 3")}


def crash_mid_fact_copy(monkeypatch, crash) -> None:
    """SIGKILL the cluster after the first block of the first fact COPY went to the server."""
    read = pgbinary.BinaryStream.read
    calls = []

    def read_then_crash(self, size=-1):
        data = read(self, size)
        calls.append(len(data))
        if len(calls) == 2:  # the header went, a block of rows is on its way
            crash()
        return data

    monkeypatch.setattr(pgbinary.BinaryStream, "read", read_then_crash)


@pytest.mark.parametrize("at", ["mid fact COPY", "dim_product"])
def test_sigkill_mid_step_leaves_the_last_load_and_a_rerun_loads_once(crashable_pg, kedro_project, monkeypatch, at):
    wh = crashable_pg.warehouse()
    kedro_project.write_yaml("local/credentials.yml", {"warehouse": {"con": wh.url}})
    raw = RawZone(kedro_project.data / "01_raw")
    raw.write(window_rows(3))
    kedro_project.run("transformation", run_date=DAYS[-1], lookback_days=1, run_id="run-1")
    before = warehouse_state(wh)

    after_rows = window_rows(5, renamed_from=DAYS[-1])
    raw.write(after_rows)
    crashable_pg.arm()
    if at == "mid fact COPY":
        crash_mid_fact_copy(monkeypatch, crashable_pg.crash)
    else:
        inject(monkeypatch, at, crashable_pg.crash)  # right after the versions were computed and written
    try:
        with pytest.raises(Exception) as failed:
            kedro_project.run("transformation", run_date=DAYS[-1], lookback_days=1, run_id="run-2")
    finally:
        crashable_pg.restart()
    line = last_line(failed.value)
    assert "server closed the connection" in line and "rolled the load back" in line, line
    assert crashable_pg.crashes >= 1
    assert warehouse_state(wh) == before  # nothing of run-2 survived the crash

    monkeypatch.undo()
    kedro_project.run("transformation", run_date=DAYS[-1], lookback_days=1, run_id="run-3")
    assert_saved(wh, after_rows, DAYS[0], DAYS[-1])  # facts + quarantine = rows, to the cent; ledger agrees
    assert duplicate_lines(wh.dsn) == []
    assert_consistent(wh)  # versions do not overlap, every fact on its day's version, marts agree
    renamed = wh.query("SELECT retailer_id, product_name, category, valid_from::text, valid_to::text FROM dim_product "
                       "WHERE product_sku = 'SKU-0' ORDER BY 1, valid_from")
    assert renamed == [(r, name, cat, frm, to) for r in (1, 2, 3) for name, cat, frm, to in (
        ("Product SKU-0", "Cat", DAYS[0], DAYS[1]), ("Renamed 0", "Other", DAYS[1], "9999-12-31"))]
