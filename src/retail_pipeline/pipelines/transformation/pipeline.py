"""The `transformation` pipeline: the window's canonical rows (raw zone) -> star schema.

Everything is per retailer of the registry, in the retailer's namespace (as in ingestion):
`<code>.stage_sales` reads its own `<code>.raw_sales` (the ingestion output, so Kedro and the
Airflow DAG order this pipeline after ingestion; loaded lazily, in chunks) and hands its rows (`<code>.staged_sales`,
`<code>.warehouse_quarantine_rows`, lazy: staged chunk by chunk while the load reads them) to `<code>.build_star_schema`,
which makes the retailer's own warehouse load, `<code>.warehouse_star_schema`
(PostgresStarSchemaDataset scoped to the retailer, a dataset factory), saved atomically.

Retailers never share a node or a dataset here, and fact_sales is partitioned by retailer, so
their loads are independent: `kedro run --pipeline transformation --namespaces <code>` loads one
retailer, and the Airflow DAG runs one such task per retailer, in parallel; a slow or failed
retailer does not hold back the others' facts. dim_retailer comes from the registry
(`params:retailers.<code>`, the retailer's own entry).
"""

from kedro.pipeline import Node, Pipeline

from retail_pipeline.registry import retailer_codes

from .nodes import build_retailer_star_schema, stage_sales

_RUN = ["params:run_date", "params:lookback_days", "params:run_id"]
_SHARED = ["params:retailers", "params:warehouse", "params:accept_fact_loss", *_RUN]


def _retailer_template() -> Pipeline:
    return Pipeline([
        Node(
            stage_sales,
            inputs=["params:retailers", *_RUN, "raw_sales"],
            outputs=["staged_sales", "warehouse_quarantine_rows"],
            name="stage_sales",
        ),
        Node(
            build_retailer_star_schema,
            inputs={
                "retailer": "params:retailer", "retailers": "params:retailers",
                "warehouse": "params:warehouse", "run_date": "params:run_date",
                "lookback_days": "params:lookback_days", "run_id": "params:run_id",
                "accept_fact_loss": "params:accept_fact_loss",
                "staged": "staged_sales", "quarantine": "warehouse_quarantine_rows",
            },
            outputs="warehouse_star_schema",
            name="build_star_schema",
        ),
    ])


def _retailer(code: str, template: Pipeline) -> Pipeline:
    """One retailer's staging and load: its datasets namespaced (`<code>.*`), its registry entry
    as `params:retailer`, the run's parameters shared."""
    return Pipeline(
        template,
        namespace=code,
        parameters={"params:retailer": f"params:retailers.{code}", **{name: name for name in _SHARED}},
    )


def create_pipeline(**kwargs) -> Pipeline:
    template = _retailer_template()
    return sum((_retailer(code, template) for code in retailer_codes()), Pipeline([]))
