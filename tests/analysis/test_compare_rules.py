"""compare decides by the verdict engine's rules: exact tests for ties, pairing by seed, Holm over metrics."""

import json

import numpy as np
import pytest
from scipy import stats
from typer.testing import CliRunner

from scrutiny.analysis.compare import adjust_comparisons, compare
from scrutiny.cli import app


def test_tied_seeds_are_decided_by_the_exact_test():
    c = compare(np.ones(3), np.zeros(3))
    assert c.test == "exact permutation test" and c.difference_low is None
    assert c.p_two_sided == pytest.approx(0.1)  # two-sided: 2 / C(6, 3)
    assert c.verdict == "inconclusive: need 4 seeds" and "cannot reach" in c.rule
    assert compare(np.ones(4), np.zeros(4)).verdict == "A better"  # 2 / 70 < 0.05


def test_paired_comparison_uses_the_per_seed_differences():
    a = np.array([0.50, 0.60, 0.70, 0.80, 0.65])
    b = a - np.array([0.010, 0.012, 0.009, 0.011, 0.010])
    paired, unpaired = compare(a, b, paired=True), compare(a, b)
    assert paired.verdict == "A better" and paired.test.startswith("paired t")
    assert paired.p_two_sided == pytest.approx(stats.ttest_rel(a, b).pvalue)
    assert unpaired.verdict != "A better"


def test_several_metrics_are_one_holm_family():
    rng = np.random.default_rng(1)
    cs = [compare(rng.normal(0.52, 0.02, 6), rng.normal(0.5, 0.02, 6), metric=f"m{i}") for i in range(3)]
    from statsmodels.stats.multitest import multipletests

    raw = [c.p_two_sided for c in cs]
    adjust_comparisons(cs)
    assert [c.p_adjusted for c in cs] == pytest.approx(list(multipletests(raw, method="holm")[1]))
    assert all(c.family_size == 3 for c in cs)


def test_cli_pairs_a_file_by_seed(tmp_path):
    path = tmp_path / "s.csv"
    rows = ["seed,new,base"] + [f"{s},{0.5 + 0.1 * s + 0.01},{0.5 + 0.1 * s}" for s in range(6)] + ["9,0.3,"]
    path.write_text("\n".join(rows) + "\n")
    res = CliRunner().invoke(app, ["compare", "--file", str(path), "--a", "new", "--b", "base", "--paired", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["paired"] and data["a"]["n"] == 6 and data["verdict"] == "new better"
    res = CliRunner().invoke(app, ["compare", "--a", "x", "--b", "y", "--paired"])
    assert res.exit_code != 0 and "--paired needs --file" in str(res.exception)


def test_cli_reads_checks_scores_format(tmp_path):
    """compare --file takes the file that check --scores takes: arm, seed, one column per metric."""
    path = tmp_path / "scores.csv"
    rows = ["arm,seed,final_test_acc,final_test_loss"]
    rows += [f"ls,{s},{0.951 + 0.002 * (s % 2)},0.2" for s in range(4)]
    rows += [f"base,{s},{0.944 + 0.002 * (s % 2)},0.3" for s in range(4)]
    path.write_text("\n".join(rows) + "\n")
    args = ["compare", "--file", str(path), "--a", "ls", "--b", "base", "--json"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["a"]["n"] == 4 and data["difference"] == pytest.approx(0.007) and data["verdict"] == "ls better"
    res = CliRunner().invoke(app, [*args, "--metric", "final_test_acc", "--metric", "final_test_loss"])
    both = json.loads(res.stdout)
    assert [c["metric"] for c in both] == ["final_test_acc", "final_test_loss"] and both[0]["family_size"] == 2
    res = CliRunner().invoke(app, ["compare", "--file", str(path), "--a", "ls", "--b", "nope"])
    assert res.exit_code != 0 and "no rows for nope" in str(res.exception)
