"""The landing writer: taps the API client where each response body arrives and keeps it.

Each page is gzip-compressed (by ISA-L, `isal`) and written at once into the current
extraction's folder (so a window is never held in memory for the landing zone), with what is
needed to serve it again: the request (method, URL with credentials masked, query parameters,
JSON body), the retrieval time, the HTTP status and the headers that matter (the data version,
Link, ...). `begin_attempt()` starts a new folder for every extraction the consistency check
makes (and deletes the rejected one before it); `commit()` makes the accepted extraction the
run date's landing set by writing its index last (landing/zone.py). Thread-safe: pages come
from the client's request threads.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import uuid
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from isal import igzip

from retail_pipeline.extraction.urls import mask_text
from retail_pipeline.landing.zone import PAGES, LandingZone

log = logging.getLogger(__name__)

FORMAT = "retail-landing/1"
# ISA-L's level 2 writes standard gzip (any gzip reader opens it) at ~750 MB/s and ~7x on the
# APIs' JSON; zlib's level 3 (before) gave 7.7x at ~140 MB/s, 6% of the pipeline's CPU.
COMPRESS_LEVEL = 2
# Response headers kept with each page (lower-cased); the data version header is added.
KEPT_HEADERS = ("content-type", "content-encoding", "date", "etag", "last-modified", "link",
                "x-total-count", "x-request-id")


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LandingWriter:
    """Pages of one load's extractions; see the module docstring."""

    def __init__(self, zone: LandingZone, run_date: date, secrets: tuple[str | None, ...],
                 version_header: str | None) -> None:
        self.zone, self.run_date, self.secrets = zone, run_date, secrets
        self.kept = {*KEPT_HEADERS, *((version_header.lower(),) if version_header else ())}
        self._lock = threading.Lock()
        self.folder: str | None = None
        self.attempt = 0
        self.pages: list[dict[str, Any]] = []

    def begin_attempt(self) -> None:
        """A new extraction starts: a new folder; the previous (rejected) one is deleted."""
        with self._lock:
            previous = self.folder
            self.attempt += 1
            self.folder = f"{PAGES}{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}-a{self.attempt}"
            self.pages = []
        if previous:
            self._drop(previous)

    def page(self, method: str, url: str, body: bytes | None, reply: Any) -> None:
        """One response received (the client's tap, extraction/client.py): stored at once."""
        retrieved_at = utc_now()
        content = reply.content
        stored = igzip.compress(content, compresslevel=COMPRESS_LEVEL, mtime=0)
        with self._lock:
            if self.folder is None:
                raise RuntimeError("LandingWriter.begin_attempt() was not called")
            folder, number = self.folder, len(self.pages) + 1
            name = f"{number:06d}.json.gz"
            masked = mask_text(url, self.secrets)
            parts = urlsplit(masked)
            entry = {
                "file": name,
                "request": {"method": method, "url": masked, "params": dict(parse_qsl(parts.query)),
                            "body": None if body is None else mask_text(body.decode(), self.secrets)},
                "retrieved_at": retrieved_at,
                "status": int(reply.status),
                "headers": {k: v for k, v in reply.headers.items() if k.lower() in self.kept},
                "bytes": len(content),
                "stored_bytes": len(stored),
                "sha256": hashlib.sha256(content).hexdigest(),
            }
            self.pages.append(entry)
        self.zone.write(f"{self.zone.day_prefix(self.run_date)}/{folder}/{name}", stored)

    def commit(self, summary: dict[str, Any]) -> dict[str, Any]:
        """The accepted (current) extraction becomes the run date's landing set; its index."""
        pages = sorted(self.pages, key=lambda entry: entry["file"])
        index = {
            "format": FORMAT,
            "retailer_code": self.zone.retailer,
            "run_date": self.run_date.isoformat(),
            **summary,
            "folder": self.folder,
            "attempt": self.attempt,
            "retrieved_at": min((p["retrieved_at"] for p in pages), default=None),
            "completed_at": max((p["retrieved_at"] for p in pages), default=None),
            "committed_at": utc_now(),
            "pages": len(pages),
            "bytes": sum(p["bytes"] for p in pages),
            "stored_bytes": sum(p["stored_bytes"] for p in pages),
            "page_records": pages,
        }
        self.zone.commit_index(self.run_date, index)
        log.info("%s: landing set of %s committed: %d page(s), %d bytes stored (%d served) at %s",
                 self.zone.retailer, self.run_date, len(pages), index["stored_bytes"], index["bytes"],
                 self.zone.shown(self.zone.index_path(self.run_date)))
        return index

    def abort(self) -> None:
        """The extraction failed: its pages are not a landing set; delete them (best effort)."""
        if self.folder:
            self._drop(self.folder)

    def _drop(self, folder: str) -> None:
        try:
            self.zone.remove_folders(self.run_date, only=folder)
        except Exception as exc:  # noqa: BLE001 - the next commit for the day deletes it
            log.warning("%s: could not delete the landing folder %s (%s); the next commit deletes it",
                        self.zone.retailer, folder, exc)
