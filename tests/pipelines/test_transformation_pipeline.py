"""The transformation pipeline on an in-memory catalog: the raw rows ingestion wrote, in; staged
rows, warehouse quarantine and each retailer's star-schema load (the frames
`<code>.warehouse_star_schema` saves in one transaction), out.

Accounting: per retailer, raw rows = staged rows + warehouse-quarantined rows; the load's facts
are the staged rows, and its audit counts both.
"""

from __future__ import annotations

import pandas as pd
import pytest

from .in_memory import api_frame, conf_parameters, ingest, project_pipeline, run
from .records import lines_of, r1, r2, r3, r4_line, r4_order


@pytest.fixture(scope="module")
def raw_zone() -> dict[str, pd.DataFrame]:
    """Each registry retailer's raw rows for the window 2024-01-12..15, as ingestion wrote them.

    One retailer_4 row was written by an ingestion that dated sales by their UTC day: its
    sale_date is not its local (Paris) day, which the warehouse refuses.
    """
    windows = ingest({
        "retailer_1": api_frame([r1(1, "2024-01-12"), r1(2, "2024-01-14"), r1(3)], "retailer_1"),
        "retailer_2": api_frame([r2(1), r2(2, "2024-01-15")], "retailer_2"),
        "retailer_3": api_frame([r3(1), r3(2, 1705312800000)], "retailer_3"),
        "retailer_4": lines_of([r4_order(1, "2024-01-15T00:30:00+01:00", [r4_line(1), r4_line(2)]),
                                r4_order(2, "2024-01-13T18:00:00+01:00", [r4_line(1)], day="20240113")]),
    })
    raw = {code: window["raw"] for code, window in windows.items()}
    assert all(len(window["quarantine"]) == 0 for window in windows.values()), "the fixture rows are all valid"
    line = raw["retailer_4"]["transaction_id"] == "WEB-20240113-000002-1"
    raw["retailer_4"].loc[line, "transaction_ts"] = "2024-01-12T23:30:00Z"  # 00:30 on the 13th in Paris
    raw["retailer_4"].loc[line, "sale_date"] = "2024-01-12"  # its UTC day
    return raw


def test_staging_accounts_for_every_raw_row_of_every_retailer(raw_zone):
    raw = raw_zone
    staging = project_pipeline("transformation").only_nodes(*(f"{code}.stage_sales" for code in raw))
    out = run(staging, {f"{code}.raw_sales": frame for code, frame in raw.items()})

    for code, rows in raw.items():
        staged, held = out[f"{code}.staged_sales"], out[f"{code}.warehouse_quarantine_rows"]
        assert len(staged) + len(held) == len(rows), code
        assert sorted([*staged["transaction_id"], *held["transaction_id"]]) == sorted(rows["transaction_id"])
    held = out["retailer_4.warehouse_quarantine_rows"]
    assert list(held["transaction_id"]) == ["WEB-20240113-000002-1"]
    assert "time zone" in held["reason"].iloc[0] and held["sale_date"].iloc[0] == "2024-01-12"
    staged = out["retailer_4.staged_sales"].set_index("transaction_id")
    # 00:30 in Paris is 23:30Z the day before: the business day is the local one
    assert staged.loc["WEB-20240115-000001-1", "date_id"] == 20240115


def test_the_load_holds_every_staged_row_and_audits_both_sides(raw_zone):
    """One load per retailer (`<code>.warehouse_star_schema`), each of its own rows only."""
    raw = raw_zone
    out = run(project_pipeline("transformation"), {f"{code}.raw_sales": frame for code, frame in raw.items()})
    loads = {code: out[f"{code}.warehouse_star_schema"] for code in raw}
    for code, one in loads.items():
        assert one["retailers"] == [code]
        assert set(one["audit"]["retailer_code"]) == {code}
        assert set(one["quarantine"]["retailer_code"]) <= {code}
    facts = pd.concat([one["facts"] for one in loads.values()], ignore_index=True)
    held = pd.concat([one["quarantine"] for one in loads.values()], ignore_index=True)
    audit = pd.concat([one["audit"] for one in loads.values()], ignore_index=True)
    load = loads["retailer_1"]

    assert len(facts) + len(held) == sum(len(rows) for rows in raw.values()) == 10
    assert (int(audit["rows_loaded"].sum()), int(audit["rows_quarantined"].sum())) == (len(facts), len(held))
    assert round(audit["total_amount_loaded"].sum(), 2) == round(facts["total_amount"].sum(), 2)
    assert load["window"] == {"start": "2024-01-12", "end": "2024-01-15"} and load["run_id"] == "run-test"
    registry = conf_parameters()["retailers"]
    dim_retailer = pd.concat([one["dimensions"]["dim_retailer"] for one in loads.values()]).set_index("retailer_code")
    assert dim_retailer["retailer_id"].to_dict() == {code: entry["retailer_id"] for code, entry in registry.items()}
    ids = dict(zip(dim_retailer.index, dim_retailer["retailer_id"]))
    per_retailer = facts["retailer_id"].value_counts().to_dict()
    assert per_retailer == {ids["retailer_1"]: 3, ids["retailer_2"]: 2, ids["retailer_3"]: 2, ids["retailer_4"]: 2}
