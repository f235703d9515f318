"""The retailer registry (conf/base/retailers.yml): the one place a retailer is declared.

Kedro reads it as part of `globals` (settings.py), so the catalog and the parameters use
`${globals:retailers}`. Python reads it here:

- `load_retailers(conf_source, env)`: the registry of a conf folder (base, then the env);
- `retailer_codes()`: the codes the pipelines are built for, i.e. the registry of the running
  Kedro session (made active by `hooks.RegistryHook` when the session's context is created),
  else the project's own;
- `project_retailers()`: the project's registry for tools outside a session (dev stack,
  Airflow, benchmarks): `conf/base` + `conf/local` of the checkout.

Every load is validated (`validate`): a registry with a missing key, a duplicate retailer_id or
a code that cannot name a namespace fails here, naming the retailer and the fix. Auth and paging
style names are the extraction's to judge (RetailerApiDataset).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from omegaconf import OmegaConf

from retail_pipeline.user_errors import UserError

REQUIRED = ("name", "retailer_id", "timezone", "api", "source")
REGISTRY_FILES = ("retailers*.yml", "retailers*.yaml")
BASE_ENV, DEFAULT_ENV = "base", "local"  # Kedro's envs (settings.CONFIG_LOADER_ARGS uses these)
_CODE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")

_active: dict[str, dict[str, Any]] | None = None


class RegistryError(UserError, ValueError):
    """The retailer registry cannot be used as written."""


def validate(retailers: Any, where: str = "conf/base/retailers.yml") -> dict[str, dict[str, Any]]:
    """The registry as plain dicts, or RegistryError naming what to fix in `where`."""
    if OmegaConf.is_config(retailers):
        retailers = OmegaConf.to_container(retailers, resolve=True)
    if not isinstance(retailers, dict) or not retailers:
        raise RegistryError(f"{where}: `retailers:` must map each retailer code to its entry; "
                            f"found {type(retailers).__name__}")
    seen_ids: dict[int, str] = {}
    for code, entry in retailers.items():
        if not isinstance(code, str) or not _CODE.match(code):
            raise RegistryError(f"{where}: retailer code {code!r} is not an identifier (a letter, then "
                                "letters, digits or _): it names a Kedro namespace and dataset names")
        if not isinstance(entry, dict):
            raise RegistryError(f"{where}: retailers.{code} must be a mapping, got {entry!r}")
        missing = [key for key in REQUIRED if entry.get(key) in (None, "", {})]
        if missing:
            raise RegistryError(f"{where}: retailers.{code} lacks {', '.join(missing)} "
                                f"(every entry has {', '.join(REQUIRED)})")
        rid = entry["retailer_id"]
        if isinstance(rid, bool) or not isinstance(rid, int) or rid < 1:
            raise RegistryError(f"{where}: retailers.{code}.retailer_id must be a positive whole number, "
                                f"got {rid!r}")
        if rid in seen_ids:
            raise RegistryError(f"{where}: retailer_id {rid} is given to both {seen_ids[rid]} and {code}; "
                                "each retailer keeps its own id for good (dim_retailer)")
        seen_ids[rid] = code
        try:
            ZoneInfo(str(entry["timezone"]))
        except (ZoneInfoNotFoundError, ValueError):
            raise RegistryError(f"{where}: retailers.{code}.timezone {entry['timezone']!r} is not an IANA "
                                "time zone (e.g. UTC, Europe/Paris)") from None
        for section in ("api", "source"):
            if not isinstance(entry[section], dict):
                raise RegistryError(f"{where}: retailers.{code}.{section} must be a mapping")
    return retailers


def load_retailers(conf_source: str | Path, env: str | None = None) -> dict[str, dict[str, Any]]:
    """The registry of a conf folder: `retailers*.yml` of base, then of `env` merged over it
    (an env may add a retailer or change one's values), validated.

    Read with OmegaConf directly rather than with a new config loader: creating one re-binds
    the process-wide `globals` and `runtime_params` resolvers to it, which would change what a
    running session's catalog resolves. The registry holds plain values (no interpolations).
    """
    conf = Path(conf_source)
    envs = [BASE_ENV, env or DEFAULT_ENV]
    merged: dict[str, Any] = {}
    for name in dict.fromkeys(envs):
        for path in sorted({p for pattern in REGISTRY_FILES for p in (conf / name).glob(pattern)}):
            content = OmegaConf.to_container(OmegaConf.load(path)) or {}
            merged = OmegaConf.to_container(OmegaConf.merge(merged, {"retailers": content.get("retailers") or {}}))
    return validate(merged.get("retailers"), where=f"{conf}/{{{','.join(envs)}}}/retailers.yml")


def project_root(start: Path | None = None) -> Path:
    """The folder holding pyproject.toml with [tool.kedro]: from `start` (default: the current
    directory) upwards, else the one this package was installed from."""
    here = Path(start or Path.cwd()).resolve()
    for candidate in (here, *here.parents, *Path(__file__).resolve().parents):
        pyproject = candidate / "pyproject.toml"
        if pyproject.is_file() and "[tool.kedro]" in pyproject.read_text(errors="replace"):
            return candidate
    raise RegistryError("No Kedro project found (a pyproject.toml with [tool.kedro]) from "
                        f"{Path.cwd()} or {Path(__file__).parent}: run this from the project")


def project_retailers(env: str | None = None) -> dict[str, dict[str, Any]]:
    """The checkout's registry (conf/base + conf/<env>, default local)."""
    return load_retailers(project_root() / "conf", env)


def activate(retailers: Any, where: str = "the session's conf") -> bool:
    """Make `retailers` the registry pipelines are built from; True when the codes changed."""
    global _active  # noqa: PLW0603 - one registry per process, the running session's
    registry = validate(retailers, where)
    changed = _active is None or list(_active) != list(registry)
    _active = registry
    return changed


def active_retailers() -> dict[str, dict[str, Any]]:
    """The running session's registry, else the project's."""
    return _active if _active is not None else project_retailers()


def retailer_codes() -> list[str]:
    """The codes pipelines are built for (namespaces), in registry order."""
    return list(active_retailers())


def with_codes(retailers: Any) -> dict[str, dict[str, Any]]:
    """Config resolver `${with_codes:${globals:retailers}}`: each entry with its own `code` (its
    key), so a node given one entry (params:retailers.<code>) knows which retailer it serves."""
    if OmegaConf.is_config(retailers):
        retailers = OmegaConf.to_container(retailers, resolve=True)
    return {code: {**entry, "code": code} for code, entry in (retailers or {}).items()}
