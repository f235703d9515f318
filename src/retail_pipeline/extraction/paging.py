"""One walk over every page of a date window, in the retailer's paging style.

- page number: the first page gives `total_pages`; the rest are requested `concurrency` at a
  time, in order.
- offset: `next_offset` is followed (or, with `concurrency` > 1 and a `total`, the offsets are
  requested `concurrency` at a time); it must move forward.
- cursor: `next_cursor` is followed; a cursor returned twice is an error.
The next request is in flight while a page is turned into columns. Each response body is handed
to `take(body, page_number)` in page order. Whether the walk saw one consistent state of the
source is not judged here (extraction/consistency.py).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from retail_pipeline.extraction.errors import RetailerApiError
from retail_pipeline.extraction.responses import ResponseShape

MAX_PAGES = 1_000_000

Fetch = Callable[[dict[str, Any]], dict]
Take = Callable[[dict, int], None]


class PageWalk:
    """Walks a window once; `fetch(params)` does one request (with retries) and returns the
    checked body, `take` consumes each body in page order."""

    def __init__(self, retailer: str, paging: dict[str, Any], shape: ResponseShape, fetch: Fetch,
                 concurrency: int = 1) -> None:
        self.retailer, self.paging, self.shape = retailer, paging, shape
        self.fetch, self.concurrency = fetch, max(1, int(concurrency))

    def run(self, take: Take) -> int | None:
        """Walk every page; returns the source's total as the first page stated it (None for
        styles without one)."""
        style = self.paging["style"]
        if style == "page":
            return self._pages(take)
        if style == "offset":
            return self._offsets(take)
        return self._cursors(take)

    def _params(self, **position: Any) -> dict[str, Any]:
        return {**position, self.paging["size_param"]: int(self.paging["page_size"])}

    def _pages(self, take: Take) -> int:
        first, param = int(self.paging["first_page"]), self.paging["page_param"]
        body = self.fetch(self._params(**{param: first}))
        total = self.shape.int_field(body, self.paging["total_field"])
        total_pages = self.shape.int_field(body, self.paging["total_pages_field"])
        self._check_page_count(total_pages - 1)
        take(body, 1)
        rest = [self._params(**{param: first + i}) for i in range(1, total_pages)]
        for number, page in enumerate(self._fetch_many(rest), start=2):
            take(page, number)
        return total

    def _offsets(self, take: Take) -> int | None:
        offset_param, next_field = self.paging["offset_param"], self.paging["next_field"]
        total_field, size = self.paging.get("total_field"), int(self.paging["page_size"])
        body = self.fetch(self._params(**{offset_param: 0}))
        total = self.shape.int_field(body, total_field) if total_field else None
        next_offset = self.shape.next(body, next_field, int)
        take(body, 1)
        if self.concurrency > 1 and total is not None and next_offset is not None:
            rest = [self._params(**{offset_param: off}) for off in range(next_offset, total, size)]
            self._check_page_count(len(rest))
            for number, page in enumerate(self._fetch_many(rest), start=2):
                take(page, number)
            return total
        # Sequential: the next request is in flight while this page is taken.
        number = 1
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix=self.retailer) as pool:
            pending = None
            if next_offset is not None:
                pending = pool.submit(self.fetch, self._params(**{offset_param: next_offset}))
            while pending is not None:
                body = pending.result()
                following = self.shape.next(body, next_field, int)
                if following is not None and following <= next_offset:
                    self.shape.malformed(f"{next_field} went backwards ({next_offset} -> {following})", body)
                next_offset, pending, number = following, None, number + 1
                if next_offset is not None:
                    self._check_page_count(number)
                    pending = pool.submit(self.fetch, self._params(**{offset_param: next_offset}))
                take(body, number)
        return total

    def _cursors(self, take: Take) -> int | None:
        cursor_param, next_field = self.paging["cursor_param"], self.paging["next_field"]
        seen: set[str] = set()

        def request(cursor: str | None) -> dict:
            return self.fetch(self._params(**({cursor_param: cursor} if cursor is not None else {})))

        number, first = 0, None
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix=self.retailer) as pool:
            pending = pool.submit(request, None)
            while pending is not None:
                body = pending.result()
                first = body if first is None else first
                cursor, pending, number = self.shape.next(body, next_field, str), None, number + 1
                if cursor is not None:
                    if cursor in seen:
                        self.shape.malformed(f"{next_field} repeated a cursor it had already returned", body)
                    seen.add(cursor)
                    self._check_page_count(number)
                    pending = pool.submit(request, cursor)
                take(body, number)
        total_field = self.paging.get("total_field")
        return self.shape.int_field(first, total_field) if total_field else None

    def _check_page_count(self, pages: int) -> None:
        if pages >= MAX_PAGES:
            raise RetailerApiError(f"{self.retailer}: more than {MAX_PAGES} pages from {self.shape.url}; stopping")

    def _fetch_many(self, pages: list[dict]) -> Iterator[dict]:
        """Responses in page order; up to `concurrency` requests in flight, so memory stays at
        a few pages of parsed JSON whatever the window's size."""
        if self.concurrency == 1 or len(pages) < 2:
            for paging in pages:
                yield self.fetch(paging)
            return
        with ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix=self.retailer) as pool:
            pending: deque[Future] = deque()
            todo = iter(pages)
            try:
                for paging in todo:
                    pending.append(pool.submit(self.fetch, paging))
                    if len(pending) >= self.concurrency:
                        body = pending.popleft().result()
                        # refill before handing the page over, so `concurrency` requests stay
                        # in flight while the caller turns this one into columns
                        following = next(todo, None)
                        if following is not None:
                            pending.append(pool.submit(self.fetch, following))
                        yield body
                while pending:
                    yield pending.popleft().result()
            finally:
                for future in pending:
                    future.cancel()
