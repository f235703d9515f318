"""`RunSteps`: what each node of a `kedro run` is doing, for hooks that explain a failure.

Kedro's `on_pipeline_error` gets the error but not the step: a failure while loading a dataset,
running a node or saving one looks the same there. The quality failure report and the alert
both name the step ("<node> (loading <dataset>)"), so both hooks derive from this one tracker.
"""

from __future__ import annotations

from typing import Any

from kedro.framework.hooks import hook_impl


class RunSteps:
    """Follows a run node by node; `failed_step()` names the node that failed and what it did."""

    def _reset_steps(self, pipeline=None) -> None:
        self._pipeline = pipeline
        self._steps: dict[str, str] = {}      # node name -> what it is doing
        self._nodes: dict[str, Any] = {}      # node name -> node
        self._saved: dict[str, int] = {}      # node name -> outputs saved
        self._done: set[str] = set()
        self._written: set[str] = set()       # datasets saved by the run
        self._failed_node: str | None = None

    def _collect(self, node, outputs: dict[str, Any]) -> None:
        """A subclass's look at a node's outputs (e.g. the quality results)."""

    @hook_impl
    def before_dataset_loaded(self, dataset_name, node) -> None:
        self._nodes[node.name] = node
        self._steps[node.name] = f"loading {dataset_name}"

    @hook_impl
    def before_node_run(self, node) -> None:
        self._nodes[node.name] = node
        self._steps[node.name] = "running"

    @hook_impl
    def after_node_run(self, node, outputs) -> None:
        self._steps[node.name] = "saving its outputs"
        self._collect(node, outputs or {})
        if not node.outputs:
            self._done.add(node.name)

    @hook_impl
    def on_node_error(self, error, node) -> None:
        self._nodes[node.name] = node
        self._failed_node = node.name
        self._steps[node.name] = "running"

    @hook_impl
    def before_dataset_saved(self, dataset_name, node) -> None:
        self._steps[node.name] = f"saving {dataset_name}"

    @hook_impl
    def after_dataset_saved(self, dataset_name, node) -> None:
        self._written.add(dataset_name)
        self._saved[node.name] = self._saved.get(node.name, 0) + 1
        if self._saved[node.name] >= len(node.outputs):
            self._done.add(node.name)

    def failed_step(self) -> tuple[str | None, Any]:
        """('<node> (<what it was doing>)', the node), or (None, None) when no node was running.

        The node Kedro reported failing, else the last one that started and did not finish (an
        error while loading or saving reaches `on_node_error` in some runners only)."""
        name = self._failed_node
        if name is None:
            unfinished = [n for n in self._steps if n not in self._done]
            name = unfinished[-1] if unfinished else None
        if name is None:
            return None, None
        return f"{name} ({self._steps.get(name, 'running')})", self._nodes.get(name)
