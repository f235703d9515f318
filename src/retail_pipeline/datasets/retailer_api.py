"""`RetailerApiDataset`: one retailer's sales for a date window, from its REST API (load only).

One catalog factory serves every retailer (conf/base/catalog_ingestion.yml): the dataset gets
the whole registry (`retailers: ${globals:retailers}`) and reads its own entry's `api:` (URL
endpoint, method, date parameters, auth and paging styles, nested lines) and `source.fields`
(the fields it publishes and checks). Credentials `<code>_api` give the base URL and the
secrets of the auth style. How hard to try (timeouts, retries, deadlines, concurrency,
consistency) is the catalog's. The pieces live in `retail_pipeline.extraction`.

Records come as served (source field names, raw values: the declared fields; anything else
stays in `source_record`) plus `source_page` and `source_record` (the record as JSON; with
`api.lines`, one row per order line and the order with only that line), their shape checked
with `schemas.sources.source_schema`. With `chunk_rows` (the catalog's), load returns a
`SalesStream`: iterating it walks the API and yields frames of `chunk_rows` records between an
`Attempt` and the final `Extracted(stats)` (extraction/stream.py), so a window of any size is
never held whole. The load reads the first chunk, so a retailer that is down fails it; with
`lazy: true` no request is made until the stream is iterated (the quality pipeline's re-read,
an input of a node that may not read it). Without `chunk_rows`, load returns the whole window
as one DataFrame with the statistics in `df.attrs["extraction"]` (notebooks, tools). Each page
becomes compact Arrow-backed columns as it arrives, the next requests in flight meanwhile.

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
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import pandera.errors
import pyarrow as pa
from kedro.io.core import AbstractDataset, DatasetError

from retail_pipeline.extraction.client import ApiClient
from retail_pipeline.extraction.consistency import Consistency, Extraction, judge, kept_changing
from retail_pipeline.extraction.errors import RetailerApiError
from retail_pipeline.extraction.frames import Page, page_frame
from retail_pipeline.extraction.stream import Attempt, Extracted, SalesStream, chunk_frame, chunked, pages_in_background
from retail_pipeline.extraction.deadlines import Deadline
from retail_pipeline.landing import Landing
from retail_pipeline.run_window import parse_run_date
from retail_pipeline.schemas.sources import declared_fields, source_schema

__all__ = ["RetailerApiDataset", "RetailerApiError", "SalesStream"]

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
          chunk_rows: 100000                    # load() streams chunks of this many records
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
        chunk_rows: int | None = None,
        lazy: bool = False,
        landing: dict[str, Any] | None = None,
        replay: bool | str = False,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self._retailer = retailer
        if chunk_rows is not None and int(chunk_rows) < 1:
            raise DatasetError(f"{retailer}: chunk_rows must be a positive number of records, got {chunk_rows!r}")
        self._chunk_rows = None if chunk_rows is None else int(chunk_rows)
        if lazy and self._chunk_rows is None:
            raise DatasetError(f"{retailer}: lazy needs chunk_rows (a whole window is read at load)")
        self._lazy = bool(lazy)
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

    def load(self) -> pd.DataFrame | SalesStream:
        """With `chunk_rows`: a `SalesStream`, its first chunk read (none with `lazy`). Without:
        the whole window as one frame (notebooks, tools; small windows only)."""
        if self._chunk_rows is not None:
            return SalesStream(self.events(self._chunk_rows), self._retailer, self._chunk_rows,
                               start=not self._lazy)
        data: pd.DataFrame | None = None
        for event in self.events(None):
            if isinstance(event, Attempt):
                data = None  # a repeat: the earlier walk's frame is void
            elif isinstance(event, Extracted):
                if data is None:
                    data = chunk_frame([], self._fields)
                data.attrs["extraction"] = event.stats
            else:
                data = event
        return data

    def events(self, chunk_rows: int | None) -> Iterator[Any]:
        """`Attempt(n)`, then the walk's records in frames of `chunk_rows` rows (all in one
        frame when None), per walk, then `Extracted(stats)` once a walk is accepted
        (extraction/stream.py). Every frame carries the static statistics in its attrs."""
        pa.default_memory_pool().release_unused()  # what earlier nodes freed, before a big window
        started = time.perf_counter()
        client, shown = self._client, self._client.shown_url
        what = f"{shown} for {self._window[0]}..{self._window[1]}"
        policy = self._consistency
        base = {"retailer_code": self._retailer, "url": shown, "window_start": self._window[0].isoformat(),
                "window_end": self._window[1].isoformat()}
        self._deadline.start()
        transport = self._landing.open(client, self._window)  # the API (pages kept), or the landing set
        try:
            previous, reason = None, ""
            for attempt in range(1, int(policy.max_attempts) + 1):
                yield Attempt(attempt)
                self._landing.begin_attempt()
                extraction = Extraction(client.paging.total_field)
                present: set[str] = set()
                try:
                    pages = pages_in_background(lambda put: self._walk(extraction, present, put),
                                                name=f"{self._retailer}-extraction")
                    for number, frame in enumerate(chunked(pages, chunk_rows, self._fields)):
                        if number == 0:  # the shape is the pages' (chunks add no column): once is enough
                            self._check_shape(frame)
                        frame.attrs["extraction"] = dict(base)
                        yield frame
                    verdict = (self._landing.replayed(extraction) if self._landing.replay
                               else judge(extraction, previous, policy, attempt))
                finally:
                    extraction.release()
                if verdict.how is not None:
                    missing = [name for name in self._fields if name not in present] if extraction.rows else []
                    if missing:
                        self._shape_error(missing)
                    break
                previous, reason = verdict.digests, verdict.reason
                if attempt == int(policy.max_attempts):
                    raise kept_changing(self._retailer, attempt, what, reason)
                log.log(logging.WARNING if verdict.known else logging.INFO,
                        "%s: extraction %d/%d of %s not accepted: %s; extracting again%s", self._retailer,
                        attempt, policy.max_attempts, what, reason,
                        f" in {verdict.wait:.1f}s" if verdict.wait else "")
                self._pause(verdict.wait)
            self._landing.accept(extraction, attempt, verdict.how)
        except BaseException:  # failed, or abandoned by its reader: its pages are no landing set
            self._landing.abort()
            raise
        finally:
            client.close()
        stats = transport.stats
        lines = {"orders": extraction.records, "orders_without_lines": extraction.orders_without_lines} \
            if client.lines else {}
        summary = {
            **base,
            "auth": client.auth.style,
            "paging": client.paging.style,
            "page_size": client.paging.page_size,
            "pages": extraction.pages,
            "requests": stats.requests,
            "retries": stats.retries,
            "source_total": extraction.total,
            "rows": extraction.rows,
            **lines,
            **client.auth.stats(),
            "attempts": attempt,  # extractions made (repeats when the source changed meanwhile)
            "consistency": verdict.how,  # why it is trusted: "data_version" | "verified_reread"
            "data_version": extraction.version,  # the source's version it equals (None unless one held)
            "elapsed_s": round(time.perf_counter() - started, 3),
            "extracted_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            **self._landing.stats(),  # source: api | replay, and the landing set
        }
        log.info("%s: extracted %d records in %d pages (%d requests, %d retries, %d extraction(s), %s) "
                 "from %s in %.1fs", self._retailer, extraction.rows, extraction.pages, stats.requests,
                 stats.retries, attempt, verdict.how, shown, summary["elapsed_s"])
        yield Extracted(summary)

    def _pause(self, seconds: float) -> None:
        """The wait before a consistency repeat, within the extraction's deadline."""
        if not seconds:
            return
        if seconds >= self._deadline.remaining():
            raise self._deadline.exceeded(self._retailer, f"a repeat of the extraction of {self._client.shown_url}")
        self._sleep(seconds)

    def _walk(self, extraction: Extraction, present: set[str], put: Callable[[Page], None]) -> None:
        """One walk over every page; each page becomes columns as it arrives and goes to `put`."""
        client = self._client

        def take(body: dict, number: int) -> None:
            records = body.pop(client.records_key)
            page = page_frame(records, number, self._fields, client.lines, self._retailer)
            del records
            extraction.add(body, page)
            present.update(page.columns)
            put(page)

        extraction.total = client.paging.walk(client.fetch, take, client.shape)

    def _check_shape(self, data: pd.DataFrame) -> None:
        """The declared source fields are all there (values are judged later, record by record)."""
        try:
            self._schema.validate(data, lazy=True)
        except pandera.errors.SchemaErrors as exc:
            self._shape_error(sorted({str(case) for case in exc.failure_cases["failure_case"].head(10)}))

    def _shape_error(self, problems: list[str]) -> None:
        raise DatasetError(
            f"{self._retailer}: the extraction does not have the declared source shape "
            f"(source.fields in conf/base/retailers.yml): {', '.join(problems)}; the API changed its "
            f"field names, or the registry is wrong") from None
