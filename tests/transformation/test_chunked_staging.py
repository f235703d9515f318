"""Issue 11, section 1: the raw zone read in chunks (`<code>.raw_sales`, RawZoneChunksDataset)
stages and builds exactly what the whole window read at once does, whatever the chunk size:
chunk boundaries inside an order's lines (retailer_4: one canonical row per line), a
transaction corrected later (a second version in another day's file and in the same file)
whose versions fall in different chunks, and a row the warehouse quarantines. No server."""

from __future__ import annotations

import pandas as pd
import pytest

from retail_pipeline.datasets.raw_chunks import RawChunks, RawZoneChunksDataset
from retail_pipeline.datasets.raw_zone import RawZoneDataset
from retail_pipeline.pipelines.transformation.nodes import build_retailer_star_schema, stage_sales
from retail_pipeline.warehouse.stream import ReadAgain, combine_audits
from tests.transformation.conftest import RawZone, sale

CODE = "retailer_4"
RETAILERS = {CODE: {"retailer_id": 4, "name": "R4", "timezone": "UTC"}}
WAREHOUSE = {"max_fact_loss_share": 0.5}
RUN_DATE, LOOKBACK, START = "2024-01-15", 1, "2024-01-14"
LATER = "2024-01-16T05:00:00Z"


def window_rows() -> list[dict]:
    rows = []
    for n in range(9):
        day = "2024-01-14" if n % 3 == 0 else "2024-01-15"
        for i in range(1, 2 + n % 5):  # orders of 1-5 lines
            rows.append(sale(CODE, f"WEB-{n:03d}-{i}", f"SKU-{(n + i) % 4}", day, quantity=i,
                             unit_price=round(1.11 * (n + i), 2), store=f"S{n % 2}", customer=f"C{n % 3}",
                             hour=6 + n))
    # WEB-001-1 corrected later on another day; WEB-004-2 corrected later in the same file
    rows.append(sale(CODE, "WEB-001-1", "SKU-2", "2024-01-14", quantity=7, unit_price=2.5, ingested_at=LATER))
    rows.append(sale(CODE, "WEB-004-2", "SKU-3", "2024-01-15", quantity=3, unit_price=9.99, ingested_at=LATER))
    rows.append(sale(CODE, "WEB-BAD-1", "SKU-1", "2024-01-15", quantity=0, unit_price=1.0))  # quarantined
    return rows


@pytest.fixture
def raw_root(tmp_path):
    RawZone(tmp_path).write(window_rows())
    return tmp_path


def datasets(root, chunk_rows: int):
    args = {"root": str(root), "retailer": CODE, "window_start": START, "window_end": RUN_DATE}
    return RawZoneChunksDataset(chunk_rows=chunk_rows, **args), RawZoneDataset(zone="raw", **args)


def by_id(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    return frame[columns].sort_values("transaction_id").reset_index(drop=True)


@pytest.mark.parametrize("chunk_rows", [1, 4, 7, 1000])
def test_chunks_stage_and_build_what_the_whole_window_does(raw_root, chunk_rows):
    chunked, whole = datasets(raw_root, chunk_rows)
    raw = chunked.load()
    assert isinstance(raw, RawChunks)
    chunks = list(raw)
    rows = len(window_rows())
    assert sum(len(c) for c in chunks) == rows and all(len(c) <= chunk_rows for c in chunks)
    frame = whole.load()
    pd.testing.assert_frame_equal(by_id(raw.to_frame(), list(frame.columns)), by_id(frame, list(frame.columns)),
                                  check_dtype=False)

    eager_staged, eager_held = stage_sales(RETAILERS, RUN_DATE, LOOKBACK, "r", frame)
    stream, held_side = stage_sales(RETAILERS, RUN_DATE, LOOKBACK, "r", raw)
    with pytest.raises(ReadAgain):  # versions of WEB-001-1 in two chunks (two days' files): read again
        list(stream)
    pairs = list(stream)
    staged = pd.concat([s for s, _ in pairs], ignore_index=True)
    held = pd.concat([q for _, q in pairs], ignore_index=True)
    columns = ["transaction_id", "product_sku", "quantity", "unit_price", "total_amount", "date_id", "ts_order",
               "customer_external_id", "store_external_id"]
    pd.testing.assert_frame_equal(by_id(staged, columns), by_id(eager_staged, columns), check_dtype=False)
    assert list(held["transaction_id"]) == list(eager_held["transaction_id"]) == ["WEB-BAD-1"]
    assert staged.set_index("transaction_id").loc["WEB-001-1", "quantity"] == 7  # the latest version
    assert len(staged) + len(held) == rows - 2  # two superseded versions

    entry = {**RETAILERS[CODE], "code": CODE}
    eager = build_retailer_star_schema(entry, RETAILERS, WAREHOUSE, RUN_DATE, LOOKBACK, "r", False,
                                       eager_staged, eager_held)
    streamed = build_retailer_star_schema(entry, RETAILERS, WAREHOUSE, RUN_DATE, LOOKBACK, "r", False,
                                          stream, held_side)
    assert "facts" not in streamed and streamed["retailers"] == [CODE]
    assert streamed["window"] == eager["window"] and streamed["fact_loss"] == eager["fact_loss"]
    parts = list(streamed["chunks"])  # the stream knows the versions now: one pass
    assert len(parts) > 1 or chunk_rows == 1000
    facts = pd.concat([p["facts"] for p in parts], ignore_index=True)
    pd.testing.assert_frame_equal(by_id(facts, list(eager["facts"].columns)),
                                  by_id(eager["facts"], list(eager["facts"].columns)), check_dtype=False)
    audit = combine_audits([p["audit"] for p in parts]).sort_values("sale_date").reset_index(drop=True)
    pd.testing.assert_frame_equal(audit, eager["audit"].sort_values("sale_date").reset_index(drop=True),
                                  check_dtype=False)
    days = ["product_key", "date_id"]  # products are staged as product-days
    members = pd.concat([p["dimensions"]["dim_product"] for p in parts]).drop_duplicates(days)
    assert set(map(tuple, members[days].to_numpy())) == set(map(tuple, eager["dimensions"]["dim_product"][days].to_numpy()))


def test_a_window_without_versions_across_chunks_is_read_once(tmp_path):
    RawZone(tmp_path).write([r for r in window_rows() if r["ingested_at"] != LATER])
    chunked, _ = datasets(tmp_path, 3)
    stream, _ = stage_sales(RETAILERS, RUN_DATE, LOOKBACK, "r", chunked.load())
    pairs = list(stream)  # no ReadAgain
    assert sum(len(s) + len(q) for s, q in pairs) == len(window_rows()) - 2
    assert stream.counts["superseded"] == 0


def test_an_empty_window_is_no_chunk(tmp_path):
    chunked, _ = datasets(tmp_path, 10)
    raw = chunked.load()
    assert list(raw) == [] and len(raw.to_frame()) == 0
    stream, _ = stage_sales(RETAILERS, RUN_DATE, LOOKBACK, "r", raw)
    (staged, held), = list(stream)  # one empty chunk, so the load still audits the window's days
    assert len(staged) == len(held) == 0


def test_a_fractional_quantity_in_the_raw_zone_is_quarantined_as_it_is(tmp_path):
    """The chunked reader once read quantity as an integer: 1.5 became 2, and the row was quarantined
    for a total that no longer matched, its record showing 2.0. The value must reach the checks
    (and the quarantine record) unchanged."""
    RawZone(tmp_path).write([sale(CODE, "WEB-1-1", "SKU-1", "2024-01-15", quantity=2, unit_price=5.0),
                             sale(CODE, "WEB-2-1", "SKU-1", "2024-01-15", quantity=1.5, unit_price=10.0)])
    chunked, _ = datasets(tmp_path, chunk_rows=10)
    staged, _ = stage_sales(RETAILERS, RUN_DATE, LOOKBACK, "run-1", chunked.load())
    (good, held), = list(staged)
    assert list(good["transaction_id"]) == ["WEB-1-1"]
    assert list(held["reason"]) == ["quantity must be a whole number (got '1.5')"]
    assert '"quantity":1.5' in held["record"].iloc[0]


def test_a_huge_quantity_in_the_raw_zone_is_quarantined_not_wrapped(tmp_path):
    RawZone(tmp_path).write([sale(CODE, "WEB-1-1", "SKU-1", "2024-01-15", quantity=1e20, unit_price=1.0)])
    chunked, _ = datasets(tmp_path, chunk_rows=10)
    staged, _ = stage_sales(RETAILERS, RUN_DATE, LOOKBACK, "run-1", chunked.load())
    (good, held), = list(staged)
    assert good.empty and held["reason"].str.contains("quantity must be <= ").all(), list(held["reason"])
