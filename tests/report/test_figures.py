"""The report's standard figures, checked as drawn: arm labels never overlap, epochs are whole numbers, seeds that
are not drawn are named, and the training loss gets its own panel."""

from __future__ import annotations

import matplotlib
import numpy as np

from scrutiny.analysis.display import curve_bands, score_panels
from scrutiny.analysis.scores import ArmScores
from scrutiny.report.figures import plot_curves, plot_score_panels
from scrutiny.spec.claim import Claim

matplotlib.use("Agg")

LONG = [
    "CoordConv renderer (official sharpening softmax), quadrant",
    "deconv renderer with a rather long description, quadrant",
    "CoordConv renderer (softmax off), quadrant",
    "baseline_with_an_unbreakable_identifier_name_x",
    "conv",
    "CoordConv regressor, uniform split, 40 epochs",
]


def arm(name: str, label: str, seeds: dict[int, str], epochs: int = 12) -> ArmScores:
    done = [s for s, st in seeds.items() if st == "complete"]
    rng = np.random.default_rng(len(name))
    return ArmScores(
        name=name,
        label=label,
        spec_hash="h" + name,
        metric="final_test_acc",
        seeds=list(seeds),
        scores=rng.uniform(0.4, 0.6, len(done)),
        complete_seeds=done,
        status={},
        curve_epochs=np.arange(1, epochs + 1),
        curves=np.cumsum(rng.uniform(0, 0.05, (len(done), epochs)), axis=1),
        seed_status=dict(seeds),
    )


def claim(names: list[str]) -> Claim:
    return Claim.model_validate(
        {
            "title": "t",
            "source": {"paper": "p"},
            "arms": {n: {"spec": "s.yaml"} for n in names},
            "hypotheses": [f"{names[0]} > {names[1]}"],
        }
    )


def overlaps(ax) -> list[tuple[str, str]]:
    fig = ax.figure
    fig.canvas.draw()
    boxes = [(t.get_text(), t.get_window_extent()) for t in ax.get_xticklabels() if t.get_text()]
    return [(a, b) for (a, ba), (b, bb) in zip(boxes, boxes[1:], strict=False) if ba.x1 > bb.x0]


def test_long_arm_labels_do_not_overlap():
    for n in (3, 4, 6):
        names = [f"arm{i}" for i in range(n)]
        arms = {f"arm{i}": arm(f"arm{i}", LONG[i], {0: "complete", 1: "complete"}) for i in range(n)}
        fig = plot_score_panels(score_panels(claim(names), "cpu", arms), arms)
        ax = fig.axes[0]
        assert overlaps(ax) == [], n
        assert all("\n" in t.get_text() for t in ax.get_xticklabels()[:3])  # wrapped, not run into each other
        assert min(t.get_fontsize() for t in ax.get_xticklabels()) >= 7


def test_curves_have_whole_epoch_ticks_and_name_the_seeds_not_drawn():
    arms = [
        arm("a", "conv", {0: "complete", 1: "diverged", 2: "complete", 3: "failed"}, epochs=3),
        arm("b", "CoordConv", {0: "complete", 1: "complete"}, epochs=3),
    ]
    ax = plot_curves(curve_bands(arms))
    ax.figure.canvas.draw()
    ticks = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    assert ticks and all(t.lstrip("−-").isdigit() for t in ticks), ticks
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["conv (n=2; not drawn: 1 diverged; 1 failed)", "CoordConv (n=2)"]


def test_the_training_loss_gets_a_panel_of_its_own():
    arms = [arm("a", "conv", {0: "complete", 1: "complete"}), arm("b", "CoordConv", {0: "complete"})]
    loss = {a.name: (a.curve_epochs, 2.0 - a.curves) for a in arms}
    ax = plot_curves(curve_bands(arms), curve_bands(arms, loss))
    fig = ax.figure
    assert [a.get_ylabel() for a in fig.axes] == ["accuracy of the evaluated split", "training loss (epoch average)"]
    assert [len(a.get_lines()) for a in fig.axes] == [2, 2]
    fig.canvas.draw()
    assert all(t.get_text().lstrip("−-").isdigit() for a in fig.axes for t in a.get_xticklabels() if t.get_text())
