-- Quality pipeline results: one row per check, retailer and run, appended by the `quality`
-- pipeline (dataset `dq_check_results`) so trends can be queried. Owned by the quality pipeline.
CREATE TABLE IF NOT EXISTS dq_check_results (
    result_id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id         text             NOT NULL,
    run_date       date             NOT NULL,
    retailer_code  text,                         -- NULL: the check is not about one retailer
    check_name     text             NOT NULL,
    severity       text             NOT NULL CHECK (severity IN ('critical', 'warning', 'info')),
    observed       double precision,
    threshold      double precision,
    passed         boolean          NOT NULL,
    details        jsonb,
    checked_at     timestamptz      NOT NULL DEFAULT now()
);

CREATE INDEX IF NOT EXISTS dq_check_results_run_date_idx ON dq_check_results (run_date, check_name);
CREATE INDEX IF NOT EXISTS dq_check_results_run_id_idx ON dq_check_results (run_id);
CREATE INDEX IF NOT EXISTS dq_check_results_failed_idx ON dq_check_results (run_date) WHERE NOT passed;

COMMENT ON TABLE dq_check_results IS
    'Data-quality check results per run, retailer and check (appended by the Kedro quality pipeline).';

-- BI may read the results (the role is created by the warehouse migrations; skip if absent).
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'bi_reader') THEN
        GRANT SELECT ON dq_check_results TO bi_reader;
    END IF;
END
$$;
