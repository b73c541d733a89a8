"""CONTRIBUTING.md's examples work: every tagged block is run, checked for what it promises, and leaks nothing.

Each Python example is written to a temporary module with a unique name and imported while ``scrutiny.registry``'s
registries are swapped for empty ones, so its ``@REGISTRY.register`` decorator is exercised without touching the
real registries; the examples then run through the real loaders by the ``package.module:callable`` route that
user code takes: ``scrutiny check``, in this process, on one tiny claim (two 1-epoch trials of the model on the
dataset, under the protocol, with the probe, reported with the section). YAML and Markdown examples are loaded with
the claim loader and checked against the README generator's markers. Python examples must pass ruff at the path
the document gives them, and every repository path the document names must exist.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import json
import math
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType, SimpleNamespace

import numpy as np
import pytest
import torch

import scrutiny.registry as registry_module
from scrutiny.errors import ScrutinyError, SpecError
from scrutiny.registry import Registry

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "CONTRIBUTING.md"
TEXT = DOC.read_text(encoding="utf-8")
BLOCK = re.compile(
    r"<!-- example: (?P<tag>[\w-]+) (?P<dest>\S+) -->\n```(?P<lang>\w+)\n(?P<code>.*?)\n```\n", re.DOTALL
)
# The registries of scrutiny.registry, by attribute name; each must have an example that registers into it.
REGISTRIES = {name: value for name, value in vars(registry_module).items() if isinstance(value, Registry)}
# Paths the map may name before they exist (a layer that another change is adding).
MAY_BE_PENDING = {"src/scrutiny/workflows/"}


@dataclass
class Example:
    tag: str
    dest: str
    lang: str
    code: str


def _examples() -> dict[str, Example]:
    found = [Example(m["tag"], m["dest"], m["lang"], m["code"] + "\n") for m in BLOCK.finditer(TEXT)]
    tags = [e.tag for e in found]
    assert len(tags) == len(set(tags)), f"CONTRIBUTING.md: duplicate example tags {tags}"
    return {e.tag: e for e in found}


EXAMPLES = _examples()
PYTHON = {tag: e for tag, e in EXAMPLES.items() if e.lang == "python"}


@dataclass
class Loaded:
    """The imported examples: module per tag, its importable name, and the throwaway registries they filled."""

    modules: dict[str, ModuleType]
    names: dict[str, str]
    registries: dict[str, Registry]
    real_before: dict[str, list[str]]
    folder: Path

    def ref(self, tag: str, attr: str) -> str:
        """The ``module:callable`` name of ``attr`` in the example tagged ``tag``."""
        return f"{self.names[tag]}:{attr}"


@pytest.fixture(scope="module")
def loaded(tmp_path_factory) -> Iterator[Loaded]:
    folder = tmp_path_factory.mktemp("contributing_examples")
    for reg in REGISTRIES.values():
        reg.names()  # the built-ins register into the real registries before any swap
    real_before = {name: reg.names() for name, reg in REGISTRIES.items()}
    suffix = uuid.uuid4().hex[:8]
    names = {tag: f"contributing_{tag.replace('-', '_')}_{suffix}" for tag in PYTHON}
    for tag, example in PYTHON.items():
        (folder / f"{names[tag]}.py").write_text(example.code, encoding="utf-8")
    throwaway = {name: Registry(reg.kind) for name, reg in REGISTRIES.items()}
    sys.path.insert(0, str(folder))
    modules: dict[str, ModuleType] = {}
    try:
        with pytest.MonkeyPatch.context() as mp:
            for name, reg in throwaway.items():
                mp.setattr(registry_module, name, reg)
            for tag in PYTHON:
                modules[tag] = importlib.import_module(names[tag])
        yield Loaded(modules, names, throwaway, real_before, folder)
    finally:
        sys.path.remove(str(folder))
        for name in names.values():
            sys.modules.pop(name, None)


def test_every_registry_has_exactly_one_example(loaded):
    assert TEXT.count("<!-- example:") == len(EXAMPLES), "an example comment not followed directly by its block"
    for example in EXAMPLES.values():
        assert f"File `{example.dest}`:\n\n<!-- example: {example.tag} " in TEXT, f"{example.tag}: name its file"
    for name, reg in loaded.registries.items():
        assert len(reg.names()) == 1, f"CONTRIBUTING.md needs one example that registers into {name}"
    for tag in ("model", "dataset", "statistic", "probe", "section", "protocol", "case-claim", "case-spec"):
        assert tag in EXAMPLES, f"CONTRIBUTING.md: no example tagged '{tag}'"


def test_example_names_are_free_in_the_real_registries_and_nothing_leaks(loaded):
    for name, reg in REGISTRIES.items():
        assert getattr(registry_module, name) is reg  # the swap was undone
        assert reg.names() == loaded.real_before[name]
        (example_name,) = loaded.registries[name].names()
        assert example_name not in reg, f"'{example_name}' is now a real {reg.kind}: rename the example"


@pytest.mark.parametrize("tag", sorted(PYTHON))
def test_python_examples_pass_ruff_at_their_destination(tag):
    beside = Path(sys.executable).with_name("ruff")  # the one the project installs, before any other
    ruff = str(beside) if beside.exists() else shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed")
    example = PYTHON[tag]
    for args in (["check"], ["format", "--check"]):
        done = subprocess.run(
            [ruff, *args, "--stdin-filename", example.dest, "-"],
            input=example.code,
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        assert done.returncode == 0, f"{tag} ({' '.join(args)}):\n{done.stdout}{done.stderr}"


def test_the_map_names_paths_that_exist():
    for path in sorted(set(re.findall(r"`((?:src|tests|scripts)/[^`\s]*)`", TEXT))):
        if "<" in path or path in {e.dest for e in EXAMPLES.values()}:
            folder = path.split("<")[0].rsplit("/", 1)[0] if "<" in path else str(Path(path).parent)
            while not (ROOT / folder).exists() and folder.startswith("src/scrutiny/cases/"):
                folder = str(Path(folder).parent)  # a new case's folder: its parent exists
            assert (ROOT / folder).is_dir(), f"CONTRIBUTING.md: {path}: no folder {folder}"
        elif path not in MAY_BE_PENDING:
            assert (ROOT / path).exists(), f"CONTRIBUTING.md names {path}, which does not exist"


# --- one tiny claim that uses the model, dataset, protocol, probe and section examples together ---------------------


@pytest.fixture(scope="module")
def claim_run(loaded):
    """``scrutiny check`` (in this process, as a user runs it) on a claim whose one arm uses five of the examples."""
    from scrutiny.cli import main
    from scrutiny.spec import load_spec, trial_id
    from scrutiny.store import Store

    folder = loaded.folder / "claim"
    folder.mkdir()
    (folder / "spec.yaml").write_text(
        f"""
model: {{name: "{loaded.ref("model", "lenet5")}", width: 4}}
data: {{name: "{loaded.ref("dataset", "blobs")}", n_train: 64, n_test: 40, batch_size: 32, eval_batch_size: 16,
        augment: true}}
optim: {{name: sgd, lr: 0.05, momentum: 0.9}}
train: {{epochs: 1, device: cpu}}
eval: {{protocol: "{loaded.ref("protocol", "flip_average")}", protocol_args: {{average: prob}}}}
probes: [{{name: "{loaded.ref("probe", "param_norm")}", prefix: param_norm}}]
"""
    )
    (folder / "claim.yaml").write_text(
        f"""
title: the contributing examples together
source: {{paper: none}}
seeds: 0-1
arms:
  lenet: {{spec: spec.yaml}}
hypotheses:
  - "lenet[param_norm_total] > 0"
sections:
  - {{name: "{loaded.ref("section", "score_range")}"}}
"""
    )
    argv = ["scrutiny", "check", str(folder / "claim.yaml"), "--scale", "cpu", "--threads", "1"]
    argv += ["--store", str(folder / "runs"), "--out", str(folder / "report")]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sys, "argv", argv)
        mp.setenv("NO_COLOR", "1")
        mp.delenv("SCRUTINY_STORE", raising=False)
        with pytest.raises(SystemExit) as done:
            main()
    assert done.value.code == 0, "scrutiny check failed (its one-line error is in the captured stderr)"
    spec = load_spec(folder / "spec.yaml")
    report = folder / "report"
    return SimpleNamespace(
        store=Store(folder / "runs"),
        trials={seed: trial_id(spec, seed) for seed in (0, 1)},
        spec=spec,
        results=json.loads((report / "results.json").read_text()),
        md=(report / "report.md").read_text(),
        html=(report / "report.html").read_text(),
    )


def test_model_example_builds_runs_forward_and_backward_like_the_registry_sweep(loaded):
    from scrutiny.models import build_model

    name = loaded.ref("model", "lenet5")
    assert loaded.registries["MODELS"].names() == ["lenet5"]
    args = {a["name"]: a for a in loaded.registries["MODELS"].arguments("lenet5")}
    assert args["width"]["default"] == 6 and args["width"]["doc"].startswith("Channels of the first convolution")
    torch.manual_seed(0)
    model = build_model({"name": name}, {"num_classes": 10, "in_channels": 3, "image_size": (32, 32)})
    out = model(torch.randn(2, 3, 32, 32))
    assert out.shape == (2, 10) and torch.isfinite(out).all()
    out.square().mean().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
    small = build_model({"name": name, "width": 2}, {"num_classes": 4, "in_channels": 1})
    assert small(torch.randn(3, 1, 4, 4)).shape == (3, 4)  # "any input from 4×4 works"


def test_model_example_trains_in_a_trial(claim_run):
    for tid in claim_run.trials.values():
        result = claim_run.store.result(tid)
        assert result["status"] == "complete", result.get("error")
        assert result["epochs"] == 1 and result["n_params"] > 0


def test_dataset_example_gives_the_sizes_and_facts_it_promises(loaded):
    blobs = loaded.modules["dataset"].blobs
    bundle = blobs()
    assert {s: len(d) for s, d in bundle.splits.items()} == {"train": 256, "test": 64}
    assert (bundle.num_classes, bundle.in_channels, bundle.image_size, bundle.augment) == (4, 1, (8, 8), None)
    x, y = bundle.split("test")[5]
    assert x.shape == (1, 8, 8) and x.dtype == torch.float32 and int(y) == 5 % 4
    labels = bundle.split("train").tensors[1]
    assert torch.bincount(labels).tolist() == [64, 64, 64, 64]  # balanced
    again = blobs()
    assert torch.equal(bundle.split("train").tensors[0], again.split("train").tensors[0])  # fixed by data_seed
    other = blobs(data_seed=1)
    assert not torch.equal(bundle.split("train").tensors[0], other.split("train").tensors[0])
    assert blobs(augment=True).augment is not None
    assert loaded.registries["DATASETS"].names() == ["blobs"]


def test_dataset_example_is_evaluated_exactly_in_a_trial(claim_run):
    spec = claim_run.spec
    assert spec.data.model_dump()["data_seed"] == 0 and spec.data.model_dump()["noise"] == 1.0  # defaults written
    for tid in claim_run.trials.values():
        result = claim_run.store.result(tid)
        assert result["final_test_n"] == 40  # every example, the last partial batch of 8 included
        assert result["final_train_acc_epoch_avg"] is not None


def test_statistic_example_has_hand_checkable_values_and_explicit_randomness(loaded):
    spread = loaded.modules["statistic"]
    assert spread.mad([1, 2, 3, 4, 100]) == 1.0  # median 3; deviations 2, 1, 0, 1, 97
    assert spread.mad([7.0]) == 0.0
    assert spread.mad(np.array([0.9, 0.92, 0.94, 0.96])) == pytest.approx(0.02)  # deviations .03 .01 .01 .03
    state = np.random.get_state()[1].copy()
    first = spread.mad_interval([0.9, 0.91, 0.93, 0.97, 0.98], reps=500, seed=3)
    assert np.array_equal(np.random.get_state()[1], state)  # the global random state is untouched
    assert first == spread.mad_interval([0.9, 0.91, 0.93, 0.97, 0.98], reps=500, seed=np.random.default_rng(3))
    assert 0.0 <= first[0] <= first[1] <= 0.08 / 2
    assert spread.mad_interval([0.5, 0.5, 0.5], seed=0) == (0.0, 0.0)
    with pytest.raises(TypeError):
        spread.mad_interval([1.0, 2.0])  # no implicit seed
    with pytest.raises(ValueError) as err:
        spread.mad_interval([1.0, 2.0], reps=0, seed=0)
    assert str(err.value) == "mad_interval: reps must be an integer >= 1, got 0"
    assert f"`{err.value}`" in TEXT  # the message the checklist quotes
    with pytest.raises(ValueError, match="^mad: scores must be finite"):
        spread.mad([1.0, float("nan")])


def test_statistic_example_imports_no_torch_and_its_export_names_its_module():
    example = PYTHON["statistic"]
    tree = ast.parse(example.code)
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert not any(m == "torch" or m.startswith("torch.") for m in imported)
    module = example.dest.removeprefix("src/").removesuffix(".py").replace("/", ".")
    functions = [n.name for n in tree.body if isinstance(n, ast.FunctionDef) and not n.name.startswith("_")]
    for name in functions:
        assert f'"{name}": "{module}",' in TEXT, f"CONTRIBUTING.md: the _WHERE line for {name}"


def test_probe_example_fields_are_in_every_trials_result_and_match_the_checkpoint(claim_run):
    from scrutiny.store import load_checkpoint

    for tid in claim_run.trials.values():
        result = claim_run.store.result(tid)
        assert result["probe_fields"] == ["param_norm_total", "param_norm_max", "param_norm_n_tensors"]
        weights = [v for v in load_checkpoint(claim_run.store.trial_dir(tid) / "checkpoint.pt")["model"].values()]
        norms = [float(w.norm()) for w in weights if w.ndim >= 2]
        assert result["param_norm_n_tensors"] == len(norms) == 5  # 2 convolutions, 3 linear layers
        assert result["param_norm_total"] == pytest.approx(math.sqrt(sum(n * n for n in norms)), rel=1e-6)
        assert result["param_norm_max"] == pytest.approx(max(norms), rel=1e-6)
        table = claim_run.store.probe(tid, "param_norm")
        assert table["probe"].endswith(":param_norm") and len(table["tensors"]) == 5


def test_probe_example_arguments_are_checked_when_the_spec_loads(loaded):
    from scrutiny.spec import load_spec

    data = {
        "model": {"name": "small_cnn"},
        "data": {"name": "synthetic"},
        "probes": [{"name": loaded.ref("probe", "param_norm"), "which": "everything"}],
    }
    with pytest.raises(SpecError) as err:
        load_spec(data=data)
    assert "probes.0.which" in str(err.value) and "\n" not in str(err.value)


def test_protocol_example_scores_by_hand_deterministically_and_is_recorded(loaded, claim_run):
    module = loaded.modules["protocol"]
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(2 * 3 * 4, 5)).eval()
    x = torch.randn(6, 2, 3, 4)
    with torch.no_grad():
        logit = module.flip_average().scores(model, x)
        assert torch.allclose(logit, (model(x) + model(x.flip(-1))) / 2)
        prob = module.flip_average("prob").scores(model, x)
        mean_p = (model(x).softmax(-1) + model(x.flip(-1)).softmax(-1)) / 2
        assert torch.allclose(prob.exp(), mean_p, atol=1e-6)
        assert torch.equal(prob, module.flip_average("prob").scores(model, x))
    protocol = module.flip_average("prob")
    params = json.loads(json.dumps(protocol.params()))
    assert module.flip_average(**params).params() == params == {"average": "prob"}
    from scrutiny.protocols import is_image_protocol

    assert not is_image_protocol(protocol)
    with pytest.raises(ValueError, match="flip_average: average: expected 'logit' or 'prob', got 'mean'"):
        module.FlipAverage("mean")
    for tid in claim_run.trials.values():
        assert claim_run.store.result(tid)["protocol"] == {"name": "flip_average", "params": {"average": "prob"}}


def test_protocol_example_arguments_are_checked_when_the_spec_loads(loaded):
    from scrutiny.spec import load_spec

    data = {
        "model": {"name": "small_cnn"},
        "data": {"name": "synthetic"},
        "eval": {"protocol": loaded.ref("protocol", "flip_average"), "protocol_args": {"average": "mean"}},
    }
    with pytest.raises(SpecError) as err:
        load_spec(data=data)
    assert "eval.protocol_args.average" in str(err.value) and "\n" not in str(err.value)


def test_section_example_computes_from_the_trials_and_renders(loaded, claim_run):
    acc = {seed: claim_run.store.result(tid)["final_test_acc"] for seed, tid in claim_run.trials.items()}
    low, high = min(acc, key=acc.get), max(acc, key=acc.get)
    expected = ["lenet", 2, acc[low], low, acc[high], high]
    (section,) = claim_run.results["sections"]
    assert section["name"] == loaded.ref("section", "score_range") and section["title"] == "Best and worst seeds"
    assert section["tables"][0]["columns"] == ["arm", "n", "lowest", "its seed", "highest", "its seed"]
    assert section["tables"][0]["rows"] == [expected] and section["data"]["rows"] == [expected]
    assert (
        "Best and worst seeds" in claim_run.md
        and "| arm | n | lowest | its seed | highest | its seed |" in claim_run.md
    )
    assert "Best and worst seeds" in claim_run.html
    with pytest.raises(ScrutinyError, match="sections: score_range: unknown arms \\['nope'\\]"):
        loaded.modules["section"].score_range(SimpleNamespace(arms={"lenet": None}), None, arms=["nope"])


def test_case_example_claim_loads_and_resolves_at_every_scale(tmp_path):
    from scrutiny.spec import trial_id
    from scrutiny.spec.claim import arm_specs, claim_seeds, load_claim

    case = tmp_path / "digits_dropout"
    case.mkdir()
    for tag in ("case-spec", "case-claim", "case-readme"):
        (case / Path(EXAMPLES[tag].dest).name).write_text(EXAMPLES[tag].code, encoding="utf-8")
    path = case / "claim.yaml"
    claim = load_claim(path)
    assert set(claim.arms) == {"plain", "dropout"} and set(claim.scales) == {"smoke", "cpu", "paper"}
    assert set(claim.tuning.configurations) == set(claim.arms)
    kinds = [(h.kind, h.exploratory) for h in claim.hypotheses]
    assert kinds == [("equivalent", False), ("bound", True)]
    for scale, epochs in (("smoke", 1), ("cpu", 8), ("paper", 30)):
        specs = arm_specs(claim, path, scale)
        assert {n: s.model.model_dump()["dropout"] for n, s in specs.items()} == {"plain": 0.0, "dropout": 0.3}
        assert {s.train.epochs for s in specs.values()} == {epochs}
    assert claim_seeds(claim, "cpu") == [1000, 1001, 1002, 1003, 1004]
    assert not set(claim_seeds(claim, "cpu")) & set(claim_seeds(claim, "smoke"))
    smoke = arm_specs(claim, path, "smoke")
    assert len({trial_id(spec, seed) for spec in smoke.values() for seed in claim_seeds(claim, "smoke")}) == 4


def test_case_example_readme_has_the_generators_markers():
    spec = importlib.util.spec_from_file_location("case_readme_for_contributing", ROOT / "scripts" / "case_readme.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    readme = EXAMPLES["case-readme"].code
    assert readme.index(module.BEGIN) < readme.index(module.END)
    case = Path(EXAMPLES["case-claim"].dest).parent.name
    assert case not in module.generated_cases()  # an example, not a shipped case
    assert f"python scripts/case_readme.py render {case}" in TEXT
