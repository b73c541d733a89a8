"""The PNN case specs: they load, differ where the reference's table says, and run at a small scale."""

from pathlib import Path

import pytest
import torch

from scrutiny.models import build_model
from scrutiny.spec import diff, load_spec

CASE = Path(__file__).resolve().parents[2] / "src" / "scrutiny" / "cases" / "pnn"
CTX16 = {"in_channels": 3, "num_classes": 10, "image_size": (16, 16)}
CTX32 = {"in_channels": 3, "num_classes": 10, "image_size": (32, 32)}
SMALL = ["data.name=digits", "data.size=16", "data.channels=3", "model.nfilters=8", "train.epochs=1"]


def keys(a, b):
    return {d.key for d in diff(load_spec(CASE / a), load_spec(CASE / b))}


def test_specs_load_at_paper_scale_on_cifar10():
    for name in ("klachko", "authors", "authors_2018"):
        spec = load_spec(CASE / f"{name}.yaml")
        assert spec.data.name == "cifar10" and spec.data.eval_batch_size == spec.data.batch_size
        assert spec.model.name == "pnn_resnet18"


def test_diff_shows_the_difference_table():
    table = {
        "optim.name",
        "optim.lr",
        "optim.nesterov",
        "model.level",
        "schedule.milestones",
        "model.dropout",
        "train.epochs",
        "data.batch_size",
        "model.nfilters",
        "model.first_layer",
    }
    assert table <= keys("klachko.yaml", "authors.yaml")
    assert {"model.order", "model.first_layer", "model.first_filter_size", "schedule.gamma"} <= keys(
        "klachko.yaml", "authors_2018.yaml"
    )


@pytest.mark.parametrize("name", ["klachko", "authors", "authors_2018"])
def test_small_override_set_resolves_and_builds(name):
    spec = load_spec(CASE / f"{name}.yaml", SMALL)
    assert spec.data.name == "digits" and "augment" not in spec.data.kwargs
    model = build_model(spec.to_dict()["model"], CTX16)
    assert model(torch.randn(2, 3, 16, 16)).shape == (2, 10)


def test_authors_2018_is_the_original_noiseresnet18():
    spec = load_spec(CASE / "authors_2018.yaml", ["model.nfilters=8"])
    torch.manual_seed(0)
    ours = build_model(spec.to_dict()["model"], CTX32).eval()
    torch.manual_seed(0)
    original = {"name": "noiseresnet18", "nfilters": 8, "level": 0.1, "first_filter_size": 7}
    orig = build_model(original, CTX32).eval()
    a, b = ours.state_dict(), orig.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    x = torch.randn(2, 3, 32, 32)
    assert torch.equal(ours(x), orig(x))
