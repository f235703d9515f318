-- How one run's quality checks went (its dq_check_results rows): for the run's one-line summary.
SELECT count(*),
       count(*) FILTER (WHERE passed),
       count(*) FILTER (WHERE NOT passed AND severity = 'critical')
FROM dq_check_results
WHERE run_id = %(run_id)s;
