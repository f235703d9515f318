"""Replay against the real components: the four retailer apps (stopped before the replay),
moto's S3 server and a local folder, through a real KedroSession.

A replay must make no request, give the same raw zone and quarantine as the original run
when no rule changed, and recover what a fixed rule now accepts, with every served record
still either raw or quarantined.
"""

from __future__ import annotations

import re
import uuid

import fsspec
import pandas as pd
import pytest

from retail_pipeline.extraction.stream import Attempt
from retailers.common.registry import RETAILERS
from tests.ingestion.conftest import api_catalog_override, api_credentials, read_zone_files, records, rows_in_window, without_lineage
from tests.landing.conftest import landing_bodies, landing_index, secrets_of

pytestmark = pytest.mark.slow

RUN_DATE = "2024-01-15"
WINDOW = ("2024-01-14", "2024-01-15")  # lookback_days=1


def manifest(fs, root: str, code: str) -> dict:
    import json

    return json.loads(fs.cat_file(f"{root}/manifests/{code}/run_date={RUN_DATE}/manifest.json"))


def test_s3_replay_with_the_apis_stopped_gives_the_same_zone(kedro_project, own_apis, s3_server, s3_bucket,
                                                             s3_fs, seed_retailers):
    seed_retailers("2024-01-14", "2024-01-16", rows_per_day=80, bad_fraction=0.2, late_fraction=0.1, seed=11)
    root = f"{s3_bucket}/landing-{uuid.uuid4().hex[:8]}"
    kedro_project.write_yaml("s3/credentials.yml", {
        **api_credentials(own_apis),
        "raw_zone": {"key": "testing", "secret": "testing", "client_kwargs": {"endpoint_url": s3_server}}})
    kedro_project.write_yaml("s3/globals.yml", {"raw_zone": f"s3://{root}",
                                                "reporting": str(kedro_project.data / "08_reporting")})
    kedro_project.write_yaml("s3/catalog_test_api.yml", api_catalog_override(page_size=30))
    kedro_project.run("ingestion", env="s3", run_date=RUN_DATE, lookback_days=1, run_id="original")
    raw, held = read_zone_files(s3_fs, root, "raw"), read_zone_files(s3_fs, root, "quarantine")
    served = {code: rows_in_window(own_apis[code]["dsn"], code, *WINDOW) for code in RETAILERS}
    originals = {code: manifest(s3_fs, root, code) for code in RETAILERS}

    for code in RETAILERS:
        index = landing_index(s3_fs, root, code, RUN_DATE)
        bodies = landing_bodies(s3_fs, root, code, RUN_DATE)
        key = {"retailer_1": "data", "retailer_2": "transactions", "retailer_3": "results", "retailer_4": "orders"}[code]
        served_records = sum(len(body[key]) for body in bodies)
        assert served_records == index["records"] and index["rows"] == served[code], code
        assert index["pages"] == len(bodies) == originals[code]["pages"] and index["pages"] > 1
        page = index["page_records"][0]
        assert page["status"] == 200 and "X-Data-Version" in page["headers"] and page["retrieved_at"]
        assert page["request"]["method"] == ("POST" if code == "retailer_3" else "GET")
        assert originals[code]["source"] == "api"
        assert originals[code]["landing"]["retrieved_at"] == index["retrieved_at"]
    text = "".join(s3_fs.cat_file(p).decode() for p in s3_fs.find(f"{root}/landing") if p.endswith("index.json"))
    assert not [secret for secret in secrets_of(own_apis) if secret in text]  # no credential is kept
    assert not s3_fs.find(f"{root}/_staging")

    own_apis.stop()  # from here on, any request to a retailer fails
    kedro_project.run("ingestion", env="s3", run_date=RUN_DATE, lookback_days=1, run_id="replayed", replay="true")
    assert without_lineage(read_zone_files(s3_fs, root, "raw")) == without_lineage(raw)
    assert without_lineage(read_zone_files(s3_fs, root, "quarantine")) == without_lineage(held)
    for code in RETAILERS:
        m = manifest(s3_fs, root, code)
        assert m["run_id"] == "replayed" and m["source"] == "replay" and m["requests"] == 0
        assert m["landing"]["retrieved_at"] == originals[code]["landing"]["retrieved_at"]
        assert m["rows_received"] == m["rows_written"] + m["rows_quarantined"] == served[code]
        assert (m["rows_written"], m["rows_quarantined"], m["days"]) == (
            originals[code]["rows_written"], originals[code]["rows_quarantined"], originals[code]["days"])
        assert m["consistency"] == originals[code]["consistency"]


def load(project, name: str):
    from kedro.framework.project import configure_project
    from kedro.framework.session import KedroSession

    from tests.fixtures.kedro_project import PROJECT_ROOT

    configure_project("retail_pipeline")
    with KedroSession.create(project_path=PROJECT_ROOT, conf_source=str(project.conf), env="local",
                             runtime_params={"run_date": RUN_DATE, "lookback_days": 1}) as session:
        return session.load_context().catalog.load(name)


def _decimal_comma(money):
    """A rule fix: money text with a decimal comma ('12,50') is accepted from now on."""

    def fixed(raw: pd.Series, style: str, *args):
        if style == "text":
            raw = raw.map(lambda v: v.replace(",", ".") if isinstance(v, str) and re.fullmatch(r"\d+,\d{1,2}", v)
                          else v, na_action="ignore")
        return money(raw, style, *args)

    return fixed


def _streamed_rows(stream) -> int:
    """Rows of the accepted walk of a SalesStream (a repeated walk starts again at Attempt)."""
    rows = 0
    for event in stream:
        if isinstance(event, Attempt):
            rows = 0
        elif isinstance(event, pd.DataFrame):
            rows += len(event)
    return rows


def test_replay_after_a_rule_fix_recovers_the_records_it_quarantined(kedro_project, own_apis, seed_retailers,
                                                                     monkeypatch):
    from retail_pipeline.pipelines.ingestion import normalize

    seed_retailers("2024-01-14", "2024-01-15", rows_per_day=150, bad_fraction=0.3, seed=5,
                   retailers=["retailer_2"])
    kedro_project.write_yaml("local/credentials.yml", api_credentials(own_apis))
    kedro_project.write_yaml("local/catalog_test_api.yml", api_catalog_override(page_size=40))
    root = str(kedro_project.data / "01_raw")
    fs = fsspec.filesystem("file")
    kedro_project.run("ingestion", run_date=RUN_DATE, lookback_days=1, run_id="original")
    before = [r for r in records(read_zone_files(fs, root, "quarantine")) if r["retailer_code"] == "retailer_2"]
    comma = [r for r in before if any("unparseable money" in x and re.search(r"got '?\d+,\d", x) for x in r["reasons"])]
    other_money = [r for r in before if any("unparseable money" in x for x in r["reasons"]) and r not in comma]
    assert comma and other_money, "the seed should hold decimal commas and other unparseable money"
    raw_before = [r for r in records(read_zone_files(fs, root, "raw")) if r["retailer_code"] == "retailer_2"]
    landed = sorted(fs.find(f"{root}/landing/retailer_2"))
    reread = load(kedro_project, "retailer_2.source_reread")  # the quality pipeline's re-read
    assert _streamed_rows(reread) == len(raw_before) + len(before)
    assert sorted(fs.find(f"{root}/landing/retailer_2")) == landed  # keeps no pages of its own

    own_apis.stop()
    monkeypatch.setattr(normalize, "_money", _decimal_comma(normalize._money))
    kedro_project.run("ingestion", run_date=RUN_DATE, lookback_days=1, run_id="replayed", replay=True)
    raw = [r for r in records(read_zone_files(fs, root, "raw")) if r["retailer_code"] == "retailer_2"]
    held = [r for r in records(read_zone_files(fs, root, "quarantine")) if r["retailer_code"] == "retailer_2"]
    recovered = {r["transaction_id"] for r in raw} - {r["transaction_id"] for r in raw_before}
    fixed_alone = {r["transaction_id"] for r in comma if len(r["reasons"]) == 1}
    assert fixed_alone and fixed_alone <= recovered  # the records only the rule held back now pass
    assert recovered <= {r["transaction_id"] for r in comma}  # and nothing else changed side
    assert all(r["run_id"] == "replayed" for r in raw + held)
    assert not any("unparseable money" in x and "," in x.split("got")[-1] for r in held for x in r["reasons"])
    still = {r["transaction_id"] for r in other_money}
    assert still <= {r["transaction_id"] for r in held}  # 'N/A', '$12.5' stay, with current reasons
    m = manifest(fs, root, "retailer_2")
    assert m["source"] == "replay" and m["rows_quarantined"] == len(held) and m["rows_written"] == len(raw)
    assert m["rows_received"] == len(raw) + len(held) == rows_in_window(own_apis["retailer_2"]["dsn"], "retailer_2", *WINDOW)


def test_replay_after_a_registry_fix_files_every_record_again(kedro_project, retailer_apis, seed_retailers):
    """The fix is configuration: retailer_1's timestamp format was wrong in conf/local, so the
    original run quarantined every record; with the registry fixed, the replay files them."""
    seed_retailers("2024-01-14", "2024-01-15", rows_per_day=50, bad_fraction=0.1, seed=3, retailers=["retailer_1"])
    kedro_project.write_yaml("local/credentials.yml", api_credentials(retailer_apis))
    wrong = kedro_project.conf / "local" / "retailers.yml"
    wrong.write_text("retailers:\n  retailer_1:\n    source:\n      timestamp: {format: '%d/%m/%Y %H:%M'}\n")
    root = str(kedro_project.data / "01_raw")
    fs = fsspec.filesystem("file")
    kedro_project.run("ingestion", run_date=RUN_DATE, lookback_days=1, run_id="original")
    held = [r for r in records(read_zone_files(fs, root, "quarantine")) if r["retailer_code"] == "retailer_1"]
    served = rows_in_window(retailer_apis["retailer_1"]["dsn"], "retailer_1", *WINDOW)
    assert len(held) == served and all(any("transaction_ts" in x for x in r["reasons"]) for r in held)

    wrong.unlink()  # the registry is fixed
    kedro_project.run("ingestion", run_date=RUN_DATE, lookback_days=1, run_id="replayed", replay="true")
    raw = [r for r in records(read_zone_files(fs, root, "raw")) if r["retailer_code"] == "retailer_1"]
    held = [r for r in records(read_zone_files(fs, root, "quarantine")) if r["retailer_code"] == "retailer_1"]
    assert raw and len(raw) + len(held) == served
    assert not any("transaction_ts" in x for r in held for x in r["reasons"])
    assert {r["sale_date"] for r in raw} == set(WINDOW)
    m = manifest(fs, root, "retailer_1")
    assert (m["source"], m["rows_written"], m["rows_quarantined"]) == ("replay", len(raw), len(held))
