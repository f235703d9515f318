"""Paging styles (`api.paging.style`): one walk over every page of a date window.

- `page_number`: the first page gives `total` and `total_pages`; the rest are requested
  `concurrency` at a time, in order.
- `offset`: `next_offset` is followed (or, with `concurrency` > 1 and a `total`, the offsets are
  requested `concurrency` at a time); it must be the offset plus the page's records.
- `cursor`: `next_cursor` is followed; a cursor returned twice is an error.
- `next_link`: the URL of the RFC 8288 `Link: <...>; rel="next"` header is followed (page size
  chosen by the server); it must stay on the API's host and never lead back to a page seen.
Paging metadata that contradicts itself (`total_pages` that `total` and the page size cannot
give, a next position that does not move forward, a page without records that announces
another) fails the walk at once: following it could mean thousands of requests or a loop.
The next request is in flight while a page is turned into columns; each response body goes to
`take(body, page_number)` in page order. Whether the walk saw one consistent state of the source
is judged elsewhere (extraction/consistency.py). A new style: a `Paging` subclass registered
with `@PAGING.register("name")` (extraction/styles.py).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from itertools import islice
from typing import Any
from urllib.parse import urljoin

from retail_pipeline.extraction.errors import RetailerApiError
from retail_pipeline.extraction.responses import LINKS, URL, ResponseShape
from retail_pipeline.extraction.styles import Styles
from retail_pipeline.extraction.urls import origin

MAX_PAGES = 1_000_000

Fetch = Callable[..., dict]  # fetch(params: dict, url: str | None = None) -> checked body
Take = Callable[[dict, int], None]
Follow = Callable[[dict, int], "tuple[dict, str | None] | None"]


class Paging:
    """Base class: configuration (`config`, with the style's defaults) and the shared walks."""

    style = "base"
    defaults: dict[str, Any] = {}

    def __init__(self, retailer: str, config: dict[str, Any], concurrency: int = 1, params_in: str = "query") -> None:
        self.retailer, self.concurrency = retailer, max(1, int(concurrency))
        options = {key: value for key, value in config.items() if key != "style"}
        self.config = {"page_size": 10_000, "in": params_in, **self.defaults, **options}

    @property
    def page_size(self) -> int | None:
        size = self.config.get("page_size")
        return None if size is None else int(size)

    @property
    def total_field(self) -> str | None:
        return self.config.get("total_field")

    def required_fields(self) -> list[str]:
        """Body fields every response must carry."""
        return []

    def walk(self, fetch: Fetch, take: Take, shape: ResponseShape) -> int | None:
        """Walk every page; returns the source's total as the first page stated it (or None)."""
        raise NotImplementedError

    # -- shared pieces ---------------------------------------------------------------------------
    def params(self, **position: Any) -> dict[str, Any]:
        size_param = self.config.get("size_param")
        return {**position, **({size_param: self.page_size} if size_param and self.page_size else {})}

    def check_page_count(self, pages: int, shape: ResponseShape) -> None:
        if pages >= MAX_PAGES:
            raise RetailerApiError(f"{self.retailer}: more than {MAX_PAGES} pages from {shape.url}; stopping")

    def sequential(self, fetch: Fetch, first: tuple[dict, str | None] | dict, follow: Follow, take: Take,
                   shape: ResponseShape) -> dict:
        """Request after request, each position given by `follow(body, number)` (None: the
        last page); the next request is in flight while `take` runs. `first` is the first
        request (params, url) or its body already fetched. Returns the first body."""
        number, first_body = 0, None
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix=self.retailer) as pool:
            if isinstance(first, dict):
                pending: Future | None = Future()
                pending.set_result(first)
            else:
                pending = pool.submit(fetch, *first)
            while pending is not None:
                body = pending.result()
                first_body = body if first_body is None else first_body
                number += 1
                following, pending = follow(body, number), None
                if following is not None:
                    self.check_page_count(number, shape)
                    pending = pool.submit(fetch, *following)
                take(body, number)
        return first_body

    def fetch_many(self, fetch: Fetch, pages: list[dict]) -> Iterator[dict]:
        """Responses in page order; up to `concurrency` requests in flight, so memory stays at
        a few pages of parsed JSON whatever the window's size."""
        if self.concurrency == 1 or len(pages) < 2:
            for paging in pages:
                yield fetch(paging)
            return
        with ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix=self.retailer) as pool:
            todo = iter(pages)
            pending: deque[Future] = deque(pool.submit(fetch, paging) for paging in islice(todo, self.concurrency))
            try:
                while pending:
                    body = pending.popleft().result()
                    # refill before handing the page over, so `concurrency` requests stay in
                    # flight while the caller turns this one into columns (and never more: a
                    # second submission per page would read the window ahead into memory)
                    following = next(todo, None)
                    if following is not None:
                        pending.append(pool.submit(fetch, following))
                    yield body
            finally:
                for future in pending:
                    future.cancel()


PAGING: Styles[Paging] = Styles("paging")


@PAGING.register("page_number")
class PageNumberPaging(Paging):
    defaults = {"page_param": "page", "size_param": "page_size", "first_page": 1,
                "total_field": "total", "total_pages_field": "total_pages"}

    def required_fields(self) -> list[str]:
        return [self.config["total_field"], self.config["total_pages_field"]]

    def walk(self, fetch: Fetch, take: Take, shape: ResponseShape) -> int:
        first, param = int(self.config["first_page"]), self.config["page_param"]
        body = fetch(self.params(**{param: first}))
        total = shape.int_field(body, self.config["total_field"])
        total_pages = shape.int_field(body, self.config["total_pages_field"])
        served = shape.record_count(body)
        # The first page is full unless it is the only one, so it gives the server's page size:
        # more pages than `total` needs at that size cannot be (a total that moved between the
        # count and the page is the consistency check's business, extraction/consistency.py).
        if total_pages > (max(1, math.ceil(total / served)) if served else 1):
            shape.malformed(f"inconsistent paging metadata: {self.config['total_pages_field']}={total_pages} "
                            f"with {self.config['total_field']}={total} and {served} records on the first page", body)
        self.check_page_count(total_pages - 1, shape)
        take(body, 1)
        rest = [self.params(**{param: first + i}) for i in range(1, total_pages)]
        for number, page in enumerate(self.fetch_many(fetch, rest), start=2):
            take(page, number)
        return total


@PAGING.register("offset")
class OffsetPaging(Paging):
    defaults = {"offset_param": "offset", "size_param": "limit", "next_field": "next_offset", "total_field": "total"}

    def required_fields(self) -> list[str]:
        return [name for name in (self.config["next_field"], self.total_field) if name]

    def _next(self, body: dict, offset: int, total: int | None, shape: ResponseShape) -> int | None:
        following = shape.next(body, self.config["next_field"], int)
        served = shape.record_count(body)
        if following is not None and (following != offset + served or not served
                                      or (total is not None and following >= total)):
            shape.malformed(f"inconsistent paging metadata: {self.config['next_field']}={following} after "
                            f"{served} records at offset {offset}" + (f" of total {total}" if total is not None else ""),
                            body)
        return following

    def walk(self, fetch: Fetch, take: Take, shape: ResponseShape) -> int | None:
        param = self.config["offset_param"]
        body = fetch(self.params(**{param: 0}))
        total = shape.int_field(body, self.total_field) if self.total_field else None
        next_offset = self._next(body, 0, total, shape)
        if self.concurrency > 1 and total is not None and next_offset is not None:
            take(body, 1)
            rest = [self.params(**{param: off}) for off in range(next_offset, total, next_offset)]
            self.check_page_count(len(rest), shape)
            for number, page in enumerate(self.fetch_many(fetch, rest), start=2):
                take(page, number)
            return total
        offsets = {1: 0}  # page number -> the offset it was requested at

        def follow(page: dict, number: int) -> tuple[dict, None] | None:
            following = self._next(page, offsets[number], total, shape)
            if following is None:
                return None
            offsets[number + 1] = following
            return self.params(**{param: following}), None

        self.sequential(fetch, body, follow, take, shape)
        return total


@PAGING.register("cursor")
class CursorPaging(Paging):
    defaults = {"cursor_param": "cursor", "size_param": "limit", "next_field": "next_cursor", "total_field": None}

    def required_fields(self) -> list[str]:
        return [name for name in (self.config["next_field"], self.total_field) if name]

    def walk(self, fetch: Fetch, take: Take, shape: ResponseShape) -> int | None:
        param, next_field, seen = self.config["cursor_param"], self.config["next_field"], set()

        def follow(body: dict, number: int) -> tuple[dict, None] | None:
            cursor = shape.next(body, next_field, str)
            if cursor is None:
                return None
            if cursor in seen:
                shape.malformed(f"inconsistent paging metadata: {next_field} repeated a cursor it had already "
                                f"returned", body)
            if not shape.record_count(body):
                shape.malformed(f"inconsistent paging metadata: a page without records but a {next_field}", body)
            seen.add(cursor)
            return self.params(**{param: cursor}), None

        first = self.sequential(fetch, (self.params(), None), follow, take, shape)
        return shape.int_field(first, self.total_field) if self.total_field else None


@PAGING.register("next_link")
class NextLinkPaging(Paging):
    """RFC 8288 `Link: <url>; rel="next"`; no page size unless `size_param` is configured."""

    defaults = {"rel": "next", "page_size": None}

    def walk(self, fetch: Fetch, take: Take, shape: ResponseShape) -> None:
        seen: set[str] = set()

        def follow(body: dict, number: int) -> tuple[dict, str] | None:
            seen.add(body[URL])
            link = body[LINKS].get(self.config["rel"])
            if link is None:
                return None
            url = urljoin(body[URL], link)
            if origin(url) != origin(body[URL]):
                shape.malformed(f"the next link leads to another host ({origin(url)[1]}:{origin(url)[2]}); "
                                f"credentials are only sent to the configured base_url", body)
            if url in seen:
                shape.malformed("inconsistent paging metadata: the next link leads back to a page already read", body)
            if not shape.record_count(body):
                shape.malformed("inconsistent paging metadata: a page without records but a next link", body)
            return {}, url

        self.sequential(fetch, (self.params(), None), follow, take, shape)
        return None
