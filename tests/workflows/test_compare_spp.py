"""``compare_scores`` and ``compare_spp``: the public functions behind ``scrutiny compare`` and ``scrutiny spp``;
their errors name parameters, which the command line maps to flags."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from scrutiny.cli import app
from scrutiny.errors import ScrutinyError, SpecError
from scrutiny.workflows.compare import compare_scores
from scrutiny.workflows.spp import compare_spp


def test_compare_scores_from_column_and_long_files(tmp_path):
    from scrutiny import compare_scores as public

    assert public is compare_scores
    columns = tmp_path / "wide.csv"
    columns.write_text("seed,new,base\n" + "".join(f"{s},{0.9 + 0.01 * s},{0.5 + 0.01 * s}\n" for s in range(5)))
    with pytest.raises(ScrutinyError, match=r"name the arms a and b \(columns: seed, new, base\)"):
        compare_scores(file=columns)  # three columns: name the arms
    (c,) = compare_scores("new", "base", file=columns, paired=True)
    assert c.paired and c.difference == pytest.approx(0.4) and c.test  # tied differences: the exact test
    rows = [
        {"arm": a, "seed": s, "acc": v + 0.01 * s, "loss": 1 - v} for a, v in (("x", 0.9), ("y", 0.5)) for s in range(4)
    ]
    long = tmp_path / "long.json"
    long.write_text(json.dumps(rows))
    both = compare_scores("x", "y", file=long, metrics=["acc", "loss"])
    assert [c.metric for c in both] == ["acc", "loss"] and all(c.family_size == 2 for c in both)


@pytest.mark.parametrize(
    ("kwargs", "message", "flag"),
    [
        ({"a": "x", "paired": True}, r"^paired: needs a file", None),
        ({"a": "x", "b": "y", "store": "nowhere"}, r"^a/b: 'x' matches no spec", "--a/--b: 'x' matches no spec"),
        ({"file": "F", "tasks_a": "new"}, r"^tasks_b: required with", "--tasks-b: required with"),
        ({"file": "F", "metrics": ["m1", "m2"]}, r"^metrics: a file with one column per arm", "--metric: a file"),
        ({"a": "x", "b": "y", "scale": "cpu"}, r"^scale: goes with an arm of a claim", "--scale: goes with an arm"),
        ({"a": "c.yaml:x", "b": "y", "store": "nowhere"}, r"^c.yaml: no check of this claim", "c.yaml: no check"),
    ],
)
def test_compare_errors_name_parameters_and_the_cli_flags(tmp_path, kwargs, message, flag):
    path = tmp_path / "s.csv"
    path.write_text("new,base\n0.9,0.5\n0.8,0.4\n")
    kwargs = {k: (str(path) if v == "F" else v) for k, v in kwargs.items()}
    with pytest.raises(ScrutinyError, match=message):
        compare_scores(**kwargs)
    if flag is None:
        return
    args = ["compare", *(["--file", str(path)] if "file" in kwargs else []), "--store", str(tmp_path / "nowhere")]
    args += [f"--{k.replace('_', '-')}={v}" for k, v in kwargs.items() if k in ("a", "b", "tasks_a", "scale")]
    args += [f"--metric={m}" for m in kwargs.get("metrics", [])]
    res = CliRunner().invoke(app, args)
    assert res.exit_code != 0 and str(res.exception).startswith(flag), res.exception


def test_compare_spp_measures_and_plots(tmp_path):
    from scrutiny import compare_spp as public

    assert public is compare_spp
    spp = compare_spp(
        "preact_resnet",
        ["stage_depths=[1, 1]", "width=4"],
        compare=["preact_resnet order=relu_bn_conv"],
        compare_overrides=["stage_depths=[1, 1]", "width=4"],
        labels=["bn first"],
        resolution=16,
        batch_size=2,
        out=tmp_path / "spp.png",
    )
    assert list(spp.results) == ["bn first", "preact_resnet order=relu_bn_conv"]
    assert (tmp_path / "spp.png").read_bytes()[:4] == b"\x89PNG" and spp.to_dict()["figure"] == str(
        tmp_path / "spp.png"
    )
    assert all(np.isfinite(r.rows[0].avg_var) for r in spp.results.values())


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"mode": "x"}, r"^mode: expected batch_stats, eval or train"),
        ({"yscale": "x"}, r"^yscale: expected 'linear' or 'log'"),
        ({"inputs": "uniform"}, r"^inputs: expected 'gaussian'"),
        ({"residuals": "bn3"}, r"^residuals: needs blocks"),
        ({"labels": ["a", "b"]}, r"^labels: 2 labels for 1 models"),
        ({"compare": [""]}, r"^compare: expected a model name"),
        ({"overrides": ["deptj=2"]}, r"^overrides: model.deptj: unknown key"),
        ({"compare": ["preact_resnet deptj=2"]}, r"^compare: model.deptj: unknown key"),
        ({"model": "preact_resnt"}, r"^model: unknown model 'preact_resnt'"),
    ],
)
def test_compare_spp_errors_name_parameters(kwargs, message):
    args = {"model": "preact_resnet", **kwargs}
    with pytest.raises((ScrutinyError, SpecError), match=message):
        compare_spp(args.pop("model"), **args)
