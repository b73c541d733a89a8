"""The result fields a spec will produce: one definition, read where a claim is checked before anything runs.

A trial (:mod:`scrutiny.trials.loop`) writes two kinds of numbers:

- its final record: ``final_<split>_<metric>`` and ``best_<split>_<metric>`` of the evaluated split, the last
  epoch's ``final_train_loss_epoch_avg`` and ``final_train_acc_epoch_avg``, its costs (``n_params``,
  ``train_steps``, ``device_time_s``, ...) and each probe's scalars as ``<prefix>_<key>``;
- one row per epoch in ``metrics.jsonl``: ``lr``, ``train_loss_epoch_avg``, ``train_acc_epoch_avg``, ``train_n``,
  ``epoch_time_s``, and on the evaluated epochs (every ``eval.every_epochs`` and the last) ``<split>_<metric>``.
  A hypothesis names such a value at an epoch as ``<key>@<epoch>`` (``test_acc@2``).

The evaluation metrics of a split are the task's per-example metrics (:data:`TASK_METRICS`; every task has
``acc``) plus ``loss``, ``correct`` and ``n``. The task is the dataset's (a classification dataset unless it says
otherwise); where it is not known, the metrics of every task are allowed. A probe's keys are known where the probe
declares them (``fields=`` when it is registered: a sequence, or a callable of the probe's arguments); otherwise
every ``<prefix>_<key>`` is allowed.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from scrutiny.spec.schema import Spec

#: Per task, the per-example metrics of :meth:`scrutiny.trials.tasks.Task.metrics` (``loss`` is added to each).
TASK_METRICS: Mapping[str, tuple[str, ...]] = {
    "classification": ("acc",),
    "regression": ("acc", "dist"),
    "rendering": ("acc", "iou"),
    "transformation": ("acc", "recon", "recon_c", "recon_s", "gan_g", "gan_d", "baseline"),
}
#: Keys of every epoch's row beside the evaluation's.
TRAIN_ROW_KEYS = ("lr", "train_loss_epoch_avg", "train_acc_epoch_avg", "train_n", "epoch_time_s")
#: Numbers of the final record that are not metrics of a split (costs and bookkeeping).
RECORD_NUMBERS = (
    "epochs",
    "n_params",
    "train_steps",
    "batch_size",
    "flops_per_train_step",
    "device_time_s",
    "wall_time_s",
    "cpu_time_s",
)


def split_metrics(split: str, task: str | None = None) -> tuple[str, ...]:
    """``<split>_<metric>`` of one evaluation: the task's metrics (every task's where ``task`` is None), ``loss``,
    ``correct`` and ``n``."""
    every = tuple(dict.fromkeys(m for metrics in TASK_METRICS.values() for m in metrics))
    names = TASK_METRICS[task] if task is not None else every
    return tuple(f"{split}_{m}" for m in (*names, "loss", "correct", "n"))


@dataclass(frozen=True)
class SpecFields:
    """What a spec's trials will hold.

    Attributes:
        record: Numeric fields of the final record (``final_*``, ``best_*``, declared probe fields, costs).
        epochs: The epochs that have a row (``0`` alone for a spec that does not train).
        evaluated: The epochs whose row has the evaluation's metrics.
        train_keys: Keys of every row beside the evaluation's.
        eval_keys: Keys of an evaluated row (``<split>_<metric>``).
        probe_prefixes: Prefixes of probes that do not declare their keys: any ``<prefix>_<key>`` may appear.
        task: The task the fields were listed for (None: unknown, every task's metrics allowed).
    """

    record: frozenset[str]
    epochs: tuple[int, ...]
    evaluated: tuple[int, ...]
    train_keys: tuple[str, ...]
    eval_keys: tuple[str, ...]
    probe_prefixes: tuple[str, ...] = ()
    task: str | None = None
    scored: frozenset[str] = field(default_factory=frozenset)

    def names(self) -> list[str]:
        """Every field a hypothesis may name, epoch-indexed ones as ``<key>@<first>..<last>``."""
        out = sorted(self.scored) + [f"{p}_*" for p in self.probe_prefixes]
        if self.epochs:
            out += [f"{k}@{_span(self.epochs)}" for k in self.train_keys if self.epochs != (0,)]
            out += [f"{k}@{_span(self.evaluated)}" for k in self.eval_keys]
        return out

    def problem(self, name: str, *, any_record_field: bool = False) -> str | None:
        """Why the trials will not hold ``name`` (one sentence with the close matches), or None when they will.

        Args:
            name: A field (``final_test_acc``), a probe field (``ekld_tail``) or ``<key>@<epoch>``.
            any_record_field: Also accept the record's cost fields (``n_params``, ...): the claim's own metric may
                name them, a hypothesis's other metric may not (only ``final_*``, ``best_*`` and probe fields are
                read beside the claim's metric).
        """
        if "@" in name:
            key, _, at = name.rpartition("@")
            if not at.isdigit():
                return f"'{name}': write <key>@<epoch> with a whole epoch (test_acc@2)"
            epoch = int(at)
            if key in self.eval_keys:
                if epoch in self.evaluated:
                    return None
                return f"'{name}': '{key}' is evaluated at {_epochs(self.evaluated)}, not at epoch {epoch}"
            if key in self.train_keys and self.epochs != (0,):
                if epoch in self.epochs:
                    return None
                return f"'{name}': the spec trains {_epochs(self.epochs)}, not epoch {epoch}"
            keys = [*self.eval_keys, *(self.train_keys if self.epochs != (0,) else ())]
            return f"'{name}': no epoch row has '{key}'{_close(key, keys)}"
        allowed = self.record if any_record_field else self.scored
        if name in allowed or any(name.startswith(f"{p}_") for p in self.probe_prefixes):
            return None
        _, sep, key = name.partition("_")
        probes = [f"{p}_{key}" for p in self.probe_prefixes] if sep and key else []  # a misspelt prefix
        close = difflib.get_close_matches(name, sorted(allowed) + probes, n=3, cutoff=0.6)
        if close:
            return f"no field '{name}'; did you mean " + " or ".join(f"'{c}'" for c in close) + "?"
        return f"no field '{name}'{_close(name, sorted(allowed) + [f'{p}_<key>' for p in self.probe_prefixes])}"


def spec_fields(spec: Spec, task: str | None = None) -> SpecFields:
    """The fields the trials of ``spec`` will hold (see the module's docstring).

    Args:
        spec: A resolved spec.
        task: The dataset's task (``classification``, ``regression``, ``rendering``, ``transformation``); None
            where it is not known: the metrics of every task are listed.
    """
    from scrutiny.registry import PROBES

    if task is not None and task not in TASK_METRICS:
        task = None
    split = spec.eval.split
    evaluation = split_metrics(split, task)
    n = spec.train.epochs
    final = {f"final_{k}" for k in evaluation}
    if n > 0:  # the last epoch's training averages (a spec that does not train has none)
        final |= {"final_train_loss_epoch_avg", "final_train_acc_epoch_avg"}
    best = {f"best_{k}" for k in evaluation} | {"best_epoch"}  # read as a score like every best_* field
    declared: set[str] = set()
    open_prefixes: list[str] = []
    for probe in spec.probes:
        keys = _probe_keys(PROBES.meta(probe.name).get("fields") if probe.name in PROBES else None, probe.kwargs)
        if keys is None:
            open_prefixes.append(probe.field_prefix)
        else:
            declared |= {f"{probe.field_prefix}_{k}" for k in keys}
    scored = frozenset(final | best | declared)
    epochs = tuple(range(1, n + 1)) if n > 0 else (0,)
    every = spec.eval.every_epochs
    evaluated = tuple(e for e in epochs if e == 0 or e % every == 0 or e == n)
    return SpecFields(
        record=frozenset(scored | set(RECORD_NUMBERS)),
        epochs=epochs,
        evaluated=evaluated,
        train_keys=TRAIN_ROW_KEYS,
        eval_keys=evaluation,
        probe_prefixes=tuple(open_prefixes),
        task=task,
        scored=scored,
    )


def _probe_keys(declared: object, kwargs: Mapping[str, object]) -> Iterable[str] | None:
    if declared is None:
        return None
    if callable(declared):
        fn: Callable[..., Iterable[str]] = declared
        return list(fn(**kwargs))
    if isinstance(declared, Iterable) and not isinstance(declared, str):
        return [str(k) for k in declared]
    return None


def _span(epochs: tuple[int, ...]) -> str:
    return str(epochs[0]) if len(epochs) == 1 else f"{epochs[0]}-{epochs[-1]}"


def _epochs(epochs: tuple[int, ...]) -> str:
    """``epoch 3``, ``epochs 1-10`` (consecutive), ``epochs 2, 4, 6`` or ``epochs 2, 4, 6, ..., 18, 20``."""
    if len(epochs) == 1:
        return f"epoch {epochs[0]}"
    if epochs[-1] - epochs[0] == len(epochs) - 1:
        return f"epochs {epochs[0]}-{epochs[-1]}"
    if len(epochs) <= 6:
        return "epochs " + ", ".join(map(str, epochs))
    return "epochs " + ", ".join(map(str, epochs[:3])) + ", ..., " + ", ".join(map(str, epochs[-2:]))


def _close(name: str, candidates: list[str]) -> str:
    close = difflib.get_close_matches(name, candidates, n=3, cutoff=0.6)
    if close:
        return "; did you mean " + " or ".join(f"'{c}'" for c in close) + "?"
    shown = candidates[:24]
    more = f", ... ({len(candidates) - len(shown)} more)" if len(candidates) > len(shown) else ""
    return f"; the spec's trials will hold {', '.join(shown)}{more}" if shown else ""
