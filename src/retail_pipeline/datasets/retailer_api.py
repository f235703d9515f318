"""`RetailerApiDataset`: one retailer's sales for a date window, from its REST API (load only).

One catalog factory serves every retailer (conf/base/catalog_ingestion.yml): the dataset gets
the whole registry (`retailers: ${globals:retailers}`) and reads its own entry's `api:` (URL
endpoint, method, date parameters, auth and paging styles, nested lines) and `source.fields`
(the fields it publishes and checks). Credentials `<code>_api` give the base URL and the
secrets of the auth style. How hard to try (timeouts, retries, deadlines, concurrency,
consistency) is the catalog's. The pieces live in `retail_pipeline.extraction`.

Load returns a DataFrame of the records as served (source field names, raw values: the declared
fields; anything else stays in `source_record`) plus `source_page` and `source_record` (the
record as JSON; with `api.lines`, one row per order line and the order with only that line).
Its shape is checked with `schemas.sources.source_schema`. Extraction statistics are in
`df.attrs["extraction"]`. Each page becomes compact Arrow-backed columns as it arrives, the next
request in flight meanwhile.

Consistency (`consistency:`; extraction/consistency.py): the source may change while it is
paged; an extraction is accepted when every page carried the same data version, or when a
repeat agrees record for record, at most `max_attempts` extractions; `attrs["extraction"]`
says how (`consistency`, `attempts`).

Failures name the retailer and the request (URLs masked: no `user:pw@`), never a secret:
- connection errors, timeouts, cut responses, 5xx and 429 are retried by urllib3's `Retry` with
  exponential backoff (429/503 honour `Retry-After`), up to `retry.max_attempts` per request;
- each attempt has `deadline.request_seconds`, the whole extraction `deadline.extraction_seconds`
  (a trickling API cannot hold a run);
- 4xx other than 429 fail at once (401/403 with a hint on the credentials), except one new OAuth2
  token after a 401; a redirect fails (credentials never leave the configured host);
- malformed responses and inconsistent paging metadata fail at once;
- a source that keeps changing fails after `consistency.max_attempts` extractions.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import pandera.errors
import pyarrow as pa
from kedro.io.core import AbstractDataset, DatasetError

from retail_pipeline.extraction.client import ApiClient
from retail_pipeline.extraction.consistency import Consistency, Extraction, extract_consistently
from retail_pipeline.extraction.errors import RetailerApiError
from retail_pipeline.extraction.frames import page_frame, to_frame
from retail_pipeline.extraction.deadlines import Deadline
from retail_pipeline.landing import Landing
from retail_pipeline.run_window import parse_run_date
from retail_pipeline.schemas.sources import declared_fields, source_schema

__all__ = ["RetailerApiDataset", "RetailerApiError"]

log = logging.getLogger(__name__)


class RetailerApiDataset(AbstractDataset[None, pd.DataFrame]):
    """Extract a retailer's records for [window_start, window_end] from its REST API.

    Example (catalog):

        "{retailer}.api_sales":
          type: retail_pipeline.datasets.retailer_api.RetailerApiDataset
          retailer: "{retailer}"
          retailers: ${globals:retailers}       # the registry (conf/base/retailers.yml)
          credentials: "{retailer}_api"         # {base_url, api_key} or {base_url, client_id, client_secret}
          window_start: ${window_start:...}
          window_end: ${run_date:...}
          timeout: [5, 120]                     # connect, read (one socket read)
          retry: {max_attempts: 6, backoff_seconds: 0.5}
          deadline: {request_seconds: 120, extraction_seconds: 1800}
          concurrency: 2
          consistency: {version_header: X-Data-Version, max_attempts: 4}
    """

    def __init__(  # noqa: PLR0913
        self,
        *,
        retailer: str,
        retailers: dict[str, Any],
        window_start: str,
        window_end: str,
        credentials: dict[str, Any] | None = None,
        timeout: float | list[float] | tuple[float, float] = (5.0, 120.0),
        retry: dict[str, Any] | None = None,
        deadline: dict[str, Any] | None = None,
        concurrency: int = 1,
        consistency: dict[str, Any] | None = None,
        landing: dict[str, Any] | None = None,
        replay: bool | str = False,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self._retailer = retailer
        entry = (retailers or {}).get(retailer)
        if not isinstance(entry, dict) or not isinstance(entry.get("api"), dict):
            raise DatasetError(f"{retailer}: no api entry for it in the retailer registry "
                               f"(conf/base/retailers.yml: retailers.{retailer}.api)")
        try:
            self._fields = declared_fields(entry.get("source") or {})
        except ValueError as exc:
            raise DatasetError(f"{retailer}: {exc}") from None
        # A malformed window is refused here, before any request.
        self._window = (parse_run_date(window_start), parse_run_date(window_end))
        if self._window[1] < self._window[0]:
            raise DatasetError(f"{retailer}: window_end {window_end} is before window_start {window_start}")
        timeout = tuple(timeout) if isinstance(timeout, list | tuple) else (float(timeout), float(timeout))
        self._consistency = Consistency.from_config(retailer, consistency)
        self._deadline = Deadline.from_config(retailer, deadline)
        self._client = ApiClient(retailer, entry["api"], dict(credentials or {}), timeout=timeout, retry=retry,
                                 deadline=self._deadline, concurrency=concurrency,
                                 version_header=self._consistency.version_header)
        self._schema = source_schema(self._fields)
        self._landing = Landing(retailer, landing, replay)  # pages kept, or read back (replay)
        self.metadata = metadata
        self._sleep = time.sleep  # between consistency repeats; tests may replace it

    # -- kedro ---------------------------------------------------------------------------------
    def _describe(self) -> dict[str, Any]:
        # What Kedro prints in logs and errors: the URL masked, never a secret.
        paging = self._client.paging
        return {
            "retailer": self._retailer,
            "url": self._client.shown_url,
            "method": self._client.method,
            "window": [d.isoformat() for d in self._window],
            "auth": self._client.auth.style,
            "paging": paging.style,
            "page_size": paging.page_size,
            "version_header": self._consistency.version_header,
        }

    def save(self, data: None) -> None:
        raise DatasetError(f"{self._retailer}: RetailerApiDataset is read-only (the retailer's API)")

    def load(self) -> pd.DataFrame:
        pa.default_memory_pool().release_unused()  # what earlier nodes freed, before a big window
        started = time.perf_counter()
        client, shown = self._client, self._client.shown_url
        what = f"{shown} for {self._window[0]}..{self._window[1]}"
        self._deadline.start()
        transport = self._landing.open(client, self._window)
        try:
            extraction, attempts, how = self._landing.extract(  # landing: pages kept, or replayed
                self._extract_once,
                lambda once: extract_consistently(once, self._consistency, self._retailer, what, self._pause))
        finally:
            client.close()
        stats = transport.stats
        pages, source_total, version = len(extraction.pages), extraction.total, extraction.version
        lines = {"orders": extraction.records, "orders_without_lines": extraction.orders_without_lines} \
            if client.lines else {}
        data = to_frame(extraction.pages, self._fields)
        extraction.release()  # page buffers: back to the OS
        self._check_shape(data)
        data.attrs["extraction"] = {
            "retailer_code": self._retailer,
            "url": shown,
            "window_start": self._window[0].isoformat(),
            "window_end": self._window[1].isoformat(),
            "auth": client.auth.style,
            "paging": client.paging.style,
            "page_size": client.paging.page_size,
            "pages": pages,
            "requests": stats.requests,
            "retries": stats.retries,
            "source_total": source_total,
            "rows": len(data),
            **lines,
            **client.auth.stats(),
            "attempts": attempts,  # extractions made (repeats when the source changed meanwhile)
            "consistency": how,  # why it is trusted: "data_version" | "verified_reread"
            "data_version": version,  # the source's version it equals (None unless one held)
            "elapsed_s": round(time.perf_counter() - started, 3),
            "extracted_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            **self._landing.stats(),  # source: api | replay, and the landing set
        }
        log.info("%s: extracted %d records in %d pages (%d requests, %d retries, %d extraction(s), %s) "
                 "from %s in %.1fs", self._retailer, len(data), pages, stats.requests, stats.retries,
                 attempts, how, shown, data.attrs["extraction"]["elapsed_s"])
        return data

    def _pause(self, seconds: float) -> None:
        """The wait before a consistency repeat, within the extraction's deadline."""
        if seconds >= self._deadline.remaining():
            raise self._deadline.exceeded(self._retailer, f"a repeat of the extraction of {self._client.shown_url}")
        self._sleep(seconds)

    def _extract_once(self) -> Extraction:
        """One walk over every page; each page becomes columns as it arrives."""
        client = self._client
        extraction = Extraction(client.paging.total_field)

        def take(body: dict, number: int) -> None:
            records = body.pop(client.records_key)
            extraction.add(body, page_frame(records, number, self._fields, client.lines, self._retailer))

        extraction.total = client.paging.walk(client.fetch, take, client.shape)
        return extraction

    def _check_shape(self, data: pd.DataFrame) -> None:
        """The declared source fields are all there (values are judged later, record by record)."""
        try:
            self._schema.validate(data, lazy=True)
        except pandera.errors.SchemaErrors as exc:
            problems = sorted({str(case) for case in exc.failure_cases["failure_case"].head(10)})
            raise DatasetError(
                f"{self._retailer}: the extraction does not have the declared source shape "
                f"(source.fields in conf/base/retailers.yml): {', '.join(problems)}; the API changed its "
                f"field names, or the registry is wrong") from None
