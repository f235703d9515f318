"""fact_sales_key written while the facts stream (warehouse.exactly_once.ChunkKeys): each chunk's
keys go in right after its COPY when the window's days hold none of the load's facts, and the
load still ends exactly once when a line moved in, when it fails midway, or when it is rerun.

Loads here are streamed in several chunks (test_streamed_load.streamed_load) of retailer_4.
"""

from __future__ import annotations

import pytest

from retail_pipeline.datasets.postgres_star import PostgresStarSchemaDataset
from tests.transformation.conftest import sale
from tests.transformation.exactly_once_checks import assert_keys_agree, assert_saved, changes, marts_agree
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


def keys_of_retailer(wh) -> list[tuple]:
    return wh.query("SELECT retailer_id, transaction_id, product_id, date_id FROM fact_sales_key ORDER BY 1, 2")


def test_a_multi_chunk_first_load_writes_its_keys_while_streaming(warehouse):
    wh, rows = warehouse, lines("NEW", ["2024-01-14", "2024-01-15"], 40)
    ds = Steps(wh)
    ds.save(streamed_load(rows, "first", pieces=5))
    assert ds.names.count("keys: chunk") == 5  # one insert per chunk, not one after streaming
    assert ds.names.index("keys: chunk") < ds.names.index("index 20240114")  # before the day tables are indexed
    assert "keys: moves into the window" not in ds.names
    assert len(keys_of_retailer(wh)) == 40
    assert_saved(wh, rows, "2024-01-14", "2024-01-15")  # keys agree with the facts: keys_check passed
    marts_agree(wh)


def test_past_the_savepoint_cap_the_rest_of_the_keys_go_in_after_the_last_chunk(warehouse, monkeypatch):
    """Each chunk insert is a subtransaction; a load takes at most MAX_CHUNK_INSERTS of them."""
    from retail_pipeline.warehouse import exactly_once

    monkeypatch.setattr(exactly_once, "MAX_CHUNK_INSERTS", 3)
    wh, rows = warehouse, lines("NEW", ["2024-01-14", "2024-01-15"], 60)
    ds = Steps(wh)
    ds.save(streamed_load(rows, "first", pieces=6))
    assert ds.names.count("keys: chunk") == 3  # two chunks, then the other four at once
    assert ds.names.index("dim_product checks") > max(i for i, n in enumerate(ds.names) if n == "keys: chunk")
    assert len(keys_of_retailer(wh)) == 60
    assert_saved(wh, rows, "2024-01-14", "2024-01-15")
    marts_agree(wh)


def test_a_window_holding_facts_writes_its_keys_after_streaming(warehouse):
    """A rerun: checking each chunk against the window's facts would read them once per chunk."""
    wh, rows = warehouse, lines("NEW", ["2024-01-14", "2024-01-15"], 40)
    Steps(wh).save(streamed_load(rows, "first", pieces=2))
    rows += lines("MORE", ["2024-01-15"], 10)
    ds = Steps(wh)
    ds.save(streamed_load(rows, "second", pieces=4))
    assert "keys: chunk" not in ds.names and "keys: insert" in ds.names
    assert_saved(wh, rows, "2024-01-14", "2024-01-15")
    assert changes(wh) == []


def test_a_line_moved_in_from_outside_the_window_in_a_later_chunk(warehouse):
    """The chunks before the mover insert their keys; the mover's chunk meets its old key, is
    rolled back to its savepoint, and the load takes the slow path after streaming."""
    wh = warehouse
    old = lines("OLD", ["2024-01-10"], 6)
    Steps(wh).save(whole_load(old, "run-1", run_date="2024-01-10", lookback=0))
    mover = sale(CODE, "OLD-002", "SKU-2", "2024-01-15", quantity=4, unit_price=2.5, ingested_at=LATER)
    new = lines("NEW", ["2024-01-14", "2024-01-15"], 30) + [mover]
    ds = Steps(wh)
    ds.save(streamed_load(new, "run-2", pieces=4, run_date="2024-01-15", lookback=1, last="OLD-002"))

    assert ds.names.count("keys: chunk") == 4  # chunks 1-3 inserted, chunk 4 met the mover's key
    assert "keys: moves into the window" in ds.names
    old_amount = next(r["total_amount"] for r in old if r["transaction_id"] == "OLD-002")
    assert changes(wh) == [("run-2", CODE, "OLD-002", "moved", "2024-01-10", "2024-01-15", 3, pytest.approx(old_amount))]
    assert wh.query("SELECT date_id, total_amount FROM fact_sales WHERE transaction_id = 'OLD-002'") == [(20240115, 10.0)]
    assert_saved(wh, old + new, "2024-01-10", "2024-01-15")  # no line twice, keys agree, to the cent
    marts_agree(wh)


def test_a_failure_right_after_a_chunk_key_insert_leaves_nothing(warehouse):
    wh = warehouse
    old = lines("OLD", ["2024-01-10"], 6)
    Steps(wh).save(whole_load(old, "run-1", run_date="2024-01-10", lookback=0))
    before, keys_before = snapshot(wh), keys_of_retailer(wh)
    tables = wh.query("SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace ORDER BY 1")
    new = lines("NEW", ["2024-01-14", "2024-01-15"], 30)

    with pytest.raises(Exception, match="injected failure after keys: chunk"):
        Steps(wh, fail_at=("keys: chunk", 2)).save(streamed_load(new, "run-2", pieces=4, run_date="2024-01-15",
                                                                  lookback=1))
    assert keys_of_retailer(wh) == keys_before
    assert snapshot(wh) == before
    assert wh.query("SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace ORDER BY 1") == tables
    assert wh.scalar("SELECT count(*) FROM load_audit WHERE run_id = 'run-2'") == 0

    ds = Steps(wh)
    ds.save(streamed_load(new, "run-2", pieces=4, run_date="2024-01-15", lookback=1))  # the rerun is the repair
    assert ds.names.count("keys: chunk") == 4
    assert_saved(wh, old + new, "2024-01-10", "2024-01-15")
    assert changes(wh) == []
    marts_agree(wh)


def test_each_chunk_inserts_exactly_the_rows_it_appended(warehouse):
    """Chunks big enough that PostgreSQL extends a day table by more pages than a COPY fills and
    the next COPY continues on the last used page: a mark at a block boundary would miss or
    repeat rows; the mark at the last row keyed gets each chunk's rows exactly once."""
    import datetime as dt
    from contextlib import closing

    import numpy as np
    import pandas as pd
    import psycopg2

    from retail_pipeline.warehouse.days import copy_facts, create_days
    from retail_pipeline.warehouse.exactly_once import ChunkKeys

    def facts(start: int, n: int) -> pd.DataFrame:
        ids = np.arange(start, start + n)
        return pd.DataFrame({
            "sale_id": ids, "date_id": 20240115, "product_id": 1, "customer_id": 1, "store_id": 1, "retailer_id": 4,
            "transaction_id": [f"T-{i:07d}" for i in ids], "quantity": 1, "unit_price": 1.5, "total_amount": 1.5,
            "discount_percentage": np.nan, "tax_amount": np.nan, "shipping_cost": np.nan,
            "transaction_ts": "2024-01-15T10:00:00Z"})

    with closing(psycopg2.connect(warehouse.dsn)) as conn, conn.cursor() as cur:
        tables = create_days(cur, [dt.date(2024, 1, 15)], "run", [4])
        keys, written, blocks = ChunkKeys(cur, tables, [4]), 0, []
        assert keys.on
        for n in (7, 25_000, 1, 30_000, 12_345):
            copy_facts(cur, tables, facts(written, n), lambda name: None)
            before = keys.inserted
            keys.insert(cur, tables, lambda name: None)
            written += n
            assert keys.inserted - before == n
            cur.execute("SELECT count(*), count(DISTINCT transaction_id) FROM fact_sales_key")
            assert cur.fetchone() == (written, written)
            cur.execute("SELECT pg_relation_size(%s) / 8192, (SELECT max(ctid) FROM {0}) FROM {0}".replace(
                "{0}", tables[0].stage) + " LIMIT 1", (tables[0].stage,))
            blocks.append(cur.fetchone())
        assert keys.written
        conn.rollback()
    # PostgreSQL 16 leaves empty pages after the last row: a block-boundary mark would have missed rows
    assert any(int(last.strip("()").split(",")[0]) + 1 < size for size, last in blocks), blocks


def test_read_again_rolls_the_chunk_keys_back_with_the_day_tables(warehouse):
    """ReadAgain after the last chunk: the load rolls back to the stream's savepoint (taken before
    the day tables exist) and streams again; the first pass's keys must be gone, else the second
    pass would meet them as lines that moved in."""
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
    assert ds.names.count("keys: chunk") == 6 and "keys: moves into the window" not in ds.names
    assert_saved(wh, rows, "2024-01-14", "2024-01-15")
    assert changes(wh) == []
