"""The ingestion pipeline against the real retailer apps (PostgreSQL + Flask on loopback) and
moto's S3 server, through a real KedroSession.

One seeded scenario per test keeps the suite small: a few hundred rows a day, every bad kind,
late rows, small pages so that paging crosses many pages.
"""

from __future__ import annotations

import datetime as dt
import json
import logging

import duckdb
import pytest

from retail_pipeline.schemas.canonical import CANONICAL_COLUMNS
from retailers.common.registry import RETAILERS
from tests.fixtures.kedro_project import RETAILERS as REGISTRY
from retailers.generator import bad_kinds
from tests.ingestion.conftest import (
    api_catalog_override,
    download,
    read_zone_files,
    records,
    rows_in_window,
    without_lineage,
)

pytestmark = pytest.mark.slow

RUN_DATE = "2024-01-15"
WINDOW = ("2024-01-12", "2024-01-15")  # lookback_days=3


def manifest(fs, root: str, code: str, run_date: str = RUN_DATE) -> dict:
    return json.loads(fs.cat_file(f"{root}/manifests/{code}/run_date={run_date}/manifest.json"))


def test_s3_run_pages_validates_quarantines_and_reruns_identically(s3_project, s3_fs, seed_retailers,
                                                                    retailer_apis, tmp_path):
    # 120 rows a day over the window plus the day after, 25% bad (every kind at least twice a
    # day), 10% late; pages of 50 -> ~10 pages per retailer.
    seed_retailers("2024-01-12", "2024-01-16", rows_per_day=120, bad_fraction=0.25, late_fraction=0.1,
                   seed=7, as_of="2030-01-01")
    s3_project.write_yaml("s3/catalog_test_api.yml", api_catalog_override(page_size=50))
    s3_project.run("ingestion", env="s3", run_date=RUN_DATE, run_id="test-run-1")
    root = s3_project.zone_prefix

    raw_files = read_zone_files(s3_fs, root, "raw")
    quarantine_files = read_zone_files(s3_fs, root, "quarantine")
    raw, held = records(raw_files), records(quarantine_files)
    for code in RETAILERS:
        served = rows_in_window(retailer_apis[code]["dsn"], code, *WINDOW)
        mine = [r for r in raw if r["retailer_code"] == code]
        mine_held = [r for r in held if r["retailer_code"] == code]
        m = manifest(s3_fs, root, code)
        # nothing lost, per retailer and per day
        assert len(mine) + len(mine_held) == served == m["rows_received"]
        assert (m["rows_written"], m["rows_quarantined"]) == (len(mine), len(mine_held))
        client_pages = "page_size" in REGISTRY[code]["api"]["paging"]  # else the server picks the size
        assert m["pages"] >= (served // 50 if client_pages else 1) and (m["source_total"] in (None, served))
        for day in m["days"]:
            assert day["rows_received"] == day["rows_written"] + day["rows_quarantined"]
            assert day["rows_written"] == sum(1 for r in mine if r["sale_date"] == day["sale_date"])
        assert [d["sale_date"] for d in m["days"]] == ["2024-01-12", "2024-01-13", "2024-01-14", "2024-01-15"]
        # paging across many pages, no duplicates
        assert max(r["source_page"] for r in mine) >= (8 if client_pages else 1)
        ids = [r["transaction_id"] for r in mine]
        assert len(ids) == len(set(ids))
        # each bad kind the window can hold ends in quarantine with a reason (future rows are
        # moved past as_of, out of this window, by the generator)
        kinds = set(m["reasons_by_kind"])
        expected = {"empty_value", "out_of_range", "total_mismatch", "duplicate_id", "overlong_text",
                    "unsafe_identifier"} | ({"unparseable_money"} if "unparseable_money" in bad_kinds(code) else set())
        assert expected <= kinds, (code, kinds)
        assert all(r["reasons"] and all(isinstance(x, str) and x for x in r["reasons"]) for r in mine_held)
        # rows are in the partition of their business date
        for path, content in raw_files.items():
            if f"/{code}/" in path:
                y, mth, d = (part.split("=")[1] for part in path.split("/")[2:5])
                assert all(r["sale_date"] == f"{y}-{mth}-{d}" for r in records({path: content}))

    assert not s3_fs.find(f"{root}/_staging")  # every commit completed and cleaned up

    # late rows (business date before their batch day) were picked up by the look-back
    late = [r for r in raw if r["transaction_id"][4:12] != r["sale_date"].replace("-", "")]
    assert late, "no late rows in the raw zone"
    assert not any(r["sale_date"] > RUN_DATE for r in raw)

    # DuckDB reads every record with the canonical columns, through hive partitioning
    local = download(s3_fs, root, tmp_path / "zone")
    con = duckdb.connect()
    frame = con.execute(f"SELECT * FROM read_json('{local}/raw/*/*/*/*/*.json', hive_partitioning=true)").df()
    assert len(frame) == len(raw)
    assert set(CANONICAL_COLUMNS) | {"year", "month", "day"} == set(frame.columns)
    assert frame.groupby("retailer_code").size().to_dict() == {
        code: sum(1 for r in raw if r["retailer_code"] == code) for code in RETAILERS}

    # a rerun leaves the zone equivalent: same files, same records in the same order
    s3_project.run("ingestion", env="s3", run_date=RUN_DATE, run_id="test-run-2")
    assert without_lineage(read_zone_files(s3_fs, root, "raw")) == without_lineage(raw_files)
    assert without_lineage(read_zone_files(s3_fs, root, "quarantine")) == without_lineage(quarantine_files)
    assert manifest(s3_fs, root, "retailer_1")["run_id"] == "test-run-2"


def test_raw_sales_loads_the_window_for_the_transformation(local_project, seed_retailers):
    from kedro.framework.project import configure_project
    from kedro.framework.session import KedroSession

    from tests.fixtures.kedro_project import PROJECT_ROOT

    seed_retailers("2024-01-14", "2024-01-15", rows_per_day=40, bad_fraction=0.1, seed=3, as_of="2030-01-01")
    local_project.run("ingestion", run_date=RUN_DATE, lookback_days=1)
    zone = local_project.zone_root
    files = sorted(p.relative_to(zone).as_posix() for p in zone.rglob("*.json"))
    assert "raw/retailer_1/year=2024/month=01/day=15/sales_data.json" in files
    assert "manifests/retailer_2/run_date=2024-01-15/manifest.json" in files
    configure_project("retail_pipeline")
    with KedroSession.create(project_path=PROJECT_ROOT, conf_source=str(local_project.conf),
                             runtime_params={"run_date": RUN_DATE, "lookback_days": 1}) as session:
        catalog = session.load_context().catalog
        frame = catalog.load("retailer_3.raw_sales").to_frame()  # loaded lazily, in chunks
        held = catalog.load("retailer_3.quarantined_sales")
        loaded_manifest = catalog.load("retailer_3.ingestion_manifest")
    m = json.loads((zone / "manifests/retailer_3/run_date=2024-01-15/manifest.json").read_text())
    assert loaded_manifest == m  # the load-only manifest entry reads what raw_sales committed
    assert not [p for p in zone.rglob("*") if p.is_file() and "_staging" in p.parts]  # nothing left staged
    assert list(frame.columns) == list(CANONICAL_COLUMNS)
    assert len(frame) == m["rows_written"] and len(held) == m["rows_quarantined"]
    assert str(frame["quantity"].dtype) == "int64" and str(frame["total_amount"].dtype) == "float64"
    assert sorted(frame["sale_date"].unique()) == ["2024-01-14", "2024-01-15"]
    # the DuckDB contract on the local zone too
    count = duckdb.connect().execute(f"SELECT count(*) FROM read_json('{zone}/raw/*/*/*/*/*.json', hive_partitioning=true)").fetchone()[0]
    assert count == sum(json.loads((zone / f"manifests/{c}/run_date=2024-01-15/manifest.json").read_text())["rows_written"]
                        for c in RETAILERS)


def test_late_rows_arrive_with_the_next_run_and_land_in_their_day(local_project, seed_retailers, retailer_apis):
    # Run for the 14th with what the systems held then; the 15th's batch then brings rows dated
    # the 12th..14th, which the run for the 15th picks up through its look-back.
    seed_retailers("2024-01-12", "2024-01-14", rows_per_day=30, seed=5, as_of="2030-01-01")
    local_project.run("ingestion", run_date="2024-01-14")
    zone = local_project.zone_root
    before = {p: p.read_bytes().count(b"\n") for p in (zone / "raw").rglob("*.json")}
    seed_retailers("2024-01-15", rows_per_day=30, late_fraction=0.3, seed=5, as_of="2030-01-01", truncate=False)
    local_project.run("ingestion", run_date="2024-01-15")
    after = {p: p.read_bytes().count(b"\n") for p in (zone / "raw").rglob("*.json")}
    grown = [p for p in before if after[p] > before[p]]
    assert grown, "no earlier partition received the late rows"
    for code in RETAILERS:
        m = json.loads((zone / f"manifests/{code}/run_date=2024-01-15/manifest.json").read_text())
        assert m["rows_received"] == rows_in_window(retailer_apis[code]["dsn"], code, "2024-01-12", "2024-01-15")


def test_500_burst_429_and_cut_connection_recover(s3_project, s3_fs, seed_retailers, retailer_faults, caplog):
    seed_retailers(RUN_DATE, rows_per_day=60, seed=11, as_of="2030-01-01")
    s3_project.write_yaml("s3/catalog_test_api.yml", api_catalog_override(page_size=20, retry={"backoff_seconds": 0.05}))
    retailer_faults("retailer_1", fail_500=3)
    retailer_faults("retailer_2", fail_429=2, retry_after=1)
    retailer_faults("retailer_3", cut=2)
    caplog.set_level(logging.DEBUG)
    started = dt.datetime.now()
    s3_project.run("ingestion", env="s3", run_date=RUN_DATE, lookback_days=0)
    assert (dt.datetime.now() - started).total_seconds() >= 2  # Retry-After: 1 was honoured twice
    root = s3_project.zone_prefix
    for code, retries in (("retailer_1", 3), ("retailer_2", 2), ("retailer_3", 2)):
        m = manifest(s3_fs, root, code)
        assert m["retries"] == retries and m["rows_received"] == 60 == m["rows_written"]
    for code in RETAILERS:
        assert f"test-{code}-key" not in caplog.text
    assert "HTTP 429" in caplog.text and "HTTP 500" in caplog.text


@pytest.mark.parametrize("runner", ["SequentialRunner", "ParallelRunner"])
def test_a_retailer_that_stays_down_fails_the_run_naming_it(s3_project, s3_fs, seed_retailers, retailer_faults, caplog,
                                                            runner):
    seed_retailers(RUN_DATE, rows_per_day=10, seed=2, as_of="2030-01-01")
    s3_project.write_yaml("s3/catalog_test_api.yml", api_catalog_override(
        retry={"max_attempts": 3, "backoff_seconds": 0.05}))
    retailer_faults("retailer_2", fail_500=50)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(Exception) as failure:
        s3_project.run("ingestion", env="s3", runner=runner, run_date=RUN_DATE, lookback_days=0)
    message = str(failure.value)
    assert "retailer_2" in message and "/transactions?from=2024-01-15&to=2024-01-15" in message
    assert "failed after 3 attempts" in message and "HTTP 500" in message
    assert "test-retailer_2-key" not in message and "test-retailer_2-key" not in caplog.text
    # no empty day was written for it
    assert not s3_fs.glob(f"{s3_project.zone_prefix}/raw/retailer_2/**")


def test_parallel_runner_ingests_every_retailer_as_the_sequential_runner_does(s3_project, s3_fs, seed_retailers,
                                                                           retailer_apis):
    # `kedro run --pipelines ingestion --runner ParallelRunner`: each retailer's node in a worker
    # process (its datasets pickled there: API clients with their auth, S3 zones). Kedro 1.7's
    # ParallelRunner made its own catalog class, which could not resolve `{retailer}_api`.
    seed_retailers("2024-01-14", "2024-01-15", rows_per_day=80, bad_fraction=0.2, late_fraction=0.1, seed=13,
                   as_of="2030-01-01")
    s3_project.write_yaml("s3/catalog_test_api.yml", api_catalog_override(page_size=30))
    s3_project.run("ingestion", env="s3", runner="ParallelRunner", run_date=RUN_DATE, lookback_days=1,
                   run_id="parallel")
    root = s3_project.zone_prefix
    raw_files = read_zone_files(s3_fs, root, "raw")
    quarantine_files = read_zone_files(s3_fs, root, "quarantine")
    raw, held = records(raw_files), records(quarantine_files)
    for code in RETAILERS:
        served = rows_in_window(retailer_apis[code]["dsn"], code, "2024-01-14", RUN_DATE)
        m = manifest(s3_fs, root, code)
        written = [r for r in raw if r["retailer_code"] == code]
        quarantined = [r for r in held if r["retailer_code"] == code]
        assert served > 0 and len(written) + len(quarantined) == served == m["rows_received"], code
        assert len({r["transaction_id"] for r in written}) == len(written), code
        assert m["run_id"] == "parallel"
    assert not s3_fs.find(f"{root}/_staging")

    s3_project.run("ingestion", env="s3", run_date=RUN_DATE, lookback_days=1, run_id="sequential")
    assert without_lineage(read_zone_files(s3_fs, root, "raw")) == without_lineage(raw_files)
    assert without_lineage(read_zone_files(s3_fs, root, "quarantine")) == without_lineage(quarantine_files)
