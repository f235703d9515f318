"""The warehouse (`retail_analytics`): migrations of sql/warehouse/ and their command.

    python -m retail_pipeline.warehouse migrate [--con URL]
"""

from retail_pipeline.warehouse.migrate import apply_migrations, migration_files

__all__ = ["apply_migrations", "migration_files"]
