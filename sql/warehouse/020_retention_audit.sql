-- Retention (docs/production.md, "Retention"; python -m retail_pipeline.retention).
--
-- retention_audit: one row per thing a retention run removed (a fact partition, the rows of a
-- table for one retailer and day, a zone day's files), written in the same transaction as the
-- removal for the warehouse, right after the deletion for the zones. A run that removes nothing
-- writes nothing.
CREATE TABLE IF NOT EXISTS retention_audit (
    audit_id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    retention_run_id text    NOT NULL,
    keep_days        integer NOT NULL,
    cutoff           date    NOT NULL,     -- days before it were removed
    kind             text    NOT NULL,     -- fact_partition, fact_sales_key, mart_..., zone_raw, ...
    retailer_code    text,                 -- NULL: not about one retailer (dq_check_results)
    day              date    NOT NULL,     -- the business day (the month's first day for the monthly mart)
    target           text    NOT NULL,     -- the partition, table or zone prefix
    removed          bigint  NOT NULL,     -- rows (files for a zone day)
    removed_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS retention_audit_run_idx ON retention_audit (retention_run_id);
CREATE INDEX IF NOT EXISTS retention_audit_day_idx ON retention_audit (retailer_code, day);

-- retention_horizon: per retailer, the days before `removed_before` had their warehouse data
-- removed (facts, keys, marts, quarantine, load audit). A load that covers such a day is
-- refused (the trigger below, on the load's load_audit rows, so the whole load rolls back):
-- its exactly-once keys are gone, so a reload would silently re-create a day retention
-- removed. An operator who wants that day back says so for one run:
--   PGOPTIONS="-c retail.reload_removed_days=on" kedro run --params run_date=...
CREATE TABLE IF NOT EXISTS retention_horizon (
    retailer_code    text PRIMARY KEY,
    removed_before   date NOT NULL,
    retention_run_id text NOT NULL,
    updated_at       timestamptz NOT NULL DEFAULT now()
);

CREATE OR REPLACE FUNCTION retention_refuse_removed_day() RETURNS trigger
LANGUAGE plpgsql AS $f$
DECLARE
    horizon retention_horizon%ROWTYPE;
BEGIN
    IF coalesce(current_setting('retail.reload_removed_days', true), '') = 'on' THEN
        RETURN NEW;
    END IF;
    SELECT * INTO horizon FROM retention_horizon WHERE retailer_code = NEW.retailer_code;
    IF FOUND AND NEW.sale_date < horizon.removed_before THEN
        RAISE EXCEPTION USING
            ERRCODE = 'P0001',
            MESSAGE = format('%s %s was removed by retention (run %s removed the days before %s); '
                             'a load that covers it is refused', NEW.retailer_code, NEW.sale_date,
                             horizon.retention_run_id, horizon.removed_before),
            HINT = format('Run dates whose window starts on %s or later load normally. To load the day '
                          'again on purpose: PGOPTIONS="-c retail.reload_removed_days=on" kedro run ...',
                          horizon.removed_before);
    END IF;
    RETURN NEW;
END
$f$;

DROP TRIGGER IF EXISTS load_audit_retention ON load_audit;
CREATE TRIGGER load_audit_retention BEFORE INSERT ON load_audit
    FOR EACH ROW EXECUTE FUNCTION retention_refuse_removed_day();

GRANT SELECT ON retention_audit, retention_horizon TO bi_reader;
