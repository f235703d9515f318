-- Retention: dq_check_results's rows before the cutoff, counted per day as count/dq_check_results.sql counts them.
WITH removed AS (
    DELETE FROM dq_check_results
    WHERE run_date < %(cutoff)s
    RETURNING run_date
)
SELECT run_date AS day, count(*) AS rows FROM removed GROUP BY 1 ORDER BY 1
