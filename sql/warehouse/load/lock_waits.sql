-- What the load's backend is waiting for and who holds it (run by the lock watcher from a
-- second connection while the load runs). state/query_start/query of another role's session
-- are NULL unless the loader is a member of pg_read_all_stats.
SELECT w.locktype, w.mode, coalesce(w.relation::regclass::text, '') AS relation,
       w.transactionid::text AS transactionid, left(me.query, 2000) AS waiting_query,
       h.pid, h.usename, h.application_name, h.state, h.query_start, left(h.query, 2000) AS query
FROM pg_locks w
JOIN pg_stat_activity me ON me.pid = w.pid
CROSS JOIN LATERAL (SELECT DISTINCT b FROM unnest(pg_blocking_pids(w.pid)) AS b) AS blockers (pid)
JOIN pg_stat_activity h ON h.pid = blockers.pid
WHERE w.pid = %(pid)s AND NOT w.granted
ORDER BY h.pid
