"""Retries come from urllib3's `Retry`: what is retried, how long it waits, what is counted."""

from __future__ import annotations

import logging
import time

import pytest

from retail_pipeline.datasets.retailer_api import RetailerApiError
from retail_pipeline.extraction.paging import PAGING, Paging
from tests.extraction.conftest import make_dataset
from tests.extraction.servers import Answer, Seen, page_of

API = {"endpoint": "/sales/query", "method": "POST", "records_key": "data", "dates": {"in": "body"},
       "auth": {"style": "api_key", "header": "apikey"}, "paging": {"style": "page_number", "page_size": 5}}
VERSION = {"X-Data-Version": "1"}
GOOD = page_of([{"order_id": "A"}, {"order_id": "B"}], total=2, total_pages=1)


def scripted(*answers: Answer):
    """Answers in turn, then GOOD for ever."""
    todo = list(answers)
    return lambda seen: todo.pop(0) if todo else Answer(200, GOOD, VERSION)


def test_a_cut_response_a_500_and_a_429_are_retried_and_counted_for_a_post(loopback, caplog):
    caplog.set_level(logging.WARNING)
    server = loopback(scripted(Answer(200, GOOD, VERSION, cut=True), Answer(500, {"error": "boom"}),
                               Answer(429, {"error": "slow down"}, {"Retry-After": "1"})))
    started = time.monotonic()
    frame = make_dataset(server.base_url, API, retry={"max_attempts": 4, "backoff_seconds": 0.01}).load()
    assert time.monotonic() - started >= 1  # Retry-After honoured
    stats = frame.attrs["extraction"]
    assert len(frame) == 2 and (stats["requests"], stats["retries"]) == (4, 3) and len(server.seen) == 4
    assert all(seen.method == "POST" and b'"start_date":"2024-03-30"' in seen.body for seen in server.seen)
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("retail_pipeline")]
    assert [line.split(" failed (")[1].split(")")[0] for line in ours] == [
        "ProtocolError: ('Connection broken: IncompleteRead(40 bytes read, 40 more expected", "HTTP 500 (boom",
        "HTTP 429 (slow down"]


def test_a_long_retry_after_is_capped(loopback):
    server = loopback(scripted(Answer(503, {"error": "maintenance"}, {"Retry-After": "3600"})))
    started = time.monotonic()
    frame = make_dataset(server.base_url, API, retry={"max_attempts": 2, "max_retry_after_seconds": 0.2}).load()
    assert time.monotonic() - started < 3 and frame.attrs["extraction"]["retries"] == 1


def test_a_4xx_is_not_retried_and_names_the_credentials(loopback):
    server = loopback(lambda seen: Answer(403, {"message": "forbidden"}))
    with pytest.raises(RetailerApiError, match=r"acme_foods: POST .*/sales/query .* was refused with HTTP 403 "
                                               r"\(forbidden\) \(check the api_key in credentials.yml\)"):
        make_dataset(server.base_url, API).load()
    assert len(server.seen) == 1


@PAGING.register("page_token_test")
class PageTokenPaging(Paging):
    """A sixth style in a few lines: `nextPageToken` in the body, sent back as `pageToken`."""

    def required_fields(self) -> list[str]:
        return []

    def walk(self, fetch, take, shape):
        def follow(body: dict, number: int):
            token = shape.next(body, "nextPageToken", str)
            return None if token is None else ({"pageToken": token}, None)

        self.sequential(fetch, ({}, None), follow, take, shape)


def test_a_new_paging_style_is_one_class_and_configuration(loopback):
    def route(seen: Seen) -> Answer:
        token = seen.query.get("pageToken")
        body = {"data": [{"order_id": token or "first"}]}
        return Answer(200, body if token == "t2" else {**body, "nextPageToken": "t2"}, VERSION)

    server = loopback(route)
    for style in ("page_token_test", "tests.extraction.test_retries.PageTokenPaging"):
        frame = make_dataset(server.base_url, {**API, "method": "GET", "dates": {}, "paging": {"style": style}}).load()
        assert frame["order_id"].tolist() == ["first", "t2"] and frame.attrs["extraction"]["paging"] in (
            "page_token_test", "base")
