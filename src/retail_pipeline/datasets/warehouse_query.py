"""WarehouseQueryDataset: run one SQL file against the warehouse, return a DataFrame.

The SQL lives in a file (``sql/quality/*.sql``) and names its inputs as SQLAlchemy bind
parameters (``:run_date``, ``:window_start`` ...). The catalog entry supplies their values,
usually from the run-window resolvers, so a node receives a plain DataFrame and stays pure:

.. code-block:: yaml

    dq_volume:
      type: retail_pipeline.datasets.warehouse_query.WarehouseQueryDataset
      filepath: sql/quality/volume_daily.sql
      credentials: warehouse
      params:
        run_date: ${run_date:${runtime_params:run_date,""}}
        history_start: ${window_start:${runtime_params:run_date,""},28}

Read-only: ``save`` is refused. Errors name the SQL file and the database (never the password).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from kedro.io.core import AbstractDataset, DatasetError

_ENGINES: dict[str, Any] = {}


def _engine(con: str):
    from sqlalchemy import create_engine

    if con not in _ENGINES:
        _ENGINES[con] = create_engine(con, pool_pre_ping=True)
    return _ENGINES[con]


def _project_root() -> Path:
    # src/retail_pipeline/datasets/warehouse_query.py -> project root
    return Path(__file__).resolve().parents[3]


class WarehouseQueryDataset(AbstractDataset[None, pd.DataFrame]):
    """Load the result of a SQL file (with bind parameters) as a DataFrame."""

    def __init__(
        self,
        filepath: str,
        credentials: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        if not credentials or not credentials.get("con"):
            raise DatasetError(
                f"WarehouseQueryDataset({filepath}) needs credentials with a 'con' SQLAlchemy URL "
                "(e.g. credentials: warehouse, from conf/local/credentials.yml)."
            )
        path = Path(filepath)
        self._filepath = path if path.is_absolute() else _project_root() / path
        self._con = credentials["con"]
        self._params = dict(params or {})
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath), "params": self._params}

    def _safe_target(self) -> str:
        from sqlalchemy.engine import make_url

        try:
            return make_url(self._con).render_as_string(hide_password=True)
        except Exception:  # noqa: BLE001 - never echo an unparsable URL, it may hold a password
            return "<warehouse>"

    def load(self) -> pd.DataFrame:
        from sqlalchemy import text
        from sqlalchemy.exc import SQLAlchemyError

        try:
            sql = self._filepath.read_text()
        except OSError as exc:
            raise DatasetError(f"Cannot read quality SQL file {self._filepath}: {exc}") from exc
        try:
            with _engine(self._con).connect() as conn:
                result = conn.execute(text(sql), self._params)
                frame = pd.DataFrame(result.fetchall(), columns=list(result.keys()))
        except SQLAlchemyError as exc:
            message = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            raise DatasetError(
                f"Query {self._filepath.name} failed on {self._safe_target()}: {message}. "
                "Is the warehouse migrated (python -m retail_pipeline.warehouse migrate)?"
            ) from None
        return frame

    def save(self, data: None) -> None:
        raise DatasetError(f"{self._filepath.name} is a read-only warehouse query")

    def _exists(self) -> bool:
        return self._filepath.exists()
