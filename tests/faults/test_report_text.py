"""Text from a claim is drawn literally in figures: a ``$`` never starts mathtext (which crashed the figures)."""

from __future__ import annotations

from types import SimpleNamespace

import matplotlib
import numpy as np

from scrutiny.analysis.display import ScorePanel, curve_bands
from scrutiny.report.figures import plain, plot_curves, plot_forest, plot_scores

matplotlib.use("Agg")

LABEL = r"cost $5-$10 \frac{a $x^$"  # unbalanced and unknown mathtext: it raised ValueError while drawing


def _arm(name: str) -> SimpleNamespace:
    return SimpleNamespace(
        name=name,
        label=f"{name} {LABEL}",
        metric="acc $%",
        scores=np.array([0.5, 0.6, 0.7]),
        reported={"value": 0.6, "pm": 0.01},
        n=3,
        curves=np.array([[0.1, 0.2], [0.2, 0.3]]),
        curve_epochs=np.array([1, 2]),
    )


def test_plain_escapes_every_dollar():
    assert plain("a $b$ c") == r"a \$b\$ c" and plain("no math") == "no math"


def test_figures_draw_user_text_with_dollars(tmp_path):
    arms = [_arm("a"), _arm("b$")]
    verdict = SimpleNamespace(
        hypothesis=f"a > b {LABEL}", verdict="INCONCLUSIVE", estimate=0.1, low=-0.1, high=0.3, bound=(0.0, np.inf)
    )
    values = {a.name: a.scores for a in arms}
    panel = ScorePanel("acc $%", ["a", "b$"], {"a", "b$"}, values, {"a": 0.6, "b$": 0.6}, {"a": (0.5, 0.7)})
    drawn = [
        plot_scores(panel, arms),
        plot_curves(curve_bands(arms)),
        plot_forest([verdict]),
    ]
    for i, ax in enumerate(drawn):
        ax.figure.savefig(tmp_path / f"f{i}.png")  # drawing is where mathtext would parse
        texts = [t.get_text() for t in ax.figure.findobj(matplotlib.text.Text)]
        assert any(r"\$5-\$10" in t for t in texts)
