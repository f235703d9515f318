"""Issue 11 for the quality pipeline: the ids pass from the nodes that read them to the id checks
through files (IdFilesDataset), chunk by chunk, and the checks over those files are the checks
over frames (the memory figure: `python -m benchmarks transform`, quality_ids_peak_rss_mb)."""

from __future__ import annotations

import gc
import tempfile
from pathlib import Path

import pandas as pd
import pytest
from kedro.io import DataCatalog, MemoryDataset
from kedro.io.core import DatasetError
from kedro.pipeline import Node, Pipeline
from kedro.runner import SequentialRunner

from retail_pipeline.datasets.id_files import IdFilesDataset
from retail_pipeline.datasets.raw_chunks import RawZoneChunksDataset
from retail_pipeline.extraction.stream import Attempt
from retail_pipeline.pipelines.quality import nodes
from tests.quality.test_quality_big_day import CODE, PARAMS, WINDOW, by_id, summarize, zone_rows
from tests.transformation.conftest import RawZone, sale

COLUMNS = ["sale_date", "transaction_id"]


def frame(*pairs) -> pd.DataFrame:
    return pd.DataFrame(pairs, columns=COLUMNS)


def rows(dataset: IdFilesDataset) -> list[tuple]:
    return sorted((tuple(row.values()) for row in dataset.load().to_table().to_pylist()), key=repr)


def test_id_files_append_each_frame_and_begin_voids_the_earlier_walk():
    before = set(Path(tempfile.gettempdir()).glob("dq-ids-*"))
    ids = IdFilesDataset(columns=COLUMNS)
    with pytest.raises(DatasetError, match="nothing was saved"):
        ids.load()
    ids.save(frame())
    assert set(Path(tempfile.gettempdir()).glob("dq-ids-*")) == before  # no folder until there are ids
    ids.save(frame(("2024-01-15", "A")))
    ids.save(frame(("2024-01-15", "B"), ("2024-01-14", None)))
    assert rows(ids) == [("2024-01-14", None), ("2024-01-15", "A"), ("2024-01-15", "B")]
    ids.save({"begin": 2})  # the source walked again: the first walk's ids are void
    assert rows(ids) == []
    ids.save(frame())
    ids.save(frame(("2024-01-13", "Ü-✓")))
    assert rows(ids) == [("2024-01-13", "Ü-✓")]
    assert len(list(ids._folder.iterdir())) == 1  # one file per non-empty frame of the current walk
    with pytest.raises(DatasetError, match="no column"):
        ids.save(pd.DataFrame({"transaction_id": ["A"]}))
    folder = ids._folder
    del ids
    gc.collect()
    assert not folder.exists()  # an intermediate of one run: its folder goes with the dataset


def test_ids_not_read_are_loaded_back_as_such_not_as_no_ids():
    """A node that did not read the ids (no manifest: the source is not read again) says so; the
    check must not take it for a window without rows."""
    from retail_pipeline.datasets.id_files import IdsNotRead

    ids = IdFilesDataset(columns=COLUMNS)
    ids.save(frame(("2024-01-15", "A")))
    ids.save(IdsNotRead("no ingestion manifest"))
    assert ids.load() == IdsNotRead("no ingestion manifest")
    assert not ids._folder or not any(ids._folder.iterdir())  # the ids saved before are void
    ids.save({"begin": 2})  # read after all: ids again
    ids.save(frame(("2024-01-15", "B")))
    assert rows(ids) == [("2024-01-15", "B")]


def test_a_source_walked_twice_leaves_only_the_second_walk_in_its_files(monkeypatch):
    from retail_pipeline.pipelines.quality import id_checks

    monkeypatch.setattr(id_checks, "_source_ids", lambda part, *_: part)  # the parts below are ids already
    stream = iter([Attempt(1), frame(("2024-01-15", "OLD")), Attempt(2), frame(("2024-01-15", "NEW"))])
    ids = IdFilesDataset(columns=COLUMNS)
    for item in nodes.source_ids(stream, {}, "2024-01-15", 0):
        ids.save(item)
    assert rows(ids) == [("2024-01-15", "NEW")]


def test_the_id_checks_over_files_written_by_the_runner_are_the_checks_over_frames(tmp_path):
    RawZone(tmp_path).write(zone_rows())
    quarantine = pd.DataFrame([sale(CODE, "BAD-1", "SKU-1", "2024-01-15", quantity=0)])
    catalog = DataCatalog({
        "raw": RawZoneChunksDataset(root=str(tmp_path), chunk_rows=7, **WINDOW),
        "quarantine": MemoryDataset(quarantine),
        "counts": MemoryDataset(),
        "landed": IdFilesDataset(columns=[*COLUMNS, "zone"]),
    })
    SequentialRunner().run(Pipeline([Node(nodes.summarize_zone, ["raw", "quarantine"], ["counts", "landed"])]),
                           catalog)
    days, whole = summarize(RawZoneChunksDataset(root=str(tmp_path), **WINDOW).load(), quarantine)
    assert catalog.load("counts") == days  # the last yield's counts: the window's
    landed = catalog.load("landed")
    assert len(landed.files) == 7 and by_id(landed.to_table().to_pandas()) == by_id(whole)  # 40 rows by 7 + 1

    served = whole[COLUMNS].iloc[3:]  # three ids landed but not served
    warehouse = whole[whole["zone"] == "raw"].iloc[:-2].assign(retailer_code=CODE, place="fact")  # two not loaded
    for check, args, kwargs in [
        (nodes.check_source_ids, (PARAMS, "2024-01-15", 1), {"served": served}),
        (nodes.check_warehouse_ids, (warehouse, PARAMS, "2024-01-15", 1), {}),
    ]:
        as_frames = check(*args, **{f"{CODE}__landed": whole, **{f"{CODE}__{k}": v for k, v in kwargs.items()}})
        served_files = IdFilesDataset(columns=COLUMNS)
        served_files.save(served)
        files = {f"{CODE}__served": served_files.load()} if kwargs else {}
        as_files = check(*args, **{f"{CODE}__landed": landed, **files})
        pd.testing.assert_frame_equal(as_files, as_frames)
        assert not as_files.iloc[0]["passed"] and as_files.iloc[0]["observed"] in (3, 2)
