"""Lookahead (airbench's EMA every k steps): the update rule by hand, finish(), and how it wraps the optimiser."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from scrutiny.spec.schema import OptimSection, ScheduleSection
from scrutiny.trials.lookahead import Lookahead
from scrutiny.trials.optim import LrSchedule, build_optimizer


class Toy(nn.Module):
    """One weight (gradient 1 under loss = w), a float buffer and an integer buffer."""

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.tensor(1.0))
        self.register_buffer("b", torch.tensor(0.0))
        self.register_buffer("n", torch.tensor(0))


def _step(model: Toy, optimizer: torch.optim.Optimizer) -> None:
    optimizer.zero_grad(set_to_none=True)
    model.w.sum().backward()
    optimizer.step()


def test_update_rule_by_hand():
    model = Toy()
    base = torch.optim.SGD(model.parameters(), lr=0.1)
    opt = Lookahead(base, model, every=2, decay=0.5, power=1.0, total_steps=4)
    _step(model, opt)  # EMA snapshot (w 1, b 0) at this first step; then w = 0.9
    assert model.w.item() == pytest.approx(0.9)
    model.b.fill_(2.0)
    model.n.fill_(7)
    _step(model, opt)  # w = 0.8; step 2: d = 0.5 * (2/4) = 0.25; e = 0.25 e + 0.75 v, then v = e
    assert model.w.item() == pytest.approx(0.25 * 1.0 + 0.75 * 0.8)  # 0.85
    assert model.b.item() == pytest.approx(0.25 * 0.0 + 0.75 * 2.0)  # buffers too (BatchNorm statistics)
    assert model.n.item() == 7  # integer buffers are left alone
    _step(model, opt)  # w = 0.75
    assert model.w.item() == pytest.approx(0.75)
    _step(model, opt)  # w = 0.65; step 4: d = 0.5; e = 0.5 * 0.85 + 0.5 * 0.65 = 0.75
    assert model.w.item() == pytest.approx(0.75)
    _step(model, opt)  # w = 0.65, no update at step 5
    assert model.w.item() == pytest.approx(0.65) and opt.steps == 5
    opt.finish()  # airbench's update(decay=1.0): the EMA, unchanged, into the model
    assert model.w.item() == pytest.approx(0.75) and model.b.item() == pytest.approx(1.5)
    assert opt.ema is not None and opt.ema["w"].item() == pytest.approx(0.75)


def test_airbench_decay_schedule():
    model = Toy()
    opt = build_optimizer(
        model, OptimSection(lookahead_every=5, lookahead_decay=0.7737809375, lookahead_power=3.0), total_steps=476
    )
    assert isinstance(opt, Lookahead) and opt.every == 5
    # main: alpha_schedule = 0.95**5 * (torch.arange(total_train_steps + 1) / total_train_steps)**3
    for step in (5, 100, 475, 476):
        assert opt.decay_at(step) == pytest.approx(0.95**5 * (step / 476) ** 3)


def test_finish_before_any_step_is_a_no_op_and_wrapping_is_transparent():
    model = Toy()
    opt = build_optimizer(model, OptimSection(lr=0.5, momentum=0.0, lookahead_every=3), total_steps=10)
    assert isinstance(opt, Lookahead)
    opt.finish()
    assert model.w.item() == 1.0
    assert opt.param_groups is opt.optimizer.param_groups  # a schedule sets the wrapped optimiser's rate
    LrSchedule(opt, OptimSection(lr=0.5), ScheduleSection(), 1).at(0.0)
    assert opt.optimizer.param_groups[0]["lr"] == 0.5
    _step(model, opt)
    assert model.w.item() == pytest.approx(0.5)
    assert set(opt.state_dict()) == {"state", "param_groups"}


def test_lookahead_off_or_without_total_steps_is_the_plain_optimiser():
    model = Toy()
    assert type(build_optimizer(model, OptimSection(), total_steps=10)) is torch.optim.SGD
    assert type(build_optimizer(model, OptimSection(lookahead_every=5))) is torch.optim.SGD
