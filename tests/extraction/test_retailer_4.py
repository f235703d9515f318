"""Retailer 4's real app (retailers/retailer_4): OAuth2 tokens that expire mid-extraction,
next-link paging chosen by the server, orders exploded into lines. The dataset is built from
the registry entry in conf/base/retailers.yml, as the catalog factory builds it."""

from __future__ import annotations

from contextlib import closing

import psycopg2
import pytest
import yaml

from retail_pipeline.datasets.retailer_api import RetailerApiDataset
from tests.fixtures.kedro_project import PROJECT_ROOT

pytestmark = pytest.mark.slow

CODE, START, END = "retailer_4", "2024-03-30", "2024-03-31"  # across the spring DST change


def dataset(api: dict) -> RetailerApiDataset:
    registry = yaml.safe_load((PROJECT_ROOT / "conf/base/retailers.yml").read_text())["retailers"]
    creds = {key: api[key] for key in ("base_url", "client_id", "client_secret")}
    return RetailerApiDataset(retailer=CODE, retailers=registry, credentials=creds, window_start=START,
                              window_end=END, retry={"max_attempts": 3, "backoff_seconds": 0.05},
                              consistency={"version_header": "X-Data-Version"})


def lines_in_window(dsn: str) -> set[tuple[str, int]]:
    """(order_ref, line_no) of every line whose order was placed on a local day of the window."""
    with closing(psycopg2.connect(dsn)) as conn, conn.cursor() as cur:
        cur.execute("SELECT o.order_ref, l.line_no FROM orders o JOIN order_lines l USING (order_ref) "
                    "WHERE (o.placed_at AT TIME ZONE 'Europe/Paris')::date BETWEEN %s AND %s", (START, END))
        return {(ref, int(no)) for ref, no in cur.fetchall()}


def test_tokens_expiring_mid_extraction_are_renewed_and_every_line_arrives(retailer_apis, seed_retailers,
                                                                           retailer_faults):
    seed_retailers(START, END, rows_per_day=1500, retailers=[CODE])
    api = retailer_apis[CODE]
    # Tokens live 2 s; each data request waits 1.3 s before the token is checked: a token still
    # fresh when a request leaves (renewed at 80 % of its life) has expired when it is checked.
    retailer_faults(CODE, token_ttl=2, latency_ms=1300)
    frame = dataset(api).load()
    stats = frame.attrs["extraction"]
    assert stats["pages"] >= 2 and stats["tokens_fetched"] >= 2, stats
    assert stats["requests"] > stats["pages"]  # some pages were repeated after a 401
    assert stats["consistency"] == "data_version" and stats["orders"] > 1000
    # accounting: one row per line served, every line of the window once, nothing else
    got = list(zip(frame["order_ref"], frame["line_no"].astype(int), strict=True))
    expected = lines_in_window(api["dsn"])
    assert len(got) == len(set(got)) == len(expected) and set(got) == expected
    assert frame["placed_at"].str.endswith(("+01:00", "+02:00")).all()
