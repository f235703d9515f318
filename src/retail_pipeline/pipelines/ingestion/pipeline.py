"""The `ingestion` pipeline: each retailer's API -> normalized, validated -> raw zone + quarantine.

One namespace per retailer of the registry (its code), one node each: `ingest_sales`
(`ingest_sales_stream`, a generator node: normalize, validate and split each chunk the
extraction streams, then build the manifest, so no retailer's window is ever held whole). Its
one output, `<code>.raw_sales`, is saved once per chunk (appended to staged files) and commits
the window's raw files, quarantine files and manifest as one unit at the end, so after any
failure they agree (`datasets.raw_zone`); `<code>.quarantined_sales` and `<code>.ingestion_manifest` are
load-only views of what it wrote. The node is the same function for every retailer; the
datasets (`<code>.api_sales`, dataset factories) and the registry entry
(`params:retailers.<code>`, as the node's `retailer`) are the retailer's own, so the retailers
extract in parallel as separate tasks when scheduled (kedro-airflow groups by namespace).
Adding a retailer is an entry in conf/base/retailers.yml.
"""

from __future__ import annotations

from kedro.pipeline import Pipeline, node

from retail_pipeline.registry import retailer_codes

from .nodes import ingest_sales_stream

_SHARED = ["params:run_id", "params:ingestion_time"]


def _retailer_template() -> Pipeline:
    return Pipeline(
        [
            node(
                ingest_sales_stream,
                inputs=["api_sales", "params:retailer", *_SHARED],
                outputs="raw_sales",
                name="ingest_sales",
            ),
        ]
    )


def create_pipeline(**kwargs) -> Pipeline:
    template = _retailer_template()
    return sum(
        (
            Pipeline(template, namespace=code,
                     parameters={"params:retailer": f"params:retailers.{code}",
                                 **{name: name for name in _SHARED}})
            for code in retailer_codes()
        ),
        Pipeline([]),
    )
