"""Backfill command (resumable), node functions and the catalog validator."""

from __future__ import annotations

import pandas as pd
import pytest

from retail_pipeline import backfill as backfill_module
from retail_pipeline.pipelines.transformation.nodes import build_star_schema, stage_sales, surrogate_key
from retail_pipeline.schemas.warehouse import StarSchemaValidator
from tests.transformation.conftest import sale

RETAILERS = {f"retailer_{n}": {"retailer_id": n, "name": f"R{n}", "timezone": "UTC"} for n in (1, 2, 3)}
WAREHOUSE = {"max_fact_loss_share": 0.5}


def test_surrogate_keys_are_deterministic_scoped_and_positive():
    codes = pd.Series(["retailer_1", "retailer_2", "retailer_1"])
    skus = pd.Series(["SKU-A", "SKU-A", "SKU-A"])
    keys = surrogate_key(codes, skus)
    assert keys[0] == keys[2] != keys[1]
    assert (keys >= 0).all() and keys.dtype == "int64"
    assert surrogate_key(codes, skus).tolist() == keys.tolist()
    assert surrogate_key(codes, skus, repeated=False).tolist() == keys.tolist()  # both paths agree


def test_nodes_split_loadable_and_quarantined_rows():
    raw = pd.DataFrame([
        sale("retailer_1", "A", "SKU", "2024-01-15"),
        sale("retailer_1", "B", "SKU", "2024-01-15", quantity=0),
        sale("retailer_1", "C", "SKU", "2024-01-10"),  # outside the window
        sale("retailer_1", "D", "SKU", "2024-01-15", transaction_ts="not a time"),
    ])
    staged, quarantine = stage_sales(RETAILERS, "2024-01-15", 1, "r", raw, pd.DataFrame(), pd.DataFrame())
    assert staged["transaction_id"].tolist() == ["A"]
    reasons = dict(zip(quarantine["transaction_id"], quarantine["reason"]))
    assert set(reasons) == {"B", "C", "D"}
    assert "quantity" in reasons["B"] and "outside the run window" in reasons["C"]
    assert "transaction_ts" in reasons["D"]
    load = build_star_schema(staged, quarantine, RETAILERS, WAREHOUSE, "2024-01-15", 1, "r")
    StarSchemaValidator().validate(load)
    assert load["audit"]["rows_loaded"].sum() + load["audit"]["rows_quarantined"].sum() == 4


def test_validator_refuses_a_broken_fact_frame():
    raw = pd.DataFrame([sale("retailer_1", "A", "SKU", "2024-01-15")])
    staged, quarantine = stage_sales(RETAILERS, "2024-01-15", 0, "r", raw)
    load = build_star_schema(staged, quarantine, RETAILERS, WAREHOUSE, "2024-01-15", 0, "r")
    load["facts"]["quantity"] = -1
    with pytest.raises(Exception, match="quantity"):
        StarSchemaValidator().validate(load)


def test_catalog_attaches_the_validator(wh_project):
    from kedro.framework.project import configure_project
    from kedro.framework.session import KedroSession

    from tests.fixtures.kedro_project import PROJECT_ROOT

    configure_project("retail_pipeline")
    with KedroSession.create(project_path=PROJECT_ROOT, conf_source=str(wh_project.conf),
                             runtime_params={"run_date": "2024-01-15"}) as session:
        catalog = session.load_context().catalog
        for code in ("retailer_1", "retailer_3"):  # the factory `{retailer}.warehouse_star_schema`
            assert f"{code}.warehouse_star_schema" in catalog
            catalog.get(f"{code}.warehouse_star_schema")
            assert catalog.validator_specs[f"{code}.warehouse_star_schema"].class_path.endswith("StarSchemaValidator")


def test_backfill_resumes_after_interruption(wh_project, tmp_path, monkeypatch):
    wh = wh_project.warehouse
    rows = [sale(f"retailer_{n}", f"T{n}-{d}", "SKU", f"2024-02-{d:02d}") for d in (1, 2, 3) for n in (1, 2, 3)]
    wh_project.raw.write(rows)
    state = tmp_path / "state.json"
    real_run_day = backfill_module.run_day
    calls = []

    def interrupted(day, *args, **kwargs):
        if day.day == 2 and not calls:
            calls.append(day)
            raise KeyboardInterrupt
        return real_run_day(day, *args, **kwargs)

    monkeypatch.setattr(backfill_module, "run_day", interrupted)
    argv = ["--start", "2024-02-01", "--end", "2024-02-03", "--pipelines", "transformation",
            "--conf-source", str(wh_project.conf), "--state-file", str(state)]
    assert backfill_module.main(argv) == 130
    assert wh.scalar("SELECT count(*) FROM fact_sales") == 3  # day 1 only
    first_run = wh.scalar("SELECT DISTINCT run_id FROM fact_sales")

    ran = []
    monkeypatch.setattr(backfill_module, "run_day", lambda day, *a, **k: ran.append(day) or real_run_day(day, *a, **k))
    assert backfill_module.main(argv) == 0
    assert [d.day for d in ran] == [2, 3]  # resumed: day 1 not redone
    assert wh.scalar("SELECT count(*) FROM fact_sales") == 9
    assert wh.scalar("SELECT run_id FROM fact_sales WHERE date_id = 20240201 LIMIT 1") == first_run
