-- The data version of a retailer's table, applied after its schema.sql by retailers.common.db.init_db
-- with {table} replaced by the table's name. It is the simulator's machinery, not the retailer's data.

-- Data version (retailers/common/paging.py): the API caches, per (version, date window), the
-- window's total and a sparse index of its ordering keys, so OFFSET paging costs O(page size).
-- A statement-level trigger bumps the version in the same transaction as any change to {table}
-- (COPY and TRUNCATE included), so the bump becomes visible exactly with the change.
CREATE TABLE IF NOT EXISTS {table}_version (
    one     BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one),
    version BIGINT NOT NULL
);
-- Starts from the clock (microseconds), so a re-created table never reuses an old version.
INSERT INTO {table}_version (one, version)
VALUES (TRUE, (extract(epoch FROM clock_timestamp()) * 1000000)::BIGINT)
ON CONFLICT (one) DO NOTHING;

CREATE OR REPLACE FUNCTION {table}_version_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO {table}_version AS v (one, version)
    VALUES (TRUE, (extract(epoch FROM clock_timestamp()) * 1000000)::BIGINT)
    ON CONFLICT (one) DO UPDATE SET version = v.version + 1;
    RETURN NULL;
END
$$;
