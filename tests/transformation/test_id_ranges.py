"""fact_sales_id_range (016_fact_sales_id_ranges.sql): a load looks for its lines on the days
outside its window whose id range overlaps its own, and on no other day; with ids that carry no
order it looks at every day and is still exactly once. A load holding a line on two of its own
days is refused; the migration backfills the ranges of an existing warehouse."""

from __future__ import annotations

import uuid

import pytest
from kedro.io.core import DatasetError

from retail_pipeline.warehouse.migrate import apply_migrations
from tests.transformation.conftest import sale
from tests.transformation.exactly_once_checks import assert_saved, changes, marts_agree
from tests.transformation.test_streamed_load import CODE, dataset, whole_load
from tests.reliability.test_warehouse_exactly_once import terminate_load
from tests.transformation.test_warehouse_load import snapshot

LATER = "2024-01-20T09:00:00Z"
DAYS = [f"2024-01-{d:02d}" for d in range(1, 11)]


def day_lines(day: str, n: int, ids=None) -> list[dict]:
    ids = ids or [f"T-{day.replace('-', '')}-{i:03d}" for i in range(n)]
    return [sale(CODE, tx, f"SKU-{i % 3}", day, quantity=1 + i % 2, unit_price=2.5 + i, hour=8 + i % 10)
            for i, tx in enumerate(ids)]


def load_days(wh, rows_by_day: dict[str, list[dict]]) -> None:
    for day, rows in rows_by_day.items():
        dataset(wh).save(whole_load(rows, f"run-{day}", run_date=day, lookback=0))


def test_a_new_day_with_dated_ids_looks_up_no_other_day(warehouse):
    history = {day: day_lines(day, 5) for day in DAYS[:-1]}
    load_days(warehouse, history)
    ds = dataset(warehouse)
    ds.save(whole_load(day_lines(DAYS[-1], 5), "run-new", run_date=DAYS[-1], lookback=0))
    assert ds.looked_up == []
    assert warehouse.query("SELECT first_transaction_id, last_transaction_id FROM fact_sales_id_range "
                           "WHERE date_id = 20240110") == [("T-20240110-000", "T-20240110-004")]


def test_a_line_corrected_into_the_window_is_looked_for_from_its_old_day_on(warehouse):
    """The new day's range reaches back to the mover's id: the days from its old day to the
    window are read (a correction across a long span costs reading that span), not the days before."""
    history = {day: day_lines(day, 5) for day in DAYS[:-1]}
    load_days(warehouse, history)
    mover = sale(CODE, "T-20240103-002", "SKU-2", DAYS[-1], quantity=3, unit_price=4.0, ingested_at=LATER)
    new = day_lines(DAYS[-1], 5) + [mover]
    ds = dataset(warehouse)
    ds.save(whole_load(new, "run-new", run_date=DAYS[-1], lookback=0))
    assert ds.looked_up == list(range(20240103, 20240110))
    assert [c[2:6] for c in changes(warehouse, "run-new")] == [("T-20240103-002", "moved", "2024-01-03", "2024-01-10")]
    assert_saved(warehouse, [r for rows in history.values() for r in rows] + new, DAYS[0], DAYS[-1])
    marts_agree(warehouse)


def test_the_loads_backend_killed_after_it_deleted_the_movers_old_copy_changes_nothing(warehouse, pg_server,
                                                                                     monkeypatch):
    """pg_terminate_backend right after the move deleted the old copy on 2024-01-03 (in the load's
    transaction): the server rolls it all back, the old copy and every range are as before; the
    rerun is the repair, exactly once, to the cent."""
    from retail_pipeline.datasets.postgres_star import PostgresStarSchemaDataset

    history = {day: day_lines(day, 5) for day in DAYS[:-1]}
    load_days(warehouse, history)
    mover = sale(CODE, "T-20240103-002", "SKU-2", DAYS[-1], quantity=3, unit_price=4.0, ingested_at=LATER)
    new = day_lines(DAYS[-1], 5) + [mover]
    before, ranges = snapshot(warehouse), warehouse.query("SELECT * FROM fact_sales_id_range ORDER BY 1, 2")
    original = PostgresStarSchemaDataset._step

    def step(self, name):
        original(self, name)
        if name == "keys: days elsewhere":
            assert self._last_step == name
            terminate_load(pg_server, warehouse, "run-new")

    monkeypatch.setattr(PostgresStarSchemaDataset, "_step", step)
    with pytest.raises(DatasetError, match="after step 'keys: days elsewhere': the server closed the connection"):
        dataset(warehouse).save(whole_load(new, "run-new", run_date=DAYS[-1], lookback=0))
    assert snapshot(warehouse) == before
    assert warehouse.query("SELECT * FROM fact_sales_id_range ORDER BY 1, 2") == ranges
    assert warehouse.scalar("SELECT count(*) FROM fact_sales WHERE transaction_id = 'T-20240103-002'") == 1
    monkeypatch.undo()

    dataset(warehouse).save(whole_load(new, "run-new", run_date=DAYS[-1], lookback=0))
    assert [c[2:4] for c in changes(warehouse, "run-new")] == [("T-20240103-002", "moved")]
    assert_saved(warehouse, [r for rows in history.values() for r in rows] + new, DAYS[0], DAYS[-1])
    marts_agree(warehouse)


def test_random_ids_are_looked_for_on_every_day_and_stay_exactly_once(warehouse):
    ids = {day: [str(uuid.uuid5(uuid.NAMESPACE_OID, f"{day}-{i}")) for i in range(6)] for day in DAYS}
    history = {day: day_lines(day, 6, ids[day]) for day in DAYS[:-1]}
    load_days(warehouse, history)
    mover = sale(CODE, ids[DAYS[4]][1], "SKU-1", DAYS[-1], quantity=2, unit_price=9.0, ingested_at=LATER)
    new = day_lines(DAYS[-1], 6, ids[DAYS[-1]]) + [mover]
    ds = dataset(warehouse)
    ds.save(whole_load(new, "run-new", run_date=DAYS[-1], lookback=0))
    assert len(ds.looked_up) > 1 and 20240105 in ds.looked_up  # overlapping ranges: many days read
    assert [c[2:4] for c in changes(warehouse, "run-new")] == [(ids[DAYS[4]][1], "moved")]
    assert_saved(warehouse, [r for rows in history.values() for r in rows] + new, DAYS[0], DAYS[-1])


def test_a_load_holding_a_line_on_two_of_its_days_is_refused(warehouse):
    load_days(warehouse, {"2024-01-10": day_lines("2024-01-10", 2)})  # the retailer's partitions exist
    load = whole_load(day_lines("2024-01-14", 3) + day_lines("2024-01-15", 3), "run-1", run_date="2024-01-15",
                      lookback=1)
    facts = load["facts"]
    twin = facts["date_id"] == 20240115
    facts.loc[twin, "transaction_id"] = facts.loc[~twin, "transaction_id"].to_numpy()  # a staging bug
    before = snapshot(warehouse)
    with pytest.raises(DatasetError, match=r"lines on two of its days \(retailer_4 'T-20240114-000' on \[20240114, 20240115\]"):
        dataset(warehouse).save(load)
    assert snapshot(warehouse) == before


def test_the_migration_backfills_the_ranges_of_an_existing_warehouse(warehouse):
    load_days(warehouse, {day: day_lines(day, 4) for day in DAYS[:3]})
    expected = warehouse.query("SELECT * FROM fact_sales_id_range ORDER BY 1, 2")
    assert len(expected) == 3
    warehouse.query("DELETE FROM fact_sales_id_range WHERE date_id <> 20240102")
    warehouse.query("UPDATE fact_sales_id_range SET last_transaction_id = 'T-20240102-001'")  # too narrow
    warehouse.query("DELETE FROM schema_version WHERE version LIKE '016%'")
    assert [v for v in apply_migrations(warehouse.url) if v.startswith("016")]
    assert warehouse.query("SELECT * FROM fact_sales_id_range ORDER BY 1, 2") == expected
