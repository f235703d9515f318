"""Retailer 2 API: `GET /transactions?from=&to=`, X-API-Key auth, offset/limit paging.

Money as strings exactly as stored (the column is text at source), `date` as
'YYYY-MM-DD HH:MM:SS'. PostgreSQL builds the page's JSON; Python only wraps the envelope.
"""

from __future__ import annotations

from flask import Flask, request

from retailers.common.web import (
    DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, base_app, json_text, keys_match, parse_int, parse_window,
    unauthorized,
)

CODE = "retailer_2"

# Same trick as retailer 1: the offset is resolved on the index only, the page read by keyset.
PAGE_SQL = """
WITH first_key AS (
    SELECT "date", transaction_number FROM transactions
    WHERE "date" >= %(lo)s AND "date" < %(hi)s
    ORDER BY "date", transaction_number
    OFFSET %(offset)s LIMIT 1
), page AS (
    SELECT t."date", t.transaction_number, row_to_json(r)::text AS record
    FROM transactions t, LATERAL (SELECT
        t.transaction_number,
        to_char(t."date", 'YYYY-MM-DD HH24:MI:SS') AS "date",
        t.member_id, t.location_id, t.item_code, t.item_name, t.department, t.qty,
        t.unit_cost, t.amount, t.tax_amount, t.loyalty_points_earned, t.promotion_code,
        t.sales_rep_id
    ) r
    WHERE t."date" >= %(lo)s AND t."date" < %(hi)s
      AND (t."date", t.transaction_number) >= ((SELECT "date" FROM first_key), (SELECT transaction_number FROM first_key))
    ORDER BY t."date", t.transaction_number
    LIMIT %(limit)s
)
SELECT
    (SELECT count(*) FROM transactions WHERE "date" >= %(lo)s AND "date" < %(hi)s),
    count(*),
    '[' || coalesce(string_agg(record, ',' ORDER BY "date", transaction_number), '') || ']'
FROM page
"""


def create_app(database_url: str, api_key: str) -> Flask:
    app = base_app(CODE, database_url)
    pool = app.extensions["pool"]

    @app.get("/transactions")
    def transactions():
        presented = request.headers.get("X-API-Key")
        if not presented:
            return unauthorized("missing header: X-API-Key: <api key>")
        if not keys_match(presented, api_key):
            return unauthorized("invalid API key")

        args = request.args
        lo, hi = parse_window(args.get("from"), args.get("to"), "from", "to")
        offset = parse_int(args.get("offset"), "offset", 0, 0, 10**15)
        limit = parse_int(args.get("limit"), "limit", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)

        with pool.cursor() as cur:
            cur.execute(PAGE_SQL, {"lo": lo, "hi": hi, "offset": offset, "limit": limit})
            total, count, data = cur.fetchone()
        next_offset = offset + count if offset + count < total else None
        return json_text(
            f'{{"transactions":{data},"count":{count},"retailer":"{CODE}",'
            f'"next_offset":{"null" if next_offset is None else next_offset},"total":{total}}}'
        )

    return app
