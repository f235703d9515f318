"""What a retailer's data response must look like; anything else fails at once, naming the
retailer and the request (a malformed response will not heal by retrying)."""

from __future__ import annotations

from typing import Any, NoReturn

import orjson

from retail_pipeline.extraction.errors import RetailerApiError

# Keys the client adds to a parsed body (never a retailer's own field names).
REQUEST = "__request__"    # the request as shown in errors, e.g. "GET http://.../sales?..."
VERSION = "__version__"    # the data version header's value, or None
URL = "__url__"            # the URL requested (no userinfo), to resolve relative links
LINKS = "__links__"        # the Link header by rel (RFC 8288)


class ResponseShape:
    """Checks one response body: JSON object, records list under `records_key`, `count`
    matching when served, the paging style's fields present; typed access to paging fields."""

    def __init__(self, retailer: str, url: str, records_key: str, count_field: str | None,
                 required: list[str], style: str) -> None:
        self.retailer, self.url = retailer, url
        self.records_key, self.count_field = records_key, count_field
        self.required, self.style = [name for name in required if name], style

    def malformed(self, problem: str, request: str | dict) -> NoReturn:
        where = request if isinstance(request, str) else request.get(REQUEST, self.url)
        raise RetailerApiError(f"{self.retailer}: malformed response from {where}: {problem}")

    def parse(self, content: bytes, request: str, version: str | None = None, url: str = "",
              links: dict[str, str] | None = None) -> dict:
        """The body as a dict, checked; REQUEST, VERSION, URL and LINKS added."""
        try:
            body = orjson.loads(content)
        except orjson.JSONDecodeError as exc:
            self.malformed(f"not JSON ({exc}); first bytes: {content[:80]!r}", request)
        if not isinstance(body, dict):
            self.malformed(f"expected a JSON object envelope, got {type(body).__name__}", request)
        records = body.get(self.records_key)
        if not isinstance(records, list):
            self.malformed(
                f"no list under {self.records_key!r} (keys: {', '.join(map(str, body)) or 'none'})", request)
        if records and not all(isinstance(r, dict) for r in records):
            self.malformed(f"{self.records_key!r} holds something other than JSON objects", request)
        if self.count_field and self.count_field in body:
            count = body[self.count_field]
            if not isinstance(count, int) or isinstance(count, bool) or count != len(records):
                self.malformed(f"{self.count_field!r} is {count!r} but {len(records)} records came", request)
        missing = [name for name in self.required if name not in body]
        if missing:
            self.malformed(f"paging field(s) {', '.join(missing)} missing ({self.style} paging)", request)
        body[REQUEST], body[VERSION], body[URL], body[LINKS] = request, version, url, links or {}
        return body

    def record_count(self, body: dict) -> int:
        return len(body[self.records_key])

    def int_field(self, body: dict, name: str) -> int:
        value = body.get(name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            self.malformed(f"{name!r} should be a non-negative integer, got {value!r}", body)
        return value

    def next(self, body: dict, name: str, kind: type) -> Any:
        value = body.get(name)
        if value is None:
            return None
        if not isinstance(value, kind) or isinstance(value, bool):
            self.malformed(f"{name!r} should be {kind.__name__} or null, got {value!r}", body)
        return value
