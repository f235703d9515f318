"""Apply sql/warehouse/NNN_*.sql in order, once each, recorded in `schema_version`.

Each file runs in its own transaction together with its `schema_version` row, under a
transaction-level advisory lock, so concurrent callers (`make up`, tests, Airflow) serialise
and a failing file leaves nothing half-applied. Files 001-099 belong to the warehouse
(transformation), 100+ to the quality checks. The files are written to be idempotent too.

A file may name the sale rules as `{{max_unit_price}}` placeholders, rendered from
`schemas.rules.SALE_RULES` (so the warehouse's CHECK constraints are the rules ingestion
applies, stated once). Such a file is written to be re-runnable, and is applied again when the
rules it renders change (`schema_version.rendered_checksum`), so the warehouse never enforces
older bounds than ingestion. Editing a file after it was applied is still only warned about:
schema changes go in a new numbered file.
"""

from __future__ import annotations

import hashlib
import logging
import re
from pathlib import Path

import psycopg2

from retail_pipeline.schemas.rules import SALE_RULES

logger = logging.getLogger(__name__)

SQL_DIR = Path(__file__).resolve().parents[3] / "sql" / "warehouse"
_FILE = re.compile(r"^(\d{3})_[\w-]+\.sql$")
_LOCK_KEY = 72_501_001  # pg_advisory_xact_lock key for migrations
_PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")

_SCHEMA_VERSION = """
CREATE TABLE IF NOT EXISTS schema_version (
    version    text PRIMARY KEY,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE schema_version ADD COLUMN IF NOT EXISTS rendered_checksum text
"""


class MigrationError(RuntimeError):
    """A migration file failed; the message names the file and the server's error."""


def to_dsn(con: str) -> str:
    """A libpq URL from a SQLAlchemy one (`postgresql+psycopg2://` -> `postgresql://`)."""
    return re.sub(r"^postgresql\+\w+://", "postgresql://", con)


def migration_files(sql_dir: Path | str = SQL_DIR) -> list[Path]:
    """The migration files in apply order; refuses two files with one number."""
    files = sorted(p for p in Path(sql_dir).iterdir() if _FILE.match(p.name))
    numbers = [p.name[:3] for p in files]
    dupes = sorted({n for n in numbers if numbers.count(n) > 1})
    if dupes:
        raise MigrationError(f"Two migration files share the number(s) {dupes} in {sql_dir}; renumber one.")
    return files


def render(text: str, name: str, rules: dict | None = None) -> tuple[str, bool]:
    """(the file with its `{{rule}}` placeholders replaced by the rules' values, had any)."""
    rules = SALE_RULES if rules is None else rules
    names = set(_PLACEHOLDER.findall(text))
    unknown = sorted(names - set(rules))
    if unknown:
        raise MigrationError(f"Migration {name} names unknown rule(s) {unknown}; the rules are "
                             f"{sorted(rules)} (src/retail_pipeline/schemas/rules.py).")
    for key in names:
        value = rules[key]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise MigrationError(f"Rule {key} = {value!r} is not a number; {name} can only render numbers.")
    return _PLACEHOLDER.sub(lambda m: repr(rules[m.group(1)]), text), bool(names)


def _failure(name: str, exc: psycopg2.Error) -> MigrationError:
    message = f"Migration {name} failed and was rolled back: {(exc.pgerror or str(exc)).strip()}"
    if exc.pgcode == "23514":  # check_violation: rows already stored break a rule being added
        found = re.search(r'constraint "(\w+)" of relation "fact_sales_(?:r\d+_)?(\d{4})(\d{2})(\d{2})"',
                          exc.pgerror or "")
        rule, day = (found.group(1), "-".join(found.group(2, 3, 4))) if found else ("a rule", "<day>")
        message += (f"\nThe facts of {day} break {rule}, which {name} adds (schemas/rules.py): reload that "
                    f"day (`kedro run --params run_date={day},lookback_days=0`; ingestion now quarantines "
                    f"such rows), then migrate again.")
    return MigrationError(message)


def _before_rules_change(cur) -> None:
    """Before a rules file is applied again: drop the rule constraints' copies from every level
    of fact_sales (010_fact_sales_by_retailer.sql's fact_sales_drop_rule_copies), since 007
    reaches fact_sales and its direct children only, and the day partitions two levels down
    hold local copies (the loader builds them LIKE fact_sales) that the new rules would clash
    with. Nothing to do before 010."""
    cur.execute("SELECT to_regprocedure('fact_sales_drop_rule_copies()') IS NOT NULL")
    if cur.fetchone()[0]:
        cur.execute("SELECT fact_sales_drop_rule_copies()")


def apply_migrations(con_url: str, sql_dir: Path | str = SQL_DIR) -> list[str]:
    """Apply the pending migrations to the database at `con_url`; returns the files applied.

    `con_url` is a SQLAlchemy or libpq URL of the loader role (the owner of the warehouse).
    """
    applied: list[str] = []
    conn = psycopg2.connect(to_dsn(con_url))
    try:
        with conn:
            with conn.cursor() as cur:
                cur.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
                cur.execute(_SCHEMA_VERSION)
        for path in migration_files(sql_dir):
            text = path.read_text()
            checksum = hashlib.sha256(text.encode()).hexdigest()
            rendered, has_rules = render(text, path.name)
            rendered_checksum = hashlib.sha256(rendered.encode()).hexdigest() if has_rules else None
            with conn:  # one transaction per file, with its schema_version row
                with conn.cursor() as cur:
                    cur.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
                    cur.execute("SELECT checksum, rendered_checksum FROM schema_version WHERE version = %s",
                                (path.name,))
                    row = cur.fetchone()
                    if row and row[0] != checksum:
                        logger.warning(
                            "Migration %s changed after it was applied; it is not re-applied. "
                            "Add a new numbered file for schema changes.", path.name)
                        continue
                    if row and row[1] == rendered_checksum:
                        continue
                    try:
                        if row and has_rules:
                            _before_rules_change(cur)
                        cur.execute(rendered)
                    except psycopg2.Error as exc:
                        raise _failure(path.name, exc) from exc
                    cur.execute("INSERT INTO schema_version (version, checksum, rendered_checksum) "
                                "VALUES (%s, %s, %s) ON CONFLICT (version) DO UPDATE SET "
                                "rendered_checksum = EXCLUDED.rendered_checksum, applied_at = now()",
                                (path.name, checksum, rendered_checksum))
            applied.append(path.name)
            logger.info("%s migration %s", "Re-applied (the sale rules changed)" if row else "Applied", path.name)
    finally:
        conn.close()
    return applied
