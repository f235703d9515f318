-- Rows the warehouse could not load, and one audit row per retailer and day per load.
CREATE TABLE IF NOT EXISTS warehouse_quarantine (
    quarantine_id  bigserial PRIMARY KEY,
    run_id         text NOT NULL,
    retailer_code  text NOT NULL,
    transaction_id text,
    sale_date      date NOT NULL,
    reason         text NOT NULL,
    record         jsonb NOT NULL,
    quarantined_at timestamptz NOT NULL DEFAULT now()
);
-- A rerun of a day replaces that day's quarantine rows, as it replaces its facts.
CREATE INDEX IF NOT EXISTS warehouse_quarantine_day_idx
    ON warehouse_quarantine (sale_date, retailer_code);

CREATE TABLE IF NOT EXISTS load_audit (
    run_id              text NOT NULL,
    retailer_code       text NOT NULL,
    sale_date           date NOT NULL,
    rows_loaded         bigint NOT NULL,
    total_amount_loaded numeric(16, 2) NOT NULL,
    rows_quarantined    bigint NOT NULL,
    loaded_at           timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, retailer_code, sale_date)
);
CREATE INDEX IF NOT EXISTS load_audit_day_idx ON load_audit (retailer_code, sale_date, loaded_at);
