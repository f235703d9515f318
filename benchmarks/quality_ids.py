"""The quality pipeline's id checks on a benchmark day: memory and time.

After a transformation benchmark loaded a day, a fresh process does what the quality pipeline
does with that day's zone files and warehouse ids (the source re-read needs the retailer APIs,
which the transformation benchmark does not run): each retailer's `summarize_zone` over its raw
zone read in chunks (`RawZoneChunksDataset`, as the catalog's `<code>.raw_sales`), its ids saved
chunk by chunk to files (`IdFilesDataset`, as the catalog's `dq_landed_ids_<code>`), then
`dq_warehouse_ids_query` (read through a server-side cursor, as the catalog entry) and
`check_warehouse_ids`. Figures: seconds, the process's peak RSS, and whether every retailer's raw
ids are the warehouse's (the check passed: the accounting at the benchmark's scale).
"""

from __future__ import annotations

import multiprocessing
import queue
import time
from pathlib import Path

import yaml

from benchmarks.common import PROJECT_ROOT
from benchmarks.transform_data import DAY
from benchmarks.transform_server import own_peak_rss_mb

CODES = ("retailer_1", "retailer_2", "retailer_3")


def quality_ids_in_child(raw_zone: Path, url: str) -> tuple[float, float, bool]:
    """(seconds, peak RSS MB, every retailer's check passed), in a spawned process."""
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    child = context.Process(target=_child, args=(str(raw_zone), url, results))
    child.start()
    while True:
        try:
            outcome = results.get(timeout=5)
            break
        except queue.Empty:
            if not child.is_alive():
                raise RuntimeError(f"the quality ids process died (exit code {child.exitcode})") from None
    child.join()
    if isinstance(outcome, str):
        raise RuntimeError(f"the quality ids process failed: {outcome}")
    return outcome


def _child(raw_zone: str, url: str, results) -> None:
    try:
        results.put(_check(raw_zone, url))
    except BaseException as exc:  # noqa: BLE001 - reported by the parent
        results.put(f"{type(exc).__name__}: {exc}")


def _check(raw_zone: str, url: str) -> tuple[float, float, bool]:
    from retail_pipeline.datasets.id_files import IdFilesDataset
    from retail_pipeline.datasets.raw_chunks import RawZoneChunksDataset
    from retail_pipeline.datasets.warehouse_query import WarehouseQueryDataset
    from retail_pipeline.pipelines.quality.nodes import check_warehouse_ids, summarize_zone

    catalog = yaml.safe_load((PROJECT_ROOT / "conf/base/catalog_quality.yml").read_text())
    params = yaml.safe_load((PROJECT_ROOT / "conf/base/parameters_quality.yml").read_text())["quality"]
    day = DAY.isoformat()
    start = time.perf_counter()
    landed, files = {}, []  # the id files live as long as their datasets (the catalog's, in a run)
    for code in CODES:
        raw = RawZoneChunksDataset(root=raw_zone, retailer=code, window_start=day, window_end=day).load()
        ids = IdFilesDataset(columns=catalog["dq_landed_ids_{retailer}"]["columns"])
        for _, chunk_ids in summarize_zone(raw, None):  # as the runner saves a generator node's outputs
            ids.save(chunk_ids)
        files.append(ids)
        landed[f"{code}__landed"] = ids.load()
    query = catalog["dq_warehouse_ids_query"]
    warehouse_ids = WarehouseQueryDataset(filepath=query["filepath"], credentials={"con": url},
                                          params={"run_date": day, "window_start": day},
                                          chunk_rows=query["chunk_rows"]).load()
    results = check_warehouse_ids(warehouse_ids, params, day, 0, **landed)
    return time.perf_counter() - start, own_peak_rss_mb(), bool(results["passed"].all())
