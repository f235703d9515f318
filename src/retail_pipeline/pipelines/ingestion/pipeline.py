"""The `ingestion` pipeline: each retailer's API -> normalized, validated -> raw zone + quarantine.

One namespace per retailer (`retailer_1`, ...), two nodes each: `ingest_sales` (normalize,
validate and split in one node, so no retailer's normalized frame waits in memory for another
node) and `build_manifest`. The nodes are the same functions, the datasets and parameters are
the retailer's own (`retailer_N.api_sales`, `params:retailer_N.source`), so the three extract in
parallel as separate tasks when scheduled (kedro-airflow groups by namespace). Adding a retailer
is configuration: an entry in settings.RETAILERS, its catalog entry for the API, its parameters
and its source model.
"""

from __future__ import annotations

from kedro.pipeline import Pipeline, node

from retail_pipeline.settings import RETAILERS

from .nodes import build_manifest, ingest_sales


def _retailer_template() -> Pipeline:
    return Pipeline(
        [
            node(
                ingest_sales,
                inputs=["api_sales", "params:source", "params:run_id"],
                outputs=["raw_sales", "quarantined_sales", "ingestion_summary", "extraction_stats"],
                name="ingest_sales",
            ),
            node(
                build_manifest,
                inputs=["extraction_stats", "ingestion_summary", "params:run_id"],
                outputs="ingestion_manifest",
                name="build_manifest",
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
