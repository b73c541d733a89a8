"""Run one trial: a spec and a seed, start to end, written to the store.

Read this file top to bottom: :func:`run_trial` prepares, :func:`_fit` is the training loop, and the end of
:func:`run_trial` writes the final record. A NaN or infinite training loss ends the trial with status
``diverged`` (a result, not a crash); any other exception ends it with status ``failed``, its error and its
traceback, and is re-raised only for an interruption (``KeyboardInterrupt``, or the ``SystemExit`` with which Ray
ends a worker whose driver died or whose task was cancelled): an interrupted trial stays incomplete.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from contextlib import nullcontext
from datetime import UTC, datetime
from functools import partial
from typing import Any

import torch

from scrutiny.data.augment import AugmentedDataset
from scrutiny.data.samplers import sampler_order
from scrutiny.models import build_model
from scrutiny.probes import ProbeContext, run_probes
from scrutiny.registry import DATASETS, PROTOCOLS
from scrutiny.spec import Spec, spec_hash, trial_id
from scrutiny.spec.schema import DataSection
from scrutiny.store import Store, TrialWriter
from scrutiny.trials.batches import labels_of, steps_per_epoch, train_batches
from scrutiny.trials.environment import backend_settings, capture_environment, resolve_device
from scrutiny.trials.evaluate import evaluate
from scrutiny.trials.faults import environment_fault, interrupted
from scrutiny.trials.flops import train_step_flops
from scrutiny.trials.optim import build_optimizer, lr_factor, set_lr
from scrutiny.trials.seeding import TrialSeeds
from scrutiny.trials.tasks import LOWER_IS_BETTER, make_task

EpochCallback = Callable[[dict[str, Any]], None]
_DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


class Diverged(Exception):
    """The training loss became NaN or infinite."""

    def __init__(self, epoch: int, step: int, value: float) -> None:
        super().__init__(f"non-finite training loss {value} at epoch {epoch}, step {step}")
        self.epoch, self.step, self.value = epoch, step, value


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
    device = resolve_device(spec.train.device)
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
    """Build everything from the spec, train, evaluate every ``eval.every_epochs`` and at the end."""
    loading = set(DataSection.model_fields) - {"root"}  # how data are batched, not which data: not for the builder
    data_args = {k: v for k, v in spec.data.model_dump().items() if k not in loading}
    bundle = DATASETS.get(spec.data.name)(**data_args)
    train_ds, eval_ds = bundle.split(bundle.train_split), bundle.split(spec.eval.split)
    if bundle.augment is not None:
        train_ds = AugmentedDataset(train_ds, bundle.augment, seeds.augment)
    protocol = PROTOCOLS.get(spec.eval.protocol)(**spec.eval.protocol_args)
    task = make_task(bundle.task, **bundle.task_args)
    labels = labels_of(train_ds) if spec.data.sampler != "uniform" else None

    torch.manual_seed(seeds.init)  # stream "init": parameter initialisation
    context = {"num_classes": bundle.num_classes, "in_channels": bundle.in_channels, "image_size": bundle.image_size}
    model = build_model(spec.model.model_dump(), context).to(device)
    if spec.train.channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = build_optimizer(model, spec.optim)
    forward = torch.compile(model) if spec.train.compile else model
    torch.manual_seed(seeds.dropout)  # stream "dropout": randomness inside the model while training
    order = torch.Generator().manual_seed(seeds.data_order)  # stream "data_order"

    amp_dtype = _DTYPES[spec.train.precision]
    autocast = partial(torch.autocast, device.type, dtype=amp_dtype) if amp_dtype is not None else nullcontext
    scaler = torch.amp.GradScaler(device.type) if spec.train.precision == "fp16" else None
    epochs, split = spec.train.epochs, spec.eval.split
    n_steps = steps_per_epoch(len(train_ds), spec.data.batch_size, spec.data.drop_last)
    n_params = sum(p.numel() for p in model.parameters())
    best: dict[str, Any] = {}
    last_eval = None
    device_time = 0.0
    lr, last_factor = None, None
    history: list[dict[str, Any]] = []
    eval_batches: list[dict[str, Any]] = []

    def run_eval(epoch: int):
        result = evaluate(
            model,
            eval_ds,
            split,
            protocol,
            batch_size=spec.data.eval_batch_size,
            device=device,
            num_workers=spec.data.num_workers,
            channels_last=spec.train.channels_last,
            autocast_dtype=amp_dtype,
            keep_outputs=spec.eval.save_outputs and epoch == epochs,
            keep_batches=spec.eval.save_batches,
            task=task,
        )
        if spec.eval.save_batches:
            eval_batches.append({"epoch": epoch, **result.batches})
        return result

    row: dict[str, Any] = {"train_loss_epoch_avg": None, "train_acc_epoch_avg": None}
    if epochs == 0:  # no training: the initialised model is evaluated once, as epoch 0
        last_eval = run_eval(0)
        best = {"score": last_eval.value(task.primary), "epoch": 0, "metrics": last_eval.metrics()}
        history.append({"epoch": 0, **last_eval.metrics()})
        writer.append_metrics(history[-1])

    for epoch in range(1, epochs + 1):
        if isinstance(train_ds, AugmentedDataset):
            train_ds.set_epoch(epoch)
        t0 = _sync_time(device)
        model.train()
        step_loss = torch.zeros(n_steps, device=device)  # raw per-step values, checked for NaN after the epoch
        step_correct = torch.zeros(n_steps, dtype=torch.float64, device=device)
        seen = 0
        epoch_order = None
        if spec.data.sampler != "uniform":  # uniform keeps the plain shuffle (and its numbers) of train_batches
            epoch_order = sampler_order(labels, order, epoch, spec.data.sampler, spec.data.drs_start_epoch)
        batches = train_batches(
            train_ds,
            spec.data.batch_size,
            order,
            drop_last=spec.data.drop_last,
            num_workers=spec.data.num_workers,
            order=epoch_order,
        )
        for step, (x, y) in enumerate(batches):
            factor = lr_factor(spec.schedule, epoch - 1 + step / n_steps, epochs)
            if factor != last_factor:  # the schedule is a function of fractional epoch, applied at every step
                lr, last_factor = set_lr(optimizer, spec.optim.lr, spec.schedule.min_lr, factor), factor
            x, y = x.to(device, non_blocking=True), torch.as_tensor(y).to(device, non_blocking=True)
            if spec.train.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            with autocast():
                logits = forward(x)
                loss = task.loss(logits, y, spec.train.label_smoothing)
            optimizer.zero_grad(set_to_none=True)
            if scaler is None:
                loss.backward()
                _clip(model, spec.train.grad_clip)
                optimizer.step()
            else:  # fp16: scale the loss, unscale before clipping, skip steps with inf gradients
                scaler.scale(loss).backward()
                scaler.unscale_(optimizer)
                _clip(model, spec.train.grad_clip)
                scaler.step(optimizer)
                scaler.update()
            step_loss[step] = loss.detach()
            step_correct[step] = task.metrics(logits, y)["acc"].sum()
            seen += len(y)
        losses = step_loss.cpu()
        bad = (~torch.isfinite(losses)).nonzero()
        if len(bad):
            step = int(bad[0])
            writer.append_metrics({"epoch": epoch, "lr": lr, "train_loss_epoch_avg": None, "diverged_step": step})
            raise Diverged(epoch, step, float(losses[step]))

        row = {
            "epoch": epoch,
            "lr": lr,
            "train_loss_epoch_avg": float(losses.double().mul(_batch_sizes(seen, spec, n_steps)).sum() / seen),
            "train_acc_epoch_avg": float(step_correct.sum()) / seen,
            "train_n": seen,
        }
        if epoch % spec.eval.every_epochs == 0 or epoch == epochs:
            last_eval = run_eval(epoch)
            row.update(last_eval.metrics())
            score = last_eval.value(task.primary)
            lower = task.primary in LOWER_IS_BETTER
            if not best or (score < best["score"] if lower else score > best["score"]):
                best = {"score": score, "epoch": epoch, "metrics": last_eval.metrics()}
        epoch_time = _sync_time(device) - t0
        device_time += epoch_time
        row["epoch_time_s"] = epoch_time
        writer.append_metrics(row)
        history.append(row)
        if spec.train.checkpoint_every and epoch % spec.train.checkpoint_every == 0 and epoch < epochs:
            writer.save_checkpoint(_state(model, optimizer, epoch), f"checkpoint-e{epoch}.pt")
        if on_epoch is not None:
            on_epoch({"trial": tid, "epoch": epoch, "epochs": epochs, "metrics": row})

    if spec.train.save_checkpoint:
        writer.save_checkpoint(_state(model, optimizer, epochs))
    flops = None
    if epochs > 0 and not spec.train.compile:  # after the checkpoint; no training step, no cost to count
        first = next(
            train_batches(
                train_ds, spec.data.batch_size, torch.Generator().manual_seed(0), drop_last=False, num_workers=0
            )
        )
        flops = train_step_flops(model, first, device, autocast, task.loss)
    if last_eval is not None and last_eval.outputs:
        writer.save_arrays("outputs.npz", {f"{split}_{k}": v for k, v in last_eval.outputs.items()})
    if eval_batches:
        writer.save_arrays(
            "eval_batches.npz",
            {f"epoch{b['epoch']}_{k}": v for b in eval_batches for k, v in b.items() if k != "epoch"},
        )
    final = {f"final_{k}": v for k, v in last_eval.metrics().items()} if last_eval else {}
    best_fields = {f"best_{k}": v for k, v in best["metrics"].items()} if best else {}
    record = {
        "status": "complete",
        "split": split,
        "task": task.name,
        "protocol": last_eval.protocol if last_eval else None,
        **final,
        "final_train_loss_epoch_avg": row["train_loss_epoch_avg"],
        "final_train_acc_epoch_avg": row["train_acc_epoch_avg"],
        **best_fields,
        "best_epoch": best.get("epoch"),
        "best_selected_by": f"{split}_{task.primary}",
        "best_selected_on": split,
        "selected_on_test": split == "test",
        "epochs": epochs,
        "n_params": n_params,
        "train_steps": epochs * n_steps,
        "batch_size": spec.data.batch_size,
        "flops_per_train_step": flops,
        "device": str(device),
        "device_time_s": device_time,
    }
    if spec.probes:
        ctx = ProbeContext(model, spec, bundle, task, device, seeds.eval, history, eval_batches, record)
        record.update(run_probes(spec, ctx, writer))
    return record


def _clip(model: torch.nn.Module, max_norm: float | None) -> None:
    if max_norm is not None:
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)


def _batch_sizes(seen: int, spec: Spec, n_steps: int) -> torch.Tensor:
    """Size of each training batch of an epoch (the last one may be partial)."""
    sizes = torch.full((n_steps,), spec.data.batch_size, dtype=torch.float64)
    if n_steps:
        sizes[-1] = seen - spec.data.batch_size * (n_steps - 1)
    return sizes


def _sync_time(device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter()


def _state(model: torch.nn.Module, optimizer: torch.optim.Optimizer, epoch: int) -> dict[str, Any]:
    return {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch}
