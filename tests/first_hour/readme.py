"""The README's shell commands as a new user would type them: fenced ```bash blocks, one logical
command per line (a trailing backslash continues it), comments kept (bash ignores them)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

_FENCE = re.compile(r"^```(\w*)\s*$")
SHELLS = {"bash", "sh", "shell", "console"}


@dataclass
class Block:
    line: int            # where the block starts in the README (1-based)
    commands: list[str]  # logical commands, continuations joined

    def script(self, skip: set[str] = frozenset()) -> str:
        """The block as a bash script that stops at the first failing command."""
        kept = [c for c in self.commands if command_name(c) not in skip]
        return "set -euo pipefail\n" + "\n".join(kept) + "\n"


def command_name(command: str) -> str:
    """The command without its trailing comment, e.g. `make run` for `make run   # ...`."""
    return command.split(" #", 1)[0].strip()


def shell_blocks(path: Path) -> list[Block]:
    blocks, current, start, language = [], None, 0, None
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        fence = _FENCE.match(line)
        if fence and current is None:
            current, start, language = [], number, fence.group(1)
        elif line.startswith("```") and current is not None:
            if language in SHELLS:
                blocks.append(Block(start, _logical(current)))
            current = None
        elif current is not None:
            current.append(line)
    return blocks


def _logical(lines: list[str]) -> list[str]:
    commands, pending = [], ""
    for line in lines:
        if not line.strip():
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1].rstrip() + " "
            continue
        commands.append((pending + line.strip()).strip())
        pending = ""
    if pending:
        commands.append(pending.strip())
    return commands
