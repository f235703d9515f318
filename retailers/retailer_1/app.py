"""Retailer 1 API: `GET /sales?start_date=&end_date=`, Bearer auth, page-number paging.

Money as JSON numbers, timestamps as ISO 8601 without zone. PostgreSQL builds the page's JSON
(json_agg over the page subquery) and the body is returned as text, never re-parsed in Python.
"""

from __future__ import annotations

from flask import Flask, request

from retailers.common.paging import OffsetPager
from retailers.common.web import (
    DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, base_app, json_text, keys_match, parse_int, parse_window,
    unauthorized,
)

CODE = "retailer_1"

# Records are compact JSON built by row_to_json (numeric stays a JSON number).
RECORD_SQL = """
    SELECT s.order_date, s.order_id, row_to_json(r)::text AS record
    FROM sales s, LATERAL (SELECT
        s.order_id,
        to_char(s.order_date, 'YYYY-MM-DD"T"HH24:MI:SS') AS order_date,
        s.customer_id, s.store_id, s.sku, s.product_name, s.category, s.quantity,
        s.price, s.total, s.discount_percentage, s.payment_method,
        to_char(s.created_at, 'YYYY-MM-DD"T"HH24:MI:SS') AS created_at
    ) r
    WHERE s.order_date >= %(lo)s AND s.order_date < %(hi)s"""

# OFFSET is the contract, but resolving it from the start of the window (and counting the window)
# on every request makes a walk of a big day quadratic. retailers.common.paging keeps, per data
# version and window, the total and the key of every 1000th row: the page starts at the nearest
# bookmark, skips < 1000 index entries (index-only) and is read by keyset from that key.
INDEX_SQL = """
SELECT (SELECT version FROM sales_version), count(*),
       array_agg(order_date ORDER BY rn) FILTER (WHERE (rn - 1) %% %(every)s = 0),
       array_agg(order_id ORDER BY rn) FILTER (WHERE (rn - 1) %% %(every)s = 0)
FROM (SELECT order_date, order_id, row_number() OVER (ORDER BY order_date, order_id) AS rn
      FROM sales WHERE order_date >= %(lo)s AND order_date < %(hi)s) s
"""

PAGE_SQL = """
WITH first_key AS (
    SELECT order_date, order_id FROM sales
    WHERE order_date >= %(lo)s AND order_date < %(hi)s
      AND (order_date, order_id) >= (%(ts)s::timestamp, %(id)s::text)
    ORDER BY order_date, order_id
    OFFSET %(skip)s LIMIT 1
), page AS (""" + RECORD_SQL + """
      AND (s.order_date, s.order_id) >= ((SELECT order_date FROM first_key), (SELECT order_id FROM first_key))
    ORDER BY s.order_date, s.order_id
    LIMIT %(limit)s
)
SELECT
    (SELECT version FROM sales_version),
    count(*),
    '[' || coalesce(string_agg(record, ',' ORDER BY order_date, order_id), '') || ']'
FROM page
"""

# The reference: the page from the start of the window and the window counted, per request.
# Used when the version table is missing or the data keeps changing, and by the tests.
PLAIN_SQL = """
WITH first_key AS (
    SELECT order_date, order_id FROM sales
    WHERE order_date >= %(lo)s AND order_date < %(hi)s
    ORDER BY order_date, order_id
    OFFSET %(offset)s LIMIT 1
), page AS (""" + RECORD_SQL + """
      AND (s.order_date, s.order_id) >= ((SELECT order_date FROM first_key), (SELECT order_id FROM first_key))
    ORDER BY s.order_date, s.order_id
    LIMIT %(limit)s
)
SELECT
    {version},
    (SELECT count(*) FROM sales WHERE order_date >= %(lo)s AND order_date < %(hi)s),
    count(*),
    '[' || coalesce(string_agg(record, ',' ORDER BY order_date, order_id), '') || ']'
FROM page
"""

# The data version, read in the same statement as the page: the X-Data-Version header
# (PAGE_SQL has it inline; PLAIN_SQL's `{version}` is this, or NULL without the version table).
VERSION_SQL = "(SELECT version FROM sales_version)"


def envelope(page: int, page_size: int, total: int, count: int, data: str, code: str = CODE) -> str:
    total_pages = -(-total // page_size)
    return (f'{{"data":{data},"count":{count},"retailer":"{code}","page":{page},'
            f'"page_size":{page_size},"total":{total},"total_pages":{total_pages}}}')


def create_app(database_url: str, api_key: str, code: str = CODE) -> Flask:
    """The app serving this style as retailer `code` (the envelope's and /health's "retailer")."""
    app = base_app(code, database_url)
    pager = OffsetPager(app.extensions["pool"], INDEX_SQL, PAGE_SQL, PLAIN_SQL, VERSION_SQL)
    app.extensions["pager"] = pager

    @app.get("/sales")
    def sales():
        header = request.headers.get("Authorization")
        if not header:
            return unauthorized("missing header: Authorization: Bearer <api key>")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not keys_match(token.strip(), api_key):
            return unauthorized("invalid API key")

        args = request.args
        lo, hi = parse_window(args.get("start_date"), args.get("end_date"), "start_date", "end_date")
        page = parse_int(args.get("page"), "page", 1, 1, 1_000_000_000)
        page_size = parse_int(args.get("page_size"), "page_size", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)

        version, total, count, data = pager.page(lo, hi, (page - 1) * page_size, page_size)
        return json_text(envelope(page, page_size, total, count, data, code), data_version=version)

    return app
