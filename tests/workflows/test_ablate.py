"""Arms as specs, the ``ablate`` workflow, and ``scrutiny ablate`` end to end on tiny digits specs (in process)."""

import json

import pytest
import yaml
from typer.testing import CliRunner

from scrutiny.cli import app
from scrutiny.errors import ScrutinyError
from scrutiny.spec import load_spec, spec_hash
from scrutiny.workflows.ablate import ablate, build_arm, parse_groups, plan_ablation

A = """
label: abl-a
model: {name: small_cnn, width: 4}
data: {name: digits, batch_size: 128, eval_batch_size: 150}
optim: {name: sgd, lr: 0.01, momentum: 0.9}
train: {epochs: 1, device: cpu}
"""
B = A.replace("abl-a", "abl-b").replace("width: 4", "width: 8").replace("lr: 0.01", "lr: 0.2")


@pytest.fixture
def specs(tmp_path):
    (tmp_path / "a.yaml").write_text(A)
    (tmp_path / "b.yaml").write_text(B)
    return tmp_path / "a.yaml", tmp_path / "b.yaml"


def test_arms_are_specs_and_the_ends_are_a_and_b(specs):
    a, b = load_spec(specs[0]), load_spec(specs[1])
    plan = plan_ablation(a, b, [0, 1], design="factorial")
    assert [f.name for f in plan.factors] == ["model.width", "optim.lr"]
    assert spec_hash(plan.arm_specs[frozenset()]) == spec_hash(a)
    assert spec_hash(plan.arm_specs[plan.design.full]) == spec_hash(b)
    mixed = plan.arm_specs[frozenset(["optim.lr"])]
    assert mixed.optim.lr == 0.2 and mixed.model.kwargs["width"] == 4
    assert len(plan.items()) == 8


def test_switching_the_model_removes_a_only_keys_and_adds_b_only_keys(specs):
    a = load_spec(specs[0])
    b = load_spec(data={**yaml.safe_load(A), "model": {"name": "pnn_resnet18", "nfilters": 8}})
    plan = plan_ablation(a, b, [0], design="one-at-a-time", groups={"model": ["model"]})
    assert [f.name for f in plan.factors] == ["model"]
    arm = plan.arm_specs[plan.design.full]
    assert arm.model.name == "pnn_resnet18" and "width" not in arm.model.kwargs and arm.model.kwargs["nfilters"] == 8
    with pytest.raises(ScrutinyError, match="does not validate"):
        build_arm(a, b, ["model.dropout"])  # small_cnn's float dropout set to pnn's None


def scrutiny(*args):
    res = CliRunner().invoke(app, [str(a) for a in args])
    assert res.exit_code == 0, res.output
    return res


def test_plan_from_files_with_overrides_and_errors_naming_parameters(specs):
    plan = plan_ablation(*specs, "0-1", overrides_b=["optim.lr=0.01"], groups=["w=model.width"])
    assert [f.name for f in plan.factors] == ["w"] and plan.seeds == [0, 1]
    assert plan.to_dict()["n_trials"] == 4 and "to_run" not in plan.to_dict()["arms"][0]
    assert parse_groups(["opt=optim.lr, optim.name"]) == {"opt": ["optim.lr", "optim.name"]}
    for groups, message in [(["opt"], r"^groups: expected name=key1,key2"), (["g=a", "g=b"], r"^groups: g: the name")]:
        with pytest.raises(ScrutinyError, match=message):
            parse_groups(groups)
    with pytest.raises(ScrutinyError, match=r"^design: expected one of"):
        plan_ablation(*specs, [0], design="anova")
    with pytest.raises(ScrutinyError, match=r"^seeds: at least one seed"):
        plan_ablation(*specs, [])
    with pytest.raises(ScrutinyError, match=r"^b: required with spec A"):
        ablate(specs[0])
    res = CliRunner().invoke(app, ["ablate", *map(str, specs), "--design", "anova"])
    assert res.exit_code != 0 and str(res.exception).startswith("--design: expected one of")
    res = CliRunner().invoke(app, ["ablate", *map(str, specs), "--group", "nokeys"])
    assert str(res.exception).startswith("--group: expected name=key1,key2")


@pytest.mark.slow
def test_ablate_cli_dry_run_run_and_reuse(specs, tmp_path):
    a, b = specs
    store = tmp_path / "runs"
    common = ["--seeds", "0-1", "--store", store, "--threads", "1"]
    dry = json.loads(scrutiny("ablate", a, b, "--design", "factorial", "--dry-run", "--json", *common).stdout)
    assert dry["n_trials"] == 8 and [r["arm"] for r in dry["arms"]][:2] == ["A", "B"]
    assert all(r["to_run"] == 2 for r in dry["arms"]) and not store.exists()

    out = tmp_path / "out"
    res = json.loads(scrutiny("ablate", a, b, "--design", "factorial", "--json", "--out", out, *common).stdout)
    r = res["result"]
    assert res["ran"] == 8 and r["metric"] == "final_test_acc" and r["seeds"] == [0, 1]
    assert all(row["to_run"] == 2 for row in res["arms"])  # as the store stood before the sweep
    assert r["gap"]["estimate"] == pytest.approx(r["b"]["estimate"] - r["a"]["estimate"])
    assert sum(e["estimate"] for e in r["shapley"]) == pytest.approx(r["gap"]["estimate"])
    assert [e["name"] for e in r["interactions"]] == ["model.width × optim.lr"]
    assert (out / "waterfall.png").stat().st_size > 1000 and (out / "ablation.md").exists()
    assert json.loads((out / "ablation.json").read_text())["a"] == str(a)

    # Smaller designs reuse the factorial's trials (content-hashed arms); nothing to train.
    args = ["ablate", str(a), str(b), "--seeds", "0-1", "--store", str(store)]
    human = CliRunner().invoke(app, [*args, "--design", "leave-one-out"])
    assert human.exit_code == 0, human.output
    assert "effect: optim.lr" in human.output and "interaction/residual" in human.output
    oat = json.loads(CliRunner().invoke(app, [*args, "--json"]).stdout)
    assert oat["ran"] == 0 and oat["skipped"] == 8
    # the same through the public API, from specs already loaded
    from scrutiny import ablate as public

    result = public(load_spec(a), load_spec(b), store, seeds=[0, 1], design="one-at-a-time")
    assert not result.interrupted and len(result.sweep.ran) == 0 and not result.problems
    assert [e.estimate for e in result.attribution.effects] == [e["estimate"] for e in oat["result"]["effects"]]
