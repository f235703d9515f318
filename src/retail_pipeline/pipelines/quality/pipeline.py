"""The `quality` pipeline: checks on the warehouse for the run date, results appended to
`dq_check_results`, an HTML report, and a gate that fails the run on a critical failure.

Inputs: the ingestion manifests (`retailer_N.ingestion_manifest`), the window's raw and
quarantine zones (`retailer_N.raw_sales`, `retailer_N.quarantined_sales`, counted for
reconciliation), the warehouse queries (`dq_*_query`, SQL files in sql/quality/) and
`warehouse_star_schema` (the transformation's load; an input so the checks run after it). Outputs: `dq_check_results` (warehouse table),
`dq_report` / `dq_report_latest` (HTML). Thresholds and severities: parameters_quality.yml.
"""

from kedro.pipeline import Node, Pipeline

from retail_pipeline.settings import RETAILERS

from . import nodes


def create_pipeline(**kwargs) -> Pipeline:
    params = "params:quality"
    return Pipeline(
        [
            Node(nodes.collect_manifests,
                 inputs={"last_load": "warehouse_star_schema",
                         **{code: f"{code}.ingestion_manifest" for code in RETAILERS}},
                 outputs="dq_manifests", name="dq_collect_manifests"),
            Node(nodes.count_zones,
                 inputs={**{f"{code}__raw": f"{code}.raw_sales" for code in RETAILERS},
                         **{f"{code}__quarantine": f"{code}.quarantined_sales" for code in RETAILERS}},
                 outputs="dq_zone_counts", name="dq_count_zones"),
            Node(nodes.check_volume, ["dq_volume_query", "dq_manifests", "params:run_date", params],
                 "dq_volume_results", name="dq_check_volume"),
            Node(nodes.check_completeness, ["dq_completeness_query", "dq_manifests", params],
                 "dq_completeness_results", name="dq_check_completeness"),
            Node(nodes.check_business_rules, ["dq_business_rules_query", "dq_manifests", params],
                 "dq_business_rules_results", name="dq_check_business_rules"),
            Node(nodes.check_uniqueness, ["dq_uniqueness_query", "dq_manifests", params],
                 "dq_uniqueness_results", name="dq_check_uniqueness"),
            Node(nodes.check_referential_integrity, ["dq_referential_integrity_query", "dq_manifests", params],
                 "dq_referential_integrity_results", name="dq_check_referential_integrity"),
            Node(nodes.check_freshness, ["dq_freshness_query", "dq_manifests", params],
                 "dq_freshness_results", name="dq_check_freshness"),
            Node(nodes.check_reconciliation,
                 ["dq_reconciliation_query", "dq_manifests", "dq_zone_counts", params],
                 "dq_reconciliation_results", name="dq_check_reconciliation"),
            Node(nodes.check_quarantine_rate, ["dq_reconciliation_query", "dq_manifests", params],
                 "dq_quarantine_rate_results", name="dq_check_quarantine_rate"),
            Node(nodes.assemble_results,
                 ["params:run_id", "params:run_date", "dq_volume_results", "dq_completeness_results",
                  "dq_business_rules_results", "dq_uniqueness_results",
                  "dq_referential_integrity_results", "dq_freshness_results",
                  "dq_reconciliation_results", "dq_quarantine_rate_results"],
                 ["dq_check_results", "dq_results"], name="dq_assemble_results"),
            Node(nodes.render_report, ["dq_results", "dq_volume_query", params],
                 ["dq_report", "dq_report_latest", "dq_summary"], name="dq_render_report"),
            # Takes dq_summary so that it runs only after the report (and the results, which the
            # report depends on) are saved: a failed gate leaves both behind.
            Node(nodes.quality_gate, ["dq_results", "dq_summary"], None, name="dq_gate"),
        ]
    )
