import math

import numpy as np
import pytest
import torch
from torch import nn

from scrutiny.diagnostics.gamma import GAMMA_TABLE
from scrutiny.diagnostics.spp import SupportsSPP, spp
from scrutiny.layers.scaled_ws import ScaledStdConv2d
from scrutiny.models.nf_resnet import GammaAct, NFResNet, beta_schedule, nf_resnet
from scrutiny.models.preact_resnet import PreActResNet, preact_resnet
from scrutiny.registry import MODELS

SMALL = {"stage_depths": (2, 2), "width": 4, "num_classes": 5}


def _fwd_bwd(model: nn.Module, size: int = 32) -> None:
    model.train()
    out = model(torch.randn(3, 3, size, size))
    assert out.shape == (3, 5)
    out.square().mean().backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)


def test_registered():
    import scrutiny.models.nf_resnet  # noqa: F401
    import scrutiny.models.preact_resnet  # noqa: F401

    assert MODELS.get("preact_resnet") is preact_resnet
    assert MODELS.get("nf_resnet") is nf_resnet
    assert MODELS.describe("nf_resnet").startswith("NF-ResNet")


@pytest.mark.parametrize("order", ["bn_relu_conv", "relu_bn_conv", "relu_conv"])
@pytest.mark.parametrize("block", ["bottleneck", "basic"])
def test_preact_forward_backward(order, block):
    torch.manual_seed(0)
    _fwd_bwd(preact_resnet(order=order, block=block, **SMALL))


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"skip_gain": 1.0, "se_ratio": 0.25}, {"scaled_ws": False, "skip_gain": 1.0}, {"stochdepth_rate": 0.5}],
)
def test_nf_forward_backward(kwargs):
    torch.manual_seed(0)
    _fwd_bwd(nf_resnet(**SMALL, drop_rate=0.1, **kwargs))


def test_depths_and_600_layer_structure():
    model = preact_resnet(depth=600, width=1, num_classes=2)
    assert isinstance(model, SupportsSPP)
    blocks = model.spp_blocks()
    assert len(blocks) == 200 and [sum(1 for b in blocks if b[1] == s) for s in range(4)] == [50] * 4
    branch_convs = sum(isinstance(m, nn.Conv2d) for _, _, b, _ in blocks for m in b.branch.modules())
    assert branch_convs == 600
    assert len(preact_resnet(depth=50, width=1).spp_blocks()) == 16
    assert len(nf_resnet(depth=26, width=1).spp_blocks()) == 8
    with pytest.raises(ValueError, match="depth must be one of"):
        preact_resnet(depth=42)
    with pytest.raises(ValueError, match="depth must be one of"):
        nf_resnet(depth=18)
    with pytest.raises(ValueError, match="order"):
        PreActResNet((1,), order="bn_conv_relu")


def test_he_init():
    model = preact_resnet(**SMALL)
    conv = model.stages[0][0].branch[2]
    assert conv.weight.std().item() == pytest.approx(math.sqrt(2 / conv.weight[0].numel()), rel=0.25)


def test_beta_schedule_matches_reference():
    betas, expected = beta_schedule((3, 4, 6, 3), alpha=0.2)
    inv_sq = [1, 1.04, 1.08, 1.12, 1.04, 1.08, 1.12, 1.16, 1.04, 1.08, 1.12, 1.16, 1.2, 1.24, 1.04, 1.08]
    np.testing.assert_allclose([b**2 for b in betas], inv_sq, rtol=1e-12)
    dm_beta = [1.0, 0.980581, 0.962250, 0.944911, 0.980581, 0.962250, 0.944911, 0.928477, 0.980581, 0.962250]
    np.testing.assert_allclose([1 / b for b in betas[:10]], dm_beta, atol=1e-6)
    np.testing.assert_allclose(expected[:4], [1.04, 1.08, 1.12, 1.04], rtol=1e-12)
    nf26, _ = beta_schedule((2, 2, 2, 2))
    np.testing.assert_allclose([b**2 for b in nf26], [1.0, 1.04, 1.08, 1.04, 1.08, 1.04, 1.08, 1.04], rtol=1e-12)


def test_nf_uses_scaled_ws_and_gamma():
    model = nf_resnet(**SMALL)
    assert all(isinstance(m, ScaledStdConv2d) for m in model.modules() if isinstance(m, nn.Conv2d))
    acts = [m for m in model.modules() if isinstance(m, GammaAct)]
    assert acts and all(a.gamma == GAMMA_TABLE["relu"] for a in acts)
    he = nf_resnet(**SMALL, scaled_ws=False)
    assert not any(isinstance(m, ScaledStdConv2d) for m in he.modules())
    assert all(m.gamma == 1.0 for m in he.modules() if isinstance(m, GammaAct))
    assert isinstance(model, NFResNet) and all(b.skip_gain.item() == 0 for _, _, b, _ in model.spp_blocks())


# --- signal propagation at initialisation (Gaussian input, small models) --------------------------------------------


def _spp(model: nn.Module):
    return spp(model, batch_size=8, resolution=64, seed=0)


def test_bn_relu_conv_variance_grows_linearly_within_stages():
    torch.manual_seed(0)
    r = _spp(preact_resnet(stage_depths=(6, 4), width=16, order="bn_relu_conv"))
    per_block = 1 - 1 / math.pi  # reference: residual var of a He conv after BN-ReLU
    np.testing.assert_allclose(r.res_avg_var, per_block, rtol=0.2)
    for s in (0, 1):
        v, m = r.avg_var[r.stages == s], r.avg_sq_mean[r.stages == s]
        slope = np.polyfit(np.arange(len(v)), v, 1)[0]
        assert slope == pytest.approx(per_block, rel=0.15)
        assert v[0] == pytest.approx(2 * per_block, rel=0.2)  # transition: shortcut + residual
        assert np.polyfit(np.arange(len(m)), m, 1)[0] == pytest.approx(1 / math.pi, rel=0.3)  # mean shift grows
    assert r.avg_var[6] < r.avg_var[5] / 2  # reset at the transition


def test_relu_bn_conv_has_no_mean_shift():
    torch.manual_seed(0)
    r = _spp(preact_resnet(stage_depths=(4,), width=16, order="relu_bn_conv"))
    np.testing.assert_allclose(r.res_avg_var, 2.0, rtol=0.2)
    assert np.all(r.avg_sq_mean < 0.05)
    np.testing.assert_allclose(np.diff(r.avg_var), 2.0, rtol=0.2)


def test_plain_preact_explodes():
    torch.manual_seed(0)
    r = _spp(preact_resnet(stage_depths=(4,), width=16, order="relu_conv"))
    assert np.all(r.avg_var[1:] / r.avg_var[:-1] > 1.3)  # geometric growth without normalisation
    assert r.avg_var[-1] > 3 * r.avg_var[0]


def test_nf_resnet_follows_expected_variance():
    torch.manual_seed(0)
    model = nf_resnet(stage_depths=(4, 3), width=16, skip_gain=1.0)
    r = _spp(model)
    np.testing.assert_allclose(r.avg_var, model.expected_vars, rtol=0.06)
    np.testing.assert_allclose(r.res_avg_var, 1.0, rtol=0.3)
    assert np.all(r.avg_sq_mean < 0.05)
    assert np.all(np.diff(r.avg_var[r.stages == 0]) > 0)


def test_nf_resnet_skipinit_is_flat_within_stages():
    torch.manual_seed(0)
    r = _spp(nf_resnet(stage_depths=(3, 2), width=8))
    for s in (0, 1):
        v = r.avg_var[r.stages == s]
        np.testing.assert_allclose(v, v[0], rtol=1e-6)


def test_nf_he_init_has_mean_shift():
    torch.manual_seed(0)
    r = _spp(nf_resnet(stage_depths=(3,), width=16, scaled_ws=False, skip_gain=1.0))
    assert np.all(r.avg_sq_mean > 2 * r.avg_var)
