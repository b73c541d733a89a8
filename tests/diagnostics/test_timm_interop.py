"""Scaled WS on a weight checked by hand, and SPPs of timm models (skipped when timm is not installed).

timm facts used here (shared/reference/spp_ekld.md §2.3, timm 1.0.31): ResNets zero-initialise the last BatchNorm's
weight of each block (``zero_init_last``); NF-ResNets zero-initialise ``conv3``'s gain, put γ into every conv unless
``gamma_in_act=True``, and downsample the shortcut with a 2×2 average pool.
"""

import dataclasses
import math

import numpy as np
import pytest
import torch

from scrutiny.diagnostics.spp import spp
from scrutiny.layers.scaled_ws import ScaledStdConv2d
from scrutiny.models.nf_resnet import nf_resnet
from scrutiny.probes.spp import summarize

NO_TIMM = "timm is not installed (pip install 'timm>=0.9'); the timm interoperability checks need it"


def _hand_weight(conv: torch.nn.Conv2d, values=(1.0, 3.0, 5.0, 5.0)) -> None:
    with torch.no_grad():
        conv.weight.copy_(torch.tensor(values).reshape(2, 2, 1, 1))


def test_scaled_ws_on_a_hand_checkable_weight():
    # output channel 0: w = (1, 3): mean 2, population variance 1, fan-in N = 2 -> (w - 2) / sqrt(N·1) = ∓1/√2;
    # output channel 1: w = (5, 5): variance 0, so DeepMind's max(N·var, 1e-4) = 1e-4 floors it -> (5 - 5)·100 = 0
    conv = ScaledStdConv2d(2, 2, 1)
    _hand_weight(conv)
    r = 1 / math.sqrt(2)
    np.testing.assert_allclose(conv.standardized_weight().detach().reshape(2, 2), [[-r, r], [0, 0]], atol=1e-7)
    with torch.no_grad():
        conv.gain.copy_(torch.tensor([2.0, 1.0]))
    conv.gamma = 1.5  # gain · γ = 3 multiplies the standardised channel 0
    np.testing.assert_allclose(conv.standardized_weight().detach()[0].flatten(), [-3 * r, 3 * r], rtol=1e-6)
    # timm's form adds eps to the variance: (w - 2) / (sqrt(1 + 1e-5) · sqrt(2))
    add = ScaledStdConv2d(2, 2, 1, eps=1e-5, eps_mode="add")
    _hand_weight(add)
    expected = 1 / math.sqrt((1 + 1e-5) * 2)
    np.testing.assert_allclose(add.standardized_weight().detach()[0].flatten(), [-expected, expected], rtol=1e-6)


def test_scaled_ws_equals_timm_on_the_hand_weight():
    timm_layers = pytest.importorskip("timm.layers", reason=NO_TIMM)
    ours = ScaledStdConv2d(2, 2, 1, gamma=1.7, eps=1e-5, eps_mode="add", bias=False)
    theirs = timm_layers.ScaledStdConv2d(2, 2, 1, gamma=1.7, eps=1e-5, bias=False)
    # channel 1 = (4, 8): mean 6, variance 4 -> ∓1/√2 as well (a zero-variance channel is not compared: timm's fused
    # batch_norm leaves a rounding residue of about 3e-5 there, amplified by 1/sqrt(eps))
    for conv in (ours, theirs):
        _hand_weight(conv, (1.0, 3.0, 4.0, 8.0))
    r0, r1 = 1.7 / math.sqrt(2 * (1 + 1e-5)), 1.7 * 2 / math.sqrt(2 * (4 + 1e-5))
    np.testing.assert_allclose(ours.standardized_weight().detach().flatten(), [-r0, r0, -r1, r1], rtol=1e-6)
    x = torch.arange(2 * 2 * 3 * 3, dtype=torch.float32).reshape(2, 2, 3, 3)
    torch.testing.assert_close(ours(x), theirs(x), rtol=1e-5, atol=1e-5)


def test_timm_resnet_blocks_and_batchnorm_residuals():
    timm = pytest.importorskip("timm", reason=NO_TIMM)
    torch.manual_seed(0)
    zero = spp(timm.create_model("resnet18", pretrained=False), batch_size=4, resolution=64)
    assert len(zero) == 8 and zero.stages.tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    assert np.all(zero.res_avg_var == 0)  # zero_init_last: every residual branch ends in a BN with weight 0
    plain = spp(timm.create_model("resnet18", pretrained=False, zero_init_last=False), batch_size=4, resolution=64)
    # the residual is bn2's output: batch statistics with unit weight give variance v / (v + eps), just below 1
    assert np.all(plain.res_avg_var < 1) and np.all(plain.res_avg_var > 1 - 1e-3)


def test_timm_nf_resnet_matches_ours_in_the_first_stage():
    pytest.importorskip("timm", reason=NO_TIMM)
    from timm.models import nfnet

    cfg = dataclasses.replace(nfnet.model_cfgs["nf_resnet26"], gamma_in_act=True)  # γ as in DeepMind's code
    torch.manual_seed(0)
    theirs = nfnet.NormFreeNet(cfg)
    assert np.all(spp(theirs, batch_size=2, resolution=64).res_avg_var == 0)  # conv3's gain starts at 0
    for module in theirs.modules():
        if type(module).__name__ == "NormFreeBlock":
            module.conv3.gain.data.fill_(1.0)  # skip gain 1, as the nf_spp case sets for our NF-ResNet
    t = spp(theirs, batch_size=2, resolution=128)
    torch.manual_seed(0)
    o = spp(nf_resnet(depth=26, skip_gain=1.0), batch_size=2, resolution=128)
    assert len(t) == len(o) == 8 and t.stages.tolist() == o.stages.tolist()
    # stage 1 (2 blocks, 32×32 maps): both follow 1 + j·α² and keep unit residual variance, without mean shift
    for r in (t, o):
        s = summarize(r, alpha=0.2)
        assert s["nf_var_dev_max_s1"] < 0.05 and abs(s["res_var_mean_s1"] - 1) < 0.05 and s["sq_mean_max"] < 0.05
    # timm's 2×2 average-pool shortcut shrinks the variance at the stride-2 transitions; our strided 1×1 conv resets
    # it to about 1 + α² (DeepMind's layout)
    assert t.avg_var[2] < 0.6 * t.avg_var[0] and abs(o.avg_var[2] - 1.04) < 0.05
