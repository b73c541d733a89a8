"""``scrutiny spp`` end to end (subprocesses: real exit codes and stderr), the library behind it, and hand-checked
statistics."""

import json
import struct
import subprocess
import sys

import numpy as np
import pytest
import torch

from scrutiny.diagnostics import model_setup, plot_spp, spp_compare
from scrutiny.diagnostics.spp import ChannelStats, SPPResult, SPPRow, signal_metrics
from scrutiny.errors import ScrutinyError, SpecError

SMALL = ["--set", "stage_depths=[2, 1]", "--set", "model.width=4", "--resolution", "16", "--batch-size", "2"]


def scrutiny(*args, env):
    """``python -m scrutiny spp ...`` in a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "scrutiny", "spp", *map(str, args)], capture_output=True, text=True, env=env, timeout=300
    )


def in_process(args, monkeypatch, capsys) -> tuple[int, str, str]:
    """The console entry point in this process (faster than a subprocess): ``(exit code, stdout, stderr)``."""
    from scrutiny.cli import main

    monkeypatch.setattr(sys, "argv", ["scrutiny", "spp", *map(str, args)])
    monkeypatch.setenv("COLUMNS", "200")
    with pytest.raises(SystemExit) as exc:
        main()
    captured = capsys.readouterr()
    return exc.value.code or 0, captured.out, captured.err


def _png_size(path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


@pytest.mark.slow
def test_cli_overlays_models_writes_png_and_json(tmp_path, cli_env):
    png = tmp_path / "fig" / "spp.png"
    proc = scrutiny(
        "preact_resnet", *SMALL,
        "--compare", "nf_resnet stage_depths=[1,1,1] skip_gain=1",
        "--compare", "preact_resnet order=relu_bn_conv",
        "--compare-set", "width=4", "--compare-set", "stage_depths=[2,1]",
        "--label", "bn-relu-conv", "--out", png, "--json", env=cli_env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    payload = json.loads(proc.stdout)
    assert payload["figure"] == str(png)
    models = payload["models"]
    assert [m["meta"]["label"] for m in models] == [
        "bn-relu-conv",
        "nf_resnet stage_depths=[1,1,1] skip_gain=1",
        "preact_resnet order=relu_bn_conv",
    ]
    # inline arguments win over --compare-set: three stages for the NF-ResNet, two for the others
    assert [len(m["rows"]) for m in models] == [3, 3, 3]
    assert [r["stage"] for r in models[1]["rows"]] == [0, 1, 2]
    assert models[1]["meta"]["model_spec"]["skip_gain"] == 1.0
    assert models[2]["meta"]["model_spec"]["order"] == "relu_bn_conv"
    assert models[0]["meta"]["batch_shape"] == [2, 3, 16, 16]
    for m in models:
        assert all(np.isfinite([r["avg_sq_mean"], r["avg_var"], r["res_avg_var"]]).all() for r in m["rows"])
        back = SPPResult.from_dict(m)
        assert len(back) == len(m["rows"])
    width, height = _png_size(png)
    assert width > 1000 and height > 300 and png.stat().st_size > 20_000


def test_cli_human_output_summarises_deep_nets(tmp_path, monkeypatch, capsys):
    code, out, _ = in_process(["preact_resnet", "--set", "stage_depths=[9, 9]", "--set", "width=2", "--resolution",
                               "8", "--batch-size", "2", "--out", tmp_path / "s.png"], monkeypatch, capsys)  # fmt: skip
    assert code == 0
    assert "18 blocks, gaussian input 2×3×8×8" in out and "6 of 18 blocks shown" in out
    assert "stages.1.8" in out and "stages.1.4" not in out
    assert f"figure: {tmp_path / 's.png'}" in out and (tmp_path / "s.png").exists()
    code, out, _ = in_process(["preact_resnet", "--set", "stage_depths=[1]", "--set", "width=2", "--resolution", "8"],
                              monkeypatch, capsys)  # fmt: skip
    assert code == 0 and "1 blocks" in out and "no figure written" in out and "shown" not in out


@pytest.mark.slow
def test_cli_error_in_a_subprocess_is_one_line_exit_2(cli_env):
    proc = scrutiny("preact_resnet", "--set", "deptj=26", env=cli_env)
    assert proc.returncode == 2
    assert proc.stderr == (
        "scrutiny: error: --set: model.deptj: unknown key; did you mean 'depth'? "
        "(valid keys: depth, stage_depths, block, order, width, stem)\n"
    )


@pytest.mark.parametrize(
    "args,message",
    [
        (["preact_resnt"], "scrutiny: error: MODEL: unknown model 'preact_resnt'; did you mean 'preact_resnet'?"),
        (["preact_resnet", "--set", "deptj=26"], "scrutiny: error: --set: model.deptj: unknown key; did you mean"),
        (["preact_resnet", "--set", "order=bn"], "scrutiny: error: --set: model.order: expected one of"),
        (["preact_resnet", "--compare", "nf_resnet alpah=0.1"], "scrutiny: error: --compare: model.alpah: unknown key"),
        (["preact_resnet", "--set", "depth=7"], "scrutiny: error: preact_resnet depth=7: cannot build preact_resnet"),
        (["preact_resnet", "--label", "a", "--label", "b"], "scrutiny: error: --label: 2 labels for 1 models"),
    ],
)
def test_cli_errors_are_one_line_exit_2(args, message, monkeypatch, capsys):
    code, out, err = in_process([*args, "--resolution", "8"], monkeypatch, capsys)
    assert code == 2 and out == ""
    assert err.startswith(message), err
    assert err.count("\n") == 1


def test_model_setup_accepts_both_key_forms_and_fills_defaults():
    a = model_setup("preact_resnet", ["depth=26", "model.order=relu_bn_conv"])
    assert a.section["depth"] == 26 and a.section["order"] == "relu_bn_conv" and a.section["width"] == 64
    assert a.label == "preact_resnet depth=26 order=relu_bn_conv"
    with pytest.raises(SpecError, match="^--x: model.widht: unknown key"):
        model_setup("preact_resnet", ["widht=3"], source="--x")


def test_spp_compare_is_seeded_and_leaves_global_rng_alone():
    setups = [model_setup("preact_resnet", ["stage_depths=[1, 1]", "width=2"], label=lab) for lab in ("a", "b")]
    state = torch.random.get_rng_state()
    results = spp_compare(setups, resolution=8, batch_size=2, seed=3)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert results["a"].rows == results["b"].rows  # same seed, same model, same input
    assert results["a"].meta["init_seed"] == 3 and results["a"].meta["model_spec"]["width"] == 2
    other = spp_compare(setups[:1], resolution=8, batch_size=2, seed=4)
    assert other["a"].rows != results["a"].rows
    with pytest.raises(ScrutinyError, match="duplicate labels"):
        spp_compare([setups[0], setups[0]], resolution=8)
    with pytest.raises(ScrutinyError, match="no module name matches"):
        spp_compare(setups[:1], blocks="nothing.*", resolution=8)


# Statistics' axes and ddof on tensors whose answer is known by hand.


def test_axes_are_per_channel_over_n_h_w():
    # channel 0 holds n + h (values 0..3), channel 1 the constant 5; N=2, H=2, W=1
    x = torch.zeros(2, 2, 2, 1)
    for n in range(2):
        for h in range(2):
            x[n, 0, h, 0] = n + h
    x[:, 1] = 5.0
    # channel 0: values {0, 1, 1, 2}, mean 1, population variance 0.5 (sample variance would be 2/3)
    # channel 1: mean 5, variance 0. Squared means 1 and 25 averaged: 13; variances averaged: 0.25.
    sq, var = signal_metrics(x)
    assert sq == pytest.approx(13.0) and var == pytest.approx(0.25)
    # squaring before averaging over channels: means +3 and -3 do not cancel
    y = torch.tensor([3.0, -3.0]).reshape(1, 2, 1, 1).expand(4, 2, 3, 3)
    assert signal_metrics(y) == pytest.approx((9.0, 0.0))
    # (N, C): statistics over N only; column values {1, 3} -> mean 2, var 1 (ddof 0)
    assert signal_metrics(torch.tensor([[1.0, 0.0], [3.0, 0.0]])) == pytest.approx((2.0, 0.5))


def test_pooling_over_batches_is_exact_population_statistics():
    stats = ChannelStats()
    stats.update(torch.tensor([[0.0], [2.0]]))  # batch 1: mean 1
    stats.update(torch.tensor([[4.0], [6.0], [8.0]]))  # batch 2: mean 6
    # all five values {0, 2, 4, 6, 8}: mean 4, population variance (16 + 4 + 0 + 4 + 16) / 5 = 8
    assert stats.n == 5 and stats.avg_sq_mean() == pytest.approx(16.0) and stats.avg_var() == pytest.approx(8.0)
    half = ChannelStats()
    half.update(torch.tensor([[1.0, 2.0]], dtype=torch.float16))  # half precision is upcast
    assert half.avg_var() == 0.0 and half.mean.dtype == torch.float64


def test_plot_spp_marks_stage_boundaries_and_has_a_legend():
    rows = tuple(SPPRow(f"b{i}", i // 2, 0.1 * i, 1.0 + i, 1.0) for i in range(6))
    results = {"x": SPPResult(rows), "y": SPPResult(rows)}
    axes = plot_spp(results, title="t")
    fig = axes[0].figure
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["x", "y", "end of stage"]
    dotted = [ln for ln in axes[0].get_lines() if ln.get_linestyle() == ":"]
    assert [ln.get_xdata()[0] for ln in dotted] == [2.5, 4.5]
    assert all(ax.get_ylabel() and ax.get_xlabel() for ax in axes)
    column = plot_spp(results, layout="column")
    assert column[0].figure.get_size_inches()[0] < 4
    with pytest.raises(ValueError, match="layout"):
        plot_spp(results, layout="grid")
