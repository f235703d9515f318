"""Datasets of our own, declared in the catalog like any other."""

from retail_pipeline.datasets.postgres_star import PostgresStarSchemaDataset  # noqa: E402

__all__ = [*globals().get("__all__", []), "PostgresStarSchemaDataset"]
