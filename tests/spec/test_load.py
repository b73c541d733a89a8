from pathlib import Path

import pytest
from pydantic import ValidationError

from scrutiny.errors import SpecError
from scrutiny.spec import load_spec, parse_override


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_defaults_are_filled_and_spec_is_frozen(tiny_spec_file):
    spec = load_spec(tiny_spec_file)
    assert spec.optim.wd_on == "all" and spec.schedule.name == "constant"
    assert spec.data.eval_batch_size == 100
    assert spec.model.model_dump() == {"name": "small_cnn", "weights": None, "width": 8, "dropout": 0.0}  # defaults out
    assert spec.data.model_dump()["size"] == 8
    with pytest.raises(ValidationError):
        spec.optim.lr = 1.0  # type: ignore[misc]


def test_eval_batch_size_defaults_to_batch_size(tmp_path):
    spec = load_spec(write(tmp_path, "a.yaml", "model: {name: small_cnn}\ndata: {name: digits, batch_size: 32}\n"))
    assert spec.data.eval_batch_size == 32


def test_overrides_are_typed_like_the_file(tiny_spec_file):
    spec = load_spec(
        tiny_spec_file,
        [
            "optim.lr=0.05",
            "schedule.name=multistep",
            "schedule.milestones=[1, 2]",
            "optim.nesterov=true",
            "model.width=16",
        ],
    )
    assert spec.optim.lr == 0.05 and spec.optim.nesterov is True
    assert spec.schedule.milestones == (1, 2)
    assert spec.model.model_dump()["width"] == 16


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("optim.lr=fast", "--set: optim.lr: expected a number, got 'fast'"),
        ("optim.lrr=0.1", "--set: optim.lrr: unknown key; did you mean 'lr'?"),
        ("optim.name=sgdd", "--set: optim.name: expected one of 'sgd', 'adam' or 'adamw', got 'sgdd'"),
        ("train.epochs=1.5", "--set: train.epochs: expected an integer, got 1.5"),
        ("model.widht=3", "--set: model.widht: unknown key; did you mean 'width'? (valid keys: width, dropout)"),
        ("model.foo=3", "--set: model.foo: unknown key (valid keys: width, dropout)"),
        ("model.width=wide", "--set: model.width: expected an integer, got 'wide'"),
        ("data.size=12", "--set: data.size: expected one of 8, 16 or 32, got 12"),
        ("optim.lr=-1", "--set: optim.lr: input should be greater than 0, got -1"),
        ("model.name=smal_cnn", "--set: model.name: unknown model 'smal_cnn'; did you mean 'small_cnn'?"),
        ("eval.protocol=plane", "--set: eval.protocol: unknown protocol 'plane'; did you mean 'plain'?"),
        ("optim", "--set: expected key=value with a dotted key, got 'optim'"),
        ("eval.protocol=ten_crop", "--set: eval.protocol: 'ten_crop' evaluates raw images"),
        ("optim.lr.x=1", "--set: optim.lr: is a value, not a section"),
    ],
)
def test_override_errors_are_one_line(tiny_spec_file, override, message):
    with pytest.raises(SpecError) as info:
        load_spec(tiny_spec_file, [override])
    text = str(info.value)
    assert "\n" not in text
    assert text.startswith(message)


def test_file_errors_name_the_file_and_key(tmp_path):
    path = write(tmp_path, "x.yaml", "model: {name: small_cnn}\ndata: {name: digits}\noptim: {lr: fast}\n")
    with pytest.raises(SpecError, match=r"x\.yaml: optim\.lr: expected a number, got 'fast'$"):
        load_spec(path)
    path = write(tmp_path, "y.yaml", "model: {name: small_cnn}\ndata: {name: digits}\ntrian: {epochs: 1}\n")
    with pytest.raises(
        SpecError,
        match=r"y\.yaml: trian: unknown key; did you mean 'train'\? \(valid keys: label, description, model, data, "
        r"optim, schedule, train, eval, probes\)$",
    ):
        load_spec(path)


def test_missing_section_and_missing_file(tmp_path):
    with pytest.raises(SpecError, match=r"z\.yaml: model: required key is missing"):
        load_spec(write(tmp_path, "z.yaml", "data: {name: digits}\n"))
    with pytest.raises(SpecError, match=r"nope\.yaml: file not found"):
        load_spec(tmp_path / "nope.yaml")


def test_malformed_yaml_gives_its_line(tmp_path):
    path = write(tmp_path, "bad.yaml", "model:\n  name: small_cnn\ndata: [digits\noptim: {}\n")
    with pytest.raises(SpecError) as info:
        load_spec(path)
    assert str(info.value).startswith(f"{path}: line ")
    assert "malformed YAML" in str(info.value)
    with pytest.raises(SpecError, match="expected a mapping at the top level, got list"):
        load_spec(write(tmp_path, "list.yaml", "- 1\n- 2\n"))


def test_extends_merges_and_errors_name_the_file_that_set_the_key(tmp_path):
    write(tmp_path, "base.yaml", "model: {name: small_cnn, width: 8}\ndata: {name: digits}\noptim: {lr: 0.5}\n")
    (tmp_path / "sub").mkdir()
    child = write(tmp_path / "sub", "child.yaml", "extends: ../base.yaml\noptim: {momentum: 0.0}\n")
    spec = load_spec(child)
    assert spec.optim.lr == 0.5 and spec.optim.momentum == 0.0 and spec.model.model_dump()["width"] == 8
    write(tmp_path, "badbase.yaml", "model: {name: small_cnn}\ndata: {name: digits}\noptim: {lr: fast}\n")
    child2 = write(tmp_path, "child2.yaml", "extends: badbase.yaml\ntrain: {epochs: 1}\n")
    with pytest.raises(SpecError, match=r"badbase\.yaml: optim\.lr: expected a number"):
        load_spec(child2)


def test_circular_extends(tmp_path):
    write(tmp_path, "a.yaml", "extends: b.yaml\n")
    write(tmp_path, "b.yaml", "extends: a.yaml\n")
    with pytest.raises(SpecError, match="circular extends"):
        load_spec(tmp_path / "a.yaml")


def test_parse_override_reads_yaml_values():
    assert parse_override("a.b=1") == (["a", "b"], 1)
    assert parse_override("a.b=[1, 2]") == (["a", "b"], [1, 2])
    assert parse_override("a=null") == (["a"], None)
    assert parse_override("a.b=x=y") == (["a", "b"], "x=y")


def test_repository_spec_loads():
    spec = load_spec(Path(__file__).resolve().parents[2] / "specs" / "digits_cnn.yaml")
    assert spec.model.name == "small_cnn" and spec.data.name == "digits"
