"""Retailer 1 API: `GET /sales?start_date=&end_date=`, Bearer auth, page-number paging.

Money as JSON numbers, timestamps as ISO 8601 without zone. PostgreSQL builds the page's JSON
(json_agg over the page subquery) and the body is returned as text, never re-parsed in Python.
"""

from __future__ import annotations

from flask import Flask, request

from retailers.common.web import (
    DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, base_app, json_text, keys_match, parse_int, parse_window,
    unauthorized,
)

CODE = "retailer_1"

# Records are compact JSON built by row_to_json (numeric stays a JSON number).
# OFFSET is the contract, but skipping N full rows is slow on big days: find the page's first
# key with an index-only OFFSET scan, then read the page by keyset from that key (the two
# scalar sub-selects become plan parameters, so the row comparison is an index condition).
PAGE_SQL = """
WITH first_key AS (
    SELECT order_date, order_id FROM sales
    WHERE order_date >= %(lo)s AND order_date < %(hi)s
    ORDER BY order_date, order_id
    OFFSET %(offset)s LIMIT 1
), page AS (
    SELECT s.order_date, s.order_id, row_to_json(r)::text AS record
    FROM sales s, LATERAL (SELECT
        s.order_id,
        to_char(s.order_date, 'YYYY-MM-DD"T"HH24:MI:SS') AS order_date,
        s.customer_id, s.store_id, s.sku, s.product_name, s.category, s.quantity,
        s.price, s.total, s.discount_percentage, s.payment_method,
        to_char(s.created_at, 'YYYY-MM-DD"T"HH24:MI:SS') AS created_at
    ) r
    WHERE s.order_date >= %(lo)s AND s.order_date < %(hi)s
      AND (s.order_date, s.order_id) >= ((SELECT order_date FROM first_key), (SELECT order_id FROM first_key))
    ORDER BY s.order_date, s.order_id
    LIMIT %(limit)s
)
SELECT
    (SELECT count(*) FROM sales WHERE order_date >= %(lo)s AND order_date < %(hi)s),
    count(*),
    '[' || coalesce(string_agg(record, ',' ORDER BY order_date, order_id), '') || ']'
FROM page
"""


def create_app(database_url: str, api_key: str) -> Flask:
    app = base_app(CODE, database_url)
    pool = app.extensions["pool"]

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

        with pool.cursor() as cur:
            cur.execute(PAGE_SQL, {"lo": lo, "hi": hi, "offset": (page - 1) * page_size, "limit": page_size})
            total, count, data = cur.fetchone()
        total_pages = -(-total // page_size)
        return json_text(
            f'{{"data":{data},"count":{count},"retailer":"{CODE}","page":{page},'
            f'"page_size":{page_size},"total":{total},"total_pages":{total_pages}}}'
        )

    return app
