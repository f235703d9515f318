"""The `transformation` pipeline: the window's canonical rows (raw zone) -> star schema.

Staging is per retailer of the registry, in the retailer's namespace (as in ingestion):
`<code>.stage_sales` reads its own `<code>.raw_sales` (the ingestion output, so Kedro and the
Airflow DAG order this pipeline after ingestion) and hands its rows out under undotted names,
`staged_sales_<code>` and `warehouse_quarantine_rows_<code>` (in-memory, passed by reference). Only outputs cross the namespace, so no node reads another namespace's dataset.
`build_star_schema` (global) concatenates the parts once and makes the one warehouse load,
`warehouse_star_schema` (PostgresStarSchemaDataset), saved atomically; dim_retailer comes from
the registry (`params:retailers`).
"""

from kedro.pipeline import Node, Pipeline

from retail_pipeline.registry import retailer_codes

from .nodes import build_star_schema_from_retailers, stage_sales

_RUN = ["params:run_date", "params:lookback_days", "params:run_id"]
_SHARED = ["params:retailers", *_RUN]


def _retailer_template() -> Pipeline:
    return Pipeline([
        Node(
            stage_sales,
            inputs=[*_SHARED, "raw_sales"],
            outputs=["staged_sales", "warehouse_quarantine_rows"],
            name="stage_sales",
        ),
    ])


def _staging(code: str, template: Pipeline) -> Pipeline:
    """One retailer's staging: its datasets namespaced, the run's parameters shared."""
    return Pipeline(
        template,
        namespace=code,
        outputs={"staged_sales": f"staged_sales_{code}",
                 "warehouse_quarantine_rows": f"warehouse_quarantine_rows_{code}"},
        parameters={name: name for name in _SHARED},
    )


def create_pipeline(**kwargs) -> Pipeline:
    template = _retailer_template()
    codes = retailer_codes()
    staging = sum((_staging(code, template) for code in codes), Pipeline([]))
    return staging + Pipeline([
        Node(
            build_star_schema_from_retailers,
            inputs={
                "retailers": "params:retailers", "warehouse": "params:warehouse",
                "run_date": "params:run_date",
                "lookback_days": "params:lookback_days", "run_id": "params:run_id",
                "accept_fact_loss": "params:accept_fact_loss",
                **{f"staged_{code}": f"staged_sales_{code}" for code in codes},
                **{f"quarantine_{code}": f"warehouse_quarantine_rows_{code}" for code in codes},
            },
            outputs="warehouse_star_schema",
            name="build_star_schema",
        ),
    ])
