"""Chunked ingestion against the real retailer apps (PostgreSQL + Flask on loopback) through
a real KedroSession: chunks of a few records cut pages and retailer 4's orders, and the raw
zone still gets exactly what a whole-window run writes; a failure between chunks leaves the
old window, manifest included, as it was.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml

from retail_pipeline.datasets.raw_chunks import RawZoneChunksDataset
from retail_pipeline.datasets.raw_zone import RawZoneDataset
from retail_pipeline.datasets.retailer_api import RetailerApiDataset, SalesStream
from retail_pipeline.extraction.stream import Attempt, Extracted
from retail_pipeline.pipelines.ingestion.nodes import ingest_sales, ingest_sales_stream
from retailers.common.registry import RETAILERS
from tests.fixtures.kedro_project import PROJECT_ROOT
from tests.ingestion.conftest import api_catalog_override, records, rows_in_window, without_lineage

pytestmark = pytest.mark.slow

RUN_DATE, WINDOW = "2024-01-15", ("2024-01-13", "2024-01-15")
INGESTED_AT = "2024-01-16T02:00:00Z"


def chunked_catalog(chunk_rows: int | None, page_size: int = 10) -> dict:
    entry = api_catalog_override(page_size=page_size)
    entry["{retailer}.api_sales"]["chunk_rows"] = chunk_rows
    return entry


def failing_fast_catalog() -> dict:
    """Chunks of 10 records, pages of 5, and a failed page given up after one retry."""
    entry = chunked_catalog(10, page_size=5)
    entry["{retailer}.api_sales"]["retry"] = {**entry["{retailer}.api_sales"]["retry"], "max_attempts": 2,
                                              "backoff_seconds": 0.01}
    return entry


def zone_files(root) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_a_chunked_run_writes_what_a_whole_window_run_writes_and_accounts_for_every_record(
        local_project, seed_retailers, retailer_apis):
    # 60 rows a day, 20% bad (duplicates among them), pages of 10, chunks of 7: chunk
    # boundaries fall inside pages and inside retailer 4's orders.
    seed_retailers(WINDOW[0], RUN_DATE, rows_per_day=60, bad_fraction=0.2, late_fraction=0.1, seed=13)
    zone = local_project.zone_root
    local_project.write_yaml("local/catalog_test_api.yml", chunked_catalog(None))
    local_project.run("ingestion", run_date=RUN_DATE, lookback_days=2, ingested_at=INGESTED_AT)
    whole = {zone_name: without_lineage(read_zone_files_local(zone, zone_name)) for zone_name in ("raw", "quarantine")}
    whole_manifests = manifests(zone)

    local_project.write_yaml("local/catalog_test_api.yml", chunked_catalog(7))
    local_project.run("ingestion", run_date=RUN_DATE, lookback_days=2, ingested_at=INGESTED_AT)
    for zone_name in ("raw", "quarantine"):
        assert without_lineage(read_zone_files_local(zone, zone_name)) == whole[zone_name]
    chunked_manifests = manifests(zone)
    volatile = {"run_id", "extraction_seconds", "ingested_at", "landing"}  # landing: its times
    for code in RETAILERS:
        m, w = chunked_manifests[code], whole_manifests[code]
        assert {k: v for k, v in m.items() if k not in volatile} == {k: v for k, v in w.items() if k not in volatile}
        assert (m["landing"]["pages"], m["landing"]["records"]) == (w["landing"]["pages"], w["landing"]["records"])
        # accounting: served = raw + quarantine, per retailer and per day, from the files
        served = rows_in_window(retailer_apis[code]["dsn"], code, *WINDOW)
        raw = [r for r in records(read_zone_files_local(zone, "raw")) if r["retailer_code"] == code]
        held = [r for r in records(read_zone_files_local(zone, "quarantine")) if r["retailer_code"] == code]
        assert len(raw) + len(held) == served == m["rows_received"] > 100
        for day in m["days"]:
            assert day["rows_written"] == sum(r["sale_date"] == day["sale_date"] for r in raw)
            assert day["rows_quarantined"] == sum(r["sale_date"] == day["sale_date"] for r in held)
        assert m["reasons_by_kind"].get("duplicate_id", 0) >= 1, (code, m["reasons_by_kind"])
    assert not list((zone / "_staging").rglob("*.*"))


def read_zone_files_local(root, zone_name: str) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted((root / zone_name).rglob("*.json"))}


def manifests(root) -> dict[str, dict]:
    return {p.parts[-3]: json.loads(p.read_text()) for p in (root / "manifests").rglob("manifest.json")}


def retailer_4_dataset(api: dict, chunk_rows: int | None) -> RetailerApiDataset:
    registry = yaml.safe_load((PROJECT_ROOT / "conf/base/retailers.yml").read_text())["retailers"]
    creds = {key: api[key] for key in ("base_url", "client_id", "client_secret")}
    return RetailerApiDataset(retailer="retailer_4", retailers=registry, credentials=creds, window_start=WINDOW[0],
                              window_end=RUN_DATE, retry={"max_attempts": 3, "backoff_seconds": 0.05},
                              consistency={"version_header": "X-Data-Version"}, chunk_rows=chunk_rows)


def test_retailer_4_chunk_boundaries_inside_orders_change_nothing(retailer_apis, seed_retailers, tmp_path):
    """Orders of 1-5 lines, chunks of 4 lines: many orders are cut between two chunks."""
    seed_retailers(WINDOW[0], RUN_DATE, rows_per_day=80, bad_fraction=0.2, seed=21, retailers=["retailer_4"])
    api = retailer_apis["retailer_4"]
    entry = yaml.safe_load((PROJECT_ROOT / "conf/base/retailers.yml").read_text())["retailers"]["retailer_4"]
    retailer = {**entry, "code": "retailer_4"}
    stream = retailer_4_dataset(api, 4).load()
    assert isinstance(stream, SalesStream)
    events = list(stream)
    assert isinstance(events[0], Attempt) and isinstance(events[-1], Extracted)
    chunks = events[1:-1]
    assert {len(chunk) for chunk in chunks[:-1]} == {4}
    cut = [i for i in range(len(chunks) - 1) if chunks[i]["order_ref"].iloc[-1] == chunks[i + 1]["order_ref"].iloc[0]]
    assert len(cut) >= 10, "no order was cut between two chunks: the test would prove nothing"

    whole = retailer_4_dataset(api, None).load()
    assert pd.concat(chunks, ignore_index=True)["source_record"].tolist() == whole["source_record"].tolist()
    dataset = RawZoneDataset(root=str(tmp_path / "chunked"), zone="raw", retailer="retailer_4",
                             window_start=WINDOW[0], window_end=RUN_DATE)
    for part in ingest_sales_stream(events, retailer, "run-1", INGESTED_AT):
        dataset.save(part)
    RawZoneDataset(root=str(tmp_path / "whole"), zone="raw", retailer="retailer_4", window_start=WINDOW[0],
                   window_end=RUN_DATE).save(ingest_sales(whole, retailer, "run-1", INGESTED_AT))
    chunked, at_once = zone_files(tmp_path / "chunked"), zone_files(tmp_path / "whole")
    manifest_path = f"manifests/retailer_4/run_date={RUN_DATE}/manifest.json"
    volatile = {"extraction_seconds"}
    assert {k: v for k, v in json.loads(chunked.pop(manifest_path)).items() if k not in volatile} == \
        {k: v for k, v in json.loads(at_once.pop(manifest_path)).items() if k not in volatile}
    assert chunked == at_once and len(chunked) >= 4  # raw and quarantine, byte for byte


def test_a_failure_between_chunks_leaves_the_old_window_and_manifest_intact(
        local_project, seed_retailers, retailer_faults, monkeypatch):
    seed_retailers(WINDOW[0], RUN_DATE, rows_per_day=60, bad_fraction=0.1, seed=17)
    local_project.write_yaml("local/catalog_test_api.yml", failing_fast_catalog())
    local_project.run("ingestion", run_date=RUN_DATE, lookback_days=2)
    zone = local_project.zone_root
    before = zone_files(zone)
    assert any(k.startswith("raw/retailer_2/") for k in before)
    before_rows = json.loads(before[f"manifests/retailer_2/run_date={RUN_DATE}/manifest.json"])["rows_received"]

    # The second run: retailer 2's API starts failing once two of its chunks are staged.
    # (<code>.raw_sales is a RawZoneChunksDataset: Kedro wraps each dataset class's own save)
    real_save, saves = RawZoneChunksDataset.save, []

    def save(self, data):
        real_save(self, data)
        if self._retailer == "retailer_2" and "raw" in data:
            saves.append(len(data["raw"]) + len(data["quarantine"]))
            if len(saves) == 2:
                retailer_faults("retailer_2", fail_500=1000)

    monkeypatch.setattr(RawZoneChunksDataset, "save", save)
    with pytest.raises(Exception, match="retailer_2") as failure:
        local_project.run("ingestion", run_date=RUN_DATE, lookback_days=2)
    assert "HTTP 500" in str(failure.value)
    # chunks were staged before the failure, and not the whole window (the fault knob lives in one
    # of the app's workers, so a few more pages may still come before it strikes)
    assert len(saves) >= 2 and sum(saves) < before_rows

    after = zone_files(zone)
    assert {k: v for k, v in after.items() if "/retailer_2/" in k} == \
        {k: v for k, v in before.items() if "/retailer_2/" in k}  # raw, quarantine, manifest: the old ones
    assert not [k for k in after if k.startswith("_staging/")]  # the failed run dropped what it staged


def test_under_parallel_runner_a_failure_between_chunks_keeps_the_old_window_until_the_next_run(
        local_project, seed_retailers, retailer_faults, monkeypatch):
    # Each retailer's node runs in a forked worker process. The main process's hook that drops a
    # failed run's staged windows cannot reach a worker's: the failed retailer's staged chunks
    # stay until its next run deletes them, as after a crash; its old window stays in place, and
    # the retailers that ran beside it commit theirs (those not started yet are not run).
    seed_retailers(WINDOW[0], RUN_DATE, rows_per_day=60, bad_fraction=0.1, seed=19)
    local_project.write_yaml("local/catalog_test_api.yml", failing_fast_catalog())
    local_project.run("ingestion", runner="ParallelRunner", run_date=RUN_DATE, lookback_days=2, run_id="first")
    zone = local_project.zone_root
    before = zone_files(zone)

    real_save = RawZoneChunksDataset.save
    staged = []

    def save(self, data):  # runs in the worker (forked after this patch)
        real_save(self, data)
        if self._retailer == "retailer_2" and "raw" in data:
            staged.append(1)
            if len(staged) == 2:
                retailer_faults("retailer_2", fail_500=1000)

    monkeypatch.setattr(RawZoneChunksDataset, "save", save)
    with pytest.raises(Exception, match="retailer_2") as failure:
        local_project.run("ingestion", runner="ParallelRunner", run_date=RUN_DATE, lookback_days=2, run_id="second")
    assert "HTTP 500" in str(failure.value)
    after = zone_files(zone)
    committed = {k: v for k, v in after.items() if not k.startswith("_staging/")}
    assert {k: v for k, v in committed.items() if "/retailer_2/" in k} == \
        {k: v for k, v in before.items() if "/retailer_2/" in k}  # raw, quarantine, manifest: the old ones
    assert [k for k in after if k.startswith("_staging/retailer_2/")], "nothing was staged before the failure"
    assert not [k for k in after if k.startswith("_staging/") and not k.startswith("_staging/retailer_2/")]

    retailer_faults("retailer_2", fail_500=0)
    monkeypatch.setattr(RawZoneChunksDataset, "save", real_save)
    local_project.run("ingestion", runner="ParallelRunner", run_date=RUN_DATE, lookback_days=2, run_id="third")
    final = zone_files(zone)
    assert not [k for k in final if k.startswith("_staging/")]
    assert without_lineage({k: v for k, v in final.items() if k.startswith("raw/retailer_2/")}) == \
        without_lineage({k: v for k, v in before.items() if k.startswith("raw/retailer_2/")})
    assert json.loads(final[f"manifests/retailer_2/run_date={RUN_DATE}/manifest.json"])["run_id"] == "third"
