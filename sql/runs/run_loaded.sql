-- What one run loaded into the warehouse (its load_audit rows): for the run's one-line summary.
SELECT coalesce(sum(rows_loaded), 0), coalesce(sum(rows_quarantined), 0)
FROM load_audit
WHERE run_id = %(run_id)s;
