"""The quality pipeline's nodes: pure functions of DataFrames, dicts and parameters.

One module per family of checks; this module gathers them for `pipeline.py` and the tests:

* `results`: the result row every check returns, and shared helpers;
* `warehouse_checks`: volume, completeness, business rules, uniqueness over all of history,
  fact_sales_id_range coverage, referential integrity, freshness;
* `load_checks`: facts that disappeared or moved, a day's volume drop between two loads;
* `reconciliation`: manifests and zone files by counts and money, quarantine rate;
* `id_checks`: the same by transaction ids: source re-read vs zone files, zone vs warehouse;
* `reporting`: results, report and gate.

The queries that feed them are SQL files in ``sql/quality/`` loaded through catalog datasets;
thresholds and severities come from ``parameters_quality.yml``.
"""

from __future__ import annotations

from .id_checks import check_source_ids, check_warehouse_ids, source_ids
from .load_checks import check_fact_changes, check_load_volume_drop
from .reconciliation import (
    LOADED,
    after_load,
    check_quarantine_rate,
    check_reconciliation,
    collect_manifests,
    collect_zone_counts,
    manifest_after_ingestion,
    summarize_zone,
)
from .reporting import assemble_results, failed_checks, quality_gate, render_report, summarize
from .results import RESULT_COLUMNS, SEVERITIES, DataQualityError, result
from .warehouse_checks import (
    BUSINESS_RULES,
    check_business_rules,
    check_completeness,
    check_fact_id_ranges,
    check_freshness,
    check_product_versions,
    check_referential_integrity,
    check_uniqueness,
    check_volume,
)

__all__ = [
    "BUSINESS_RULES", "LOADED", "RESULT_COLUMNS", "SEVERITIES", "DataQualityError", "after_load", "assemble_results",
    "check_business_rules", "check_completeness", "check_fact_changes", "check_fact_id_ranges",
    "check_freshness", "check_load_volume_drop", "check_product_versions", "check_quarantine_rate", "check_reconciliation",
    "check_referential_integrity", "check_source_ids", "check_uniqueness", "check_volume",
    "check_warehouse_ids", "collect_manifests", "collect_zone_counts", "failed_checks",
    "manifest_after_ingestion", "quality_gate", "render_report", "result", "source_ids", "summarize",
    "summarize_zone",
]
