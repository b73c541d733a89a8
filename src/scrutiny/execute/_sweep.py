"""The bookkeeping of a sweep that every executor shares: the plan, outcomes, busy trials, deaths and retries."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from scrutiny.spec import Spec, trial_id
from scrutiny.store import Store, TrialBusyError, TrialFinishedError


@dataclass(frozen=True)
class PlannedTrial:
    spec: Spec
    seed: int
    trial_id: str
    status: str  # status in the store before the sweep: missing | incomplete | complete | diverged | failed

    def needs_run(self, retry_failed: bool) -> bool:
        return self.status in ("missing", "incomplete") or (retry_failed and self.status == "failed")


@dataclass
class SweepResult:
    """What a sweep did.

    Attributes:
        ran: Final records of the trials this sweep ran (a trial whose worker died: ``failed`` with the cause).
        skipped: Trials the store had before the sweep.
        elsewhere: Final records of trials that another process ran meanwhile (this sweep waited for them).
        busy: Trials still being run by another process when the sweep was interrupted.
        interrupted: Ctrl-C stopped the sweep.
    """

    ran: dict[str, dict[str, Any]] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    elsewhere: dict[str, dict[str, Any]] = field(default_factory=dict)
    busy: list[str] = field(default_factory=list)
    interrupted: bool = False

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for record in self.ran.values():
            out[record["status"]] = out.get(record["status"], 0) + 1
        return out


class Reporter:
    """Progress events of a sweep; the default ignores them. The CLI's rich display subclasses it."""

    def start(self, plan: Sequence[PlannedTrial], to_run: Sequence[PlannedTrial]) -> None: ...

    def trial_started(self, trial: PlannedTrial) -> None: ...

    def epoch(self, event: dict[str, Any]) -> None: ...

    def trial_finished(self, trial: PlannedTrial, record: dict[str, Any]) -> None: ...

    def name_arms(self, names: Mapping[str, Sequence[str]]) -> None:
        """Spec hash -> the names of the claim's arms it serves, for lines that name trials (a claim's sweep)."""


def plan(items: Sequence[tuple[Spec, int]], store: Store) -> list[PlannedTrial]:
    """The trials of ``items`` (spec, seed) with their current status in ``store``; repeats dropped."""
    out, seen = [], set()
    for spec, seed in items:
        tid = trial_id(spec, seed)
        if tid not in seen:
            seen.add(tid)
            out.append(PlannedTrial(spec, seed, tid, store.status(tid)))
    return out


class Sweep:
    """Bookkeeping shared by the serial and the parallel runner: outcomes, busy trials, deaths and retries."""

    def __init__(
        self,
        store: Store,
        reporter: Reporter,
        result: SweepResult,
        fail_fast: bool,
        retry_failed: bool,
        max_retries: int,
    ) -> None:
        self.store, self.reporter, self.result = store, reporter, result
        self.fail_fast, self.retry_failed, self.max_retries = fail_fast, retry_failed, max_retries
        self.deferred: list[PlannedTrial] = []  # locked by another process: waited for at the end
        self.deaths: dict[str, int] = {}
        self.stop = False

    def replace_failed(self, t: PlannedTrial) -> bool:
        return self.retry_failed or t.trial_id in self.deaths

    def record(self, t: PlannedTrial, record: dict[str, Any]) -> None:
        self.result.ran[t.trial_id] = record
        self.reporter.trial_finished(t, record)
        self.stop = self.stop or (self.fail_fast and record["status"] == "failed")

    def error(self, t: PlannedTrial, exc: BaseException) -> None:
        if isinstance(exc, TrialBusyError):
            self.deferred.append(t)
        elif isinstance(exc, TrialFinishedError):
            self.finished_elsewhere(t)
        else:
            raise exc

    def finished_elsewhere(self, t: PlannedTrial) -> None:
        record = self.store.result(t.trial_id)
        self.result.elsewhere[t.trial_id] = record
        self.reporter.trial_finished(t, record)

    def died(self, t: PlannedTrial, cause: str) -> bool:
        """Record a dead worker's trial as failed; return whether to run it again."""
        n = self.deaths[t.trial_id] = self.deaths.get(t.trial_id, 0) + 1
        retry = n <= self.max_retries
        error = cause if retry else f"{cause} ({n} time(s); not retried again without retry_failed)"
        record = {"trial_id": t.trial_id, "seed": t.seed, "status": "failed", "error": error, "worker_deaths": n}
        self.store.mark_failed(t.trial_id, record)
        if not retry:
            self.record(t, record)
        return retry

    def released(self, poll_s: float) -> list[PlannedTrial]:
        """Wait until some deferred trial's lock is free; report those finished elsewhere, return those to run."""
        while self.deferred:
            free = [t for t in self.deferred if not self.store.busy(t.trial_id)]
            if free:
                self.deferred = [t for t in self.deferred if t not in free]
                again = []
                for t in free:
                    if self.store.status(t.trial_id) in ("missing", "incomplete"):
                        again.append(t)  # its process died or was interrupted: run it here
                    else:
                        self.finished_elsewhere(t)
                if again:
                    return again
            else:
                time.sleep(poll_s)
        return []
