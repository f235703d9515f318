"""A retailer's window ingested chunk by chunk (the node `ingest_sales_stream` and the real
`RawZoneDataset` on a temp folder) gives exactly what the whole window gives, byte for byte;
a failure between chunks or a repeated walk never shows in the raw zone.

The window here is retailer 1's records as served (tests/pipelines/records.py), cut into chunks
of a few rows; the streams are the events `RetailerApiDataset` yields (extraction/stream.py).
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from kedro.io.core import DatasetError

from retail_pipeline import settings
from retail_pipeline.datasets.raw_zone import RawZoneDataset
from retail_pipeline.datasets.zone_commit import OPEN_TXNS, abort_open
from retail_pipeline.extraction.stream import Attempt, Extracted
from retail_pipeline.hooks import StagedWindowHook
from retail_pipeline.pipelines.ingestion.nodes import ingest_sales, ingest_sales_stream
from retail_pipeline.pipelines.ingestion.window_state import SeenIds
from tests.pipelines.in_memory import INGESTED_AT, api_frame, conf_parameters
from tests.pipelines.records import r1

CODE = "retailer_1"
WINDOW = {"window_start": "2024-01-12", "window_end": "2024-01-15"}
RETAILER = conf_parameters()["retailers"][CODE]

# Good rows over the window's days, bad rows of several kinds, and repeated ids: ORD-..-000001
# again in a later chunk, ORD-..-000004 (itself bad) repeated, one id three times.
RECORDS = [r1(1, "2024-01-12"), r1(2, "2024-01-13"), r1(3), r1(4, sku=""), r1(5, quantity=-2, total=-25.0),
           r1(6, total=30.0), r1(7, "2024-01-10"), r1(8, order_date="15/01/2024"), r1(9, "2024-01-14"),
           r1(1, "2024-01-12"), r1(10), r1(4, sku=""), r1(11, "2024-01-13"), r1(9, "2024-01-14", quantity=3, total=37.5),
           r1(12), r1(9, "2024-01-14")]


def whole_frame(records: list[dict]) -> pd.DataFrame:
    return api_frame(records, CODE, page_size=3)


def stream(frame: pd.DataFrame, rows: int, attempt: int = 1):
    """The events of one accepted walk: Attempt, chunks of `rows` records, Extracted."""
    yield Attempt(attempt)
    for start in range(0, len(frame), rows):
        chunk = frame.iloc[start:start + rows].reset_index(drop=True)
        chunk.attrs["extraction"] = dict(frame.attrs["extraction"])
        yield chunk
    yield Extracted(dict(frame.attrs["extraction"]))


def zone(root: Path, which: str = "raw") -> RawZoneDataset:
    return RawZoneDataset(root=str(root), zone=which, retailer=CODE, **WINDOW)


def snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def save_stream(dataset: RawZoneDataset, events, run_id: str = "run-test") -> list[dict]:
    """What Kedro does with a generator node's output: one save per value, in order."""
    parts = []
    for part in ingest_sales_stream(events, RETAILER, run_id, INGESTED_AT):
        dataset.save(part)
        parts.append(part)
    return parts


@pytest.mark.parametrize("rows", [1, 2, 3, 5, 7, len(RECORDS)])
def test_a_chunked_window_writes_exactly_the_files_of_the_whole_window(tmp_path, rows):
    whole = whole_frame(RECORDS)
    zone(tmp_path / "whole").save(ingest_sales(whole.copy(deep=True), RETAILER, "run-test", INGESTED_AT))
    parts = save_stream(zone(tmp_path / "chunked"), stream(whole, rows))

    assert len(parts) == 2 + -(-len(RECORDS) // rows)  # begin, one per chunk, the manifest
    expected, got = snapshot(tmp_path / "whole"), snapshot(tmp_path / "chunked")
    assert got == expected  # raw, quarantine and manifest files, byte for byte
    manifest = zone(tmp_path / "chunked", "manifest").load()
    raw, held = zone(tmp_path / "chunked").load(), zone(tmp_path / "chunked", "quarantine").load()
    # accounting: served = raw + quarantine, in total and per day
    assert len(raw) + len(held) == len(RECORDS) == manifest["rows_received"]
    for day in manifest["days"]:
        assert day["rows_written"] == int((raw["sale_date"] == day["sale_date"]).sum())
        assert day["rows_quarantined"] == int((held["sale_date"] == day["sale_date"]).sum())
    assert manifest["reasons_by_kind"]["duplicate_id"] == 4
    assert not OPEN_TXNS


def test_a_duplicate_id_in_a_later_chunk_is_quarantined_as_in_the_whole_window(tmp_path):
    records = [r1(1), r1(2), r1(3), r1(4), r1(1)]  # the repeat is in the third chunk of two rows
    whole = whole_frame(records)
    save_stream(zone(tmp_path), stream(whole, 2))
    held = zone(tmp_path, "quarantine").load()
    assert held["transaction_id"].tolist() == ["ORD-20240115-000001"]
    assert list(held["reasons"].iloc[0]) == [
        "duplicate transaction_id 'ORD-20240115-000001': an earlier record in this window has the same id "
        "(the first one is kept)"]
    assert held["source_record"].iloc[0] == whole["source_record"].iloc[4]
    assert zone(tmp_path).load()["transaction_id"].tolist() == [f"ORD-20240115-00000{i}" for i in (1, 2, 3, 4)]


def test_a_failure_between_chunks_leaves_the_old_window_intact(tmp_path):
    root = tmp_path / "zone"
    save_stream(zone(root), stream(whole_frame(RECORDS[:6]), 2), run_id="run-1")
    before = snapshot(root)

    def failing(events):
        for number, event in enumerate(events):
            if number == 3:  # Attempt, two chunks staged, then the retailer goes down
                raise ConnectionError("retailer_1 went away mid-extraction")
            yield event

    dataset = zone(root)
    with pytest.raises(ConnectionError):
        save_stream(dataset, failing(stream(whole_frame(RECORDS), 2)), run_id="run-2")
    staged = list((root / "_staging" / CODE).iterdir())
    assert len(staged) == 1 and list(staged[0].glob("grow-*.jsonl"))  # chunks were staged, not moved
    assert {k: v for k, v in snapshot(root).items() if not k.startswith("_staging/")} == before
    assert zone(root, "manifest").load()["run_id"] == "run-1"  # another access leaves the open window alone
    assert isinstance(next(h for h in settings.HOOKS if isinstance(h, StagedWindowHook)), StagedWindowHook)
    StagedWindowHook().on_pipeline_error()  # what the failed run's hook does
    assert snapshot(root) == before and not OPEN_TXNS
    # and the next run commits as usual
    save_stream(dataset, stream(whole_frame(RECORDS), 2), run_id="run-3")
    assert zone(root, "manifest").load()["rows_received"] == len(RECORDS)


def test_a_repeated_walk_drops_what_the_first_walk_staged(tmp_path):
    first, second = whole_frame(RECORDS[:4]), whole_frame(RECORDS[4:9])

    def events():
        yield from list(stream(first, 2))[:-1]  # the first walk is not accepted: no Extracted
        yield from stream(second, 2, attempt=2)

    save_stream(zone(tmp_path / "repeated"), events())
    zone(tmp_path / "once").save(ingest_sales(second.copy(deep=True), RETAILER, "run-test", INGESTED_AT))
    assert snapshot(tmp_path / "repeated") == snapshot(tmp_path / "once")


def test_a_manifest_that_does_not_count_the_staged_rows_commits_nothing(tmp_path):
    root = tmp_path / "zone"
    save_stream(zone(root), stream(whole_frame(RECORDS[:6]), 2), run_id="run-1")
    before = snapshot(root)
    dataset = zone(root)
    parts = list(ingest_sales_stream(stream(whole_frame(RECORDS), 3), RETAILER, "run-2", INGESTED_AT))
    for part in parts[:-1]:
        dataset.save(part)
    wrong = copy.deepcopy(parts[-1])
    wrong["manifest"]["days"][0]["rows_written"] += 1
    with pytest.raises(DatasetError, match=r"\(2024-01-12 rows_written 2 for 1 rows\); nothing was written"):
        dataset.save(wrong)
    assert snapshot(root) == before and not OPEN_TXNS


def test_a_manifest_alone_is_refused_when_no_window_is_staged(tmp_path):
    with pytest.raises(DatasetError, match="raw, quarantine missing"):
        zone(tmp_path).save({"manifest": {"run_id": "x"}})
    assert abort_open() == 0


@pytest.mark.parametrize("max_run", [1 << 20, 10_000])
def test_seen_ids_find_every_repeat_across_chunks_and_nothing_else(monkeypatch, max_run):
    monkeypatch.setattr("retail_pipeline.pipelines.ingestion.window_state.MAX_RUN", max_run)
    rng = np.random.default_rng(7)
    ids = rng.integers(0, 40_000, size=60_000).astype(str)
    ids[rng.random(len(ids)) < 0.01] = None
    seen, met = SeenIds(), []
    for start in range(0, len(ids), 4_096):
        met.append(seen.met_before(pd.Series(ids[start:start + 4_096], dtype="str")))
    got = np.concatenate(met)
    expected, before = [], set()
    for start in range(0, len(ids), 4_096):
        chunk = ids[start:start + 4_096]
        expected.extend(value is not None and value in before for value in chunk)
        before.update(value for value in chunk if value is not None)
    assert got.tolist() == expected and got.sum() > 10_000
    assert len(seen) == int(pd.Series(ids).notna().sum()) and seen.nbytes == 16 * len(seen) + (1 << 24)
    assert len(seen._runs) <= int(np.log2(len(ids) / 4_096)) + 2 + len(ids) // max_run  # merged as it grows
    assert all(len(a) <= max(max_run, 4_096) and (np.diff(a.astype(np.float64)) >= 0).all() for a, _ in seen._runs)
    seen.close()


def test_seen_ids_search_the_runs_only_for_ids_the_bitmap_has_met(monkeypatch):
    """A new id costs the same in the thirtieth chunk as in the second: its clear bit answers,
    not a search of every run (which made a 10,000,000-id window quadratic)."""
    monkeypatch.setattr("retail_pipeline.pipelines.ingestion.window_state.MAX_RUN", 4_096)  # no merges
    searched = []
    real_searchsorted = np.searchsorted
    monkeypatch.setattr(np, "searchsorted", lambda run, needles, *a, **k: (
        searched.append(len(needles)), real_searchsorted(run, needles, *a, **k))[1])
    seen = SeenIds()
    for chunk in range(30):  # 30 runs of 4,096 new ids
        assert not seen.met_before(pd.Series([f"T{chunk}-{i}" for i in range(4_096)], dtype="str")).any()
    new_ids_searched = sum(searched)
    repeated = seen.met_before(pd.Series([f"T3-{i}" for i in range(100)] + ["new"], dtype="str"))
    seen.close()
    assert repeated.tolist() == [True] * 100 + [False]
    assert sum(searched) - new_ids_searched >= 100 * 30  # the repeats were searched, in every run
    assert new_ids_searched < 0.01 * 4_096 * sum(range(30))  # before: every new id, in every run
