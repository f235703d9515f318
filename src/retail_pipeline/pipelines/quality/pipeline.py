"""The `quality` pipeline: checks on the warehouse, the zone files and the sources for the run
date, results appended to `dq_check_results`, an HTML report, and a gate that fails the run on
a critical failure.

Per retailer of the registry, in the retailer's namespace (as in ingestion), three nodes read
the retailer's own datasets from catalog_ingestion.yml: `<code>.dq_summarize_zone`
(`.raw_sales`, `.quarantined_sales`: the zone files), `<code>.dq_read_manifest`
(`.ingestion_manifest`) and `<code>.dq_reread_source` (`.source_reread`, the source read again:
`.api_sales` without keeping its pages, with its registry entry `params:retailers.<code>`).
Only their outputs leave the namespace, under undotted names (`dq_zone_counts_<code>`,
`dq_landed_ids_<code>`, `dq_manifest_<code>`, `dq_served_ids_<code>`) that the global checks
read: no node reads another namespace's dataset.
Global inputs: the warehouse queries (`dq_*_query`, SQL files in sql/quality/). Each
retailer's load, `<code>.warehouse_star_schema` (reading it returns its last load audit), is read
by `<code>.dq_after_load`, whose output `dq_loaded_<code>` is an input of `dq_collect_manifests`
and `dq_check_warehouse_ids`, so every check that reads the warehouse runs after the loads.
Outputs: `dq_check_results` (warehouse table), `dq_report` / `dq_report_latest` (HTML).
Thresholds and severities: parameters_quality.yml. When a step fails before the report is
written, `hooks.QualityReportHook` writes one that says so.

A retailer without a manifest for the run date (its extraction failed) does not stop the run:
its manifest loads None, `dq_read_manifest` hands on `NoManifest`, `dq_reread_source` does not
iterate the (lazy) source and hands on `IdsNotRead`, and the checks fail it by name; the other
retailers are checked, the results stored and the report written, then the gate fails the run.
"""

from kedro.pipeline import Node, Pipeline

from retail_pipeline.registry import retailer_codes

from . import nodes

PARAMS = "params:quality"
WINDOW = {"run_date": "params:run_date", "lookback_days": "params:lookback_days"}


def _retailer_template() -> Pipeline:
    """What each retailer's files, manifest and source hold, one retailer at a time.

    Ordered after the retailer's ingestion by data: zone files (the ingestion's output) ->
    manifest -> source re-read. `dq_after_load` reads the retailer's load
    (`warehouse_star_schema` of the namespace: its last load audit) and hands its row count out
    as `dq_loaded_<code>`, which the global checks that read the warehouse take (inputs
    `<code>__loaded`), so they wait for every retailer's load. Nothing else here takes it: the
    load's layer (primary) must not lead back to the intermediate dq_landed_ids / dq_served_ids.
    """
    return Pipeline([
        Node(nodes.after_load, "warehouse_star_schema", "dq_loaded", name="dq_after_load"),
        Node(nodes.summarize_zone, ["raw_sales", "quarantined_sales"],
             ["dq_zone_counts", "dq_landed_ids"], name="dq_summarize_zone"),
        Node(nodes.manifest_after_ingestion,
             {"manifest": "ingestion_manifest", "ingested": "dq_zone_counts"},
             "dq_manifest", name="dq_read_manifest"),
        Node(nodes.source_ids,
             {"api_sales": "source_reread", "retailer": "params:retailer", **WINDOW, "ingested": "dq_manifest"},
             "dq_served_ids", name="dq_reread_source"),
    ])


def _per_retailer(code: str, template: Pipeline) -> Pipeline:
    """The template in `code`'s namespace: its datasets and `params:retailer` (its registry entry)
    are the retailer's, the run window is shared, and only the outputs leave it, undotted
    (`<output>_<code>`)."""
    return Pipeline(
        template,
        namespace=code,
        outputs={name: f"{name}_{code}" for name in
                 ("dq_zone_counts", "dq_landed_ids", "dq_manifest", "dq_served_ids", "dq_loaded")},
        parameters={"params:retailer": f"params:retailers.{code}", **{p: p for p in WINDOW.values()}},
    )


def _query_check(func, query: str, name: str) -> Node:
    """A check of one warehouse query: func(query frame, manifests, params)."""
    return Node(func, [query, "dq_manifests", PARAMS], f"dq_{name}_results", name=f"dq_check_{name}")


CHECKS = ["volume", "completeness", "business_rules", "uniqueness", "fact_id_ranges",
          "product_versions", "referential_integrity", "freshness", "fact_changes", "load_volume_drop",
          "reconciliation", "quarantine_rate", "source_ids", "warehouse_ids"]


def create_pipeline(**kwargs) -> Pipeline:
    codes = retailer_codes()
    landed = {f"{code}__landed": f"dq_landed_ids_{code}" for code in codes}
    served = {f"{code}__served": f"dq_served_ids_{code}" for code in codes}
    loaded = {f"{code}{nodes.LOADED}": f"dq_loaded_{code}" for code in codes}  # order only
    template = _retailer_template()
    per_retailer = sum((_per_retailer(code, template) for code in codes), Pipeline([]))
    return per_retailer + Pipeline(
        [
            Node(nodes.collect_manifests,
                 inputs={**loaded, **{code: f"dq_manifest_{code}" for code in codes}},
                 outputs="dq_manifests", name="dq_collect_manifests"),
            Node(nodes.collect_zone_counts, {code: f"dq_zone_counts_{code}" for code in codes},
                 "dq_zone_counts", name="dq_collect_zone_counts"),
            # warehouse
            Node(nodes.check_volume, ["dq_volume_query", "dq_manifests", "params:run_date", PARAMS],
                 "dq_volume_results", name="dq_check_volume"),
            _query_check(nodes.check_completeness, "dq_completeness_query", "completeness"),
            _query_check(nodes.check_business_rules, "dq_business_rules_query", "business_rules"),
            _query_check(nodes.check_uniqueness, "dq_uniqueness_query", "uniqueness"),
            _query_check(nodes.check_fact_id_ranges, "dq_fact_id_ranges_query", "fact_id_ranges"),
            _query_check(nodes.check_product_versions, "dq_product_versions_query", "product_versions"),
            _query_check(nodes.check_referential_integrity, "dq_referential_integrity_query",
                         "referential_integrity"),
            _query_check(nodes.check_freshness, "dq_freshness_query", "freshness"),
            # what the loads did
            _query_check(nodes.check_fact_changes, "dq_fact_changes_query", "fact_changes"),
            _query_check(nodes.check_load_volume_drop, "dq_load_history_query", "load_volume_drop"),
            # reconciliation: counts and money, then ids
            Node(nodes.check_reconciliation,
                 ["dq_reconciliation_query", "dq_manifests", "dq_zone_counts", PARAMS],
                 "dq_reconciliation_results", name="dq_check_reconciliation"),
            _query_check(nodes.check_quarantine_rate, "dq_reconciliation_query", "quarantine_rate"),
            Node(nodes.check_source_ids, {"params": PARAMS, **WINDOW, **served, **landed},
                 "dq_source_ids_results", name="dq_check_source_ids"),
            Node(nodes.check_warehouse_ids,
                 {"warehouse_ids": "dq_warehouse_ids_query", "params": PARAMS, **WINDOW, **landed, **loaded},
                 "dq_warehouse_ids_results", name="dq_check_warehouse_ids"),
            # results, report, gate
            Node(nodes.assemble_results,
                 ["params:run_id", "params:run_date", *(f"dq_{name}_results" for name in CHECKS)],
                 ["dq_check_results", "dq_results"], name="dq_assemble_results"),
            Node(nodes.render_report, ["dq_results", "dq_volume_query", PARAMS],
                 ["dq_report", "dq_report_latest", "dq_summary"], name="dq_render_report"),
            # Takes dq_summary so that it runs only after the report (and the results, which the
            # report depends on) are saved: a failed gate leaves both behind.
            Node(nodes.quality_gate, ["dq_results", "dq_summary"], None, name="dq_gate"),
        ]
    )
