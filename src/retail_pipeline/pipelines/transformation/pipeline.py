"""The `transformation` pipeline: the window's canonical rows (raw zone) -> star schema.

Inputs are the ingestion outputs `retailer_N.raw_sales`, so Kedro (and the Airflow DAG it
generates) orders this pipeline after ingestion. The warehouse load is one catalog dataset,
`warehouse_star_schema` (PostgresStarSchemaDataset), saved atomically.
"""

from kedro.pipeline import Node, Pipeline

from retail_pipeline.settings import RETAILERS

from .nodes import build_star_schema, stage_sales

_RUN = ["params:run_date", "params:lookback_days", "params:run_id"]


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline([
        Node(
            stage_sales,
            inputs=["params:warehouse", *_RUN, *(f"{code}.raw_sales" for code in RETAILERS)],
            outputs=["staged_sales", "warehouse_quarantine_rows"],
            name="stage_sales",
        ),
        Node(
            build_star_schema,
            inputs=["staged_sales", "warehouse_quarantine_rows", "params:warehouse", *_RUN],
            outputs="warehouse_star_schema",
            name="build_star_schema",
        ),
    ])
