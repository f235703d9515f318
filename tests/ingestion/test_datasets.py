"""RetailerApiDataset and RawZoneDataset on their own: errors, keys, consistency rules, atomic
partitions. (Sources changing mid-extraction, against the real apps: tests/reliability/.)"""

from __future__ import annotations

import http.server
import logging
import threading

import pandas as pd
import pytest
from kedro.io.core import DatasetError

from retail_pipeline.datasets.raw_zone import RawZoneDataset
from retail_pipeline.datasets.retailer_api import RetailerApiDataset, RetailerApiError
from retail_pipeline.run_window import InvalidRunDate

KEY = "super-secret-key-123"
API_KEYS = ("endpoint", "method", "auth", "dates", "records_key", "paging", "lines", "count_field")


def api(base_url: str, fields: dict | None = None, **overrides) -> RetailerApiDataset:
    """retailer_1's dataset; api options (records_key, paging, ...) go into its registry entry."""
    entry = {"endpoint": "/sales", "records_key": "data", "paging": {"style": "page_number", "page_size": 10},
             "auth": {"style": "api_key", "header": "Authorization", "scheme": "Bearer"}}
    entry.update({key: overrides.pop(key) for key in API_KEYS if key in overrides})
    registry = {"retailer_1": {"api": entry, "source": {"fields": fields or {"transaction_id": "order_id"}}}}
    config = dict(retailer="retailer_1", retailers=registry, window_start="2024-01-14", window_end="2024-01-15",
                  credentials={"base_url": base_url, "api_key": KEY},
                  retry={"max_attempts": 2, "backoff_seconds": 0.01})
    config.update(overrides)
    return RetailerApiDataset(**config)


@pytest.fixture
def not_json_server():
    """A loopback server answering 200 with HTML, standing in for a misrouted proxy."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            body = b"<html>maintenance</html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_a_malformed_run_date_is_refused_before_any_request():
    with pytest.raises(InvalidRunDate, match="YYYY-MM-DD"):
        api("http://127.0.0.1:9", window_end="15/01/2024")


def test_the_key_is_not_in_the_dataset_description():
    dataset = api("http://127.0.0.1:9")
    assert KEY not in str(dataset) and KEY not in repr(dataset._describe())


def test_not_json_fails_naming_retailer_and_url(not_json_server):
    with pytest.raises(RetailerApiError) as error:
        api(not_json_server).load()
    text = str(error.value)
    assert "retailer_1: malformed response from GET " in text and f"{not_json_server}/sales?" in text
    assert "not JSON" in text and KEY not in text


def test_connection_refused_is_retried_then_fails_loudly(caplog):
    caplog.set_level(logging.DEBUG)
    dataset = api("http://127.0.0.1:9", retry={"max_attempts": 3, "backoff_seconds": 0.01})
    with pytest.raises(RetailerApiError, match=r"retailer_1: GET http://127.0.0.1:9/sales\?start_date=2024-01-14"
                                               r"&end_date=2024-01-15&page=1&page_size=10 failed after 3 attempts"):
        dataset.load()
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("retail_pipeline")]
    assert sum("; retry " in line for line in ours) == 2 and KEY not in caplog.text


def test_a_lazy_stream_asks_the_api_only_when_iterated():
    """The quality pipeline's re-read (`lazy: true`) is loaded as an input even for a retailer
    it will not read again (no manifest); the ingestion's stream fails at load."""
    options = {"retry": {"max_attempts": 1}, "chunk_rows": 10}
    with pytest.raises(RetailerApiError, match="failed after 1 attempt"):
        api("http://127.0.0.1:9", **options).load()
    stream = api("http://127.0.0.1:9", lazy=True, **options).load()  # no request: nothing to refuse
    with pytest.raises(RetailerApiError, match="failed after 1 attempt"):
        list(stream)
    with pytest.raises(DatasetError, match="lazy needs chunk_rows"):
        api("http://127.0.0.1:9", lazy=True)


@pytest.mark.slow
def test_wrong_envelope_and_missing_paging_fields_against_the_real_apps(retailer_apis, seed_retailers):
    seed_retailers("2024-01-15", rows_per_day=5, as_of="2030-01-01")
    r1, r2 = retailer_apis["retailer_1"], retailer_apis["retailer_2"]
    creds1 = {"base_url": r1["base_url"], "api_key": r1["api_key"]}
    with pytest.raises(RetailerApiError, match=r"no list under 'results' \(keys: data, count, retailer"):
        api(r1["base_url"], credentials=creds1, records_key="results").load()
    creds2 = {"base_url": r2["base_url"], "api_key": r2["api_key"]}
    with pytest.raises(RetailerApiError, match="paging field.s. total_pages missing"):
        api(r2["base_url"], credentials=creds2, endpoint="/transactions", records_key="transactions",
            auth={"style": "api_key", "header": "X-API-Key"}, dates={"start": "from", "end": "to"}).load()
    with pytest.raises(RetailerApiError, match="refused with HTTP 401.*check the api_key") as error:
        api(r1["base_url"], credentials={**creds1, "api_key": "wrong-key"}).load()
    assert "wrong-key" not in str(error.value)
    frame = api(r1["base_url"], credentials=creds1, window_start="2024-01-15", paging={"style": "page_number", "page_size": 2}).load()
    assert len(frame) == 5 and frame["source_page"].tolist() == [1, 1, 2, 2, 3]
    assert frame.attrs["extraction"]["pages"] == 3 and frame.attrs["extraction"]["source_total"] == 5


@pytest.fixture
def fake_api():
    """A loopback server answering GET with `server.answer(query) -> (body dict, headers)`; the
    number of requests is `server.requests`. For shapes the real apps never produce."""
    from urllib.parse import parse_qs, urlparse

    import orjson

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.server.requests += 1
            payload, headers = self.server.answer(parse_qs(urlparse(self.path).query))
            body = orjson.dumps(payload)
            self.send_response(200)
            for name, value in {"Content-Type": "application/json", "Content-Length": str(len(body)),
                                **headers}.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.requests = 0
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    server.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    yield server
    server.shutdown()


def _page(records: list[dict], total: int, total_pages: int, page: int = 1) -> dict:
    return {"data": records, "count": len(records), "page": page, "total": total, "total_pages": total_pages}


def test_consistency_options_are_checked():
    with pytest.raises(RetailerApiError, match="retailer_1: unknown consistency option.s. version"):
        api("http://127.0.0.1:9", consistency={"version": "X-Data-Version"})
    with pytest.raises(RetailerApiError, match="max_attempts must be >= 2"):
        api("http://127.0.0.1:9", consistency={"max_attempts": 1})


def test_a_total_the_records_never_reach_fails_after_the_bounded_extractions(fake_api):
    """Every extraction contradicts itself (2 records, total 3): never accepted, not even when
    two extractions agree; the last line names the retailer, the cause and the repair."""
    fake_api.answer = lambda query: (_page([{"order_id": "A"}, {"order_id": "B"}], 3, 1), {"X-Data-Version": "7"})
    dataset = api(fake_api.base_url, consistency={"version_header": "X-Data-Version", "max_attempts": 3})
    waits = []
    dataset._sleep = waits.append
    with pytest.raises(RetailerApiError) as error:
        dataset.load()
    assert str(error.value).startswith("retailer_1: the source kept changing during extraction: 3 extractions")
    assert "2 records came but the API's total said 3" in str(error.value) and "rerun" in str(error.value)
    assert fake_api.requests == 3 and waits == [1.0, 2.0]


def test_a_version_served_on_some_pages_only_is_no_proof(fake_api):
    """Only page 1 carries the version: verified by a reread instead."""
    def answer(query):
        page = int(query["page"][0])
        return _page([{"order_id": f"R{page}"}], 2, 2, page), ({"X-Data-Version": "7"} if page == 1 else {})

    fake_api.answer = answer
    dataset = api(fake_api.base_url, paging={"style": "page_number", "page_size": 1},
                  consistency={"version_header": "X-Data-Version"})
    frame = dataset.load()
    stats = frame.attrs["extraction"]
    assert frame["order_id"].tolist() == ["R1", "R2"] and fake_api.requests == 4
    assert (stats["consistency"], stats["attempts"], stats["pages"], stats["requests"]) == ("verified_reread", 2, 2, 4)


def canonical(day: str, n: int, prefix: str = "ORD") -> pd.DataFrame:
    return pd.DataFrame({"transaction_id": [f"{prefix}-{i}" for i in range(n)], "sale_date": [day] * n,
                         "quantity": list(range(1, n + 1))})


def test_raw_zone_replaces_window_partitions_and_removes_empty_days(tmp_path):
    zone = RawZoneDataset(root=str(tmp_path), zone="raw", retailer="retailer_1",
                          window_start="2024-01-14", window_end="2024-01-15")
    zone.save(pd.concat([canonical("2024-01-14", 3), canonical("2024-01-15", 2, "X")]))
    day14 = tmp_path / "raw/retailer_1/year=2024/month=01/day=14/sales_data.json"
    day15 = tmp_path / "raw/retailer_1/year=2024/month=01/day=15/sales_data.json"
    assert day14.read_text().count("\n") == 3 and day15.exists()
    zone.save(canonical("2024-01-14", 2))  # the 15th has no rows any more
    assert day14.read_text().count("\n") == 2 and not day15.exists()
    assert not list(tmp_path.rglob("*.tmp"))
    outside = canonical("2024-01-10", 1)
    with pytest.raises(DatasetError, match="outside the window"):
        zone.save(outside)
    assert day14.read_text().count("\n") == 2  # a refused save changes nothing


def test_raw_zone_on_s3_round_trip(s3_server, s3_bucket, s3_fs):
    creds = {"key": "testing", "secret": "testing", "client_kwargs": {"endpoint_url": s3_server}}
    zone = RawZoneDataset(root=f"s3://{s3_bucket}/unit", zone="quarantine", retailer="retailer_2",
                          window_start="2024-01-15", window_end="2024-01-15", credentials=creds)
    frame = canonical("2024-01-15", 3).assign(reasons=[["a"], ["b", "c"], ["d"]])
    zone.save(frame)
    assert s3_fs.exists(f"{s3_bucket}/unit/quarantine/retailer_2/year=2024/month=01/day=15/sales_data.json")
    back = zone.load()
    assert back["transaction_id"].tolist() == ["ORD-0", "ORD-1", "ORD-2"]
    assert [list(r) for r in back["reasons"]] == [["a"], ["b", "c"], ["d"]]
