"""``--until-decisive``: add seeds in rounds until every confirmatory hypothesis is decided or the budget is spent.

The error control stays valid under the repeated looks by alpha spending (:mod:`scrutiny.stats.sequential`): look
k decides the still-undecided confirmatory hypotheses at the α increment it spends, with Holm's procedure over
them; a verdict reached at a look is final. The schedule of looks (``n0, n0 + k, ...,  max_seeds`` seeds per arm) is
fixed by the workflow before the first look, as the spending function requires (:mod:`scrutiny.workflows.check`
runs the trials of each look; here only the decisions are made).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from scrutiny.analysis.scores import ArmScores
from scrutiny.analysis.verdicts import INCONCLUSIVE, Rules, Verdict, evaluate_family
from scrutiny.errors import ScrutinyError
from scrutiny.spec.claim import Hypothesis
from scrutiny.stats.sequential import spent_alpha


def schedule(n0: int, max_seeds: int, round_size: int) -> list[int]:
    """Seeds per arm at each look: ``n0``, then ``round_size`` more each round, the last at ``max_seeds``.

    Raises:
        ScrutinyError: ``round_size`` below 1, or ``max_seeds`` below ``n0``.
    """
    if round_size < 1:
        raise ScrutinyError(f"round_size: expected at least 1, got {round_size}")
    if max_seeds < n0:
        raise ScrutinyError(f"max_seeds: expected at least the scale's {n0} seeds, got {max_seeds}")
    looks = [n0]
    while looks[-1] < max_seeds:
        looks.append(min(max_seeds, looks[-1] + round_size))
    return looks


@dataclass
class Look:
    """One look: seeds per arm, the α it spent and the hypotheses it decided."""

    n: int
    level: float
    decided: list[str] = field(default_factory=list)
    undecided: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"n": self.n, "level": self.level, "decided": self.decided, "undecided": self.undecided}


def run_looks(
    hypotheses: list[Hypothesis],
    rules: Rules,
    looks: list[int],
    score_at: Callable[[dict[str, int]], dict[str, ArmScores]],
    arms: list[str],
) -> tuple[list[Verdict], list[Look], dict[str, ArmScores]]:
    """Decide ``hypotheses`` over the ``looks`` schedule; ``score_at(seeds per arm)`` runs and scores the arms.

    Returns the verdicts (in the order given), the looks made, and the arms' scores at the last look.
    """
    confirm = [i for i, h in enumerate(hypotheses) if not h.exploratory]
    final: dict[int, Verdict] = {}
    made: list[Look] = []
    counts = dict.fromkeys(arms, looks[0])
    scores: dict[str, ArmScores] = {}
    before = 0
    for n in looks:
        open_ = [i for i in confirm if i not in final]
        for i in open_:
            for arm in (hypotheses[i].a, hypotheses[i].b):
                if arm is not None:
                    counts[arm] = n
        scores = score_at(dict(counts))
        level = spent_alpha(rules.alpha, n, before, looks[-1])
        before = n
        look = Look(n, level)
        verdicts = evaluate_family([hypotheses[i] for i in open_], scores, rules, level=level)
        for i, v in zip(open_, verdicts, strict=True):
            if v.verdict != INCONCLUSIVE:
                final[i] = replace(v, decided_at=n)
                look.decided.append(v.hypothesis)
            elif n == looks[-1]:
                final[i] = v
        look.undecided = len(open_) - len(look.decided)
        made.append(look)
        if all(i in final for i in confirm):
            break
    explore = [i for i, h in enumerate(hypotheses) if h.exploratory]
    for i, v in zip(explore, evaluate_family([hypotheses[i] for i in explore], scores, rules), strict=True):
        final[i] = v
    return [final[i] for i in range(len(hypotheses))], made, scores
