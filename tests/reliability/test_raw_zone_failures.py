"""Issue 9, items 6 and 7 (raw zone): a failed ingestion never leaves the zone inconsistent.

After a retailer fails for good, a full disk, or kill -9 of `kedro run` at the worst moments of a
commit (files staged but no marker; marker written and some files moved), on the local zone and
on S3 (moto): each retailer's window files and its manifest agree, nothing but committed
`sales_data.json` sits in a partition folder, the next access completes or drops what the
killed run left, DuckDB's `read_json('raw/*/*/*/*/*.json')` returns exactly the committed rows,
and after a rerun the accounting holds. The kill is made deterministic by a sitecustomize hook
in the child that pauses at the chosen step and reports its pid; the test then SIGKILLs it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections import Counter
from pathlib import Path

import duckdb
import pytest
import requests

from retailers.common.registry import RETAILERS
from tests.fixtures.kedro_project import PROJECT_ROOT
from tests.ingestion.conftest import api_catalog_override, api_credentials
from tests.reliability.test_extreme_values import accounted, wire_product

pytestmark = pytest.mark.slow

RUN_DATE, START = "2024-03-05", "2024-03-04"
PARAMS = f"run_date={RUN_DATE},lookback_days=1"
KEDRO = Path(sys.executable).with_name("kedro")
BUCKET = "retail-raw-zone-reliability"

PAUSE_HOOK = textwrap.dedent('''
    """Test hook: pause the raw-zone commit of one retailer at a chosen step (RAW_ZONE_PAUSE)."""
    import os, time
    _spec = os.environ.get("RAW_ZONE_PAUSE")        # "<retailer>:<stage|move>:<n>"
    if _spec:
        from retail_pipeline.datasets import zone_commit
        _retailer, _step, _n = _spec.split(":")
        _seen = []

        def _count(retailer):
            if retailer == _retailer:
                _seen.append(1)
                if len(_seen) == int(_n):
                    with open(os.environ["RAW_ZONE_PAUSED"], "w") as handle:
                        handle.write(str(os.getpid()))
                    time.sleep(300)

        if _step == "stage":
            _real_stage = zone_commit.Staging.stage
            def _stage(self, final, write, last=False):
                _real_stage(self, final, write, last)
                _count(self.committer.retailer)
            zone_commit.Staging.stage = _stage
        else:
            _real_move = zone_commit.ZoneCommitter._move
            def _move(self, staged, final):
                _real_move(self, staged, final)
                _count(self.retailer)
            zone_commit.ZoneCommitter._move = _move
''')


# -- helpers -----------------------------------------------------------------------------------
def kedro_run(project, env: str = "local", pipeline: str = "ingestion", run_id: str = "child",
              extra_env: dict | None = None) -> subprocess.Popen:
    command = [str(KEDRO), "run", "--pipeline", pipeline, "--env", env, "--conf-source", str(project.conf),
               "--params", f"{PARAMS},run_id={run_id}"]
    env_vars = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "true", **(extra_env or {})}
    return subprocess.Popen(command, cwd=PROJECT_ROOT, env=env_vars, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def kill_at(project, tmp_path, spec: str, env: str = "local") -> None:
    """Run ingestion in a child, wait (bounded) until it pauses at `spec`, SIGKILL it by pid."""
    hook = tmp_path / f"hook-{uuid.uuid4().hex[:6]}"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(PAUSE_HOOK)
    paused = hook / "paused"
    child = kedro_run(project, env=env, run_id="killed-run", extra_env={
        "PYTHONPATH": os.pathsep.join([str(hook), os.environ.get("PYTHONPATH", "")]),
        "RAW_ZONE_PAUSE": spec, "RAW_ZONE_PAUSED": str(paused)})
    try:
        deadline = time.monotonic() + 180
        while not paused.exists():
            assert child.poll() is None, f"the run ended before pausing at {spec}:\n{child.stdout.read()[-3000:]}"
            assert time.monotonic() < deadline, f"the run did not reach {spec} within 180 s"
            time.sleep(0.05)
        assert int(paused.read_text()) == child.pid
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(timeout=30) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=30)
        child.stdout.close()


def window(root: Path, code: str) -> dict:
    """A retailer's window as the zone holds it: manifest plus every line of its files."""
    manifest_path = root / f"manifests/{code}/run_date={RUN_DATE}/manifest.json"
    lines = {zone: [json.loads(line) for p in sorted((root / zone / code).glob("*/*/*/sales_data.json"))
                    for line in p.read_text().splitlines()] for zone in ("raw", "quarantine")}
    return {"manifest": json.loads(manifest_path.read_text()) if manifest_path.exists() else None, **lines}


def assert_window_agrees(root: Path, code: str) -> str:
    """Files and manifest describe the same extraction; returns its run_id."""
    w = window(root, code)
    m = w["manifest"]
    assert m is not None, f"{code}: no manifest"
    run_ids = {r["run_id"] for r in w["raw"] + w["quarantine"]}
    assert run_ids <= {m["run_id"]}, f"{code}: files of runs {run_ids}, manifest of {m['run_id']}"
    assert (len(w["raw"]), len(w["quarantine"])) == (m["rows_written"], m["rows_quarantined"]), code
    per_day = Counter(r["sale_date"] for r in w["raw"])
    assert {d["sale_date"]: d["rows_written"] for d in m["days"] if d["rows_written"]} == dict(per_day), code
    return m["run_id"]


def partition_litter(root: Path) -> list[str]:
    """Anything where a partition glob reads that is not a committed sales_data.json."""
    return sorted(p.as_posix() for zone in ("raw", "quarantine") for p in (root / zone).rglob("*")
                  if p.is_file() and p.name != "sales_data.json")


def duckdb_rows(root: Path) -> Counter:
    con = duckdb.connect()
    rows = con.execute(f"SELECT retailer_code, run_id, count(*) FROM read_json('{root}/raw/*/*/*/*/*.json', "
                       "format = 'newline_delimited') GROUP BY ALL").fetchall()
    return Counter({(code, run): n for code, run, n in rows})


def committed_rows(root: Path) -> Counter:
    out = Counter()
    for code in RETAILERS:
        m = window(root, code)["manifest"]
        if m and m["rows_written"]:
            out[(code, m["run_id"])] = m["rows_written"]
    return out


def recover_through_the_catalog(project, env: str = "local") -> None:
    """Any access of a retailer's raw zone completes or drops an interrupted commit."""
    from kedro.framework.project import configure_project
    from kedro.framework.session import KedroSession

    configure_project("retail_pipeline")
    with KedroSession.create(project_path=PROJECT_ROOT, env=env, conf_source=str(project.conf),
                             runtime_params={"run_date": RUN_DATE, "lookback_days": 1}) as session:
        catalog = session.load_context().catalog
        for code in RETAILERS:
            catalog.load(f"{code}.ingestion_manifest")


@pytest.fixture
def product(kedro_project, retailer_apis, warehouse, seed_retailers):
    project = wire_product(kedro_project, retailer_apis, warehouse)
    project.write_yaml("local/catalog_test_api.yml", api_catalog_override(
        page_size=25, retry={"max_attempts": 2, "backoff_seconds": 0.05}))
    seed_retailers(START, RUN_DATE, rows_per_day=30, bad_fraction=0.1, seed=21, as_of="2030-01-01")
    project.run("ingestion", run_date=RUN_DATE, lookback_days=1, run_id="first-run")
    for code in RETAILERS:
        assert assert_window_agrees(project.zone_root, code) == "first-run"
    # the sources change, so that a second extraction writes different files
    seed_retailers(START, RUN_DATE, rows_per_day=45, bad_fraction=0.1, seed=22, as_of="2030-01-01")
    return project


def finish_and_account(project, retailer_apis, warehouse) -> None:
    """The next full run (ingestion, transformation, quality), then the accounting check."""
    project.run(None, run_date=RUN_DATE, lookback_days=1, run_id="repair-run")
    accounted(project, retailer_apis, warehouse)


# -- a retailer that stays down ------------------------------------------------------------------
def test_a_retailer_down_for_good_leaves_every_window_consistent(product, retailer_apis, warehouse,
                                                                  retailer_faults):
    retailer_faults("retailer_2", fail_500=10_000)
    with pytest.raises(Exception, match="retailer_2"):
        product.run("ingestion", run_date=RUN_DATE, lookback_days=1, run_id="failed-run")
    root = product.zone_root
    runs = {code: assert_window_agrees(root, code) for code in RETAILERS}
    assert runs["retailer_2"] == "first-run"
    assert set(runs.values()) <= {"first-run", "failed-run"}
    assert not partition_litter(root) and duckdb_rows(root) == committed_rows(root)
    requests.delete(f"{retailer_apis['retailer_2']['base_url']}/_admin/faults", timeout=5).raise_for_status()
    finish_and_account(product, retailer_apis, warehouse)


# -- kill -9 -----------------------------------------------------------------------------------
@pytest.mark.parametrize("spec, expected_run", [
    ("retailer_1:stage:2", "first-run"),   # files staged, no marker: the old window stays
    ("retailer_1:move:1", "killed-run"),   # marker written, one file moved: rolled forward
])
def test_kill_9_during_the_commit(product, retailer_apis, warehouse, tmp_path, spec, expected_run):
    root = product.zone_root
    kill_at(product, tmp_path, spec)
    assert not partition_litter(root), "uncommitted files where a partition glob reads"
    marker = list((root / "_staging" / "retailer_1").glob("*/COMMIT"))
    assert len(marker) == (1 if expected_run == "killed-run" else 0)
    for path in (root / "raw").rglob("sales_data.json"):  # every file whole, old or new
        [json.loads(line) for line in path.read_text().splitlines()]

    recover_through_the_catalog(product)
    assert assert_window_agrees(root, "retailer_1") == expected_run
    for code in RETAILERS:
        assert_window_agrees(root, code)
    assert not list((root / "_staging").rglob("*.part"))
    assert duckdb_rows(root) == committed_rows(root)
    finish_and_account(product, retailer_apis, warehouse)


@pytest.fixture
def s3_fs(s3_server):
    """An s3fs client of moto's server, with this file's bucket."""
    import s3fs

    fs = s3fs.S3FileSystem(key="testing", secret="testing", client_kwargs={"endpoint_url": s3_server},
                           skip_instance_cache=True)
    if not fs.exists(BUCKET):
        fs.mkdir(BUCKET)
    return fs


def test_kill_9_during_the_commit_on_s3(kedro_project, retailer_apis, warehouse, seed_retailers, s3_server,
                                        s3_fs, tmp_path):
    project = wire_product(kedro_project, retailer_apis, warehouse)
    prefix = f"{BUCKET}/kill-{uuid.uuid4().hex[:8]}"
    project.write_yaml("s3/credentials.yml", {
        **api_credentials(retailer_apis), "warehouse": {"con": warehouse.url},
        "raw_zone": {"key": "testing", "secret": "testing", "client_kwargs": {"endpoint_url": s3_server}}})
    project.write_yaml("s3/globals.yml", {"raw_zone": f"s3://{prefix}",
                                          "reporting": str(project.data / "08_reporting")})
    seed_retailers(START, RUN_DATE, rows_per_day=30, seed=31, as_of="2030-01-01")
    project.run("ingestion", env="s3", run_date=RUN_DATE, lookback_days=1, run_id="first-run")
    seed_retailers(START, RUN_DATE, rows_per_day=45, seed=32, as_of="2030-01-01")

    kill_at(project, tmp_path, "retailer_1:move:1", env="s3")
    s3_fs.invalidate_cache()
    keys = [k[len(prefix) + 1:] for k in s3_fs.find(prefix)]
    assert not [k for k in keys if k.startswith(("raw/", "quarantine/")) and not k.endswith("/sales_data.json")]
    assert any(k.startswith("_staging/retailer_1/") and k.endswith("/COMMIT") for k in keys)

    recover_through_the_catalog(project, env="s3")
    s3_fs.invalidate_cache()
    assert not s3_fs.find(f"{prefix}/_staging")
    local = tmp_path / "zone"
    s3_fs.get(f"{prefix}/", str(local), recursive=True)
    assert assert_window_agrees(local, "retailer_1") == "killed-run"
    for code in RETAILERS:
        assert_window_agrees(local, code)
    assert duckdb_rows(local) == committed_rows(local)

    project.run("ingestion", env="s3", run_date=RUN_DATE, lookback_days=1, run_id="repair-run")
    project.run("transformation", env="s3", run_date=RUN_DATE, lookback_days=1, run_id="repair-run")
    final = tmp_path / "final"
    s3_fs.invalidate_cache()
    s3_fs.get(f"{prefix}/", str(final), recursive=True)
    project.zone_root = final
    accounted(project, retailer_apis, warehouse)


# -- disk full ---------------------------------------------------------------------------------
@pytest.fixture
def small_disk(product):
    """The raw zone on a 4 MB tmpfs (root may mount one; skipped where mounting is refused)."""
    root = product.zone_root
    moved = root.with_name("01_raw_before")
    root.rename(moved)
    root.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(root)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        root.rmdir()
        moved.rename(root)
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.strip()}): run as root to test a full disk")
    try:
        subprocess.run(["cp", "-a", f"{moved}/.", str(root)], check=True)
        yield root
    finally:
        subprocess.run(["umount", str(root)], check=True)
        root.rmdir()
        moved.rename(root)


def test_disk_full_keeps_the_old_window_and_says_so_on_the_last_line(product, small_disk, retailer_apis,
                                                                     warehouse):
    root = small_disk
    before = {code: window(root, code) for code in RETAILERS}
    filler = root / "filler.bin"  # outside every partition folder
    free = os.statvfs(root).f_bavail * os.statvfs(root).f_frsize
    with open(filler, "wb") as handle:
        handle.write(b"\0" * max(free - 48 * 1024, 0))  # ~48 KB left: the new window cannot fit

    child = kedro_run(product, run_id="full-disk-run")
    output, _ = child.communicate(timeout=300)
    assert child.returncode != 0
    last = output.strip().splitlines()[-1]
    assert "no space left on device while writing" in last, output[-3000:]
    assert str(root) in last and "Free space" in last and "unchanged" in last
    failed = last.split(":")[0].split()[-1]
    assert failed in RETAILERS and window(root, failed) == before[failed]
    for code in RETAILERS:
        assert_window_agrees(root, code)
    assert not partition_litter(root) and duckdb_rows(root) == committed_rows(root)
    assert not list((root / "_staging").rglob("*.part"))

    filler.unlink()
    finish_and_account(product, retailer_apis, warehouse)


# -- a frozen S3 endpoint ------------------------------------------------------------------------
@pytest.fixture
def own_moto():
    """moto's S3 server as a child process of its own (so it can be frozen with SIGSTOP without
    freezing the tests), on a free loopback port; stopped by pid."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    child = subprocess.Popen([str(Path(sys.executable).with_name("moto_server")), "-H", "127.0.0.1", "-p", str(port)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert child.poll() is None, "moto_server exited"
            try:
                requests.get(url, timeout=1)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "moto_server did not start within 30 s"
                time.sleep(0.1)
        yield child, url
    finally:
        os.kill(child.pid, signal.SIGCONT)
        child.terminate()
        child.wait(timeout=30)


def test_a_frozen_s3_endpoint_fails_the_write_in_bounded_time_naming_the_dataset(own_moto):
    import threading

    import boto3
    import pandas as pd

    from retail_pipeline.datasets.raw_zone import RawZoneDataset

    child, url = own_moto
    boto3.client("s3", endpoint_url=url, aws_access_key_id="testing", aws_secret_access_key="testing",
                 region_name="us-east-1").create_bucket(Bucket=BUCKET)
    creds = {"key": "testing", "secret": "testing", "client_kwargs": {"endpoint_url": url}}

    def zone(which: str = "raw") -> RawZoneDataset:
        return RawZoneDataset(root=f"s3://{BUCKET}/frozen", zone=which, retailer="retailer_2", window_start=START,
                              window_end=RUN_DATE, credentials=creds,
                              timeouts={"connect_seconds": 1, "read_seconds": 1, "attempts": 2})

    def rows(n: int, prefix: str) -> pd.DataFrame:
        return pd.DataFrame({"transaction_id": [f"{prefix}-{i}" for i in range(n)], "sale_date": [RUN_DATE] * n,
                             "quantity": [1] * n})

    zone().save(rows(3, "OLD"))
    outcome: dict = {}

    def write() -> None:
        try:
            zone().save(rows(5, "NEW"))
        except Exception as exc:  # noqa: BLE001 - inspected below
            outcome["error"] = exc

    os.kill(child.pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        writer = threading.Thread(target=write, daemon=True)
        writer.start()
        writer.join(timeout=60)
        elapsed = time.monotonic() - started
        assert not writer.is_alive(), "the write hung on the frozen endpoint"
    finally:
        os.kill(child.pid, signal.SIGCONT)
    error = outcome.get("error")
    assert error is not None and elapsed < 30, (elapsed, error)
    text = str(error)
    assert text.startswith("retailer_2: ") and f"s3://{BUCKET}/frozen" in text, text
    assert "did not answer within 1 s (2 attempts; RawZoneDataset timeouts)" in text, text
    # accounting: the zone still holds the old window, whole, and takes the new one once the endpoint is back
    assert zone().load()["transaction_id"].tolist() == ["OLD-0", "OLD-1", "OLD-2"]
    zone().save(rows(5, "NEW"))
    assert zone().load()["transaction_id"].tolist() == [f"NEW-{i}" for i in range(5)]
