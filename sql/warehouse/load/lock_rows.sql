-- The load_lock rows of the load's retailers, created on demand (a new retailer's first load);
-- committed before the load's transaction.
INSERT INTO load_lock (scope) SELECT unnest(%(scopes)s::text[]) ON CONFLICT (scope) DO NOTHING
