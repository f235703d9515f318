"""The `ingestion` pipeline: each retailer's API -> normalized, validated -> raw zone + quarantine.

One namespace per retailer (`retailer_1`, ...), one node each: `ingest_sales` (normalize,
validate, split and build the manifest in one node, so no retailer's normalized frame waits in
memory for another node). Its one output, `retailer_N.raw_sales`, commits the window's raw
files, quarantine files and manifest as one unit, so after any failure they agree
(`datasets.raw_zone`); `retailer_N.quarantined_sales` and `retailer_N.ingestion_manifest` are
load-only views of what it wrote. The node is the same function for every retailer, the
datasets and parameters are the retailer's own (`retailer_N.api_sales`,
`params:retailer_N.source`), so the retailers extract in parallel as separate tasks when
scheduled (kedro-airflow groups by namespace). Adding a retailer is configuration: an entry in
settings.RETAILERS, its catalog entry for the API, its parameters and its source model.
"""

from __future__ import annotations

from kedro.pipeline import Pipeline, node

from retail_pipeline.settings import RETAILERS

from .nodes import ingest_sales


def _retailer_template() -> Pipeline:
    return Pipeline(
        [
            node(
                ingest_sales,
                inputs=["api_sales", "params:source", "params:run_id"],
                outputs="raw_sales",
                name="ingest_sales",
            ),
        ]
    )


def create_pipeline(**kwargs) -> Pipeline:
    template = _retailer_template()
    return sum(
        (
            Pipeline(template, namespace=code, parameters={"params:run_id": "params:run_id"})
            for code in RETAILERS
        ),
        Pipeline([]),
    )
