"""Replay: the extraction's transport answered from a landing set instead of the network.

`LandingTransport` stands where `extraction.http.Transport` stands (`ApiClient.open`), so a
replay runs the very same paging walk, response checks (responses.py) and page decoding
(frames.py) as the original extraction, only each response comes from the landing zone: the
request the walk makes is looked up (method, path and query, JSON body) among the landing
set's page records, the stored body is checked against its SHA-256 and served with its
status and headers. No socket is opened. A request the set does not hold means the API
settings (paging, page size, window) differ from the original run's: the replay fails
naming it. An OAuth2 token request is answered with a placeholder token (nothing is sent).
"""

from __future__ import annotations

import gzip
import hashlib
from datetime import date
from typing import Any
from urllib.parse import urlsplit

from retail_pipeline.extraction.errors import RetailerApiError
from retail_pipeline.extraction.http import Reply, Stats
from retail_pipeline.extraction.urls import mask_text
from retail_pipeline.landing.zone import LandingZone
from retail_pipeline.run_window import parse_run_date

REPLAY_TOKEN = b'{"access_token": "landing-replay", "token_type": "Bearer", "expires_in": 86400}'


def request_key(method: str, url: str, body: bytes | str | None) -> tuple[str, str, str]:
    """What identifies a page request whatever the host: method, path?query, body."""
    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    text = body.decode() if isinstance(body, bytes) else (body or "")
    return method.upper(), target, text


def _origin(url: str) -> str:
    """scheme://host[:port], without userinfo (recorded URLs are masked)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}"


class LandingTransport:
    """Serves a landing set's pages to `ApiClient.fetch` (see the module docstring)."""

    def __init__(self, zone: LandingZone, index: dict[str, Any], secrets: tuple[str | None, ...] = ()) -> None:
        self.zone, self.index, self.secrets = zone, index, secrets
        self.retailer = zone.retailer
        self.stats = Stats()  # no HTTP request is made: requests stays 0
        self.served = 0
        folder = f"{zone.day_prefix(_run_date(index))}/{index['folder']}"
        self._pages = {request_key(p["request"]["method"], p["request"]["url"], p["request"]["body"]):
                       (f"{folder}/{p['file']}", p) for p in index["page_records"]}

    def mask(self, text: str) -> str:
        return mask_text(text, self.secrets)

    def close(self) -> None:
        self._pages.clear()

    def request(self, method: str, url: str, *, headers: dict[str, str], body: bytes | None = None,
                shown: str, counted: bool = True) -> Reply:
        if not counted:  # the OAuth2 token request: nothing to ask anybody for
            return Reply(200, {"Content-Type": "application/json"}, REPLAY_TOKEN, shown)
        text = None if body is None else self.mask(body.decode())
        found = self._pages.get(request_key(method, self.mask(url), text))  # recorded masked
        if found is None:
            raise RetailerApiError(
                f"{self.retailer}: replay: the landing set of {self.index['run_date']} "
                f"({self.zone.shown(self.zone.index_path(_run_date(self.index)))}) has no page for {shown}; "
                f"the API settings (paging, page size, window) must be the original run's "
                f"(window {self.index['window_start']}..{self.index['window_end']})")
        path, record = found
        content = gzip.decompress(self.zone.read(path))
        if hashlib.sha256(content).hexdigest() != record["sha256"]:
            raise RetailerApiError(f"{self.retailer}: replay: {self.zone.shown(path)} does not match its "
                                   f"SHA-256 in the landing index (damaged); it cannot be replayed")
        self.served += 1
        return Reply(int(record["status"]), _headers(record, _origin(url)), content, shown)


def _headers(record: dict[str, Any], origin: str) -> dict[str, str]:
    """The stored headers; an absolute Link on the original host is made relative to this one
    (the API may have moved since, and the walk keeps to the configured host)."""
    recorded = _origin(record["request"]["url"])
    headers = dict(record["headers"])
    for name, value in headers.items():
        if name.lower() == "link" and recorded != origin:
            headers[name] = value.replace(f"<{recorded}/", "</")
    return _Caseless(headers)


class _Caseless(dict):
    """Header lookup without regard to case, as urllib3's HTTPHeaderDict."""

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        lowered = key.lower()
        for name, value in self.items():
            if name.lower() == lowered:
                return value
        return default


def _run_date(index: dict[str, Any]) -> date:
    return parse_run_date(index["run_date"])
