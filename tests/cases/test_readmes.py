"""Case READMEs are generated from committed results: they must agree, and the generator must say what it reads."""

import importlib.util
import json
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CASES = ("coordconv", "nf_spp", "resnet_eval", "pnn", "digits_width", "invariance")
PENDING: set[str] = set()  # cases whose claim was re-declared but whose cpu-scale run is not committed yet
RUN = [c for c in CASES if c not in PENDING]


def test_exactly_the_cases_not_pending_have_committed_cpu_results():
    have = {c for c in CASES if (ROOT / "src" / "scrutiny" / "cases" / c / "results" / "cpu.json").is_file()}
    assert have == set(RUN)


def _script():
    spec = importlib.util.spec_from_file_location("case_readme", ROOT / "scripts" / "case_readme.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


readme = _script()


@pytest.mark.parametrize("case", CASES)
def test_every_case_readme_has_a_generated_block_that_matches_its_results(case):
    assert case in readme.generated_cases()
    assert readme.check_readme(case), f"{case}/README.md is stale: run python scripts/case_readme.py render {case}"


@pytest.mark.parametrize("case", RUN)
def test_the_committed_cpu_results_record_their_run(case):
    folder = readme.CASES_DIR / case
    data = json.loads((folder / "results" / "cpu.json").read_text())
    assert data["run"]["wall_s"] > 0 and data["run"]["command"].startswith("scrutiny check src/scrutiny/cases/")
    assert data["tuning"]["declared"], f"{case}: the claim must declare how its settings were chosen"
    assert data["preregistration"]["registered"]


def test_a_number_edited_by_hand_is_caught(tmp_path, monkeypatch):
    shutil.copytree(readme.CASES_DIR / "digits_width", tmp_path / "digits_width")
    monkeypatch.setattr(readme, "CASES_DIR", tmp_path)
    assert readme.check_readme("digits_width")
    path = tmp_path / "digits_width" / "README.md"
    text = path.read_text()
    row = next(line for line in text.splitlines() if line.startswith("| `wide > narrow`"))
    path.write_text(text.replace(row, row.replace("REPRODUCED", "NOT REPRODUCED")))
    assert not readme.check_readme("digits_width")
    assert readme.main(["check", "digits_width"]) == 1


def test_the_generator_names_shared_trials_and_keeps_exploratory_statements_apart():
    verdict = {
        "hypothesis": "a > b",
        "verdict": "REPRODUCED",
        "estimate": 0.5,
        "low": 0.25,
        "high": 0.75,
        "p_adjusted": 0.01,
        "n_a": 3,
        "n_b": 3,
        "a": "a",
        "b": "b",
        "metric": "final_test_acc",
        "exploratory": False,
    }
    setup = {**verdict, "hypothesis": "b ≈ 0 ± 0.02", "b": None, "exploratory": True, "note": "by construction"}
    arm = {"spec_hash": "h1", "n": 3, "seeds": [1, 2, 3], "scores": [0.5, 0.5, 0.5], "metric": "final_test_acc"}
    data = {
        "verdicts": [verdict, setup],
        "metric": "final_test_acc",
        "arms": {"a": {**arm, "spec_hash": "h0"}, "b": arm, "c": arm},
        "seeds": [1, 2, 3],
        "rules": {"multiplicity": "holm", "alpha": 0.05},
        "run": {"command": "scrutiny check x", "wall_s": 61.0, "trials_ran": 6, "trials_skipped": 0},
        "tuning": {"declared": True, "flags": ["settings were chosen on the test split"]},
    }
    text = "\n".join(readme._scale_block("x", "cpu", data, None))
    assert "same trials as `b`" in text and "1 min 01 s" in text
    assert "Confirmatory verdicts (1, one family, holm at α = 0.05): 1 REPRODUCED" in text
    assert "not counted above): 1 REPRODUCED" in text and "by construction" in text
    assert "- flag: settings were chosen on the test split" in text


def test_coordconv_cpu_learning_rates_are_the_tuning_runs_choice():
    from scrutiny.cases import case_claim
    from scrutiny.spec.claim import arm_specs, claim_seeds, load_claim

    run = json.loads((readme.CASES_DIR / "coordconv" / "results" / "tuning-cpu.json").read_text())
    chosen = readme.chosen_configurations(run)
    path = case_claim("coordconv")
    claim = load_claim(path)
    specs = arm_specs(claim, path, "cpu")
    assert set(chosen) == set(specs) == set(claim.tuning.configurations)
    for arm, config in chosen.items():
        assert config.startswith("lr")
        assert specs[arm].optim.lr == pytest.approx(float("0." + config[2:])), arm
    assert set(claim.tuning.configurations.values()) == {3}
    assert all(len([n for n in run["arms"] if n.startswith(arm + "__")]) == 3 for arm in chosen)
    assert not set(run["seeds"]) & set(claim_seeds(claim, "cpu"))  # tuned on no verdict seed


def test_digits_width_smoke_verdicts_have_their_direction_and_estimate(tmp_path):
    """Fixed smoke data (seeds 0-1, one epoch): the wide net is ahead of the narrow one by a known margin."""
    from scrutiny.cases import case_claim
    from scrutiny.store import Store
    from scrutiny.workflows.check import check_claim, plan_claim

    store = Store(tmp_path / "runs")
    result = check_claim(plan_claim(case_claim("digits_width"), "smoke", store), store, threads=1)
    wide = next(v for v in result.verdicts if v.hypothesis == "wide > narrow")
    # after one epoch the 2-channel net is far behind, but two seeds per arm leave the Welch interval wide open
    assert wide.estimate == pytest.approx(0.5411, abs=1e-3) and wide.low < 0 < wide.estimate
    assert wide.verdict == "INCONCLUSIVE" and wide.p_value < 0.05 < wide.p_adjusted


def test_a_tree_counts_as_clean_when_only_case_outputs_changed():
    outputs = " M src/scrutiny/cases/invariance/results/cpu.json\n M src/scrutiny/cases/pnn/README.md"
    assert readme.clean_tree("") is True and readme.clean_tree(outputs) is True
    assert readme.clean_tree(outputs + "\n M src/scrutiny/trials/loop.py") is False
    assert readme.clean_tree(" M src/scrutiny/cases/pnn/claim.yaml") is False  # a claim decides what runs
    assert readme.clean_tree(None) is None
