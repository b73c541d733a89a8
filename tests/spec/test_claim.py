import pytest

from scrutiny.errors import SpecError
from scrutiny.spec.claim import arm_specs, claim_seeds, load_claim

CLAIM = """
title: t
source: {paper: p}
seeds: 0-2
arms:
  a: {spec: s.yaml, set: [model.width=8]}
  b: {spec: s.yaml, set: [model.width=4], reported: {value: 0.5}}
hypotheses:
  - a > b
  - b ≈ reported ± 0.1
scales:
  smoke: {seeds: 0-1, set: [train.epochs=1], arms: {b: [model.width=2]}}
"""
SPEC = "model: {name: small_cnn}\ndata: {name: digits}\ntrain: {epochs: 3}\n"


def write(tmp_path, claim=CLAIM):
    (tmp_path / "s.yaml").write_text(SPEC)
    path = tmp_path / "claim.yaml"
    path.write_text(claim)
    return path


def test_scales_apply_in_order(tmp_path):
    path = write(tmp_path)
    claim = load_claim(path)
    specs = arm_specs(claim, path, "smoke", ["optim.lr=0.5"])
    assert specs["a"].train.epochs == 1 and specs["a"].model.model_dump()["width"] == 8
    assert specs["b"].model.model_dump()["width"] == 2 and specs["b"].optim.lr == 0.5
    assert claim_seeds(claim, "smoke") == [0, 1] and claim_seeds(claim, "cpu") == [0, 1, 2]
    assert arm_specs(claim, path, "cpu")["b"].model.model_dump()["width"] == 4


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (CLAIM.replace("  - a > b", "  - a > zz"), r"claim\.yaml: hypotheses\.0: unknown arm 'zz'"),
        (CLAIM.replace(", reported: {value: 0.5}", ""), r"hypotheses\.1: arm 'b' has no reported value"),
        (CLAIM.replace("title: t", "titel: t"), r"claim\.yaml: titel: unknown key"),
        (CLAIM.replace("  - a > b", "  - a beats b"), r"cannot read hypothesis 'a beats b'"),
        (CLAIM.replace("smoke: {seeds", "smok: {seeds"), r"claim\.yaml: scales\.smok"),
    ],
)
def test_claim_errors_are_one_line_and_name_the_file(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(SpecError, match=message) as info:
        load_claim(path)
    assert "\n" not in str(info.value)


def test_an_arm_set_error_names_the_claim_file_and_key(tmp_path):
    path = write(tmp_path, CLAIM.replace("model.width=8", "model.widht=8"))
    with pytest.raises(SpecError, match=r"claim\.yaml: arms\.\w+\.set\.0 \(model\.widht\): unknown key; did you mean"):
        arm_specs(load_claim(path), path, "cpu")
