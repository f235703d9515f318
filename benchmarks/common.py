"""What every benchmark shares: where figures go and how memory is measured."""

from __future__ import annotations

import json
import resource
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS_JSON = PROJECT_ROOT / "data" / "08_reporting" / "benchmarks.json"


def record(section: str, figures: dict) -> None:
    """Merge one section's figures into data/08_reporting/benchmarks.json (flat keys too)."""
    BENCHMARKS_JSON.parent.mkdir(parents=True, exist_ok=True)
    current = json.loads(BENCHMARKS_JSON.read_text()) if BENCHMARKS_JSON.exists() else {}
    current.update(figures)
    current.setdefault("sections", {})[section] = figures
    BENCHMARKS_JSON.write_text(json.dumps(current, indent=2, sort_keys=True) + "\n")


def peak_rss_mb() -> float:
    """Peak resident memory of this process, in MB (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def print_table(title: str, rows: list[tuple[str, object]]) -> None:
    width = max(len(name) for name, _ in rows)
    print(f"\n{title}\n" + "-" * (width + 20))
    for name, value in rows:
        shown = f"{value:,.2f}" if isinstance(value, float) else str(value)
        print(f"{name:<{width}}  {shown:>16}")
