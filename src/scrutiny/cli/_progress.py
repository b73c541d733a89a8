"""Rich progress display of a sweep: trials done/total, each running trial's epoch and latest metrics, times."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from rich.console import Console
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

    def __enter__(self) -> RichReporter:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def start(self, plan: Sequence[PlannedTrial], to_run: Sequence[PlannedTrial]) -> None:
        self.overall = self.progress.add_task("[bold]trials", total=len(to_run))

    def trial_started(self, trial: PlannedTrial) -> None:
        label = trial.spec.label or trial.spec.model.name
        self.tasks[trial.trial_id] = self.progress.add_task(
            f"  {trial.trial_id} {label}", total=trial.spec.train.epochs
        )

    def epoch(self, event: dict[str, Any]) -> None:
        task = self.tasks.get(event["trial"])
        if task is not None:
            self.progress.update(
                task,
                completed=event["epoch"],
                description=f"  {event['trial']} epoch {event['epoch']}/{event['epochs']} {_summary(event['metrics'])}",
            )

    def trial_finished(self, trial: PlannedTrial, record: dict[str, Any]) -> None:
        task = self.tasks.pop(trial.trial_id, None)
        if task is not None:
            self.progress.remove_task(task)
        status = record["status"]
        colour = {"complete": "green", "diverged": "yellow", "failed": "red"}.get(status, "white")
        split = record.get("split", "test")
        acc = record.get(f"final_{split}_acc")
        detail = f"final_{split}_acc={acc:.4f}" if isinstance(acc, float) else record.get("error", "")
        self.progress.console.print(
            f"[{colour}]{status:>8}[/] {trial.trial_id} {detail} ({record.get('wall_time_s', 0):.1f} s)"
        )
        if self.overall is not None:
            self.progress.advance(self.overall)


def progress_reporter(out) -> AbstractContextManager[Reporter]:
    """The rich display on stderr in human mode; a silent reporter with ``--json``."""
    return nullcontext(Reporter()) if out.as_json else RichReporter(out.err)
