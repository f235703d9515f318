"""What every benchmark shares: where figures go and how memory is measured."""

from __future__ import annotations

import json
import resource
import threading
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


def process_trees(pids) -> list:
    """psutil processes of `pids` and all their descendants (those still running)."""
    import psutil

    out = []
    for pid in filter(None, pids):
        try:
            root = psutil.Process(pid)
            out += [root, *root.children(recursive=True)]
        except psutil.Error:
            continue
    return out


class TotalMemory:
    """The peak of the summed PSS of some processes and all their descendants (a page shared by
    k processes counts 1/k in each: forked workers' shared pages once), sampled in a thread every
    `interval` s while the `with` block runs (a peak between two samples is missed)."""

    def __init__(self, pids: list[int], interval: float = 0.2) -> None:
        self.pids, self.interval, self.peak_mb = pids, interval, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="total-memory", daemon=True)

    def __enter__(self) -> "TotalMemory":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _watch(self) -> None:
        import psutil

        while not self._stop.wait(self.interval):
            total = 0
            for proc in process_trees(self.pids):
                try:
                    total += proc.memory_full_info().pss
                except psutil.Error:  # ended meanwhile
                    pass
            self.peak_mb = max(self.peak_mb, total / 2**20)


def print_table(title: str, rows: list[tuple[str, object]]) -> None:
    width = max(len(name) for name, _ in rows)
    print(f"\n{title}\n" + "-" * (width + 20))
    for name, value in rows:
        shown = f"{value:,.2f}" if isinstance(value, float) else str(value)
        print(f"{name:<{width}}  {shown:>16}")
