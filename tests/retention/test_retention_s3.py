"""Retention of the zones on S3 (moto's server): days written by the real ingestion pipeline in
the `s3` env, plus landing-zone pages; only the days before the cutoff go, the dry run lists
exactly them, and a rerun finds nothing."""

from __future__ import annotations

from datetime import date

from retail_pipeline.retention.config import load_settings
from retail_pipeline.retention.run import retention

TODAY, CUTOFF = date(2024, 3, 10), date(2024, 3, 2)   # keep_days 8: the 1st goes


def objects(fs, root: str) -> dict[str, str]:
    fs.invalidate_cache()
    return {path[len(root) + 1:]: fs.info(path)["ETag"] for path in fs.find(root)}


def test_s3_zone_days_before_the_cutoff_go_and_nothing_else(s3_project, s3_fs, seed_retailers, warehouse):
    project, root = s3_project, s3_project.zone_prefix
    project.write_yaml("s3/credentials.yml", {"warehouse": {"con": warehouse.url}})
    seed_retailers("2024-03-01", "2024-03-03", rows_per_day=20, bad_fraction=0.1, seed=3)
    project.run("ingestion", env="s3", run_date="2024-03-01", lookback_days=0)
    project.run("ingestion", env="s3", run_date="2024-03-03", lookback_days=2)
    for day in (1, 3):
        s3_fs.pipe_file(f"{root}/landing/retailer_2/year=2024/month=03/day={day:02d}/run-1/page-0001.json.gz", b"x")
    before = objects(s3_fs, root)
    old = {p for p in before if "/day=01/" in p or "run_date=2024-03-01/" in p}
    assert {p.split("/")[0] for p in old} == {"raw", "quarantine", "landing", "manifests"}, sorted(old)

    settings = load_settings("s3", str(project.conf))
    assert settings.raw_zone == f"s3://{root}"
    dry = retention(settings, 8, today=TODAY, dry_run=True, backfill_dir=project.data / "backfill")
    assert objects(s3_fs, root) == before                           # the dry run removed nothing
    assert sum(item.removed for item in dry.items) == len(old)
    assert all(item.target.startswith(f"s3://{root}/") and item.day == date(2024, 3, 1) for item in dry.items)

    real = retention(settings, 8, today=TODAY, backfill_dir=project.data / "backfill", run_id="retention-s3")
    assert real.items == dry.items
    assert objects(s3_fs, root) == {p: tag for p, tag in before.items() if p not in old}
    assert warehouse.scalar("SELECT sum(removed) FROM retention_audit WHERE retention_run_id = 'retention-s3' "
                            "AND kind LIKE 'zone\\_%%'") == len(old)
    assert retention(settings, 8, today=TODAY, backfill_dir=project.data / "backfill").items == []
