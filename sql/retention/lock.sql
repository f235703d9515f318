-- The retailer's load lock (sql/warehouse/load/lock.sql): retention and that retailer's loads
-- take turns; other retailers' loads go on.
SELECT scope FROM load_lock WHERE scope = %(retailer_code)s FOR UPDATE
