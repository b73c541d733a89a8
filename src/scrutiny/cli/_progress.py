"""Rich progress display of a sweep: trials done/total, each running trial's epoch and latest metrics, times.

When a claim is checked, the trials are named by the claim's arms (:meth:`RichReporter.name_arms`, called by the
check workflow with the arms it recorded in the store); otherwise by the spec's label or model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from scrutiny.execute import PlannedTrial, Reporter
from scrutiny.spec import spec_hash

_SHOWN = ("train_loss_epoch_avg", "train_acc_epoch_avg")


def _summary(metrics: dict[str, Any]) -> str:
    keys = [k for k in metrics if k.endswith("_acc") and not k.startswith("train")] + list(_SHOWN)
    parts = []
    for key in keys:
        value = metrics.get(key)
        if isinstance(value, float):
            parts.append(f"{key.removesuffix('_epoch_avg')}={value:.4f}")
    return " ".join(parts)


class RichReporter(Reporter):
    """Draws on stderr; used as a context manager around the sweep."""

    def __init__(self, console: Console | None = None) -> None:
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(bar_width=24),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console or Console(stderr=True),
            transient=False,
        )
        self.overall: TaskID | None = None
        self.tasks: dict[str, TaskID] = {}
        self.names: dict[str, str] = {}  # trial id -> its name while it runs
        self.arms: dict[str, str] = {}  # spec hash -> the arm name(s) it serves in the claim being checked

    def name_arms(self, names: Mapping[str, Sequence[str]]) -> None:
        """Name trials by the claim's arms: spec hash -> the arms it serves (several where arms share a spec)."""
        self.arms = {h: ", ".join(arms) for h, arms in names.items()}

    def _name(self, trial: PlannedTrial) -> str:
        """The trial's arm name(s) when a claim is checked, else its spec's label or model."""
        if self.arms:
            arm = self.arms.get(spec_hash(trial.spec))
            if arm is not None:
                return arm
        return trial.spec.label or trial.spec.model.name

    def __enter__(self) -> RichReporter:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def start(self, plan: Sequence[PlannedTrial], to_run: Sequence[PlannedTrial]) -> None:
        self.overall = self.progress.add_task("[bold]trials", total=len(to_run))

    def trial_started(self, trial: PlannedTrial) -> None:
        name = self.names[trial.trial_id] = self._name(trial)
        self.tasks[trial.trial_id] = self.progress.add_task(
            escape(f"  {name} {trial.trial_id}"), total=trial.spec.train.epochs
        )

    def epoch(self, event: dict[str, Any]) -> None:
        task = self.tasks.get(event["trial"])
        if task is not None:
            name = self.names.get(event["trial"], "")
            text = f"  {name} {event['trial']} epoch {event['epoch']}/{event['epochs']} {_summary(event['metrics'])}"
            self.progress.update(task, completed=event["epoch"], description=escape(text))

    def trial_finished(self, trial: PlannedTrial, record: dict[str, Any]) -> None:
        task = self.tasks.pop(trial.trial_id, None)
        if task is not None:
            self.progress.remove_task(task)
        name = self.names.pop(trial.trial_id, None) or self._name(trial)
        status = record["status"]
        colour = {"complete": "green", "diverged": "yellow", "failed": "red"}.get(status, "white")
        split = record.get("split", "test")
        acc = record.get(f"final_{split}_acc")
        detail = f"final_{split}_acc={acc:.4f}" if isinstance(acc, float) else record.get("error", "")
        self.progress.console.print(
            f"[{colour}]{status:>8}[/] "
            + escape(f"{name} {trial.trial_id} {detail} ({record.get('wall_time_s', 0):.1f} s)")
        )
        if self.overall is not None:
            self.progress.advance(self.overall)


def progress_reporter(out) -> AbstractContextManager[Reporter]:
    """The rich display on stderr in human mode; a silent reporter with ``--json``."""
    return nullcontext(Reporter()) if out.as_json else RichReporter(out.err)
