"""Run the benchmarks: `python -m benchmarks [ingest|transform ...] [--options]`.

Each section lives in its own module (`benchmarks/ingest.py`, `benchmarks/transform.py`,
`benchmarks/replay.py`) with `add_arguments(parser)` and `run(args) -> dict`; figures are
printed and merged into data/08_reporting/benchmarks.json. `--full` is passed to every section
(`args.full`): the large sizes instead of the quick defaults. Sections run in separate
processes so that each one's peak memory is its own.
"""

from __future__ import annotations

import argparse
import importlib
import subprocess
import sys

SECTIONS = ("ingest", "transform", "replay")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("sections", nargs="*", default=list(SECTIONS), help=f"any of {', '.join(SECTIONS)}")
    for name in SECTIONS:
        importlib.import_module(f"benchmarks.{name}").add_arguments(parser)
    parser.add_argument("--full", action="store_true",
                        help="the large sizes of every section (10,000,000 records; takes long)")
    parser.add_argument("--in-process", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    unknown = set(args.sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown section(s) {sorted(unknown)}; choose from {', '.join(SECTIONS)}")
    if args.in_process:
        (section,) = args.sections
        importlib.import_module(f"benchmarks.{section}").run(args)
        return 0
    passthrough = [a for a in argv if a not in SECTIONS]
    for section in args.sections:
        code = subprocess.call([sys.executable, "-m", "benchmarks", section, "--in-process", *passthrough])
        if code:
            return code
    return 0


if __name__ == "__main__":
    sys.exit(main())
