"""The landing set is the extraction the consistency check accepted, with the real retailer_1
API and its database changed by a second actor while the first extraction pages (the scenario
of tests/reliability/test_source_changes.py)."""

from __future__ import annotations

import gzip
import json
from datetime import date

import pytest

from retail_pipeline.datasets.retailer_api import RetailerApiDataset
from retail_pipeline.landing import LandingZone
from tests.reliability.test_source_changes import (
    CREDENTIAL_KEYS,
    END,
    START,
    SourceChanger,
    extracted,
    move_to_window_end,
    registry,
    shared_settings,
    small_pages,
)

pytestmark = pytest.mark.slow

CODE = "retailer_1"


def landed_dataset(apis: dict, root: str, replay: bool = False) -> RetailerApiDataset:
    entry = shared_settings()
    entry.update(retailer=CODE, retailers=small_pages(registry()), window_start=START, window_end=END,
                 credentials={key: apis[CODE][key] for key in CREDENTIAL_KEYS if key in apis[CODE]},
                 landing={"root": root}, replay=replay)
    entry["consistency"] = {**entry["consistency"], "pause_seconds": 0.05}
    return RetailerApiDataset(**entry)


def test_only_the_accepted_extraction_is_landed_and_replays_record_for_record(
        tmp_path, retailer_apis, seed_retailers, retailer_faults):
    seed_retailers(START, END, rows_per_day=80, retailers=[CODE])
    retailer_faults(CODE, latency_ms=250)
    with SourceChanger(retailer_apis[CODE], retailer_apis[CODE]["dsn"], move_to_window_end(CODE, [0, 1, 2])) as changer:
        frame = landed_dataset(retailer_apis, str(tmp_path)).load()
    retailer_faults(CODE, latency_ms=0)
    stats = frame.attrs["extraction"]
    assert len(changer.applied_at) == 1 and stats["attempts"] == 2 and stats["consistency"] == "data_version"

    zone = LandingZone(str(tmp_path), CODE)
    index = zone.read_index(date.fromisoformat(END))
    assert (index["attempt"], index["attempts"], index["rows"]) == (2, 2, len(frame))
    day = zone.day_prefix(date.fromisoformat(END))
    assert sorted(p.rsplit("/", 1)[-1] for p in zone.fs.ls(day)) == sorted(["index.json", index["folder"]])
    versions = {p["headers"]["X-Data-Version"] for p in index["page_records"]}
    assert versions == {index["data_version"]}  # every landed page is of the accepted state
    landed = [json.dumps(r, sort_keys=True) for p in index["page_records"]
              for r in json.loads(gzip.decompress(zone.read(f"{day}/{index['folder']}/{p['file']}")))["data"]]
    assert sorted(landed) == sorted(extracted(frame))

    again = landed_dataset(retailer_apis, str(tmp_path), replay=True).load()
    assert extracted(again) == extracted(frame) and list(again["source_page"]) == list(frame["source_page"])
    assert again.attrs["extraction"]["source"] == "replay" and again.attrs["extraction"]["requests"] == 0
