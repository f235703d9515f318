"""RawZoneDataset: a retailer's window (raw + quarantine + manifest) committed as one unit.

Failures are injected at each step of a commit (while staging, after the marker, mid-move), on
the local filesystem and on moto's S3 server: the files and the manifest must always be both
old or both new, nothing uncommitted may sit where a partition glob reads, and the next access
completes or drops what an interrupted commit left.
"""

from __future__ import annotations

import errno
import json
from pathlib import Path

import pandas as pd
import pytest
from kedro.io.core import DatasetError

from retail_pipeline.datasets import zone_commit
from retail_pipeline.datasets.raw_zone import RawZoneDataset

WINDOW = {"window_start": "2024-01-14", "window_end": "2024-01-15"}
R1 = "retailer_1"


def rows(day: str, n: int, prefix: str = "ORD", reasons: bool = False) -> pd.DataFrame:
    frame = pd.DataFrame({"transaction_id": [f"{prefix}-{day}-{i}" for i in range(n)], "sale_date": [day] * n,
                          "quantity": list(range(1, n + 1))})
    if reasons:
        frame["reasons"] = [["quantity must be > 0 (got 0)"]] * n
    return frame


def unit(raw: pd.DataFrame, quarantine: pd.DataFrame, run_id: str) -> dict:
    manifest = {"retailer_code": R1, "run_id": run_id, **WINDOW, "rows_written": len(raw),
                "rows_quarantined": len(quarantine)}
    return {"raw": raw, "quarantine": quarantine, "manifest": manifest}


def zone(root: str, which: str = "raw", **options) -> RawZoneDataset:
    return RawZoneDataset(root=root, zone=which, retailer=R1, **WINDOW, **options)


def snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def partition_litter(root: Path) -> list[str]:
    """Anything in a partition folder that is not a committed sales_data.json."""
    return [p.as_posix() for p in root.glob("*/*/*/*/*/*") if p.name != "sales_data.json"]


FIRST = unit(pd.concat([rows("2024-01-14", 3), rows("2024-01-15", 2)]), rows("2024-01-15", 1, "BAD", True), "run-1")
SECOND = unit(rows("2024-01-14", 4, "NEW"), rows("2024-01-14", 2, "BAD2", True), "run-2")


def test_the_window_is_saved_as_one_unit_and_each_part_loads(tmp_path):
    root = str(tmp_path)
    zone(root).save(FIRST)
    assert zone(root).load()["transaction_id"].tolist() == FIRST["raw"]["transaction_id"].tolist()
    assert [list(r) for r in zone(root, "quarantine").load()["reasons"]] == [["quantity must be > 0 (got 0)"]]
    assert zone(root, "manifest").load() == FIRST["manifest"]
    assert (tmp_path / "manifests/retailer_1/run_date=2024-01-15/manifest.json").exists()
    zone(root).save(SECOND)  # the 15th has no rows any more, in either zone
    assert sorted(snapshot(tmp_path)) == [
        "manifests/retailer_1/run_date=2024-01-15/manifest.json",
        "quarantine/retailer_1/year=2024/month=01/day=14/sales_data.json",
        "raw/retailer_1/year=2024/month=01/day=14/sales_data.json"]
    assert zone(root, "manifest").load()["run_id"] == "run-2"
    assert not (tmp_path / "_staging" / R1).exists() or not any((tmp_path / "_staging" / R1).iterdir())


@pytest.mark.parametrize("bad, match", [
    ({**FIRST, "manifest": {**FIRST["manifest"], "rows_written": 99}}, "does not describe these rows"),
    (unit(rows("2024-01-10", 1), FIRST["quarantine"], "run-x"), "outside the window"),
    ({**FIRST, "manifest": {**FIRST["manifest"], "window_start": "2024-01-01"}}, "window 2024-01-01..2024-01-15"),
    ({"raw": FIRST["raw"], "manifest": FIRST["manifest"]}, "quarantine missing"),
])
def test_a_refused_save_changes_nothing(tmp_path, bad, match):
    zone(str(tmp_path)).save(FIRST)
    before = snapshot(tmp_path)
    with pytest.raises(DatasetError, match=match):
        zone(str(tmp_path)).save(bad)
    assert snapshot(tmp_path) == before


def test_the_manifest_entry_is_load_only(tmp_path):
    with pytest.raises(DatasetError, match="never alone"):
        zone(str(tmp_path), "manifest").save({"run_id": "x"})


def test_a_missing_manifest_loads_as_none_and_an_unreadable_one_still_fails(tmp_path, caplog):
    """No manifest for the run date is a fact (the retailer's extraction failed), which quality
    reports; a manifest that is there but is not JSON is a broken raw zone."""
    with caplog.at_level("WARNING"):
        assert zone(str(tmp_path), "manifest").load() is None
    assert "retailer_1: no ingestion manifest for run date 2024-01-15" in caplog.text
    path = tmp_path / "manifests/retailer_1/run_date=2024-01-15/manifest.json"
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    with pytest.raises(DatasetError, match=r"(?s)manifest.*retailer_1.*Expecting property name"):
        zone(str(tmp_path), "manifest").load()


def test_disk_full_while_staging_leaves_the_old_window_and_says_so_last(tmp_path, monkeypatch):
    zone(str(tmp_path)).save(FIRST)
    before = snapshot(tmp_path)
    calls = []

    def full_disk(con, part, target):  # the second file staged hits a full disk
        calls.append(target)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device", target)
        Path(target).write_text("{}\n")

    monkeypatch.setattr("retail_pipeline.datasets.raw_zone.write_jsonl", full_disk)
    with pytest.raises(DatasetError) as failure:
        zone(str(tmp_path)).save(SECOND)
    last = str(failure.value).splitlines()[-1]
    assert "no space left on device while writing" in last and str(tmp_path / "_staging") in last
    assert "Free space" in last and "previous files and manifest of this window, unchanged" in last
    assert snapshot(tmp_path) == before  # staging folder gone, nothing else touched


def test_a_crash_after_the_marker_is_completed_by_the_next_access(tmp_path, monkeypatch):
    zone(str(tmp_path)).save(FIRST)
    real_move, moves = zone_commit.ZoneCommitter._move, []

    def crash_on_third_move(self, staged, final):
        moves.append(final)
        if len(moves) == 3:
            raise KeyboardInterrupt  # the process dies here (like kill -9, nothing cleans up)
        real_move(self, staged, final)

    monkeypatch.setattr(zone_commit.ZoneCommitter, "_move", crash_on_third_move)
    with pytest.raises(KeyboardInterrupt):
        zone(str(tmp_path)).save(SECOND)
    monkeypatch.setattr(zone_commit.ZoneCommitter, "_move", real_move)
    staged = list((tmp_path / "_staging" / R1).glob("*/COMMIT"))
    assert len(staged) == 1 and not partition_litter(tmp_path)
    assert zone(str(tmp_path), "manifest").load()["run_id"] == "run-2"  # any access rolls it forward
    assert zone(str(tmp_path)).load()["transaction_id"].tolist() == SECOND["raw"]["transaction_id"].tolist()
    assert len(zone(str(tmp_path), "quarantine").load()) == 2
    assert not (tmp_path / "raw/retailer_1/year=2024/month=01/day=15/sales_data.json").exists()
    assert not any((tmp_path / "_staging" / R1).iterdir())


def test_an_abandoned_staging_folder_and_old_temp_files_are_removed(tmp_path):
    zone(str(tmp_path)).save(FIRST)
    before = snapshot(tmp_path)
    abandoned = tmp_path / "_staging" / R1 / "20240101T000000000000-dead"
    abandoned.mkdir(parents=True)
    (abandoned / "0001.part").write_text('{"transaction_id": "PHANTOM"}\n')
    legacy = tmp_path / "raw/retailer_1/year=2024/month=01/day=14/.sales_data.json.0123abcd.tmp"
    legacy.write_text('{"transaction_id": "PHANTOM"}\n')
    assert len(zone(str(tmp_path)).load()) == len(FIRST["raw"])
    assert snapshot(tmp_path) == before


# -- the same on S3 (moto's server) ------------------------------------------------------------
@pytest.fixture
def s3_root(s3_server, s3_bucket, s3_fs, tmp_path):
    prefix = f"{s3_bucket}/zone-{tmp_path.name}"
    yield f"s3://{prefix}", {"key": "testing", "secret": "testing", "client_kwargs": {"endpoint_url": s3_server}}
    if s3_fs.exists(prefix):
        s3_fs.rm(prefix, recursive=True)


def s3_snapshot(fs, root: str) -> dict[str, bytes]:
    prefix = root.removeprefix("s3://")
    fs.invalidate_cache()
    return {p[len(prefix) + 1:]: fs.cat_file(p) for p in sorted(fs.find(prefix))}


def test_s3_failure_while_staging_changes_nothing(s3_root, s3_fs, monkeypatch):
    root, creds = s3_root
    zone(root, credentials=creds).save(FIRST)
    before = s3_snapshot(s3_fs, root)
    dataset = zone(root, credentials=creds)
    real_put, puts = dataset._fs.put_file, []

    def failing_put(lpath, rpath, **kwargs):
        puts.append(rpath)
        if len(puts) == 2:
            raise PermissionError("Access Denied (simulated S3 error)")
        return real_put(lpath, rpath, **kwargs)

    monkeypatch.setattr(dataset._fs, "put_file", failing_put)
    with pytest.raises(DatasetError) as failure:
        dataset.save(SECOND)
    last = str(failure.value).splitlines()[-1]
    assert "PermissionError while writing" in last and "Access Denied" in last and "Fix the cause and rerun" in last
    assert s3_snapshot(s3_fs, root) == before


def test_s3_crash_mid_move_is_rolled_forward(s3_root, s3_fs, monkeypatch):
    root, creds = s3_root
    zone(root, credentials=creds).save(FIRST)
    real_move, moves = zone_commit.ZoneCommitter._move, []

    def crash_on_second_move(self, staged, final):
        moves.append(final)
        if len(moves) == 2:
            self.fs.copy(staged, final)  # copied, not yet deleted: the worst moment on S3
            raise KeyboardInterrupt
        real_move(self, staged, final)

    monkeypatch.setattr(zone_commit.ZoneCommitter, "_move", crash_on_second_move)
    with pytest.raises(KeyboardInterrupt):
        zone(root, credentials=creds).save(SECOND)
    monkeypatch.setattr(zone_commit.ZoneCommitter, "_move", real_move)
    assert not [k for k in s3_snapshot(s3_fs, root) if k.startswith(("raw/", "quarantine/")) and
                not k.endswith("/sales_data.json")]
    assert zone(root, "manifest", credentials=creds).load()["run_id"] == "run-2"
    files = s3_snapshot(s3_fs, root)
    assert sorted(files) == ["manifests/retailer_1/run_date=2024-01-15/manifest.json",
                             "quarantine/retailer_1/year=2024/month=01/day=14/sales_data.json",
                             "raw/retailer_1/year=2024/month=01/day=14/sales_data.json"]
    assert json.loads(files["manifests/retailer_1/run_date=2024-01-15/manifest.json"])["rows_written"] == 4
