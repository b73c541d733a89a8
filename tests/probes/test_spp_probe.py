"""The ``spp`` probe: summaries on curves whose answers are known by hand, and the probe on controlled models."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from scrutiny.diagnostics.spp import SPPResult, SPPRow
from scrutiny.errors import SpecError
from scrutiny.probes import ProbeContext
from scrutiny.probes.spp import model_alpha, nf_expected_var, positions, spp_probe, summarize, table_result
from scrutiny.spec import load_spec


def _result(stages, v, m=None, r=None) -> SPPResult:
    m = m if m is not None else [0.0] * len(v)
    r = r if r is not None else [math.nan] * len(v)
    rows = tuple(
        SPPRow(f"b{i}", s, float(mi), float(vi), float(ri))
        for i, (s, vi, mi, ri) in enumerate(zip(stages, v, m, r, strict=True))
    )
    return SPPResult(rows)


def test_summaries_of_two_linear_stages():
    # stage 1: v = 2, 4, 6 (slope 2); stage 2: v = 1, 2, 3 (slope 1); the variance drops 6 -> 1 at the transition
    res = _result([0, 0, 0, 1, 1, 1], [2, 4, 6, 1, 2, 3], m=[1, 2, 3, 0.5, 0.5, 0.5], r=[1, 1, 1, 2, 2, 5])
    s = summarize(res)
    assert s["n_blocks"] == 6 and s["n_stages"] == 2 and s["nonfinite_blocks"] == 0
    assert s["var_slope_min"] == pytest.approx(1.0) and s["var_slope_max"] == pytest.approx(2.0)
    assert s["var_slope_mean"] == pytest.approx(1.5) and s["var_r2_min"] == pytest.approx(1.0)
    assert s["var_end_s1"] == 6 and s["var_end_s2"] == 3 and s["var_end_mean"] == pytest.approx(4.5)
    assert s["reset_fraction"] == 1.0 and s["reset_ratio_max"] == pytest.approx(1 / 6)
    assert s["restart_log2_min"] == s["restart_log2_max"] == pytest.approx(-1.0)  # stage 2 starts at 1, stage 1 at 2
    # squared mean: slope 1 in stage 1, 0 in stage 2; m / v = 1/2 in stage 1, then 1/2, 1/4, 1/6
    assert s["sq_mean_slope_mean"] == pytest.approx(0.5) and s["sq_mean_max"] == 3
    assert s["sq_mean_to_var_max"] == pytest.approx(0.5)
    assert s["sq_mean_to_var_mean"] == pytest.approx((0.5 * 4 + 0.25 + 1 / 6) / 6)
    assert s["res_var_mean"] == pytest.approx(2.0) and s["res_var_min"] == 1 and s["res_var_max"] == 5
    assert s["res_var_mean_s1"] == pytest.approx(1.0) and s["res_var_mean_s2"] == pytest.approx(3.0)
    assert math.isnan(s["nf_var_dev_max"])  # not an NF-ResNet: no alpha, no expectation
    # NF expectation with alpha = 1: 1 + j = 2, 3, 4 | 2, 3, 4; |v - e| = 0, 1, 2 | 1, 1, 1
    nf = summarize(res, alpha=1.0)
    assert nf["nf_var_dev_max"] == 2 and nf["nf_var_dev_mean"] == pytest.approx(1.0)
    assert nf["nf_var_rel_dev_max"] == pytest.approx(0.5)
    assert nf["nf_var_dev_max_s1"] == 2 and nf["nf_var_dev_max_s2"] == 1


def test_curvature_no_reset_doubling_and_overflow():
    # v = 1, 2, 4, 8, 16 in one stage: log2 v has slope exactly 1; a line fits the curve imperfectly
    s = summarize(_result([0] * 5, [1, 2, 4, 8, 16]))
    assert s["log2_var_slope"] == pytest.approx(1.0) and s["log2_second_moment_slope"] == pytest.approx(1.0)
    slope, icpt = np.polyfit(np.arange(1, 6), [1, 2, 4, 8, 16], 1)
    fit = slope * np.arange(1, 6) + icpt
    r2 = 1 - ((np.array([1, 2, 4, 8, 16]) - fit) ** 2).sum() / ((np.array([1, 2, 4, 8, 16]) - 6.2) ** 2).sum()
    assert s["var_slope_mean"] == pytest.approx(slope) and s["var_r2_min"] == pytest.approx(r2) and r2 < 0.95
    assert math.isnan(s["reset_fraction"])  # one stage: no transition
    # growth across the transition (no reset), and blocks whose statistics overflowed
    s = summarize(_result([0, 0, 0, 1, 1, 1], [1, 2, 4, 8, math.inf, math.nan], m=[1, 1, 1, 1, 1, 1]))
    assert s["nonfinite_blocks"] == 2 and s["reset_fraction"] == 0.0 and s["reset_ratio_max"] == 2.0
    assert s["restart_log2_min"] == pytest.approx(3.0)  # stage 2 starts 8 times higher than stage 1
    assert s["log2_var_slope"] == pytest.approx(1.0)  # fitted on the four finite blocks
    # stage 1 (1, 2, 4) is fitted; stage 2 has one finite block, too few for a fit
    assert s["var_slope_min"] == pytest.approx(1.5) and s["var_slope_max"] == pytest.approx(1.5)
    # short stages: no fit (a line through two points says nothing)
    assert math.isnan(summarize(_result([0, 0, 1, 1], [1, 2, 3, 4]))["var_slope_mean"])


def test_positions_and_nf_expectation():
    stages = np.array([0, 0, 0, 1, 1, 2])
    assert positions(stages).tolist() == [1, 2, 3, 1, 2, 1]
    np.testing.assert_allclose(nf_expected_var(stages, 0.2), [1.04, 1.08, 1.12, 1.04, 1.08, 1.04])


class Const(nn.Module):
    """Outputs ``mean + std·s`` whatever its input, with ``s = ±1`` alternating over the batch: per channel, mean
    ``mean`` and population variance ``std²``, exactly."""

    def __init__(self, mean: float, std: float, channels: int = 3) -> None:
        super().__init__()
        self.mean, self.std, self.channels = mean, std, channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        sign = torch.tensor([1.0 if i % 2 == 0 else -1.0 for i in range(x.shape[0])]).reshape(-1, 1, 1, 1)
        return self.mean + self.std * sign.expand(x.shape[0], self.channels, 2, 2)


class ConstBlock(nn.Module):
    def __init__(self, mean: float, std: float, res_std: float) -> None:
        super().__init__()
        self.out, self.branch = Const(mean, std), Const(0.0, res_std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.branch(x)
        return self.out(x)


class Controlled(nn.Module):
    """Two stages of two blocks whose outputs are fixed: v = std², m = mean², r = res_std²."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 1)  # gives the probe its input channels
        self.blocks = nn.ModuleList(
            [ConstBlock(1.0, 1.0, 1.0), ConstBlock(1.0, 2.0, 1.0), ConstBlock(0.0, 1.0, 3.0), ConstBlock(2.0, 3.0, 3.0)]
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv(x)
        for blk in self.blocks:
            h = blk(h)
        return h.mean(dim=(1, 2, 3))

    def spp_blocks(self):
        return [(f"blocks.{i}", i // 2, b, b.branch) for i, b in enumerate(self.blocks)]


def test_probe_on_a_model_whose_block_outputs_are_known():
    ctx = ProbeContext(Controlled(), None, None, None, torch.device("cpu"), seed=3)
    out = spp_probe(ctx, batch_size=4, resolution=2)
    rows = out.tables["rows"]
    assert [r["avg_var"] for r in rows] == pytest.approx([1.0, 4.0, 1.0, 9.0])
    assert [r["avg_sq_mean"] for r in rows] == pytest.approx([1.0, 1.0, 0.0, 4.0])
    assert [r["res_avg_var"] for r in rows] == pytest.approx([1.0, 1.0, 9.0, 9.0])
    assert out.tables["stage_ends"] == [1, 3] and out.tables["alpha"] is None and out.tables["expected_var"] is None
    m = out.metrics
    assert m["res_var_mean"] == pytest.approx(5.0) and m["res_var_mean_s2"] == pytest.approx(9.0)
    assert m["var_end_s1"] == pytest.approx(4.0) and m["reset_fraction"] == 1.0 and m["reset_ratio_max"] == 0.25
    assert m["sq_mean_to_var_max"] == pytest.approx(1.0) and m["var_slope_mean"] is None  # stages of 2 blocks: no fit
    assert m["nf_var_dev_max"] is None  # NaN summaries are recorded as missing
    # with alpha: expected 1 + j·α² = 5, 9 | 5, 9 for α = 2 -> |v - e| = 4, 5 | 4, 0
    nf = spp_probe(ctx, batch_size=4, resolution=2, alpha=2.0).metrics
    assert nf["nf_var_dev_max"] == pytest.approx(5.0) and nf["nf_var_dev_mean"] == pytest.approx(3.25)
    back = table_result(out.tables)
    assert back.names == [f"blocks.{i}" for i in range(4)] and back.stage_ends.tolist() == [1, 3]


def test_gaussian_inputs_follow_the_trial_seed_and_overflow_is_null():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.Conv2d(4, 4, 3, padding=1))
    probe = dict(blocks="*", batch_size=2, resolution=4)

    def run(seed):
        return spp_probe(ProbeContext(model, None, None, None, torch.device("cpu"), seed=seed), **probe)

    a, b, c = run(1), run(1), run(2)
    assert a.tables["rows"] == b.tables["rows"] and a.tables["rows"] != c.tables["rows"]
    assert a.tables["meta"]["seed"] != 1  # derived from the eval seed, not equal to it
    with torch.no_grad():
        model[1].weight.mul_(1e30)  # the second block's statistics overflow float32
    out = run(1)
    assert out.tables["rows"][1]["avg_var"] is None and out.metrics["nonfinite_blocks"] == 1


def test_alpha_comes_from_the_spec(tmp_path):
    from scrutiny.cases import case_claim

    nf = case_claim("nf_spp").parent / "nf_resnet.yaml"
    assert model_alpha(load_spec(nf)) == pytest.approx(0.2)  # alpha 0.2 times skip gain 1
    assert model_alpha(load_spec(nf, ["model.skip_gain=0.5"])) == pytest.approx(0.1)
    assert model_alpha(load_spec(case_claim("nf_spp").parent / "preact_resnet.yaml")) is None
    with pytest.raises(SpecError, match=r"probes\.0\.resolutoin"):
        load_spec(nf, ["probes=[{name: spp, resolutoin: 32}]"])
    with pytest.raises(SpecError, match=r"probes\.0\.inputs"):
        load_spec(nf, ["probes=[{name: spp, inputs: imagenet}]"])


def test_data_inputs_use_the_split_in_order():
    from scrutiny.data.synthetic import synthetic
    from scrutiny.diagnostics.spp import spp

    bundle = synthetic(size=8, n_train=4, n_test=6)
    spec = load_spec(data={"model": {"name": "small_cnn"}, "data": {"name": "synthetic"}})
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 3, padding=1))
    ctx = ProbeContext(model, spec, bundle, None, torch.device("cpu"), seed=0)
    out = spp_probe(ctx, inputs="data", blocks=["0", "2"], batch_size=3, num_batches=2)
    x = bundle.split("test").tensors[0]
    direct = spp(model, ["0", "2"], inputs=x)
    assert out.tables["meta"]["inputs"] == "loader" and out.tables["meta"]["n_examples"] == 6
    assert [r["avg_var"] for r in out.tables["rows"]] == pytest.approx(direct.avg_var.tolist(), rel=1e-5)
