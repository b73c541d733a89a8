"""Penultimate features of a model, for semantic near-duplicates: a trained trial's model or any registered one.

The features of an image are the input of the model's last ``nn.Linear`` (its classifier head), taken with a
forward hook, in eval mode and without gradients, on the split's evaluation view (what the trial was scored on).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from scrutiny.audit.images import _UNREADABLE
from scrutiny.errors import ScrutinyError


@dataclass
class Embedder:
    """A model whose penultimate features are extracted, and where it came from (``source``, e.g. a trial id)."""

    model: nn.Module
    source: str


def _head(model: nn.Module, source: str) -> nn.Linear:
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ScrutinyError(f"{source}: the model has no nn.Linear head whose input could serve as features")
    return linears[-1]


@torch.no_grad()
def penultimate_features(
    embedder: Embedder, ds, *, batch_size: int = 256, device: str | torch.device = "cpu"
) -> tuple[np.ndarray, np.ndarray]:
    """Features of every example of ``ds``.

    Args:
        embedder: The model.
        ds: Map-style dataset of ``(x, y)``; ``x`` a float tensor ``(C, H, W)``.
        batch_size: Examples per forward pass.
        device: Where the model runs.

    Returns:
        Features float32 ``(n, d)`` (zeros where an example could not be read) and ``valid`` bool ``(n,)``.
    """
    model = embedder.model.to(device)
    was_training = model.training
    model.eval()
    grabbed: list[torch.Tensor] = []
    hook = _head(model, embedder.source).register_forward_hook(
        lambda _m, inputs, _o: grabbed.append(inputs[0].detach().flatten(1).float().cpu())
    )
    n = len(ds)
    valid = np.ones(n, dtype=bool)
    feats: list[np.ndarray] = []
    try:
        for start in range(0, n, batch_size):
            xs, rows = [], []
            for i in range(start, min(start + batch_size, n)):
                try:
                    xs.append(torch.as_tensor(ds[i][0]))
                    rows.append(i - start)
                except _UNREADABLE:
                    valid[i] = False
            out = np.zeros((min(start + batch_size, n) - start, 0), dtype=np.float32)
            if xs:
                grabbed.clear()
                model(torch.stack(xs).to(device))
                got = grabbed[-1].numpy()
                out = np.zeros((len(out), got.shape[1]), dtype=np.float32)
                out[rows] = got
            feats.append(out)
    finally:
        hook.remove()
        model.train(was_training)
    width = max((f.shape[1] for f in feats), default=0)
    return np.concatenate([np.pad(f, ((0, 0), (0, width - f.shape[1]))) for f in feats]), valid


def embedder_from_trial(store, trial: str, context: dict[str, Any]) -> Embedder:
    """The trained model of a trial in ``store`` (its final ``checkpoint.pt``).

    Args:
        store: A :class:`scrutiny.store.Store`.
        trial: A trial id or a unique prefix of one.
        context: The dataset's ``num_classes``, ``in_channels`` and ``image_size`` for the model builder
            (:func:`scrutiny.models.model_context` of its bundle).
    """
    from scrutiny.models import build_model
    from scrutiny.models.weights import load_weights

    tid = store.resolve_id(trial)
    path = store.trial_dir(tid) / "checkpoint.pt"
    if not path.is_file():
        raise ScrutinyError(
            f"{path}: trial {tid} has no checkpoint to embed with (it ran with train.save_checkpoint: false, "
            "or did not finish)"
        )
    section = dict(store.spec(tid)["spec"]["model"])
    section["weights"] = None
    model = build_model(section, context)
    load_weights(model, path)
    return Embedder(model, tid)


def embedder_from_registry(name: str, context: dict[str, Any], weights: str | None = None) -> Embedder:
    """A registered model (``scrutiny list models``), with a local state_dict file loaded where given."""
    from scrutiny.models import build_model

    model = build_model({"name": name, "weights": weights}, context)
    return Embedder(model, name if weights is None else f"{name} ({weights})")
