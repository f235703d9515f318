"""A new retailer is configuration: `acme_foods` joins in a temporary copy of the configuration.

Its code is not shaped `retailer_N`; it uses an existing API style (retailer 2's: an API key in
a header, offset paging) served by its own simulator instance on its own database, seeded by
the retailers' generator; its id is 5. With that one registry entry and its credentials, and no
code change, ingestion -> transformation -> quality run for it beside retailer_2, and every
record it served is accounted for: served = raw + quarantine, raw = facts + warehouse
quarantine to the cent.
"""

from __future__ import annotations

import copy
import json
import secrets
import shutil
import tempfile
from pathlib import Path

import pytest
import yaml

from retail_pipeline.devstack.ports import free_port
from retail_pipeline.registry import project_retailers
from retailers.common.db import init_db
from retailers.generator import seed
from retailers.launch import start_api
from tests.fixtures.kedro_project import credentials_for
from tests.reliability.accounting import assert_accounted

pytestmark = pytest.mark.slow

CODE, STYLE, RETAILER_ID, NAME = "acme_foods", "retailer_2", 5, "Acme Foods"
START, RUN_DATE = "2024-03-03", "2024-03-05"  # lookback_days=2
ROWS_PER_DAY = 80


@pytest.fixture
def simulators(pg_server):
    """Callable (style, code) -> {base_url, api_key, dsn}: a simulator instance of `style`
    answering as `code`, on its own database and a free port, with its own key; all stopped and
    their databases dropped afterwards."""
    logs = Path(tempfile.mkdtemp(prefix="fifth-retailer-"))
    started, databases = [], []

    def _start(style: str, code: str) -> dict:
        database = f"{code}_{secrets.token_hex(3)}"
        pg_server.ensure_database(database)
        databases.append(database)
        dsn = pg_server.dsn(database)
        init_db(style, dsn)
        key = f"{code}-{secrets.token_hex(8)}"
        api = start_api(style, code, free_port(), dsn, logs / f"{code}.log", secrets={"api_key": key})
        started.append(api)
        return {"base_url": api.base_url, "api_key": key, "dsn": dsn}

    try:
        yield _start
    finally:
        for api in started:
            api.stop()
        for database in databases:
            pg_server.drop_database(database)
        shutil.rmtree(logs, ignore_errors=True)


def acme_entry() -> dict:
    """The registry entry a person would write: retailer 2's API style, a name, an id, a port."""
    entry = copy.deepcopy(project_retailers("base")[STYLE])
    entry.update(name=NAME, retailer_id=RETAILER_ID,
                 simulator={"style": STYLE, "port": 5005, "database": "acme_foods_db"})
    return entry


def test_a_fifth_retailer_by_configuration_runs_through_every_pipeline(kedro_project, warehouse, simulators):
    registry = {STYLE: project_retailers("base")[STYLE], CODE: acme_entry()}
    (kedro_project.conf / "base" / "retailers.yml").write_text(yaml.safe_dump({"retailers": registry}, sort_keys=False))
    apis = {STYLE: simulators(STYLE, STYLE), CODE: simulators(STYLE, CODE)}
    kedro_project.write_yaml("local/credentials.yml", {
        **{f"{code}_api": credentials_for(registry[code], api["base_url"], api["api_key"]) for code, api in apis.items()},
        "warehouse": {"con": warehouse.url},
    })
    served = seed({code: api["dsn"] for code, api in apis.items()}, START, RUN_DATE, ROWS_PER_DAY,
                  bad_fraction=0.05, late_fraction=0.05, seed=11, as_of="2030-01-01", styles={CODE: STYLE})
    assert served[CODE]["rows"] > 0

    kedro_project.run(None, run_date=RUN_DATE, lookback_days=2, run_id="acme-1")

    # dim_retailer: its row, from the registry
    assert warehouse.query("SELECT retailer_id, retailer_name FROM dim_retailer WHERE retailer_code = %s",
                           (CODE,)) == [(RETAILER_ID, NAME)]
    # its facts, under its own id
    facts = warehouse.scalar("SELECT count(*) FROM fact_sales WHERE retailer_id = %s", (RETAILER_ID,))
    assert facts > 0
    # its raw zone, under its code
    raw_root = kedro_project.data / "01_raw"
    day_file = raw_root / "raw" / CODE / "year=2024" / "month=03" / "day=05" / "sales_data.json"
    records = [json.loads(line) for line in day_file.read_text().splitlines() if line.strip()]
    assert records and {r["retailer_code"] for r in records} == {CODE}
    assert (raw_root / "manifests" / CODE / f"run_date={RUN_DATE}" / "manifest.json").is_file()
    # the quality checks name it, and it passes them
    results = warehouse.query("SELECT check_name, passed, severity FROM dq_check_results "
                              "WHERE run_id = 'acme-1' AND retailer_code = %s", (CODE,))
    checks = {name for name, _, _ in results}
    assert {"volume_rows", "reconciliation_source", "reconciliation_warehouse",
            "reconciliation_source_ids", "reconciliation_warehouse_ids"} <= checks, checks
    assert not [name for name, passed, severity in results if not passed and severity == "critical"]
    assert CODE in (kedro_project.data / "08_reporting" / "dq_report_latest.html").read_text()
    # every record it (and retailer_2) served is accounted for
    counts = assert_accounted(raw_root=raw_root, warehouse_dsn=warehouse.dsn,
                              source_dsns={code: api["dsn"] for code, api in apis.items()},
                              start=START, end=RUN_DATE, styles={CODE: STYLE})
    assert counts[CODE]["served"] == counts[CODE]["raw"] + counts[CODE]["quarantined"] > 0
    assert counts[CODE]["quarantined"] > 0  # the generator's bad rows took the quarantine path
