"""``handbuilt_network``: zero-training networks that solve CoordConv's coordinate tasks, checked at every position.

Piekniewski's critique of Liu et al. (2018) builds a fixed network that maps a one-hot image to its exact (x, y)
(:class:`scrutiny.models.analytic.PiekniewskiLocator`); :func:`scrutiny.models.analytic.handset_coordconv_classifier`
sets the paper's own CoordConv classifier by hand. This section runs both, untrained, on every position of the
claim's canvas (borders included) and reports whether they are exact. It trains nothing and reads no trial: the
networks are fixed functions, so one pass over all positions is the whole experiment.
"""

from __future__ import annotations

from typing import Any

import torch

from scrutiny.analysis.sections._base import ReportSection, Table
from scrutiny.registry import SECTIONS


def _canvas(result: Any, canvas: int | None) -> int:
    if canvas is not None:
        return canvas
    sizes = {s.data.model_dump().get("canvas") for s in result.specs.values()} - {None}
    if len(sizes) != 1:
        from scrutiny.errors import ScrutinyError

        raise ScrutinyError(f"sections: handbuilt_network: the arms use canvases {sorted(sizes)}; set 'canvas'")
    return int(sizes.pop())


@torch.no_grad()
def check_locator(height: int, width: int) -> dict[str, Any]:
    """Run :class:`PiekniewskiLocator` on every one-hot ``(height, width)`` image; count exact answers."""
    from scrutiny.models.analytic import PiekniewskiLocator

    net = PiekniewskiLocator(height, width)
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


@torch.no_grad()
def check_classifier(height: int, width: int) -> dict[str, Any]:
    """Run the hand-set CoordConv classifier on every ``(x, y)``; count argmaxes at ``y * W + x``."""
    from scrutiny.models.analytic import handset_coordconv_classifier

    net = handset_coordconv_classifier(height, width).eval()
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


@SECTIONS.register("handbuilt_network")
def handbuilt_network(
    result: Any, store: Any, canvas: int | None = None, title: str = "A hand-built network, zero training"
) -> ReportSection:
    """Both hand-built solutions on every position of a ``canvas`` × ``canvas`` image (default: the arms' canvas)."""
    size = _canvas(result, canvas)
    locator = check_locator(size, size)
    classifier = check_classifier(size, size)
    rows = [
        ["one-hot image -> (x, y): Piekniewski's fixed network", *locator.values()],
        ["(x, y) -> pixel class: the paper's CoordConv classifier, weights set by hand", *classifier.values()],
    ]
    all_exact = locator["exact"] == locator["positions"] and classifier["exact"] == classifier["positions"]
    return ReportSection(
        title=title,
        verdict="EXACT" if all_exact else "NOT EXACT",
        paragraphs=[
            f"Both networks were run, untrained, on all {size * size} positions of a {size}×{size} canvas, borders "
            "and corners included. Piekniewski's network is one fixed 1×1 convolution over [image, column index, "
            "row index], a ReLU, a sum over the image and a bias; it answers only for a single pixel of value 1 and "
            "rejects other input (an empty image, a pixel of value 2, two pixels).",
            "What it shows: once coordinate channels are given, the coordinate transform is trivially and exactly "
            "representable; CoordConv's perfect score reflects that inductive bias. It does not show that a plain "
            "convolutional network solves the task; the paper's claim about the baselines is tested by the arms above.",
        ],
        tables=[
            Table(
                ["network", "positions", "exact", "max |error| (px)", "weights", "trained", "invalid input rejected"],
                rows,
            )
        ],
        data={"canvas": size, "locator": locator, "classifier": classifier},
    )
