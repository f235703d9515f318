"""Retention's SQL, one statement per file under sql/retention/, read by name
(`count/fact_sales_id_range`); `{partition}` placeholders become identifiers (psycopg2.sql)."""

from __future__ import annotations

from retail_pipeline.warehouse.sqlfiles import SqlFolder

RETENTION = SqlFolder("retention", "Retention's")
text, statement = RETENTION.text, RETENTION.statement
