"""Issue 11 for the quality pipeline: a big day's zone files and warehouse ids are read a chunk
at a time, and the checks see exactly what reading them whole gives (the memory figures are in
`python -m benchmarks transform`: quality_ids_peak_rss_mb)."""

from __future__ import annotations

import hashlib
import random
from decimal import Decimal

import pandas as pd
import yaml

from retail_pipeline.datasets.raw_chunks import RawZoneChunksDataset
from retail_pipeline.datasets.raw_zone import RawZoneDataset
from retail_pipeline.datasets.warehouse_query import WarehouseQueryDataset
from retail_pipeline.pipelines.quality import nodes
from retail_pipeline.pipelines.quality.results import money
from tests.fixtures.kedro_project import PROJECT_ROOT
from tests.transformation.conftest import RawZone, sale

CODE = "retailer_2"
PARAMS = yaml.safe_load((PROJECT_ROOT / "conf/base/parameters_quality.yml").read_text())["quality"]
WINDOW = {"retailer": CODE, "window_start": "2024-01-14", "window_end": "2024-01-15"}


def md5_60_sum(ids: list[str]) -> int:
    """The checksum by hand: the sum of the first 60 bits of md5(id), as PostgreSQL computes it."""
    return sum(int(hashlib.md5(i.encode()).hexdigest()[:15], 16) for i in ids)


def zone_rows() -> list[dict]:
    rows = [sale(CODE, f"T-{n:03d}", "SKU-1", "2024-01-14" if n % 3 else "2024-01-15", quantity=1 + n % 4,
                 unit_price=[0.1, 0.2, 19.99, 1234567.89, 0.07][n % 5]) for n in range(40)]
    rows[5]["total_amount"] = 0.1 + 0.2             # 0.30000000000000004 in the file
    rows[6]["transaction_id"] = rows[7]["transaction_id"]  # an id twice on a day
    rows[8]["transaction_id"] = None                 # a missing id counts as ''
    return rows


def summarize(raw, quarantine) -> tuple[dict, pd.DataFrame]:
    """The generator node drained: (the last counts, every chunk's ids)."""
    parts = list(nodes.summarize_zone(raw, quarantine))
    return parts[-1][0], pd.concat([ids for _, ids in parts], ignore_index=True)


def by_id(frame: pd.DataFrame) -> list[tuple]:
    return sorted(map(tuple, frame[["sale_date", "transaction_id", "zone"]].astype(str).to_numpy()))


def test_the_zone_summary_read_in_chunks_is_the_whole_window_one(tmp_path):
    RawZone(tmp_path).write(zone_rows())
    quarantine = pd.DataFrame([sale(CODE, "BAD-1", "SKU-1", "2024-01-15", quantity=0)])
    whole_days, whole_ids = summarize(RawZoneDataset(root=str(tmp_path), zone="raw", **WINDOW).load(), quarantine)
    for chunk_rows in (1, 7, 1000):
        chunks = RawZoneChunksDataset(root=str(tmp_path), chunk_rows=chunk_rows, **WINDOW).load()
        days, ids = summarize(chunks, quarantine)
        assert days == whole_days
        assert by_id(ids) == by_id(whole_ids)
    assert sum(d["raw_rows"] for d in whole_days.values()) == 40
    expected = sum(Decimal(str(r["total_amount"])).quantize(Decimal("0.01")) for r in zone_rows())
    assert sum(d["raw_amount"] for d in whole_days.values()) == expected
    assert whole_days["2024-01-15"]["quarantined_rows"] == 1
    assert ("2024-01-14", "", "raw") in by_id(whole_ids)


def test_an_amount_with_more_than_cents_is_summed_as_money_row_by_row(tmp_path):
    rows = [sale(CODE, "T-1", "SKU-1", "2024-01-15", unit_price=1.015), sale(CODE, "T-2", "SKU-1", "2024-01-15"),
            sale(CODE, "T-3", "SKU-1", "2024-01-14", quantity=2, unit_price=5.0)]
    rows[0]["total_amount"] = 1.015  # not valid money: kept as it is; money() makes it 1.02 (x100 rounds to 101)
    RawZone(tmp_path).write(rows)
    days, _ = summarize(RawZoneChunksDataset(root=str(tmp_path), chunk_rows=1, **WINDOW).load(), None)
    assert days["2024-01-15"]["raw_amount"] == money(1.015) + Decimal("10.00") == Decimal("11.02")
    assert str(days["2024-01-14"]["raw_amount"]) == "10.00"  # summed in cents, still money to the cent


def test_the_warehouse_ids_read_through_a_cursor_are_the_whole_result(pg_server, tmp_path):
    url = pg_server.url("postgres")
    query = tmp_path / "ids.sql"
    query.write_text("SELECT 'retailer_2' AS retailer_code, to_char(DATE '2024-01-14' + (g % 2), 'YYYY-MM-DD') "
                     "AS sale_date, 'T-' || g AS transaction_id, 'fact' AS place "
                     "FROM generate_series(1, :n) AS g")
    for n in (0, 1, 5, 12):
        whole = WarehouseQueryDataset(filepath=str(query), credentials={"con": url}, params={"n": n}).load()
        lazy = WarehouseQueryDataset(filepath=str(query), credentials={"con": url}, params={"n": n},
                                     chunk_rows=5).load()
        chunks = list(lazy)  # the query runs when iterated, 5 rows a frame
        assert [len(c) for c in chunks] == ([5] * (n // 5) + ([n % 5] if n % 5 else [])) or (n == 0 and len(chunks) == 1)
        pd.testing.assert_frame_equal(pd.concat(chunks, ignore_index=True), whole)
        assert [len(c) for c in lazy] == [len(c) for c in chunks]  # and again when iterated again
    assert (PROJECT_ROOT / "sql/quality/warehouse_ids.sql").read_text().count("to_char(") >= 2


def test_the_warehouse_ids_check_is_the_same_on_chunks_and_on_the_whole_result():
    raw = [("2024-01-14", "A"), ("2024-01-14", "B"), ("2024-01-15", "C"), ("2024-01-15", "C")]
    warehouse = pd.DataFrame([("retailer_2", "2024-01-14", "A", "fact"), ("retailer_2", "2024-01-14", "B", "fact"),
                              ("retailer_2", "2024-01-15", "C", "fact"), ("retailer_2", "2024-01-15", "D", "fact"),
                              ("retailer_3", "2024-01-15", "E", "warehouse_quarantine")],
                             columns=["retailer_code", "sale_date", "transaction_id", "place"])
    landed = pd.DataFrame(raw + [("2024-01-15", "Q")], columns=["sale_date", "transaction_id"]).assign(
        zone=["raw"] * 4 + ["quarantine"])
    whole = nodes.check_warehouse_ids(warehouse, PARAMS, "2024-01-15", 1, retailer_2__landed=landed)
    chunked = nodes.check_warehouse_ids([warehouse.iloc[i:i + 2] for i in range(0, 5, 2)], PARAMS, "2024-01-15", 1,
                                        retailer_2__landed=landed)
    pd.testing.assert_frame_equal(whole, chunked)
    by_code = whole.set_index("retailer_code")
    assert not by_code.loc["retailer_2", "passed"] and by_code.loc["retailer_2", "observed"] == 2  # C once, D extra
    assert not by_code.loc["retailer_3", "passed"]  # ids in the warehouse, none in the raw zone
    days = by_code.loc["retailer_2", "details"]["days"]
    assert [(d["fact_rows"], d["raw_not_warehouse"], d["warehouse_not_raw"]) for d in days] == [(2, 0, 0), (2, 1, 1)]


def test_ids_counted_by_duckdb_are_the_multisets_and_checksums_python_gives():
    from collections import Counter

    from retail_pipeline.pipelines.quality.id_checks import _compare

    def text(t) -> str:
        return t if isinstance(t, str) else ""

    rng = random.Random(11)
    pool = ["ORD-1", "ORD-2", " spaced ", "Ünïcödé-✓", "", "x" * 300, "ORD-10", "ord-1"]
    days = ["2024-01-14", "2024-01-15"]
    left = pd.DataFrame([(rng.choice(days + ["2024-01-13"]), rng.choice(pool)) for _ in range(300)],
                        columns=["sale_date", "transaction_id"])
    right = pd.DataFrame([(rng.choice(days), rng.choice(pool)) for _ in range(280)], columns=["sale_date", "transaction_id"])
    right.loc[3, "transaction_id"] = None  # a missing id is ''
    gap, summary, sample = _compare(left, right, ("served", "landed"), days, 5)

    ours, theirs = Counter(map(tuple, left.to_numpy())), Counter((d, text(t)) for d, t in right.to_numpy())
    differing = {k: (ours[k], theirs[k]) for k in ours.keys() | theirs.keys() if ours[k] != theirs[k]}
    assert gap == sum(abs(x - y) for x, y in differing.values()) > 0
    for day in summary:
        mine_l = [t for d, t in left.to_numpy() if d == day["sale_date"]]
        mine_r = [text(t) for d, t in right.to_numpy() if d == day["sale_date"]]
        assert (day["served_rows"], day["landed_rows"]) == (len(mine_l), len(mine_r))
        assert (day["served_checksum"], day["landed_checksum"]) == (str(md5_60_sum(mine_l)), str(md5_60_sum(mine_r)))
        assert day["served_not_landed"] == sum(max(x - y, 0) for (d, _), (x, y) in differing.items() if d == day["sale_date"])
        assert day["landed_not_served"] == sum(max(y - x, 0) for (d, _), (x, y) in differing.items() if d == day["sale_date"])
    first = sorted(differing.items(), key=lambda kv: (not kv[1][0] > kv[1][1], kv[0][0], kv[0][1].encode()))[:5]
    assert sample == [{"sale_date": d, "transaction_id": t, "served": x, "landed": y} for (d, t), (x, y) in first]
    assert _compare(None, None, ("a", "b"), days, 5) == (0, [
        {"sale_date": d, "a_rows": 0, "b_rows": 0, "a_checksum": "0", "b_checksum": "0", "a_not_b": 0, "b_not_a": 0}
        for d in days], [])
