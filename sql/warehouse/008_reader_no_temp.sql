-- bi_reader creates nothing, temporary tables included. PostgreSQL grants TEMPORARY on every
-- database to PUBLIC by default; take it back (retail_loader, the owner, keeps its own).
-- CREATE on the database and on schema public is already withheld (005_grants.sql).
DO $$
BEGIN
    EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC', current_database());
    EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM bi_reader', current_database());
END
$$;
