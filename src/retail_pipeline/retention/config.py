"""Retention's settings, read the way `kedro run` reads them: a KedroSession of the env (as
`retail_pipeline.backfill` does), so the conf folder, env layering and resolvers are the
project's own.

- warehouse: credentials `warehouse.con` (the loader role, owner of the tables it drops);
- zones: globals `raw_zone` and credentials `raw_zone` (s3fs options; empty locally);
- parameters: `retention` (parameters_retention.yml: keep_days, lock_timeout), `lookback_days`
  and the registry's retailers (parameters.yml).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[3]


@dataclass(frozen=True)
class Settings:
    warehouse_con: str
    raw_zone: str
    raw_zone_credentials: dict[str, Any] = field(default_factory=dict)
    keep_days: int | None = None
    lookback_days: int = 3
    retailers: tuple[str, ...] = ()
    lock_timeout: str = "60s"


def load_settings(env: str = "local", conf_source: str | None = None) -> Settings:
    """The env's settings (base, then env), through a KedroSession of the project."""
    from kedro.framework.project import configure_project
    from kedro.framework.session import KedroSession

    configure_project("retail_pipeline")
    with KedroSession.create(project_path=PROJECT_ROOT, env=env, conf_source=conf_source) as session:
        context = session.load_context()
        loader = context.config_loader
        credentials = loader["credentials"]
        params = context.params
        zone_root = loader["globals"]["raw_zone"]
    retention = params.get("retention") or {}
    try:
        con = credentials["warehouse"]["con"]
    except KeyError:
        raise KeyError(f"Unable to find credentials 'warehouse' (con) in env {env}: run `make up`, or add them "
                       "to conf/<env>/credentials.yml") from None
    return Settings(
        warehouse_con=con,
        raw_zone=str(zone_root),
        raw_zone_credentials=dict(credentials.get("raw_zone") or {}),
        keep_days=retention.get("keep_days"),
        lookback_days=int(params.get("lookback_days", 3)),
        retailers=tuple(params.get("retailers") or ()),
        lock_timeout=str(retention.get("lock_timeout") or "60s"),
    )
