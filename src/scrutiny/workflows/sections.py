"""What some report sections show but cannot compute from scores: networks run, attributions made.

A section in :mod:`scrutiny.analysis.sections` computes from the claim's result and the store, never from a model.
Where a section shows more (the hand-built CoordConv networks on every position, the attribution of a gap to
factors over a design), the check workflow computes it here, before the sections are built, and passes it in as
the section's keyword arguments (:func:`section_inputs`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from scrutiny.ablation.attribution import Attribution
    from scrutiny.analysis.check import ClaimResult


def check_locator(height: int, width: int) -> dict[str, Any]:
    """Run :class:`~scrutiny.models.analytic.PiekniewskiLocator` on every one-hot ``(height, width)`` image.

    Returns:
        ``positions``, ``exact`` (answers equal to the true ``(x, y)``), ``max_abs_error`` (pixels), ``weights``,
        ``trainable`` and ``invalid_inputs_rejected`` (of an empty image, a pixel of value 2 and two pixels).
    """
    import torch

    from scrutiny.models.analytic import PiekniewskiLocator

    net = PiekniewskiLocator(height, width)
    with torch.no_grad():
        rows, cols = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
        truth = torch.stack([cols.flatten(), rows.flatten()], 1).float()  # (H*W, 2) as (x, y)
        images = torch.zeros(height * width, 1, height, width)
        images[torch.arange(height * width), 0, rows.flatten(), cols.flatten()] = 1.0
        out = torch.cat([net(chunk) for chunk in images.split(512)])
        err = (out - truth).abs()
        exact = int((err.max(1).values == 0).sum())
        rejected = 0
        for bad in (torch.zeros(1, 1, height, width), 2 * images[:1], images[:1] + images[-1:]):
            try:
                net(bad)
            except ValueError:
                rejected += 1
    return {
        "positions": height * width,
        "exact": exact,
        "max_abs_error": float(err.max()),
        "weights": sum(p.numel() for p in net.parameters()) + net.bias.numel(),  # the 1×1 kernel and the bias
        "trainable": sum(p.numel() for p in net.parameters() if p.requires_grad),
        "invalid_inputs_rejected": f"{rejected}/3",
    }


def check_classifier(height: int, width: int) -> dict[str, Any]:
    """Run the hand-set CoordConv classifier on every ``(x, y)``; count argmaxes at ``y * W + x``."""
    import torch

    from scrutiny.models.analytic import handset_coordconv_classifier

    net = handset_coordconv_classifier(height, width).eval()
    with torch.no_grad():
        rows, cols = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
        coords = torch.stack([cols.flatten(), rows.flatten()], 1).float()
        pred = torch.cat([net(chunk).argmax(1) for chunk in coords.split(512)])
        correct = int((pred == rows.flatten() * width + cols.flatten()).sum())
    return {
        "positions": height * width,
        "exact": correct,
        "max_abs_error": None,
        "weights": sum(p.numel() for p in net.parameters()),
        "trainable": 0,
        "invalid_inputs_rejected": "—",
    }


def handbuilt_checks(result: ClaimResult, canvas: int | None = None, **_: Any) -> dict[str, Any]:
    """The ``handbuilt_network`` section's ``checks``: both networks on every position of the claim's canvas."""
    from scrutiny.analysis.sections.handbuilt_network import canvas_size

    size = canvas_size(result.specs, canvas)
    return {"checks": {"locator": check_locator(size, size), "classifier": check_classifier(size, size)}}


def attribute_gap(
    result: ClaimResult,
    base: str,
    target: str,
    factors: dict[str, str],
    design: str = "one-at-a-time",
    metric: str | None = None,
    named: list[str] | None = None,
    confidence: float = 0.95,
    reps: int = 10_000,
    seed: int = 0,
    **_: Any,
) -> Attribution | None:
    """Attribute ``target - base`` to ``factors`` (factor -> its arm) over the seeds that every arm completed.

    The design (``one-at-a-time``: each factor's arm is A with that factor switched; ``leave-one-out``: B with it
    left at A's value) is planned over the factor names and each arm's scores are placed at its factor subset.

    Args:
        result: The claim's result, its arms scored.
        base: Arm A.
        target: Arm B.
        factors: Factor name -> the arm that switches it.
        design: ``one-at-a-time`` or ``leave-one-out``.
        metric: The score (default: the claim's metric).
        named: Factors a source names as the largest (checked to be factors).
        confidence: Coverage of the bootstrap intervals.
        reps: Bootstrap replicates.
        seed: Seed of the bootstrap resampling.

    Returns:
        The attribution, or ``None`` where no seed is complete in every arm.

    Raises:
        ScrutinyError: An unknown design, arm or named factor (``sections: ablation_gap: ...``).
    """
    from scrutiny.ablation.attribution import attribute
    from scrutiny.ablation.designs import plan_design
    from scrutiny.analysis.sections.ablation_gap import check_arguments, common_scores
    from scrutiny.spec import diff

    check_arguments(result, base, target, factors, design, list(named or []))
    metric = metric or result.claim.metric
    names = list(factors)
    seeds, scores = common_scores(result, [base, target, *factors.values()], metric)
    if not seeds:
        return None
    plan = plan_design(design, names)
    full = frozenset(names)
    by_set = {frozenset(): scores[base], full: scores[target]}
    for f, arm in factors.items():
        by_set[frozenset([f]) if design == "one-at-a-time" else full - {f}] = scores[arm]
    reference = base if design == "one-at-a-time" else target
    keys = {f: tuple(d.key for d in diff(result.specs[reference], result.specs[arm])) for f, arm in factors.items()}
    return attribute(plan, by_set, metric=metric, seeds=seeds, keys=keys, confidence=confidence, reps=reps, seed=seed)


def _attribution(result: ClaimResult, **kwargs: Any) -> dict[str, Any]:
    return {"attribution": attribute_gap(result, **kwargs)}


# section name -> what computes its inputs from (result, **the claim's arguments of the section)
COMPUTE: dict[str, Callable[..., Mapping[str, Any]]] = {
    "handbuilt_network": handbuilt_checks,
    "ablation_gap": _attribution,
}


def section_inputs(result: ClaimResult) -> dict[int, Mapping[str, Any]]:
    """Per section of the claim (its index in the list), the keyword arguments computed for it here."""
    out: dict[int, Mapping[str, Any]] = {}
    for i, entry in enumerate(result.claim.sections):
        compute = COMPUTE.get(entry.name)
        if compute is not None:
            out[i] = compute(result, **entry.kwargs)
    return out
