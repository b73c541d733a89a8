"""``handbuilt_network``: zero-training networks that solve CoordConv's coordinate tasks, checked at every position.

Piekniewski's critique of Liu et al. (2018) builds a fixed network that maps a one-hot image to its exact (x, y)
(:class:`scrutiny.models.analytic.PiekniewskiLocator`); :func:`scrutiny.models.analytic.handset_coordconv_classifier`
sets the paper's own CoordConv classifier by hand. The check workflow runs both, untrained, on every position of
the claim's canvas (borders included: :func:`scrutiny.workflows.sections.handbuilt_checks`) and passes the counts
in as ``checks``; this section reports whether they are exact. It trains nothing, reads no trial and runs no
network: the networks are fixed functions, so one pass over all positions is the whole experiment.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from scrutiny.analysis.sections._base import ReportSection, Table
from scrutiny.errors import ScrutinyError
from scrutiny.registry import SECTIONS

if TYPE_CHECKING:
    from scrutiny.analysis.check import ClaimResult
    from scrutiny.spec import Spec
    from scrutiny.store import Store


def canvas_size(specs: Mapping[str, Spec], canvas: int | None) -> int:
    """``canvas`` if given, else the one canvas that every arm's data use; a one-line error where they differ."""
    if canvas is not None:
        return canvas
    canvases = (s.data.model_dump().get("canvas") for s in specs.values())
    sizes = {c for c in canvases if c is not None}
    if len(sizes) != 1:
        raise ScrutinyError(f"sections: handbuilt_network: the arms use canvases {sorted(sizes)}; set 'canvas'")
    return int(sizes.pop())


@SECTIONS.register("handbuilt_network")
def handbuilt_network(
    result: ClaimResult,
    store: Store,
    canvas: int | None = None,
    title: str = "A hand-built network, zero training",
    checks: Mapping[str, dict[str, Any]] | None = None,
) -> ReportSection:
    """Both hand-built solutions on every position of a ``canvas`` × ``canvas`` image (default: the arms' canvas).

    Args:
        result: The claim's result (its arms' specs give the canvas).
        store: The trial store (unused).
        canvas: The side of the canvas (default: the arms' ``data.canvas``).
        title: The heading.
        checks: Computed by the workflow: ``locator`` and ``classifier``, each with ``positions``, ``exact``,
            ``max_abs_error``, ``weights``, ``trainable`` and ``invalid_inputs_rejected``. Without them (a claim
            scored from the store alone) the section says that the networks were not run.
    """
    size = canvas_size(result.specs, canvas)
    if checks is None:
        return ReportSection(
            title=title,
            paragraphs=[
                f"The hand-built networks were not run for this result (it was scored from the store alone); "
                f"checking the claim runs them on all {size * size} positions of the {size}×{size} canvas."
            ],
            data={"canvas": size, "locator": None, "classifier": None},
        )
    locator, classifier = dict(checks["locator"]), dict(checks["classifier"])
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
