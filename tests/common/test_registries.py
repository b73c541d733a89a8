"""Checks that sweep every registry, so a newly registered entry is tested the day it lands."""

import pytest
import torch

from scrutiny.errors import RegistryError
from scrutiny.models import build_model
from scrutiny.registry import DATASETS, MODELS, PROTOCOLS, Registry

DEFAULT_CONTEXT = {"num_classes": 10, "in_channels": 3, "image_size": (32, 32)}


@pytest.mark.parametrize("name", MODELS.names())
def test_every_model_runs_forward_and_backward_with_finite_gradients(name):
    meta = MODELS.meta(name)
    context = {**DEFAULT_CONTEXT, **meta.get("example_context", {})}
    torch.manual_seed(0)
    model = build_model({"name": name}, context)
    x = meta["example_input"]() if "example_input" in meta else torch.randn(2, 3, 32, 32)
    model.train()
    out = model(x)
    assert out.shape[0] == x.shape[0]
    assert torch.isfinite(out).all(), name
    out.float().square().mean().backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert grads and all(g is not None for g in grads), f"{name}: a parameter got no gradient"
    assert all(torch.isfinite(g).all() for g in grads), f"{name}: non-finite gradient"


@pytest.mark.parametrize("registry", [MODELS, DATASETS, PROTOCOLS])
def test_every_entry_has_a_description(registry):
    for name in registry.names():
        assert registry.describe(name), f"{registry.kind} '{name}' has no docstring"


def test_duplicate_names_raise():
    reg = Registry("thing")
    reg.add("a", lambda: 1)
    with pytest.raises(RegistryError, match="duplicate thing name 'a'"):
        reg.add("a", lambda: 2)
    with pytest.raises(RegistryError, match="must not contain ':'"):
        reg.add("x:y", lambda: 3)


def test_unknown_names_suggest_and_module_paths_import():
    with pytest.raises(RegistryError, match="did you mean 'small_cnn'"):
        MODELS.get("small_cn")
    assert MODELS.get("scrutiny.models.small_cnn:small_cnn") is MODELS.get("small_cnn")
    with pytest.raises(RegistryError, match="cannot import module"):
        MODELS.get("no_such_module_xyz:f")
    with pytest.raises(RegistryError, match="has no callable 'nope'"):
        MODELS.get("scrutiny.models.small_cnn:nope")


def test_torchvision_adapter_builds_without_weights():
    model = build_model({"name": "torchvision:resnet18"}, {"num_classes": 7})
    assert model(torch.randn(1, 3, 64, 64)).shape == (1, 7)
    with pytest.raises(RegistryError, match="did you mean 'resnet18'"):
        MODELS.get("torchvision:resnet81")


@pytest.mark.parametrize("name", DATASETS.names())
def test_every_dataset_builds_or_says_what_it_needs(name):
    """Datasets that ship or are generated build with their defaults; those that need files say so in one line."""
    from scrutiny.errors import DataError

    try:
        bundle = DATASETS.get(name)()
    except DataError as exc:
        assert "\n" not in str(exc) and "root" in str(exc)
        return
    assert bundle.train_split in bundle.splits
    for split, ds in bundle.splits.items():
        assert len(ds) > 0, f"{name}/{split} is empty"
