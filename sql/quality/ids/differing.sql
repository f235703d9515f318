-- DuckDB, over the two sides' ids (views `left_side`, `right_side`: sale_date,
-- transaction_id): every (day, id) whose count differs between the sides, with both counts
-- (a = left, b = right). A missing id counts as ''.
CREATE OR REPLACE TEMP TABLE differing AS
WITH l AS (SELECT sale_date, coalesce(transaction_id, '') AS transaction_id, count(*) AS n
           FROM left_side GROUP BY ALL),
     r AS (SELECT sale_date, coalesce(transaction_id, '') AS transaction_id, count(*) AS n
           FROM right_side GROUP BY ALL)
SELECT coalesce(l.sale_date, r.sale_date) AS sale_date,
       coalesce(l.transaction_id, r.transaction_id) AS transaction_id,
       coalesce(l.n, 0) AS a, coalesce(r.n, 0) AS b
FROM l FULL JOIN r ON l.sale_date = r.sale_date AND l.transaction_id = r.transaction_id
WHERE l.n IS DISTINCT FROM r.n
