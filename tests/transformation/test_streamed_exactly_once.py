"""Exactly once with streamed loads (warehouse.exactly_once): a load in several chunks ends
exactly once when a line moved in from outside the window in a later chunk, when it fails after
the id ranges were computed, when it is rerun, and when its chunks are read again; the window's
id ranges (fact_sales_id_range) are exact after each.

Loads here are streamed in several chunks (test_streamed_load.streamed_load) of retailer_4.
"""

from __future__ import annotations

import pytest

from retail_pipeline.datasets.postgres_star import PostgresStarSchemaDataset
from tests.transformation.conftest import sale
from tests.transformation.exactly_once_checks import assert_saved, changes, marts_agree
from tests.transformation.test_streamed_load import CODE, streamed_load, whole_load
from tests.transformation.test_warehouse_load import snapshot

LATER = "2024-01-16T09:00:00Z"


class Steps(PostgresStarSchemaDataset):
    """The dataset, its steps recorded in order; raises at the `fail_at`-th step of that name."""

    def __init__(self, wh, fail_at: tuple[str, int] | None = None):
        super().__init__(credentials={"con": wh.url}, retailer=CODE)
        self.names: list[str] = []
        self.fail_at = fail_at

    def _step(self, name: str) -> None:
        super()._step(name)
        self.names.append(name)
        if self.fail_at and (name, self.names.count(name)) == self.fail_at:
            raise RuntimeError(f"injected failure after {name}")


def lines(prefix: str, days: list[str], n: int) -> list[dict]:
    return [sale(CODE, f"{prefix}-{i:03d}", f"SKU-{i % 4}", days[i % len(days)], quantity=1 + i % 3,
                 unit_price=round(1.1 * (i + 1), 2), store=f"S{i % 2}", customer=f"C{i % 3}", hour=8 + i % 12)
            for i in range(n)]


def ranges(wh) -> list[tuple]:
    return wh.query("SELECT * FROM fact_sales_id_range ORDER BY 1, 2")


def test_a_multi_chunk_first_load_writes_each_days_exact_range_and_looks_nowhere_else(warehouse):
    wh, rows = warehouse, lines("NEW", ["2024-01-14", "2024-01-15"], 40)
    ds = Steps(wh)
    ds.save(streamed_load(rows, "first", pieces=5))
    assert ds.looked_up == []
    assert ranges(wh) == [(4, 20240114, "NEW-000", "NEW-038"), (4, 20240115, "NEW-001", "NEW-039")]
    assert_saved(wh, rows, "2024-01-14", "2024-01-15")
    marts_agree(wh)


def test_a_rerun_of_a_window_holding_facts_changes_nothing(warehouse):
    wh, rows = warehouse, lines("NEW", ["2024-01-14", "2024-01-15"], 40)
    Steps(wh).save(streamed_load(rows, "first", pieces=2))
    rows += lines("MORE", ["2024-01-15"], 10)
    ds = Steps(wh)
    ds.save(streamed_load(rows, "second", pieces=4))
    assert ds.looked_up == []
    assert_saved(wh, rows, "2024-01-14", "2024-01-15")
    assert changes(wh) == []


def test_a_line_moved_in_from_outside_the_window_in_a_later_chunk(warehouse):
    """The mover's id lies in 2024-01-10's range: that day, and only that day, is looked up."""
    wh = warehouse
    old = lines("OLD", ["2024-01-10"], 6)
    Steps(wh).save(whole_load(old, "run-1", run_date="2024-01-10", lookback=0))
    mover = sale(CODE, "OLD-002", "SKU-2", "2024-01-15", quantity=4, unit_price=2.5, ingested_at=LATER)
    new = lines("NEW", ["2024-01-14", "2024-01-15"], 30) + [mover]
    ds = Steps(wh)
    ds.save(streamed_load(new, "run-2", pieces=4, run_date="2024-01-15", lookback=1, last="OLD-002"))

    assert ds.looked_up == [20240110]
    old_amount = next(r["total_amount"] for r in old if r["transaction_id"] == "OLD-002")
    assert changes(wh) == [("run-2", CODE, "OLD-002", "moved", "2024-01-10", "2024-01-15", 3, pytest.approx(old_amount))]
    assert wh.query("SELECT date_id, total_amount FROM fact_sales WHERE transaction_id = 'OLD-002'") == [(20240115, 10.0)]
    assert_saved(wh, old + new, "2024-01-10", "2024-01-15")  # no line twice, ranges cover, to the cent
    marts_agree(wh)


def test_a_failure_right_after_the_id_ranges_leaves_nothing(warehouse):
    wh = warehouse
    old = lines("OLD", ["2024-01-10"], 6)
    Steps(wh).save(whole_load(old, "run-1", run_date="2024-01-10", lookback=0))
    before, ranges_before = snapshot(wh), ranges(wh)
    tables = wh.query("SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace ORDER BY 1")
    mover = sale(CODE, "OLD-002", "SKU-2", "2024-01-15", quantity=4, unit_price=2.5, ingested_at=LATER)
    new = lines("NEW", ["2024-01-14", "2024-01-15"], 30) + [mover]

    with pytest.raises(Exception, match="injected failure after keys: days elsewhere"):
        Steps(wh, fail_at=("keys: days elsewhere", 1)).save(
            streamed_load(new, "run-2", pieces=4, run_date="2024-01-15", lookback=1))
    assert ranges(wh) == ranges_before
    assert snapshot(wh) == before
    assert wh.query("SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace ORDER BY 1") == tables
    assert wh.scalar("SELECT count(*) FROM load_audit WHERE run_id = 'run-2'") == 0

    ds = Steps(wh)
    ds.save(streamed_load(new, "run-2", pieces=4, run_date="2024-01-15", lookback=1))  # the rerun is the repair
    assert ds.looked_up == [20240110]
    assert_saved(wh, old + new, "2024-01-10", "2024-01-15")
    assert [c[2:4] for c in changes(wh)] == [("OLD-002", "moved")]
    marts_agree(wh)


def test_read_again_streams_the_day_tables_once(warehouse):
    """ReadAgain after the last chunk: the load rolls back to the stream's savepoint (taken before
    the day tables exist) and streams again; the first pass's rows must be gone, else the second
    pass would hold every line twice."""
    from retail_pipeline.warehouse.stream import ReadAgain

    wh, rows = warehouse, lines("NEW", ["2024-01-14", "2024-01-15"], 30)
    load = streamed_load(rows, "first", pieces=3)
    chunks = list(load["chunks"])

    class Twice:
        passes = 0

        def __iter__(self):
            Twice.passes += 1
            yield from chunks
            if Twice.passes == 1:
                raise ReadAgain("versions of a transaction in two chunks")

    ds = Steps(wh)
    ds.save({**load, "chunks": Twice()})
    assert Twice.passes == 2
    assert ds.names.count("copy 20240115") == 6 and ds.looked_up == []
    assert_saved(wh, rows, "2024-01-14", "2024-01-15")
    assert changes(wh) == []
