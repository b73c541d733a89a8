"""Run one trial: a spec and a seed, start to end, written to the store.

Read this file top to bottom. :func:`run_trial` prepares and writes the trial's folder. :func:`_fit` is the
training loop as a table of contents; its steps follow it: :func:`_setup` builds everything from the spec, the two
steps of every epoch (:func:`~scrutiny.trials._epoch.train_epoch`, :func:`~scrutiny.trials._epoch.evaluate_epoch`)
are in :mod:`scrutiny.trials._epoch`, and :func:`_final_record` writes the checkpoint and arrays and returns the
final record. What the precision (fp32, bf16, fp16 with its loss scaler) changes is in one place,
:mod:`scrutiny.trials.precision`.

A NaN or infinite training loss ends the trial with status ``diverged`` (a result, not a crash); any other exception
ends it with status ``failed``, its error and its traceback, and is re-raised only for an interruption
(``KeyboardInterrupt``, or the ``SystemExit`` with which Ray ends a worker whose driver died or whose task was
cancelled): an interrupted trial stays incomplete.
"""

from __future__ import annotations

import json
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any

import torch

from scrutiny.data import DataBundle
from scrutiny.data._bundle import Split, n_examples
from scrutiny.data.augment import AugmentedDataset
from scrutiny.data.device_data import DeviceSplit, place_splits
from scrutiny.device import resolve_device
from scrutiny.errors import DataError
from scrutiny.models import build_model, model_context
from scrutiny.probes import ProbeContext, run_probes
from scrutiny.registry import DATASETS, PROTOCOLS
from scrutiny.running import TrialContext, current, running
from scrutiny.spec import Spec, spec_hash, trial_id
from scrutiny.spec.schema import DataSection
from scrutiny.store import Store, TrialWriter
from scrutiny.trials._epoch import Diverged, Progress, Run, evaluate_epoch, train_epoch
from scrutiny.trials.batches import labels_of, steps_per_epoch, train_batches, training_length
from scrutiny.trials.dependencies import run_dependency
from scrutiny.trials.environment import backend_settings, capture_environment
from scrutiny.trials.faults import environment_fault, interrupted
from scrutiny.trials.flops import train_step_flops
from scrutiny.trials.optim import LrSchedule, build_optimizer
from scrutiny.trials.precision import Precision
from scrutiny.trials.seeding import TrialSeeds
from scrutiny.trials.tasks import make_task

EpochCallback = Callable[[dict[str, Any]], None]


def _plain(info: dict[str, Any]) -> Any:
    """The data builder's ``info`` as plain JSON (arrays as lists, anything else unknown by its repr)."""
    return json.loads(json.dumps(info, default=lambda o: o.tolist() if hasattr(o, "tolist") else repr(o)))


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def run_trial(
    spec: Spec,
    seed: int,
    store: Store,
    *,
    threads: int | None = None,
    on_epoch: EpochCallback | None = None,
    replace_failed: bool = False,
) -> dict[str, Any]:
    """Run ``spec`` with ``seed`` and write its folder in ``store``; return the final record.

    Args:
        spec: The resolved spec.
        seed: The trial's root seed.
        store: Where the trial folder is written.
        threads: CPU threads for torch in this trial (``None``: leave as is).
        on_epoch: Called after every epoch with ``{"trial", "epoch", "epochs", "metrics"}``.
        replace_failed: Run the trial again if its final record says ``failed``.

    A failure caused by the environment (full disk, read-only file system; :mod:`scrutiny.trials.faults`) writes
    ``fault.json`` instead of a final record: the returned record has ``status: failed`` and ``fault:
    environment``, and the trial stays incomplete in the store, so the next call runs it again.
    """
    tid = trial_id(spec, seed)
    seeds = TrialSeeds.from_root(seed)
    device = resolve_device(spec.train.device, parameter="train.device")
    spec_record = {"trial_id": tid, "spec_hash": spec_hash(spec), "seed": seed, "spec": spec.to_dict()}
    writer = store.begin(tid, spec_record, replace_failed=replace_failed)
    started, wall0, cpu0 = _now(), time.perf_counter(), time.process_time()
    record: dict[str, Any] = {"trial_id": tid, "seed": seed}
    try:
        with backend_settings(
            deterministic=spec.train.deterministic,
            cudnn_benchmark=spec.train.cudnn_benchmark,
            tf32=spec.train.tf32,
            threads=threads,
        ) as flags:
            writer.write(
                "trial.json",
                {
                    "trial_id": tid,
                    "spec_hash": spec_hash(spec),
                    "seeds": seeds.to_dict(),
                    "started_at": started,
                    "environment": capture_environment(device),
                    "backend_flags": flags,
                    "precision": spec.train.precision,
                },
            )
            with running(TrialContext(spec, store, tid, partial(run_dependency, store, threads))):
                record.update(_fit(spec, seeds, device, writer, tid, on_epoch))
    except KeyboardInterrupt:
        writer.abandon()
        raise
    except SystemExit as exc:
        if interrupted(exc):
            writer.abandon()
            raise
        record.update(status="failed", error=f"SystemExit: {exc}", traceback=traceback.format_exc())
    except Diverged as exc:
        record.update(status="diverged", diverged_at={"epoch": exc.epoch, "step": exc.step}, error=str(exc))
    except Exception as exc:  # a failed trial is a record, not the end of a sweep
        record.update(status="failed", error=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc())
        cause = environment_fault(exc)
        if cause is not None:
            record.update(fault="environment", error=f"environment fault: {cause}; the trial runs again next time")
    record.update(
        started_at=started,
        ended_at=_now(),
        wall_time_s=time.perf_counter() - wall0,
        cpu_time_s=time.process_time() - cpu0,
    )
    if record.get("fault") == "environment":
        writer.fault(record)
        return record
    try:
        writer.finish(record)
    except OSError as exc:  # the final record itself could not be written: the trial stays incomplete
        cause = environment_fault(exc) or f"{type(exc).__name__}: {exc.strerror}"
        writer.abandon()
        record.update(status="failed", fault="environment", error=f"environment fault: {cause}")
    return record


def _fit(
    spec: Spec, seeds: TrialSeeds, device: torch.device, writer: TrialWriter, tid: str, on_epoch: EpochCallback | None
) -> dict[str, Any]:
    """Build everything from the spec, train, evaluate every ``eval.every_epochs`` and at the end, then record."""
    run = _setup(spec, seeds, device)
    trial = current()
    depends_on = list(trial.dependencies) if trial is not None else []
    writer.write("data.json", {"info": _plain(run.bundle.info), "depends_on": depends_on, "loading": run.loading})
    progress = Progress()
    epochs = run.epochs  # train.epochs, or fewer where train.max_steps stops the run sooner
    if epochs == 0:  # no training: the initialised model is evaluated once, as epoch 0
        progress.history.append({"epoch": 0, **evaluate_epoch(run, progress, 0)})
        writer.append_metrics(progress.history[-1])
    for epoch in range(1, epochs + 1):
        t0 = _sync_time(device)
        row = train_epoch(run, epoch, writer)
        finish = getattr(run.optimizer, "finish", None)  # after the last step: e.g. lookahead's weights into the model
        if epoch == epochs and callable(finish):
            finish()
        if epoch % spec.eval.every_epochs == 0 or epoch == epochs:
            row.update(evaluate_epoch(run, progress, epoch))
        row["epoch_time_s"] = epoch_time = _sync_time(device) - t0  # with compilation, where compile_time_s is set
        progress.device_time += epoch_time - row.get("compile_time_s", 0.0)  # without it
        progress.last_row = row
        progress.history.append(row)
        writer.append_metrics(row)
        if spec.train.checkpoint_every and epoch % spec.train.checkpoint_every == 0 and epoch < epochs:
            writer.save_checkpoint(_state(run, epoch), f"checkpoint-e{epoch}.pt")
        if on_epoch is not None:
            on_epoch({"trial": tid, "epoch": epoch, "epochs": epochs, "metrics": row})
    record = _final_record(run, progress, writer)
    if depends_on:
        record["depends_on"] = depends_on
    if spec.probes:
        ctx = ProbeContext(
            run.model, spec, run.bundle, run.task, device, seeds.eval, progress.history, progress.eval_batches, record
        )
        record.update(run_probes(spec, ctx, writer))
    return record


def _setup(spec: Spec, seeds: TrialSeeds, device: torch.device) -> Run:
    """Data, task, model, optimiser, schedule and precision, built in a fixed order from the seed streams."""
    loading = set(DataSection.model_fields) - {"root"}  # how data are batched, not which data: not for the builder
    data_args = {k: v for k, v in spec.data.model_dump().items() if k not in loading}
    bundle = DATASETS.get(spec.data.name)(**data_args)
    plain_train, eval_ds = bundle.split(bundle.train_split), bundle.split(spec.eval.split)
    train_ds, eval_ds, placement = _place_data(spec, bundle, plain_train, eval_ds, device, seeds.augment)
    protocol = PROTOCOLS.get(spec.eval.protocol)(**spec.eval.protocol_args)
    task = make_task(bundle.task, **bundle.task_args)
    labels = labels_of(train_ds) if spec.data.sampler != "uniform" else None
    n_steps = steps_per_epoch(n_examples(train_ds), spec.data.batch_size, spec.data.drop_last)
    _, total_steps = training_length(spec.train.epochs, n_steps, spec.train.max_steps)
    # the schedule's span in epochs: fractional where train.max_steps ends training in an epoch
    horizon = total_steps / n_steps if n_steps else float(spec.train.epochs)

    torch.manual_seed(seeds.init)  # stream "init": parameter initialisation
    model = build_model(spec.model.model_dump(), model_context(bundle)).to(device)
    _init_from_data(model, train_ds if isinstance(train_ds, DeviceSplit) else plain_train, device)
    if spec.train.channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = build_optimizer(model, spec.optim, total_steps=total_steps)
    forward = torch.compile(model) if spec.train.compile else model
    torch.manual_seed(seeds.dropout)  # stream "dropout": randomness inside the model while training
    order = torch.Generator().manual_seed(seeds.data_order)  # stream "data_order"
    return Run(
        spec,
        device,
        bundle,
        train_ds,
        eval_ds,
        protocol,
        task,
        labels,
        model,
        forward,
        optimizer,
        order,
        schedule=LrSchedule(
            optimizer, spec.optim, spec.schedule, horizon, steps_per_epoch=n_steps, total_steps=total_steps
        ),
        precision=Precision.of(spec.train.precision, device),
        n_steps=n_steps,
        loading=placement,
    )


def _place_data(
    spec: Spec, bundle: DataBundle, train_ds: Split, eval_ds: Split, device: torch.device, augment_seed: int
) -> tuple[Split, Split, dict[str, Any]]:
    """The training and evaluation splits as the trial reads them: on the device (``data.on_device``) with the
    batched augmentation, or where the dataset holds them with the per-example one; and a record of which."""
    placed = place_splits(spec.data.on_device, bundle, train_ds, eval_ds, device, augment_seed)
    if placed is not None:
        return placed
    loading: dict[str, Any] = {"on_device": False, "augment": None, "augment_draws": None}
    if bundle.augment is not None:
        if not getattr(bundle.augment, "per_example", True):
            raise DataError(
                f"data.on_device: this augmentation ({type(bundle.augment).__name__}, flip "
                f"{getattr(bundle.augment, 'flip_mode', '?')}) is drawn per epoch on device-resident data only; "
                "set data.on_device: true"
            )
        train_ds = AugmentedDataset(train_ds, bundle.augment, augment_seed)
        describe = getattr(bundle.augment, "describe", None)
        loading.update(
            augment=describe() if callable(describe) else type(bundle.augment).__name__,
            augment_draws="per example per (seed, epoch, index)",
        )
    return train_ds, eval_ds, loading


def _init_from_data(model: torch.nn.Module, train: Split, device: torch.device) -> None:
    """Give a model with a data-dependent initialisation (``init_from_data`` and ``data_init_examples``, e.g.
    airbench's whitening layer) the first ``data_init_examples`` training examples, unaugmented, on ``device``."""
    hook, count = getattr(model, "init_from_data", None), getattr(model, "data_init_examples", None)
    if not callable(hook) or not isinstance(count, int):
        return
    count = min(count, n_examples(train))
    if isinstance(train, DeviceSplit):
        x = train.view(train.x[:count])
    else:
        x = torch.stack([train[i][0] for i in range(count)]).to(device)
    hook(x)


def _final_record(run: Run, progress: Progress, writer: TrialWriter) -> dict[str, Any]:
    """Write the final checkpoint and arrays, count a training step's FLOPs, and return the trial's record.

    Times: ``device_time_s`` is the sum of the epochs' ``epoch_time_s`` (training and evaluation, device
    synchronised) less ``compile_time_s``; with ``train.compile`` the record has ``compile_time_s``, the wall time
    of the first training step, which compiles the model (see :func:`~scrutiny.trials._epoch.train_epoch`), and
    ``flops_per_train_step`` is ``None``: FLOPs are not counted for a compiled model. ``eval_dtype`` is the dtype
    the evaluations ran in (``float32`` unless ``eval.precision: train``).
    """
    spec, task, last_eval, best = run.spec, run.task, progress.last_eval, progress.best
    epochs, split = run.epochs, spec.eval.split
    if spec.train.save_checkpoint:
        writer.save_checkpoint(_state(run, epochs))
    flops = None
    if epochs > 0 and not spec.train.compile:  # after the checkpoint; no training step, no cost to count
        generator = torch.Generator().manual_seed(0)
        first = next(train_batches(run.train_ds, spec.data.batch_size, generator, drop_last=False, num_workers=0))
        flops = train_step_flops(run.model, first, run.device, run.precision.autocast, task.loss)
    if last_eval is not None and last_eval.outputs:
        writer.save_arrays("outputs.npz", {f"{split}_{k}": v for k, v in last_eval.outputs.items()})
    if progress.eval_batches:
        writer.save_arrays(
            "eval_batches.npz",
            {f"epoch{b['epoch']}_{k}": v for b in progress.eval_batches for k, v in b.items() if k != "epoch"},
        )
    return {
        "status": "complete",
        "split": split,
        "task": task.name,
        "protocol": last_eval.protocol if last_eval else None,
        **({f"final_{k}": v for k, v in last_eval.metrics().items()} if last_eval else {}),
        "final_train_loss_epoch_avg": progress.last_row["train_loss_epoch_avg"],
        "final_train_acc_epoch_avg": progress.last_row["train_acc_epoch_avg"],
        **({f"best_{k}": v for k, v in best["metrics"].items()} if best else {}),
        "best_epoch": best.get("epoch"),
        "best_selected_by": f"{split}_{task.primary}",
        "best_selected_on": split,
        "selected_on_test": split == "test",
        "epochs": epochs,
        "n_params": sum(p.numel() for p in run.model.parameters()),
        "train_steps": run.total_steps,
        "batch_size": spec.data.batch_size,
        "flops_per_train_step": flops,
        "device": str(run.device),
        "device_time_s": progress.device_time,
        "eval_dtype": last_eval.dtype if last_eval else None,
        **({"compile_time_s": _compile_time(progress.history)} if spec.train.compile else {}),
    }


def _compile_time(history: list[dict[str, Any]]) -> float | None:
    """``compile_time_s`` of the first epoch row that has it (the first epoch's), ``None`` without training."""
    return next((row["compile_time_s"] for row in history if "compile_time_s" in row), None)


def _sync_time(device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter()


def _state(run: Run, epoch: int) -> dict[str, Any]:
    return {"model": run.model.state_dict(), "optimizer": run.optimizer.state_dict(), "epoch": epoch}
