"""The run's one-line summary (cli_hooks.RunReportHook) counts what the manifests say."""

from __future__ import annotations

from retail_pipeline.cli_hooks import _extracted


class Catalog:
    def __init__(self, manifests: dict):
        self.manifests = manifests

    def load(self, name: str):
        return self.manifests[name.removesuffix(".ingestion_manifest")]


def counts(received: int, quarantined: int) -> dict:
    return {"rows_received": received, "rows_written": received - quarantined, "rows_quarantined": quarantined}


def test_a_retailer_without_a_manifest_is_named_not_counted():
    catalog = Catalog({"retailer_1": counts(10, 1), "retailer_2": None, "retailer_3": counts(5, 0)})
    assert _extracted(catalog, ["retailer_1", "retailer_2", "retailer_3"]) == (
        "2 retailers sent 15 records: 14 to the raw zone, 1 quarantined (no ingestion manifest for retailer_2)")
    assert _extracted(catalog, ["retailer_1", "retailer_2"]) == (
        "retailer_1 sent 10 records: 9 to the raw zone, 1 quarantined (no ingestion manifest for retailer_2)")
    assert _extracted(catalog, ["retailer_3"]) == "retailer_3 sent 5 records: 5 to the raw zone, 0 quarantined"
