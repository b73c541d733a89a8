"""GPU placement on one machine: which visible GPU each local worker process sees.

Pure functions of the device count, so that placement is tested without GPUs.
"""

from __future__ import annotations

import math
import os

from scrutiny.execute.options import ExecutorError


def worker_devices(n_devices: int, workers: int, gpus_per_trial: float | None = None) -> list[int | None]:
    """The device index each of ``workers`` workers sees, round-robin over ``n_devices`` GPUs.

    Args:
        n_devices: GPUs visible to this process (0: none; every worker gets ``None`` and nothing changes).
        workers: Worker processes.
        gpus_per_trial: The share of a GPU a trial uses; ``1 / gpus_per_trial`` workers share one device.
            ``None``: round-robin with no limit (more workers than GPUs share them). Above 1: an error (a local trial
            runs on one device).

    Returns:
        One entry per worker: an index into the visible devices, or ``None`` without GPUs.

    Raises:
        ExecutorError: GPUs asked for where there are none, more than one GPU per trial, or more workers than the
            GPUs hold at ``gpus_per_trial``.
    """
    if n_devices == 0:
        if gpus_per_trial:
            raise ExecutorError(f"gpus_per_trial: {gpus_per_trial:g} GPU(s) asked for but no GPU is visible")
        return [None] * workers
    if gpus_per_trial is None:
        return [i % n_devices for i in range(workers)]
    share = gpus_per_trial
    if share > 1:
        raise ExecutorError(
            f"gpus_per_trial: a local trial runs on one GPU; got {share:g} (the ray executor packs larger trials)"
        )
    if share == 0:
        raise ExecutorError("gpus_per_trial: 0 on a machine with GPUs; pass a share of a GPU such as 0.5, or 1")
    per_device = math.floor(1 / share + 1e-9)
    if workers > n_devices * per_device:
        raise ExecutorError(
            f"gpus_per_trial: {workers} workers at {share:g} GPU each need {workers * share:g} GPUs; "
            f"{n_devices} are visible (at most {n_devices * per_device} workers)"
        )
    return [i % n_devices for i in range(workers)]


def visible_device_ids() -> list[str]:
    """This process's visible GPUs as ``CUDA_VISIBLE_DEVICES`` entries (what a child's variable is built from)."""
    import torch

    n = torch.cuda.device_count() if torch.cuda.is_available() else 0
    listed = os.environ.get("CUDA_VISIBLE_DEVICES")
    if listed is None:
        return [str(i) for i in range(n)]
    return [d.strip() for d in listed.split(",") if d.strip()][:n]
