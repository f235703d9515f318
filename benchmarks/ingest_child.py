"""The ingestion benchmark's child process: one `kedro run` of some retailers' ingestion, measured.

`benchmarks/ingest.py` starts one per group of retailers (all at once) with a spec file (conf,
zone, runner, the retailers' codes, runtime parameters) and reads the last line it prints:
`BENCH {"seconds", "peak_rss_mb", "cpu_s", "system_cpu_s", "retailers": {code: seconds}}`.
"""

from __future__ import annotations

import json
import os
import resource
import time
from pathlib import Path

from kedro.framework.hooks import hook_impl

from benchmarks.common import PROJECT_ROOT, peak_rss_mb


def child(spec_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text())
    os.environ["KEDRO_DISABLE_TELEMETRY"] = "true"
    import logging

    from kedro.framework.project import configure_project
    from kedro.framework.session import KedroSession
    from kedro.runner import ParallelRunner, SequentialRunner, ThreadRunner

    logging.getLogger("kedro").setLevel(logging.WARNING)
    configure_project("retail_pipeline")
    if spec["runner"] == "ParallelRunner":
        runner = ParallelRunner(max_workers=spec.get("workers"))
    else:
        runner = {"SequentialRunner": SequentialRunner, "ThreadRunner": ThreadRunner}[spec["runner"]]()
    timer = _RetailerTimer()
    started = time.perf_counter()
    with KedroSession.create(project_path=PROJECT_ROOT, conf_source=spec["conf"], env="local",
                             runtime_params=spec["params"]) as session:
        session._hook_manager.register(timer)
        session.run(pipeline_names=["ingestion"], runner=runner, namespaces=spec.get("codes"))
    seconds = time.perf_counter() - started
    # ParallelRunner's workers are this process's children, ended and waited for by now
    usage, workers = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    print("BENCH " + json.dumps({"seconds": seconds, "peak_rss_mb": max(_own_peak_rss_mb(), workers.ru_maxrss / 1024),
                                 "cpu_s": usage.ru_utime + usage.ru_stime + workers.ru_utime + workers.ru_stime,
                                 "system_cpu_s": usage.ru_stime + workers.ru_stime,
                                 "retailers": {code: timer.seconds(code) for code in spec["codes"]}}))


class _RetailerTimer:
    """Each retailer's time from the load of its source to the commit of its window (the node
    is a generator: Kedro's after_node_run comes before its chunks are saved). Session hooks do
    not run in ParallelRunner's workers: no times then."""

    def __init__(self) -> None:
        self.started: dict[str, float] = {}
        self.ended: dict[str, float] = {}

    def seconds(self, code: str) -> float | None:
        if code in self.started and code in self.ended:
            return self.ended[code] - self.started[code]
        return None

    @hook_impl
    def before_dataset_loaded(self, dataset_name: str) -> None:
        if dataset_name.endswith(".api_sales"):
            self.started.setdefault(dataset_name.split(".")[0], time.perf_counter())

    @hook_impl
    def after_dataset_saved(self, dataset_name: str, data) -> None:
        if dataset_name.endswith(".raw_sales") and isinstance(data, dict) and "manifest" in data:
            self.ended[dataset_name.split(".")[0]] = time.perf_counter()


def _own_peak_rss_mb() -> float:
    """This process's own peak RSS. Linux keeps ru_maxrss across fork+exec, so a child started
    by the parent (which seeded millions of rows just before) would report the parent's peak;
    VmHWM in /proc/self/status is the high-water mark of this process image only."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return peak_rss_mb()
