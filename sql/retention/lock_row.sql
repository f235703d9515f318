-- The retailer's load_lock row when missing (a load makes it too), so there is a row to lock.
INSERT INTO load_lock (scope) VALUES (%(retailer_code)s) ON CONFLICT (scope) DO NOTHING
