-- The trigger bumping {table}'s data version on any change to {watched} (a table of the
-- same data: {table} itself, or retailer_4's order_lines beside its orders). Applied by
-- retailers.common.db.init_db after data_version.sql, once per watched table.

-- Created only when missing (no lock on {watched} when it is already there).
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_trigger
                   WHERE tgrelid = '{watched}'::regclass AND tgname = '{watched}_version_bump') THEN
        CREATE TRIGGER {watched}_version_bump
            AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {watched}
            FOR EACH STATEMENT EXECUTE FUNCTION {table}_version_bump();
    END IF;
END
$$;
