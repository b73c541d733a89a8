"""The optimiser options of the airbench recipe: the normalisation-bias lr scale and the piecewise-linear schedule."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from scrutiny.errors import SpecError
from scrutiny.spec import load_spec
from scrutiny.spec.identity import identity_dict
from scrutiny.spec.schema import OptimSection, ScheduleSection
from scrutiny.trials.optim import LrSchedule, build_optimizer, lr_factor, param_groups


def _net() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 4, 3, bias=True), nn.BatchNorm2d(4), nn.Linear(4, 2))


def test_norm_biases_get_the_scaled_rate_and_divided_decay():
    net = _net()
    opt = build_optimizer(net, OptimSection(lr=0.5, weight_decay=0.01, norm_bias_lr_scale=64.0))
    scaled = [g for g in opt.param_groups if "lr_scale" in g]
    assert len(scaled) == 1 and scaled[0]["params"] == [net[1].bias]
    assert scaled[0]["lr"] == 0.5 * 64 and scaled[0]["weight_decay"] == pytest.approx(0.01 / 64)
    others = [p for g in opt.param_groups if "lr_scale" not in g for p in g["params"]]
    assert len(others) == 5 and all(g["lr"] == 0.5 for g in opt.param_groups if "lr_scale" not in g)
    schedule = LrSchedule(opt, OptimSection(lr=0.5), ScheduleSection(name="cosine"), 2)
    schedule.at(1.0)  # cosine at half way: factor 0.5
    assert schedule.lr == pytest.approx(0.25) and scaled[0]["lr"] == pytest.approx(0.25 * 64)


def test_scale_one_keeps_the_old_groups():
    net = _net()
    for wd_on in ("all", "weights_only"):
        old = param_groups(net, 0.01, wd_on)
        assert param_groups(net, 0.01, wd_on, 1.0) == old and all("lr_scale" not in g for g in old)


def _airbench_get_lr(step: int, total: int) -> float:
    """legacy/airbench94.py, main: get_lr, written out again for the test."""
    warmup = int(total * 0.23)
    if step < warmup:
        frac = step / warmup
        return 0.2 * (1 - frac) + 1.0 * frac
    frac = (step - warmup) / (total - warmup)
    return 1.0 * (1 - frac) + 0.07 * frac


def test_piecewise_linear_in_steps_matches_airbench():
    section = ScheduleSection(name="piecewise_linear", knots=((0.0, 0.2), (0.23, 1.0), (1.0, 0.07)))
    n, total = 48, 476  # 50000 // 1024 steps per epoch; ceil(48 * 9.9) in all
    for step in range(total):
        t = step // n + (step % n) / n  # the loop's fractional epoch
        got = lr_factor(section, t, total / n, steps_per_epoch=n, total_steps=total)
        assert got == pytest.approx(_airbench_get_lr(step, total), abs=1e-12)


def test_piecewise_linear_in_fractional_epochs():
    section = ScheduleSection(name="piecewise_linear", knots=((0.0, 0.0), (0.5, 1.0), (1.0, 0.0)))
    assert [lr_factor(section, t, 4) for t in (0.0, 1.0, 2.0, 3.0, 4.0, 5.0)] == [0.0, 0.5, 1.0, 0.5, 0.0, 0.0]


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        ({"name": "piecewise_linear"}, "schedule: knots: piecewise_linear needs"),
        ({"name": "piecewise_linear", "knots": [[0, 1], [0.5, 0.5]]}, "schedule: knots: piecewise_linear needs"),
        ({"name": "piecewise_linear", "knots": [[0, 1], [0.5, 1], [0.4, 1], [1, 0]]}, "must increase"),
        ({"name": "cosine", "knots": [[0, 1], [1, 0]]}, "schedule: knots: only for"),
    ],
)
def test_bad_knots_are_one_line_naming_the_key(schedule, message):
    data = {"model": {"name": "small_cnn"}, "data": {"name": "digits"}, "schedule": schedule}
    with pytest.raises(SpecError, match=message) as info:
        load_spec(data=data)
    assert "\n" not in str(info.value)


def test_new_keys_at_their_defaults_leave_the_identity_unchanged():
    spec = load_spec(data={"model": {"name": "small_cnn"}, "data": {"name": "digits"}})
    ident = identity_dict(spec)
    for key in ("norm_bias_lr_scale", "lookahead_every", "lookahead_decay", "lookahead_power"):
        assert key not in ident["optim"]
    assert "knots" not in ident["schedule"]
    assert math.isclose(OptimSection().lookahead_decay, 0.95**5)


def test_default_sgd_is_unchanged():
    torch.manual_seed(0)
    net = _net()
    opt = build_optimizer(net, OptimSection(lr=0.1, weight_decay=0.001, wd_on="weights_only"))
    assert type(opt) is torch.optim.SGD and len(opt.param_groups) == 2
    assert all("lr_scale" not in g and g["lr"] == 0.1 for g in opt.param_groups)
