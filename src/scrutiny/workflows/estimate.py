"""How long a spec's trials will take, said before they run, with what the figure rests on.

Two sources, in this order:

1. finished trials of the same spec in the store, at any number of epochs: a trial's set-up and final time
   (``wall_time_s - device_time_s``) plus its training time per step (``device_time_s / train_steps``) times the
   steps the planned trial will take; the mean over the trials found ("from 3 finished trials");
2. a timed training step on this machine: the real model, built on the CPU (or on CUDA where the spec asks for
   it), a few steps on a small batch of the dataset's shape with a stand-in loss, scaled by the training set's size
   and the epochs, plus a timed evaluation of the evaluated split at each evaluated epoch ("from a timed step on
   cpu"). It needs the dataset's shape and sizes without loading it
   (:func:`scrutiny.workflows.preflight.dataset_facts`). A trial's set-up (loading the data, recording the
   environment, the checkpoint) is added from finished trials on the same data where the store has some, and is
   otherwise said to be left out.

Otherwise the estimate is unknown, and says why.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from scrutiny.errors import ScrutinyError
from scrutiny.spec import Spec, canonical_json
from scrutiny.store import Store

if TYPE_CHECKING:
    from scrutiny.execute import PlannedTrial
    from scrutiny.workflows.preflight import DatasetFacts

MAX_BATCH = 8  # examples in the first timed step
MAX_STEPS = 5  # timed steps at a batch size
WARM_UP_STEPS = 3  # untimed steps first (at least): a new shape's first steps take many times longer on the CPU
WARM_UP_SECONDS = 0.3  # and untimed steps for at least this long
MAX_TIMED_SECONDS = 1.0  # stop timing steps after this long
FULL_BATCH_SECONDS = 1.0  # time the spec's own batch where a step of it should take less than this


@dataclass(frozen=True)
class Estimate:
    """The estimated time of one trial of a spec.

    Attributes:
        seconds: Wall seconds of one trial, None where unknown.
        basis: What it rests on: ``from 3 finished trials``, ``from a timed step on cpu``, or ``unknown (...)``.
    """

    seconds: float | None
    basis: str


@dataclass(frozen=True)
class ArmEstimate:
    """The estimated time of the trials of one arm (or sweep) that are still to run."""

    seconds: float | None
    per_trial: float | None
    to_run: int
    basis: str

    def to_dict(self) -> dict[str, Any]:
        return {"seconds": self.seconds, "per_trial": self.per_trial, "to_run": self.to_run, "basis": self.basis}


def _without_epochs(spec_dict: Mapping[str, Any]) -> str:
    """The spec's identity with the number of epochs (and the checkpoints that depend on it) left out."""
    data = json.loads(canonical_json(spec_dict))
    for key in ("label", "description"):
        data.pop(key, None)
    for key in ("epochs", "checkpoint_every"):
        data.get("train", {}).pop(key, None)
    return canonical_json(data)


class StoreTimes:
    """The finished trials of a store, grouped by spec with the epochs left out, and their set-up times grouped by
    dataset; the store is read once."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._groups: dict[str, list[dict[str, Any]]] | None = None
        self._setups: dict[str, list[float]] = {}

    def _read(self) -> dict[str, list[dict[str, Any]]]:
        groups: dict[str, list[dict[str, Any]]] = {}
        for tid in self.store.trial_ids():
            try:
                stored = Spec.model_validate(self.store.spec(tid).get("spec", {})).to_dict()
                if self.store.status(tid) != "complete":
                    continue
                result = self.store.result(tid)
            except (ScrutinyError, ValueError, TypeError):
                continue  # a trial of an older schema or an unreadable record: nothing to go on
            groups.setdefault(_without_epochs(stored), []).append(result)
            wall, device = _positive(result.get("wall_time_s")), _positive(result.get("device_time_s"))
            if wall is not None and device is not None:
                self._setups.setdefault(canonical_json(stored["data"]), []).append(max(wall - device, 0.0))
        return groups

    def setup(self, spec: Spec) -> tuple[float, int] | None:
        """The median set-up time (wall time outside the epochs) of finished trials on ``spec``'s data, and how
        many there are; None if none."""
        if self._groups is None:
            self._groups = self._read()
        found = self._setups.get(canonical_json(spec.to_dict()["data"]), [])
        return (float(np.median(found)), len(found)) if found else None

    def estimate(self, spec: Spec) -> Estimate | None:
        """From finished trials of ``spec`` at any number of epochs, scaled by training steps; None if none."""
        if self._groups is None:
            self._groups = self._read()
        target = spec.train.epochs
        seconds: list[float] = []
        epochs: set[int] = set()
        for record in self._groups.get(_without_epochs(spec.to_dict()), []):
            value = _scaled(record, target)
            if value is not None:
                seconds.append(value)
                epochs.add(int(record["epochs"]))
        if not seconds:
            return None
        n = len(seconds)
        basis = f"from {n} finished trial{'s' if n > 1 else ''}"
        if epochs != {target}:
            at = ", ".join(str(e) for e in sorted(epochs))
            basis += f" at {at} epoch{'s' if epochs != {1} else ''}, scaled by training steps"
        return Estimate(float(np.mean(seconds)), basis)


def _scaled(record: Mapping[str, Any], epochs: int) -> float | None:
    """One finished trial's wall time, scaled to ``epochs``: set-up time plus time per training step × steps."""
    wall, done = _positive(record.get("wall_time_s")), record.get("epochs")
    if wall is None or not isinstance(done, int) or isinstance(done, bool):
        return None
    if done == epochs:
        return wall
    device, steps = _positive(record.get("device_time_s")), _positive(record.get("train_steps"))
    if done <= 0 or epochs <= 0 or device is None or steps is None:
        return None  # no training step to scale by (or none to scale to)
    setup = max(wall - device, 0.0)
    per_step = device / steps
    return setup + per_step * (steps / done) * epochs


def _positive(value: Any) -> float | None:
    """``value`` as a float when it is a positive number, else None."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return float(value)
    return None


class StepTimer:
    """Times a few training steps of a spec's model on this machine; one timing per model, shapes and optimiser.

    Args:
        threads: torch CPU threads while timing, as a trial would have them (None: torch's own setting).
    """

    def __init__(self, threads: int | None = None) -> None:
        self.threads = threads
        self._cache: dict[str, tuple[float, float] | str] = {}

    def estimate(self, spec: Spec, facts: DatasetFacts | None) -> Estimate:
        """One trial of ``spec``: its training steps × the time of a timed step, plus its evaluations; ``unknown
        (why)`` where the dataset's shape or size is not known before loading it, or the step fails."""
        if facts is None:
            return Estimate(None, f"unknown (dataset '{spec.data.name}' does not tell its size before it is loaded)")
        shape = facts.example_shape()
        if shape is None:
            return Estimate(None, "unknown (the dataset's input sizes vary)")
        epochs, data = spec.train.epochs, spec.data
        n_train, n_eval = facts.sizes.get("train"), facts.sizes.get(spec.eval.split)
        if n_eval is None or (epochs > 0 and n_train is None):
            return Estimate(None, f"unknown (dataset '{data.name}' does not tell its size before it is loaded)")
        device = "cuda" if spec.train.device == "cuda" else "cpu"  # the CPU unless the spec asks for a device
        eval_batch = data.eval_batch_size or data.batch_size
        key = canonical_json(
            {
                "model": spec.model.model_dump(mode="json"),
                "optim": spec.optim.model_dump(mode="json"),
                "shape": shape,
                "batches": [data.batch_size, eval_batch],
                "context": repr(facts.context()),
                "device": device,
                "threads": self.threads,
            }
        )
        if key not in self._cache:
            self._cache[key] = _time_steps(spec, facts, shape, device, data.batch_size, eval_batch, self.threads)
        timed = self._cache[key]
        if isinstance(timed, str):
            return Estimate(None, f"unknown (the timed step failed: {timed})")
        from scrutiny.trials.batches import steps_per_epoch, training_length

        train_step, eval_step = timed
        steps = steps_per_epoch(n_train or 0, data.batch_size, data.drop_last)
        epochs, total = training_length(epochs, steps, spec.train.max_steps)  # train.max_steps: fewer of both
        n_evals = len([e for e in range(1, epochs + 1) if e % spec.eval.every_epochs == 0 or e == epochs]) or 1
        seconds = total * train_step + n_evals * math.ceil(n_eval / eval_batch) * eval_step
        return Estimate(seconds, f"from a timed step on {device}")


def _time_steps(
    spec: Spec,
    facts: DatasetFacts,
    shape: tuple[int, ...],
    device: str,
    batch_size: int,
    eval_batch: int,
    threads: int | None = None,
) -> tuple[float, float] | str:
    """Seconds of a training step at ``batch_size`` and of an evaluation batch at ``eval_batch``, or why they could
    not be timed: the median of a few steps on :data:`MAX_BATCH` examples, then on ``batch_size`` examples where
    that is cheap (scaled linearly from the smaller batch otherwise)."""
    import torch

    from scrutiny.models import build_model
    from scrutiny.trials.optim import build_optimizer

    def sync() -> float:
        if device == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter()

    before = torch.get_num_threads()
    try:
        if threads is not None:
            torch.set_num_threads(threads)
        section = {k: v for k, v in spec.model.model_dump().items() if k != "weights"}
        model = build_model(section, facts.context()).to(device)
        optimizer = build_optimizer(model, spec.optim)

        def step(x: torch.Tensor) -> float:
            t0 = sync()
            out = model(x)
            out = out[0] if isinstance(out, tuple | list) else out
            loss = out.float().square().mean()  # a stand-in for the task's loss: the same passes, no targets
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            return sync() - t0

        def timed(batch: int) -> float:
            x = torch.randn((batch, *shape), device=device)
            start, n = time.perf_counter(), 0  # allocation, thread pools and a new shape's kernels take longer
            while n < WARM_UP_STEPS or (time.perf_counter() - start < WARM_UP_SECONDS and n < 10 * WARM_UP_STEPS):
                step(x)
                n += 1
            times, start = [step(x)], time.perf_counter()
            while len(times) < MAX_STEPS and time.perf_counter() - start < MAX_TIMED_SECONDS:
                times.append(step(x))
            return float(np.median(times))  # the median: robust to a step that another process slowed

        model.train()
        batch = max(1, min(batch_size, MAX_BATCH))
        took = timed(batch)
        if batch < batch_size and took * batch_size / batch < FULL_BATCH_SECONDS:
            batch = batch_size  # cheap enough: time the real batch (a small batch's step costs more per example)
            took = timed(batch)
        train_step = took * batch_size / batch
        model.eval()
        x = torch.randn((batch, *shape), device=device)
        with torch.no_grad():
            model(x)
            t0 = sync()
            model(x)
            eval_step = (sync() - t0) * eval_batch / batch
    except Exception as exc:  # any failure leaves the estimate unknown; the trial reports its own error
        return " ".join(f"{type(exc).__name__}: {exc}".split())[:160]
    finally:
        torch.set_num_threads(before)
    return train_step, eval_step


def estimate_trials(
    specs: Mapping[str, Spec],
    trials: Sequence[PlannedTrial],
    store: Store,
    *,
    retry_failed: bool = False,
    timed: bool = True,
    workers: int = 1,
    threads: int | None = None,
) -> dict[str, ArmEstimate]:
    """Per name (an arm, or a sweep's spec), the estimated time of its trials still to run.

    Args:
        specs: Name -> resolved spec.
        trials: The planned trials (with their status in the store).
        store: The store whose finished trials the estimates rest on.
        retry_failed: Count failed trials as to run.
        timed: Time a training step where the store has nothing to go on.
        workers: Worker processes that will run the trials (they share this machine's cores).
        threads: CPU threads per trial; default as the local executor sets them (torch's own setting for one
            worker, the cores shared out between several). A timed step uses as many.
    """
    from scrutiny.spec import spec_hash
    from scrutiny.workflows.preflight import dataset_facts

    if threads is None and workers > 1:
        threads = max(1, (os.cpu_count() or 1) // workers)  # as scrutiny.execute.local shares them out
    times, timer = StoreTimes(store), StepTimer(threads)
    out: dict[str, ArmEstimate] = {}
    for name, spec in specs.items():
        h = spec_hash(spec)
        todo = sum(1 for t in trials if t.trial_id.startswith(f"{h}-") and t.needs_run(retry_failed))
        if todo == 0:
            out[name] = ArmEstimate(0.0, None, 0, "nothing to run")
            continue
        one = times.estimate(spec)
        if one is None and not timed:
            one = Estimate(None, "unknown (no finished trial)")
        elif one is None:
            one = timer.estimate(spec, dataset_facts(spec))
            setup = times.setup(spec) if one.seconds is not None else None
            if one.seconds is not None and setup is None:
                one = Estimate(one.seconds, one.basis + " (set-up time not included)")
            elif one.seconds is not None and setup is not None:
                n = setup[1]
                basis = f"{one.basis}, set-up time from {n} finished trial{'s' if n > 1 else ''} on the same data"
                one = Estimate(one.seconds + setup[0], basis)
        total = None if one.seconds is None else one.seconds * todo
        out[name] = ArmEstimate(total, one.seconds, todo, one.basis)
    return out


def format_seconds(seconds: float | None) -> str:
    """``<1 s``, ``42 s``, ``7.5 min``, ``3.2 h``; an em dash where unknown."""
    if seconds is None or not math.isfinite(seconds):
        return "—"
    if seconds < 1:
        return "<1 s"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"
