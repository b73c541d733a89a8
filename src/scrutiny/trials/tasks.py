"""What a trial optimises and measures: the loss and the per-example metrics of a learning task.

A dataset bundle names its task (``DataBundle.task``, default ``classification``) and its arguments. Every task
defines ``acc`` (so ``*_acc`` always means the fraction of examples got exactly right) and ``loss``; some add
metrics of their own:

================ ============================== ===========================================================
task             loss                           metrics (per example, averaged over the split)
================ ============================== ===========================================================
classification   cross-entropy                  ``acc``: argmax equals the label
regression       mean squared error             ``dist``: Euclidean distance in pixels (outputs and targets
                                                are coordinates divided by ``scale``); ``acc``: the rounded
                                                predicted pixel equals the target pixel (scrutiny's choice)
rendering        per-pixel sigmoid cross-entropy ``iou``: IoU of ``sigmoid(logit) > 0.5`` with ``target != 0``;
                                                ``acc``: the rendered square is exact (IoU = 1)
transformation   the model's own weighted sum   ``recon``: mean absolute error of the reconstruction;
                 (column 0 of its output)       ``recon_c``, ``recon_s``, ``gan_g``, ``gan_d``: the other terms;
                                                ``baseline``: the error of answering with the batch's previous
                                                image; ``acc``: the reconstruction beats that baseline
================ ============================== ===========================================================

``transformation`` trains a generative model of a dataset's transformations without labels (GIT,
:mod:`scrutiny.models.git_generator`): the model computes its loss terms itself, one row per example, in the
columns of :data:`scrutiny.models.git_generator.LOSS_TERMS`, and the targets (class labels) are ignored.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from scrutiny.errors import DataError


@dataclass(frozen=True)
class Task:
    """Loss and per-example metrics of one kind of target.

    Attributes:
        name: ``classification``, ``regression``, ``rendering`` or ``transformation``.
        primary: The metric that ``best_*`` is chosen by.
        scale: For regression: targets are coordinates divided by ``scale`` (pixels = value × scale).
    """

    name: str
    primary: str = "acc"
    scale: float = 1.0

    def loss(self, outputs: torch.Tensor, targets: torch.Tensor, label_smoothing: float = 0.0) -> torch.Tensor:
        """Mean loss of a batch (training objective)."""
        return self.per_example_loss(outputs, targets, label_smoothing).mean()

    def per_example_loss(
        self, outputs: torch.Tensor, targets: torch.Tensor, label_smoothing: float = 0.0
    ) -> torch.Tensor:
        """Loss of each example, shape ``(N,)``."""
        outputs = outputs.float()
        if self.name == "classification":
            return F.cross_entropy(outputs, targets, reduction="none", label_smoothing=label_smoothing)
        if self.name == "regression":
            return F.mse_loss(outputs, targets.float(), reduction="none").flatten(1).mean(1)
        if self.name == "transformation":
            return outputs[:, 0]
        return F.binary_cross_entropy_with_logits(outputs, targets.float(), reduction="none").flatten(1).mean(1)

    def metrics(self, outputs: torch.Tensor, targets: torch.Tensor) -> dict[str, torch.Tensor]:
        """Per-example metrics, each of shape ``(N,)`` (float64), ``acc`` among them."""
        outputs = outputs.detach().float()
        if self.name == "classification":
            return {"acc": (outputs.argmax(1) == targets).double()}
        if self.name == "regression":
            pred, true = outputs * self.scale, targets.float() * self.scale
            dist = (pred - true).pow(2).sum(1).sqrt().double()
            exact = (pred.round() == true.round()).all(1).double()
            return {"acc": exact, "dist": dist}
        if self.name == "transformation":
            cols = {name: outputs[:, i].double() for i, name in enumerate(_TRANSFORMATION_TERMS)}
            recon, baseline = cols.pop("recon_x"), cols.pop("baseline_x")
            cols.pop("total")
            return {"acc": (recon < baseline).double(), "recon": recon, **cols, "baseline": baseline}
        mask, truth = outputs > 0, targets != 0  # sigmoid(logit) > 0.5  <=>  logit > 0
        inter = (mask & truth).flatten(1).sum(1).double()
        union = (mask | truth).flatten(1).sum(1).double()
        iou = torch.where(union > 0, inter / union.clamp(min=1), torch.ones_like(union))
        return {"acc": (iou == 1).double(), "iou": iou}

    def prediction(self, outputs: torch.Tensor) -> torch.Tensor:
        """What is stored as the per-example prediction: the class, the coordinates in pixels, or the mask."""
        if self.name == "classification":
            return outputs.argmax(1)
        if self.name == "regression":
            return outputs.float() * self.scale
        if self.name == "transformation":
            return outputs.float()[:, 1]  # the reconstruction error of each example
        return outputs > 0


def make_task(name: str, **args) -> Task:
    if name == "classification":
        return Task("classification")
    if name == "regression":
        return Task("regression", primary="dist", scale=float(args.get("scale", 1.0)))
    if name == "rendering":
        return Task("rendering", primary="iou")
    if name == "transformation":
        return Task("transformation", primary="recon")
    raise DataError(f"data: unknown task '{name}' (classification, regression, rendering or transformation)")


# the columns of a transformation model's output (scrutiny.models.git_generator.LOSS_TERMS; not imported: a stage
# does not need the model zoo to score a task)
_TRANSFORMATION_TERMS = ("total", "recon_x", "recon_c", "recon_s", "gan_g", "gan_d", "baseline_x")
LOWER_IS_BETTER = frozenset({"dist", "loss", "recon"})
