"""The stack's own files in `.stack/`: generated passwords, the state of what runs, the lock.

Each is written atomically and readable by the owner only (0600): they hold passwords and pids
that `down` trusts.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from retail_pipeline.devstack.config import LOADER_ROLE, READER_ROLE, StackConfig, StackError

SECRET_NAMES = ("postgres", LOADER_ROLE, READER_ROLE)


def say(message: str = "") -> None:
    print(message, flush=True)


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path` readable by the owner only (0600), atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def load_secrets(config: StackConfig, create: bool = True) -> dict[str, str]:
    """Generated passwords, made once and kept in .stack/secrets.json (0600)."""
    current: dict[str, str] = {}
    if config.secrets_file.exists():
        try:
            current = json.loads(config.secrets_file.read_text())
        except ValueError as exc:
            raise StackError(f"{config.secrets_file} is not valid JSON ({exc}); fix or delete it.") from None
    missing = [name for name in SECRET_NAMES if not current.get(name)]
    if missing and create:
        if "postgres" in missing and (config.pgdata / "PG_VERSION").exists():
            raise StackError(
                f"{config.secrets_file} lacks the PostgreSQL superuser password but the cluster "
                f"{config.pgdata} exists, so it cannot be reached. Run `make down`, then delete "
                f"{config.stack_dir} (this drops the local databases) and `make up` again."
            )
        for name in missing:
            current[name] = secrets.token_urlsafe(24)
        write_private(config.secrets_file, json.dumps(current, indent=2) + "\n")
    return current


def load_state(config: StackConfig) -> dict:
    try:
        return json.loads(config.state_file.read_text())
    except (OSError, ValueError):
        return {}


def save_state(config: StackConfig, state: dict) -> None:
    state["updated_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    write_private(config.state_file, json.dumps(state, indent=2) + "\n")


@contextmanager
def locked(config: StackConfig) -> Iterator[None]:
    """One `up`/`down` at a time per state dir."""
    config.stack_dir.mkdir(parents=True, exist_ok=True)
    with open(config.stack_dir / "lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say(f"Another `up` or `down` is working on {config.stack_dir}; waiting for it...")
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def redact(text: str, passwords: dict[str, str]) -> str:
    """`text` with every password replaced by ***."""
    for value in passwords.values():
        if value:
            text = text.replace(value, "***")
    return text
