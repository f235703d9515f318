-- One page of retailer 4's orders, each with its lines nested, as JSON text built here.
-- Parameters: lo, hi (local dates: [lo, hi) in time zone tz), after_ts (UTC timestamp text or
-- NULL for the first page), after_ref, limit. {version} is the data version expression.
-- Keyset order (placed_at, order_ref); limit + 1 rows are read to know whether more follow.
-- Returns one row: (data version, more?, count, records JSON, last placed_at UTC, last order_ref).
WITH page AS (
    SELECT o.*, row_number() OVER (ORDER BY o.placed_at, o.order_ref) AS rn
    FROM (
        SELECT * FROM orders
        WHERE placed_at >= (%(lo)s::timestamp AT TIME ZONE %(tz)s)
          AND placed_at < (%(hi)s::timestamp AT TIME ZONE %(tz)s)
          AND (%(after_ts)s::timestamp IS NULL
               OR (placed_at, order_ref) > (%(after_ts)s::timestamp AT TIME ZONE 'UTC', %(after_ref)s::text))
        ORDER BY placed_at, order_ref
        LIMIT %(limit)s + 1
    ) o
), shown AS (
    SELECT p.rn, p.placed_at, p.order_ref, row_to_json(r)::text AS record
    FROM page p
    -- Local wall time and its UTC offset (+01:00 in winter, +02:00 in summer in Europe/Paris).
    CROSS JOIN LATERAL (SELECT p.placed_at AT TIME ZONE %(tz)s AS wall) w
    CROSS JOIN LATERAL (SELECT w.wall - (p.placed_at AT TIME ZONE 'UTC') AS off) z
    CROSS JOIN LATERAL (SELECT
        p.order_ref,
        to_char(w.wall, 'YYYY-MM-DD"T"HH24:MI:SS')
            || CASE WHEN z.off < interval '0' THEN '-' || to_char(-z.off, 'HH24:MI')
                    ELSE '+' || to_char(z.off, 'HH24:MI') END AS placed_at,
        p.customer_ref,
        p.shop_ref,
        p.currency,
        coalesce((
            SELECT json_agg(row_to_json(x) ORDER BY l.position)
            FROM order_lines l
            CROSS JOIN LATERAL (SELECT l.line_no, l.sku, l.title, l.family, l.units,
                                       l.unit_price_cents, l.line_total_cents) x
            WHERE l.order_ref = p.order_ref
        ), '[]'::json) AS lines
    ) r
    WHERE p.rn <= %(limit)s
)
SELECT
    {version},
    (SELECT count(*) FROM page) > %(limit)s,
    count(*),
    '[' || coalesce(string_agg(record, ',' ORDER BY rn), '') || ']',
    to_char(max(placed_at) FILTER (WHERE rn = %(limit)s) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'),
    max(order_ref) FILTER (WHERE rn = %(limit)s)
FROM shown
