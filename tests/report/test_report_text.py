"""What the report says, on a claim scored from made-up per-seed numbers (no trial runs, so it is fast): the
'holds if' column, the caption of the scores figure, the differences of the compared pairs only, the decision rules
as HTML, the cost of a gain, and one number format in Markdown and HTML."""

from __future__ import annotations

import re
from types import SimpleNamespace

import numpy as np
import pytest

from scrutiny.analysis.check import claim_result, claim_setup
from scrutiny.analysis.display import cost_per_point
from scrutiny.analysis.scores import ArmScores
from scrutiny.analysis.verdicts import Rules, evaluate_family
from scrutiny.report.render import cost_text, holds, inline_html, rules_html, write_report
from scrutiny.store import Store

SPEC = """
model: {name: small_cnn, width: 8}
data: {name: digits, batch_size: 64}
optim: {name: sgd, lr: 0.1}
train: {epochs: 3, device: cpu}
"""
CLAIM = """
title: text
source: {paper: none}
seeds: 0-3
arms:
  base: {spec: s.yaml}
  wide: {spec: s.yaml, set: [model.width=16]}
  deep: {spec: s.yaml, set: [optim.lr=0.05, optim.nesterov=true, optim.momentum=0.9]}
  other: {spec: s.yaml, set: [data.batch_size=32]}
hypotheses:
  - wide > base
  - "|deep - base| < 0.5"
  - "wide ≈ 0.85 ± 0.2"
"""


def arm(name: str, scores, *, device_s=(10.0, 10.2, 9.9, 10.1), flops=1e6, status=None) -> ArmScores:
    scores = np.asarray(scores, dtype=float)
    seeds = list(range(4))
    status = status or dict.fromkeys(seeds, "complete")
    return ArmScores(
        name=name,
        label=name,
        spec_hash="h" + name,
        metric="final_test_acc",
        seeds=seeds,
        scores=scores,
        complete_seeds=[s for s in seeds if status[s] == "complete"],
        status={},
        curve_epochs=np.arange(1, 4),
        curves=np.outer(scores, [0.5, 0.8, 1.0]),
        device_time_s=np.asarray(device_s[: scores.size], dtype=float),
        flops_per_step=flops,
        train_steps=100,
        device="cpu",
        seed_status=status,
    )


def result_of(tmp_path, arms: dict[str, ArmScores]):
    (tmp_path / "s.yaml").write_text(SPEC)
    (tmp_path / "claim.yaml").write_text(CLAIM)
    setup = claim_setup(tmp_path / "claim.yaml", "cpu")
    hyps = [h for h in setup.claim.hypotheses if h.applies("cpu")]
    verdicts = evaluate_family(hyps, arms, Rules.of_claim(setup.claim))
    return claim_result(setup, Store(tmp_path / "runs"), arms, verdicts)


@pytest.fixture
def report(tmp_path):
    arms = {
        "base": arm("base", [0.70, 0.72, 0.71, 0.69]),
        "wide": arm("wide", [0.80, 0.82, 0.815, 0.805]),  # the same FLOPs and device time as base
        "deep": arm("deep", [0.71, 0.70, 0.72, 0.705]),
        "other": arm("other", [0.7, 0.7, 0.7], status={0: "complete", 1: "complete", 2: "complete", 3: "diverged"}),
    }
    result = result_of(tmp_path, arms)
    paths = write_report(result, tmp_path / "report")
    return result, paths["report.md"].read_text(), paths["report.html"].read_text()


def test_the_holds_column_says_what_the_estimate_must_be(report):
    _, md, html = report
    assert "holds if the estimate is" in md and "holds if the estimate is</th>" in html
    assert "holds where" not in md + html and " … ∞" not in md + html
    assert "| > 0 |" in md and "| between −0.5 and 0.5 |" not in md  # a minus sign, not a hyphen: one format
    assert "| between -0.5 and 0.5 |" in md and "| between 0.65 and 1.05 |" in md
    assert holds((0.0, float("inf"))) == "> 0" and holds((-float("inf"), 0.5)) == "< 0.5"


def test_the_scores_caption_mentions_diamonds_only_where_drawn(report, tmp_path):
    _, md, html = report
    assert "diamond" not in md.lower() and "diamond" not in html.lower()  # no arm has a published value
    arms = {n: arm(n, [0.7, 0.72, 0.71, 0.69]) for n in ("base", "wide", "deep", "other")}
    arms["wide"].reported = {"value": 0.85, "pm": 0.01}
    claim = CLAIM.replace('"wide ≈ 0.85 ± 0.2"', '"wide ≈ reported ± 0.2"').replace(
        "[model.width=16]}", "[model.width=16], reported: {value: 0.85, pm: 0.01}}"
    )
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "s.yaml").write_text(SPEC)
    (tmp_path / "other" / "claim.yaml").write_text(claim)
    setup = claim_setup(tmp_path / "other" / "claim.yaml", "cpu")
    verdicts = evaluate_family(list(setup.claim.hypotheses), arms, Rules.of_claim(setup.claim))
    result = claim_result(setup, Store(tmp_path / "runs"), arms, verdicts)
    paths = write_report(result, tmp_path / "other" / "report")
    assert "a diamond: the paper's number" in paths["report.html"].read_text()


def test_seeds_not_drawn_are_named_under_both_figures(report):
    _, md, html = report
    said = "Not drawn (no complete trial): other: 1 seed diverged."
    assert md.count(said) == 2 and html.count(said) == 2  # under the scores and under the curves


def test_what_differs_lists_only_the_pairs_the_hypotheses_compare(report):
    result, md, html = report
    assert {(d["a"], d["b"]) for d in result.differences} >= {("base", "other"), ("wide", "deep")}  # all pairs
    section = md.split("## What differs between the compared arms")[1].split("\n## ")[0]
    rows = [line for line in section.splitlines() if line.startswith("| ") and " vs " in line][1:]  # no header
    assert {r.split(" | ")[0] for r in rows} == {"| wide vs base", "| deep vs base"}
    assert "| wide vs base | `model.width` | 16 | 8 |" in rows
    assert "| deep vs base | `optim.nesterov` | true | false |" in rows  # YAML's spelling, exact
    assert "other" not in section and "other vs" not in html.split('id="differences"')[1].split("</table>")[0]


def test_the_rules_render_as_html_without_markdown_markup(report):
    _, md, html = report
    rules = html.split("How the verdicts are decided</h2>")[1]
    assert "``" not in rules and "**" not in rules and "<code>a &gt; b + m</code>" in rules
    assert rules.count("<li>") == 9 and "pseudo-examples" in rules
    assert "``a > b + m``" in md  # Markdown renders its own code spans
    assert str(inline_html("use `x<y` and **b**")) == "use <code>x&lt;y</code> and <b>b</b>"
    assert str(rules_html("Intro.\n1. **A.** ``x``\n2. B")).startswith("<p>Intro.</p>\n<ol>\n<li><b>A.</b>")


def test_equal_flops_and_noise_level_time_state_no_cost(report):
    result, md, html = report
    v = result.verdicts[0]  # wide > base: same FLOPs, device time within noise
    c = cost_per_point(result, v)
    assert c is not None and c.device_time == "noise" and c.flops == "equal"
    assert c.device_seconds is None and c.train_flops is None
    line = next(x for x in md.splitlines() if x.startswith("- **wide > base**"))
    assert "no device time beyond timing noise" in line and "no extra training FLOPs (the same in both arms" in line
    assert not re.search(r"-\d[\d.]* (extra )?device s", md + html) and "0 training FLOPs" not in md
    assert cost_text(c, "wide", "final_test_acc") in html.replace("&#39;", "'")


def test_a_real_cost_is_stated_and_a_negative_one_never(tmp_path):
    arms = {
        "base": arm("base", [0.70, 0.72, 0.71, 0.69], device_s=(10, 10.1, 9.9, 10), flops=1e6),
        "wide": arm("wide", [0.80, 0.82, 0.815, 0.805], device_s=(20, 20.2, 19.9, 20.1), flops=4e6),
        "deep": arm("deep", [0.71, 0.70, 0.72, 0.705]),
        "other": arm("other", [0.7, 0.7, 0.7]),
    }
    result = result_of(tmp_path, arms)
    c = cost_per_point(result, result.verdicts[0])
    assert c.device_time == "cost" and c.flops == "cost"
    assert c.device_seconds == pytest.approx(10.05 / 10.5) and c.train_flops == pytest.approx(3e8 / 10.5)
    stored = result.to_dict()["verdicts"][0]["cost_per_point"]  # results.json carries the same numbers
    assert stored["device_time"] == "cost" and stored["train_flops"] == pytest.approx(3e8 / 10.5)
    text = cost_text(c, "wide", "final_test_acc")
    assert text.startswith("Cost per 0.01 of final_test_acc gained (gained here: 0.105): 0.957 extra device s")
    arms["wide"] = arm("wide", [0.80, 0.82, 0.815, 0.805], device_s=(5, 5.1, 4.9, 5), flops=0.5e6)
    cheap = cost_per_point(result_of(tmp_path, arms), result.verdicts[0])
    assert (cheap.device_time, cheap.flops, cheap.device_seconds, cheap.train_flops) == (
        "cheaper",
        "cheaper",
        None,
        None,
    )
    assert "took less" in cost_text(cheap, "wide", "m") and "needs fewer" in cost_text(cheap, "wide", "m")
    # no gain, or a hypothesis that compares no two arms: no cost at all
    assert cost_per_point(result, result.verdicts[1]) is None and cost_per_point(result, result.verdicts[2]) is None
    lost = SimpleNamespace(**{**vars(result.verdicts[0]), "estimate": -0.1})
    assert cost_per_point(result, lost) is None


def test_numbers_read_the_same_in_markdown_and_html(report):
    result, md, html = report
    v = result.verdicts[0]
    from scrutiny.report.format import fmt

    for x in (v.estimate, v.low, v.high, v.p_value):
        assert fmt(x) in md and fmt(x) in html
    assert f"| {fmt(v.estimate)} | {fmt(v.low)} … {fmt(v.high)} | > 0 | {fmt(v.p_value)} |" in md
    assert f'<td class="num">{fmt(v.p_value)}</td>' in html
