"""Write .env for docker-compose.yml with freshly generated secrets.

    python docker/generate_env.py            # creates .env; keeps the values of an existing one
    python docker/generate_env.py --rotate   # new values for every secret (then recreate volumes)

.env is git-ignored and written 0600. Keys follow .env.example, which lists every variable
with a placeholder; non-secret settings are copied from it as they are. Nothing is printed but
the file's path and the names of the variables written.
"""

from __future__ import annotations

import argparse
import base64
import os
import secrets
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / ".env.example"
PLACEHOLDER = "__generate__"


def _token() -> str:
    # hex: safe inside URLs, shells and YAML without quoting
    return secrets.token_hex(24)


def _fernet_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


GENERATORS = {"AIRFLOW_FERNET_KEY": _fernet_key}


def parse(text: str) -> list[tuple[str, str]]:
    pairs = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        pairs.append((key.strip(), value.strip()))
    return pairs


def render(example: str, current: dict[str, str], rotate: bool) -> tuple[str, list[str]]:
    out, written = [], []
    for line in example.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or "=" not in stripped:
            out.append(line)
            continue
        key, _, value = stripped.partition("=")
        key, value = key.strip(), value.strip()
        if value == PLACEHOLDER:
            value = current.get(key) if (current.get(key) and not rotate) else GENERATORS.get(key, _token)()
        else:
            value = current.get(key, value)
        out.append(f"{key}={value}")
        written.append(key)
    return "\n".join(out) + "\n", written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=ROOT / ".env")
    parser.add_argument("--rotate", action="store_true", help="generate new secrets even if .env has them")
    args = parser.parse_args(argv)
    current = dict(parse(args.output.read_text())) if args.output.exists() else {}
    text, written = render(EXAMPLE.read_text(), current, args.rotate)
    fd = os.open(args.output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(args.output, 0o600)
    print(f"wrote {args.output} ({len(written)} variables: {', '.join(written)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
