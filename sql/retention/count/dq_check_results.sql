-- What retention would remove from dq_check_results: rows per day before the cutoff (delete/dq_check_results.sql removes them).
SELECT run_date AS day, count(*) AS rows
FROM dq_check_results
WHERE run_date < %(cutoff)s
GROUP BY 1 ORDER BY 1
