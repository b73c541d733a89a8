import json
import math
import re

import numpy as np
import pytest
import torch
import torchvision
from torch import nn

from scrutiny.diagnostics.plots import plot_spp
from scrutiny.diagnostics.spp import (
    ChannelStats,
    SPPResult,
    SupportsSPP,
    compile_patterns,
    resolve_blocks,
    signal_metrics,
    spp,
)


def _metrics(x: torch.Tensor) -> tuple[float, float]:
    """The reference's minimal PyTorch metric (NCHW)."""
    d = (0, 2, 3)
    return x.mean(d).pow(2).mean().item(), x.var(d, unbiased=False).mean().item()


class Block(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.branch = nn.Sequential(nn.ReLU(), nn.Conv2d(c, c, 3, padding=1))

    def forward(self, x):
        return x + 0.5 * self.branch(x)


class Tiny(nn.Module):
    """stem -> two stages of blocks -> head; no normalisation."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 4, 3, padding=1)
        self.stage0 = nn.Sequential(Block(4), Block(4))
        self.down = nn.Conv2d(4, 6, 1, stride=2)
        self.stage1 = nn.Sequential(Block(6))
        self.head = nn.Linear(6, 2)

    def forward(self, x):
        x = self.stage1(self.down(self.stage0(self.stem(x))))
        return self.head(x.mean(dim=(2, 3)))

    def spp_blocks(self):
        return [
            ("stage0.0", 0, self.stage0[0], self.stage0[0].branch),
            ("stage0.1", 0, self.stage0[1], self.stage0[1].branch),
            ("stage1.0", 1, self.stage1[0], self.stage1[0].branch),
        ]


def _direct(model: Tiny, x: torch.Tensor) -> list[tuple[float, float, float]]:
    with torch.no_grad():
        h = model.stem(x)
        rows = []
        for blk in [model.stage0[0], model.stage0[1], None, model.stage1[0]]:
            if blk is None:
                h = model.down(h)
                continue
            r = blk.branch(h)
            h = h + 0.5 * r
            rows.append((*_metrics(h), _metrics(r)[1]))
        return rows


def test_matches_direct_computation_on_a_tiny_model():
    torch.manual_seed(0)
    model = Tiny()
    x = torch.randn(5, 3, 8, 8) * 2 + 1
    result = spp(model, inputs=x)
    assert isinstance(model, SupportsSPP)
    assert result.names == ["stage0.0", "stage0.1", "stage1.0"]
    assert result.stages.tolist() == [0, 0, 1]
    expected = np.array(_direct(model, x))
    np.testing.assert_allclose(result.avg_sq_mean, expected[:, 0], rtol=1e-5)
    np.testing.assert_allclose(result.avg_var, expected[:, 1], rtol=1e-5)
    np.testing.assert_allclose(result.res_avg_var, expected[:, 2], rtol=1e-5)
    assert result.meta["inputs"] == "tensor" and result.meta["n_examples"] == 5


def test_patterns_give_the_same_rows_as_the_protocol():
    torch.manual_seed(0)
    model = Tiny()
    x = torch.randn(4, 3, 8, 8)
    a = spp(model, inputs=x)
    b = spp(model, blocks="stage*.*", residuals="branch", inputs=x)
    c = spp(model, blocks=re.compile(r"stage\d\.\d"), residuals="re:bra[a-z]*", inputs=x)
    assert a.rows == b.rows == c.rows
    no_res = spp(model, blocks="stage*.*", inputs=x)
    assert np.isnan(no_res.res_avg_var).all()
    np.testing.assert_array_equal(no_res.avg_var, a.avg_var)


def test_gaussian_inputs_are_seeded_and_in_channels_inferred():
    model = Tiny()
    a = spp(model, batch_size=3, resolution=(8, 6), seed=1)
    b = spp(model, batch_size=3, resolution=(8, 6), seed=1)
    c = spp(model, batch_size=3, resolution=(8, 6), seed=2)
    assert a.rows == b.rows and a.rows != c.rows
    assert a.meta["batch_shape"] == [3, 3, 8, 6] and a.meta["seed"] == 1
    x = torch.randn(3, 3, 8, 6, generator=torch.Generator().manual_seed(1))
    assert spp(model, inputs=x).rows == a.rows


@pytest.mark.parametrize("dtype,rel", [(torch.float32, 1e-6), (torch.float64, 1e-12)])
def test_loader_batches_are_pooled(dtype, rel):
    torch.manual_seed(0)
    model = Tiny().to(dtype)
    x = torch.randn(6, 3, 8, 8, dtype=dtype)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, torch.zeros(6)), batch_size=2)
    pooled = spp(model, inputs=loader, num_batches=3)
    whole = spp(model, inputs=x)
    for p, w in zip(pooled.rows, whole.rows, strict=True):
        assert p.avg_sq_mean == pytest.approx(w.avg_sq_mean, rel=rel)
        assert p.avg_var == pytest.approx(w.avg_var, rel=rel)
        assert p.res_avg_var == pytest.approx(w.res_avg_var, rel=rel)
    assert pooled.meta["n_examples"] == 6
    with pytest.raises(ValueError, match="ran out after 3"):
        spp(model, inputs=loader, num_batches=4)


def test_channel_stats_and_signal_metrics():
    x = torch.randn(4, 3, 5, 5) + torch.tensor([1.0, -2.0, 0.0])[None, :, None, None]
    sq, var = signal_metrics(x)
    assert (sq, var) == pytest.approx(_metrics(x), rel=1e-6)
    assert signal_metrics(x[:, :, 0, 0])[1] == pytest.approx(
        x[:, :, 0, 0].var(0, unbiased=False).mean().item(), rel=1e-6
    )
    with pytest.raises(ValueError, match="N, C"):
        ChannelStats().update(torch.zeros(2, 3, 4))


def _hook_count(model: nn.Module) -> int:
    return sum(len(m._forward_hooks) for m in model.modules())


class Exploding(Tiny):
    def forward(self, x):
        self.stage0(self.stem(x))
        raise RuntimeError("boom")


class Twice(Tiny):
    def forward(self, x):
        h = self.stage0(self.stem(x))
        return self.stage1(self.stage1(self.down(h)))


@pytest.mark.parametrize("cls,match", [(Exploding, "boom"), (Twice, "exactly once")])
def test_hooks_removed_and_mode_restored_on_error(cls, match):
    model = cls()
    model.train()
    model.stage0[1].eval()  # a mixed state must come back as it was
    before = {n: m.training for n, m in model.named_modules()}
    with pytest.raises(RuntimeError, match=match):
        spp(model, batch_size=2, resolution=8)
    assert _hook_count(model) == 0
    assert {n: m.training for n, m in model.named_modules()} == before


def _bn_net() -> nn.Module:
    from scrutiny.models.preact_resnet import preact_resnet

    return preact_resnet(stage_depths=(1, 1), width=4, stem="3x3", num_classes=3)


@pytest.mark.parametrize("start", ["train", "eval"])
@pytest.mark.parametrize("mode", ["batch_stats", "eval", "train"])
def test_mode_and_buffers_restored(start, mode):
    torch.manual_seed(0)
    model = _bn_net()
    model.train(start == "train")
    buffers = {n: b.clone() for n, b in model.named_buffers()}
    spp(model, batch_size=4, resolution=8, mode=mode)
    assert all(m.training == (start == "train") for m in model.modules())
    for n, b in model.named_buffers():
        assert torch.equal(b, buffers[n]), n
    assert _hook_count(model) == 0


def test_batch_stats_differs_from_eval_for_batchnorm():
    torch.manual_seed(0)
    model = _bn_net()
    x = torch.randn(4, 3, 8, 8) * 3 + 2
    batch = spp(model, inputs=x)
    model.train()
    train = spp(model, inputs=x, mode="train")
    evaluated = spp(model, inputs=x, mode="eval")
    assert batch.rows == train.rows  # no dropout here: the same batch statistics
    assert batch.rows != evaluated.rows


def test_pattern_semantics_and_errors():
    (p,) = compile_patterns("layer*.*")
    assert p.fullmatch("layer1.0") and not p.fullmatch("layer1.0.conv1")
    (q,) = compile_patterns("**.bn?")
    assert q.fullmatch("layer1.0.bn3") and not q.fullmatch("layer1.0.bn33")
    model = Tiny()
    with pytest.raises(ValueError, match="no module name matches"):
        resolve_blocks(model, "layers.*")
    with pytest.raises(ValueError, match="nested"):
        resolve_blocks(model, "stage0**")
    with pytest.raises(ValueError, match="exactly one"):
        resolve_blocks(model, "stage*.*", "branch.*")
    with pytest.raises(ValueError, match="no spp_blocks"):
        resolve_blocks(nn.Sequential(nn.Conv2d(3, 3, 1)))
    with pytest.raises(ValueError, match="needs blocks"):
        resolve_blocks(model, residuals="branch")
    with pytest.raises(ValueError, match="mode"):
        spp(model, mode="test")
    with pytest.raises(ValueError, match="inputs"):
        spp(model, inputs="uniform")
    with pytest.raises(ValueError, match="one batch"):
        spp(model, inputs=torch.zeros(2, 3, 8, 8), num_batches=2)


@pytest.mark.parametrize("arch,n_blocks,residual", [("resnet18", 8, "bn2"), ("resnet50", 16, "bn3")])
def test_torchvision_resnets(arch, n_blocks, residual):
    torch.manual_seed(0)
    model = getattr(torchvision.models, arch)(weights=None)
    x = torch.randn(2, 3, 32, 32)
    result = spp(model, inputs=x)
    assert len(result) == n_blocks
    assert result.names[0] == "layer1.0" and result.stages.tolist() == sorted(result.stages.tolist())
    assert set(result.stages.tolist()) == {0, 1, 2, 3}
    assert np.isfinite(result.to_dict()["rows"][0]["res_avg_var"])
    # Direct check of the first block: the residual is taken before the in-place ``out += identity``.
    blk, seen = model.layer1[0], {}
    handles = [
        getattr(blk, residual).register_forward_hook(lambda m, i, o: seen.__setitem__("res", o.clone())),
        blk.register_forward_hook(lambda m, i, o: seen.__setitem__("out", o.clone())),
    ]
    model.train()
    with torch.no_grad():
        model(x)
    for h in handles:
        h.remove()
    row = result.rows[0]
    assert row.avg_sq_mean == pytest.approx(_metrics(seen["out"])[0], rel=1e-4)
    assert row.avg_var == pytest.approx(_metrics(seen["out"])[1], rel=1e-4)
    assert row.res_avg_var == pytest.approx(_metrics(seen["res"])[1], rel=1e-4)


def test_timm_nf_resnet_and_resnet():
    timm = pytest.importorskip("timm", reason="timm is not installed (pip install 'scrutiny[timm]')")
    torch.manual_seed(0)
    model = timm.create_model("nf_resnet26", pretrained=False)
    result = spp(model, batch_size=2, resolution=64)
    assert len(result) == 8 and set(result.stages.tolist()) == {0, 1, 2, 3}
    assert np.all(result.res_avg_var == 0)  # timm zero-initialises conv3's gain (SkipInit-like)
    assert result.avg_var[0] == pytest.approx(result.avg_var[1])
    resnet = timm.create_model("resnet18", pretrained=False)
    assert len(spp(resnet, batch_size=2, resolution=64)) == 8


def test_result_dict_roundtrip_and_stage_ends():
    model = Tiny()
    result = spp(model, blocks="stage*.*", batch_size=2, resolution=8)
    data = json.loads(json.dumps(result.to_dict()))
    assert data["rows"][0]["res_avg_var"] is None
    back = SPPResult.from_dict(data)
    assert back.names == result.names and math.isnan(back.rows[0].res_avg_var)
    np.testing.assert_array_equal(back.avg_var, result.avg_var)
    assert result.stage_ends.tolist() == [1, 2]


def test_plot_spp_overlays_and_saves(tmp_path):
    torch.manual_seed(0)
    a = spp(Tiny(), batch_size=2, resolution=8)
    b = spp(Tiny(), batch_size=2, resolution=8)
    axes = plot_spp({"a": a, "b": b}, title="tiny")
    # two lines, two sets of stage-end dots and one stage boundary
    assert len(axes) == 3 and len(axes[1].get_lines()) == 5
    path = tmp_path / "spp.png"
    axes[0].figure.savefig(path)
    assert path.exists() and path.stat().st_size > 1000

    from matplotlib.figure import Figure

    own = Figure().subplots(3, 1)
    assert plot_spp(a, own, yscale="log", mark_stage_ends=False)[2] is own[2]
    with pytest.raises(ValueError, match="3 axes"):
        plot_spp(a, own[:2])
