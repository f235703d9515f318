-- The warehouse's identity: a random id made once, when this warehouse is created (a rebuilt
-- stack gets a new one). What remembers work done against a warehouse, such as backfill
-- progress, keeps this id (with the database's oid, which template copies do not share) and
-- trusts the memory only against the same warehouse: sql/runs/warehouse_identity.sql.
CREATE TABLE IF NOT EXISTS warehouse_identity (
    singleton    boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    warehouse_id uuid NOT NULL DEFAULT gen_random_uuid(),
    created_at   timestamptz NOT NULL DEFAULT now()
);
INSERT INTO warehouse_identity DEFAULT VALUES ON CONFLICT DO NOTHING;
