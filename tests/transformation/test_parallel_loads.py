"""Issue 11, section 3: retailers load in parallel.

fact_sales is partitioned by retailer, then by day (010_fact_sales_by_retailer.sql), and each
load locks its own retailer's load_lock row: a load of one retailer, stopped while it holds
everything it took, at any step of its bulk (staging, COPY, indexes, exactly-once keys), never
makes a load of another retailer wait (proved with a lock_timeout the other load would hit);
stopped in its tail (dimension lock, dimension writes, marts, swap, commit), the other waits
for its commit only, and neither deadlocks. A failure of one leaves the other's facts, loads
started together all commit, and the same retailer still loads one at a time.
"""

from __future__ import annotations

import threading
import time

import pandas as pd
import pytest

from retail_pipeline.datasets.postgres_star import PostgresStarSchemaDataset
from retail_pipeline.pipelines.transformation.nodes import build_retailer_star_schema, build_star_schema, stage_sales
from tests.transformation.conftest import sale
from tests.transformation.exactly_once_checks import assert_ranges_cover, marts_agree

RETAILERS = {f"retailer_{n}": {"retailer_id": n, "name": f"R{n}", "timezone": "UTC"} for n in (1, 2, 3)}
WAREHOUSE = {"max_fact_loss_share": 0.5}
DAY = "2024-01-15"


def rows(code: str, n: int = 6, day: str = DAY, prefix: str = "T", price: float = 10.0) -> list[dict]:
    return [sale(code, f"{prefix}{code[-1]}-{day}-{i}", f"SKU-{i % 3}", day, unit_price=price + i,
                 store=f"S{i % 2}", customer=f"C{i % 4}") for i in range(n)]


def load_of(code: str, data: list[dict], run_id: str, run_date: str = DAY, lookback: int = 1) -> dict:
    """What `<code>.build_star_schema` makes of the retailer's rows."""
    staged, held = stage_sales(RETAILERS, run_date, lookback, run_id, pd.DataFrame(data))
    return build_retailer_star_schema({**RETAILERS[code], "code": code}, RETAILERS, WAREHOUSE, run_date,
                                      lookback, run_id, False, staged, held)


def dataset(wh, code: str | None, lock_timeout: str = "2s") -> PostgresStarSchemaDataset:
    return PostgresStarSchemaDataset(credentials={"con": wh.url}, retailer=code,
                                     save_args={"lock_timeout": lock_timeout})


class Paused(PostgresStarSchemaDataset):
    """A load that stops after step `at` (holding its transaction and every lock it took so far)
    until `go` is set."""

    def __init__(self, *args, at: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.at, self.reached, self.go = at, threading.Event(), threading.Event()

    def _step(self, name: str) -> None:
        super()._step(name)
        if name == self.at:
            self.reached.set()
            assert self.go.wait(60), "never released"


def in_thread(target, *args) -> tuple[threading.Thread, list]:
    errors: list = []

    def run():
        try:
            target(*args)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, errors


def facts(wh, code: str | None = None) -> list[tuple]:
    mine = "WHERE r.retailer_code = %s" if code else ""
    return wh.query(f"""SELECT r.retailer_code, f.transaction_id, f.date_id, f.total_amount, f.run_id
                        FROM fact_sales f JOIN dim_retailer r USING (retailer_id) {mine} ORDER BY 1, 2""",
                    (code,) if code else None)


def waits(wh) -> list[tuple]:
    return wh.query("SELECT pid, locktype, mode, relation::regclass::text FROM pg_locks "
                    "WHERE NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())")


def held_load(wh, at: str, code: str = "retailer_1", run_id: str = "r1") -> tuple[Paused, threading.Thread, list]:
    """A load of `code` with new rows on both window days, stopped after step `at`."""
    held = Paused(credentials={"con": wh.url}, retailer=code, save_args={"lock_timeout": "30s"}, at=at)
    data = rows(code, 8, "2024-01-14", price=20) + rows(code, 8, price=20)
    thread, errors = in_thread(held.save, load_of(code, data, run_id))
    assert held.reached.wait(30), errors
    return held, thread, errors


def with_history(wh) -> None:
    """Both retailers loaded once, so a load has partitions, keys and marts to replace."""
    for code in ("retailer_1", "retailer_2"):
        dataset(wh, code).save(load_of(code, rows(code, 5, "2024-01-14") + rows(code), f"h-{code}"))


def other_load(wh, lock_timeout: str) -> float:
    """retailer_2's load (new rows on both days); returns its wall time."""
    started = time.monotonic()
    dataset(wh, "retailer_2", lock_timeout=lock_timeout).save(
        load_of("retailer_2", rows("retailer_2", 7, "2024-01-14", price=30) + rows("retailer_2", 7, price=30), "r2"))
    return time.monotonic() - started


def assert_both_loaded(wh) -> None:
    assert {r[4] for r in facts(wh, "retailer_1")} == {"r1"} and len(facts(wh, "retailer_1")) == 16
    assert {r[4] for r in facts(wh, "retailer_2")} == {"r2"} and len(facts(wh, "retailer_2")) == 14
    assert_ranges_cover(wh)
    marts_agree(wh)


# The bulk of a load: up to and with the exactly-once step, before the dimension lock.
@pytest.mark.parametrize("at", ["load lock", "dim_product copy", "dim_store checks", "copy 20240114",
                                "index 20240115", "keys: window diff", "keys: days elsewhere"])
def test_a_load_of_another_retailer_never_waits_for_the_bulk_of_a_running_one(warehouse, at):
    """retailer_1's load is stopped after `at`, holding its transaction and every lock it took;
    retailer_2's whole load runs meanwhile under a 1 s lock_timeout: it never waited."""
    wh = warehouse
    with_history(wh)
    held, thread, errors = held_load(wh, at)
    try:
        assert other_load(wh, lock_timeout="1s") < 30
        assert waits(wh) == []
    finally:
        held.go.set()
        thread.join(60)
    assert not errors, errors
    assert_both_loaded(wh)


# The tail: dimensions, marts, swap, commit, one load at a time (dim_lock.sql).
@pytest.mark.parametrize("at", ["dimension lock", "dim_store", "marts", "attach 20240115", "ready to commit"])
def test_in_the_tail_of_a_load_another_retailer_waits_for_its_commit_only_and_never_deadlocks(warehouse, at):
    wh = warehouse
    with_history(wh)
    held, thread, errors = held_load(wh, at)
    other, other_errors = in_thread(other_load, wh, "30s")
    try:
        deadline = time.monotonic() + 20
        while not any(mode == "ShareRowExclusiveLock" for _, _, mode, _ in waits(wh)):
            assert time.monotonic() < deadline, f"retailer_2 never reached the dimension lock: {other_errors}"
            time.sleep(0.05)
        assert [(kind, rel) for _, kind, _, rel in waits(wh)] == [("relation", "dim_date")]  # the first of the lock
    finally:
        held.go.set()
        thread.join(60)
    other.join(60)
    assert not errors and not other_errors, (errors, other_errors)
    assert_both_loaded(wh)


def test_loads_started_together_both_commit_and_a_failed_one_leaves_the_others_facts(warehouse, monkeypatch):
    wh = warehouse
    for code in ("retailer_1", "retailer_2", "retailer_3"):
        dataset(wh, code).save(load_of(code, rows(code, 4), "h"))
    before_r2 = facts(wh, "retailer_2")

    barrier = threading.Barrier(3)
    original = PostgresStarSchemaDataset._step

    def step(self, name):
        original(self, name)
        if name == "load lock":
            barrier.wait(30)  # all three hold their lock row at the same time
        if name == "attach 20240115" and self._retailer == "retailer_2":
            raise RuntimeError("injected failure of retailer_2")

    monkeypatch.setattr(PostgresStarSchemaDataset, "_step", step)
    runs = {code: in_thread(dataset(wh, code, lock_timeout="5s").save, load_of(code, rows(code, 9, price=40), f"p-{code}"))
            for code in ("retailer_1", "retailer_2", "retailer_3")}
    for thread, _ in runs.values():
        thread.join(120)
    assert not runs["retailer_1"][1] and not runs["retailer_3"][1], (runs["retailer_1"][1], runs["retailer_3"][1])
    assert "injected failure of retailer_2" in str(runs["retailer_2"][1][0])
    assert {r[4] for r in facts(wh, "retailer_1")} == {"p-retailer_1"} and len(facts(wh, "retailer_1")) == 9
    assert {r[4] for r in facts(wh, "retailer_3")} == {"p-retailer_3"} and len(facts(wh, "retailer_3")) == 9
    assert facts(wh, "retailer_2") == before_r2  # rolled back, its old facts intact
    assert_ranges_cover(wh)
    marts_agree(wh)


def test_the_same_retailer_still_loads_one_at_a_time(warehouse):
    wh = warehouse
    held = Paused(credentials={"con": wh.url}, retailer="retailer_1", save_args={"lock_timeout": "30s"}, at="load lock")
    thread, errors = in_thread(held.save, load_of("retailer_1", rows("retailer_1"), "a"))
    try:
        assert held.reached.wait(30), errors
        with pytest.raises(Exception, match="lock timeout after 1s .* load_lock"):
            dataset(wh, "retailer_1", lock_timeout="1s").save(load_of("retailer_1", rows("retailer_1"), "b"))
    finally:
        held.go.set()
        thread.join(60)
    assert not errors
    assert {r[4] for r in facts(wh, "retailer_1")} == {"a"}


def test_a_scoped_dataset_refuses_another_retailers_load_and_lock_rows_are_made_on_demand(warehouse):
    wh = warehouse
    with pytest.raises(Exception, match="loads retailer retailer_1 only"):
        dataset(wh, "retailer_1").save(load_of("retailer_2", rows("retailer_2"), "x"))
    assert wh.query("SELECT scope FROM load_lock ORDER BY 1") == [("warehouse",)]
    dataset(wh, "retailer_3").save(load_of("retailer_3", rows("retailer_3"), "x"))
    assert wh.query("SELECT scope FROM load_lock ORDER BY 1") == [("retailer_3",), ("warehouse",)]
    # its facts live under its own sub-partition, one partition per window day
    assert wh.query("""SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                       WHERE i.inhparent = 'fact_sales_r3'::regclass ORDER BY 1""") == [
        ("fact_sales_r3_20240114",), ("fact_sales_r3_20240115",)]
    assert wh.scalar("SELECT count(*) FROM fact_sales_r3") == 6


def test_a_load_of_several_retailers_replaces_theirs_only(warehouse):
    """build_star_schema of several retailers (tools, benchmarks) is one load of all of them."""
    wh = warehouse
    dataset(wh, "retailer_3").save(load_of("retailer_3", rows("retailer_3"), "only-r3"))
    data = rows("retailer_1") + rows("retailer_2")
    staged, held = stage_sales(RETAILERS, DAY, 1, "both", pd.DataFrame(data))
    two = {code: RETAILERS[code] for code in ("retailer_1", "retailer_2")}
    dataset(wh, None).save(build_star_schema(staged, held, two, WAREHOUSE, DAY, 1, "both"))
    assert {(r[0], r[4]) for r in facts(wh)} == {("retailer_1", "both"), ("retailer_2", "both"),
                                                 ("retailer_3", "only-r3")}
    assert_ranges_cover(wh)
    marts_agree(wh)
