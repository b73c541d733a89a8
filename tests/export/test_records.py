"""The pure mapping from store records to tracker params, tags, metrics and aggregates (hand-checkable fixtures)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from scrutiny.export.aggregates import curve_bands, seed_stats, verdict_entries
from scrutiny.export.records import (
    as_text,
    clean_key,
    end_ms,
    epoch_times,
    fingerprint,
    flatten,
    run_name,
    to_ms,
    trial_metrics,
    trial_params,
)


def test_flatten_keeps_lists_and_empty_dicts_as_leaves():
    tree = {"optim": {"lr": 0.1, "betas": [0.9, 0.999]}, "eval": {"protocol_args": {}}, "label": None}
    assert flatten(tree) == {"optim.lr": 0.1, "optim.betas": [0.9, 0.999], "eval.protocol_args": {}, "label": None}


def test_keys_and_values_fit_mlflow():
    assert clean_key("a[metric] > 0.5") == "a_metric_ _ 0.5"
    assert len(clean_key("x" * 400)) == 250
    assert as_text("plain", 10) == "plain" and as_text(None, 10) == "null" and as_text([1, 2], 10) == "[1, 2]"
    assert as_text("y" * 20, 10) == "y" * 9 + "…"


def test_params_are_the_spec_leaves_and_the_seed():
    record = {"seed": 3, "spec": {"label": "x", "model": {"name": "m", "width": 8}, "data": {"root": None}}}
    assert trial_params(record) == {
        "label": "x",
        "model.name": "m",
        "model.width": "8",
        "data.root": "null",
        "seed": "3",
    }
    assert run_name(record) == "x s3"
    assert run_name({"seed": 0, "spec": {"model": {"name": "m"}, "data": {"name": "d"}}}) == "m on d s0"


def test_epoch_times_and_steps_come_from_the_trial_records():
    start = {"started_at": "2026-01-01T00:00:00+00:00"}
    t0 = to_ms(start["started_at"])
    rows = [
        {"epoch": 1, "test_acc": 0.5, "epoch_time_s": 1.5, "lr": 0.1},
        {"epoch": 2, "test_acc": None, "train_loss_epoch_avg": 0.3, "epoch_time_s": 2.0},
    ]
    assert epoch_times(rows, t0) == [t0 + 1500, t0 + 3500]
    result = {"final_test_acc": 0.5, "best_test_acc": 0.6, "wall_time_s": 10.0, "selected_on_test": True, "seed": 1}
    points = trial_metrics(rows, start, result)
    by_key = {(k, step): (v, ts) for k, v, ts, step in points}
    assert by_key[("test_acc", 1)] == (0.5, t0 + 1500) and ("test_acc", 2) not in by_key  # None is not a number
    assert by_key[("train_loss_epoch_avg", 2)] == (0.3, t0 + 3500)
    assert by_key[("final_test_acc", 2)] == (0.5, t0 + 10_000) and by_key[("wall_time_s", 2)][0] == 10.0
    assert not any(k in ("selected_on_test", "seed") for k, *_ in points)
    assert end_ms(t0, result) == t0 + 10_000 and end_ms(None, {"ended_at": start["started_at"]}) == t0


def test_fingerprint_changes_with_content_only():
    assert fingerprint({"a": 1, "b": [2]}) == fingerprint({"b": [2], "a": 1})
    assert fingerprint({"a": 1}) != fingerprint({"a": 2})


def test_seed_stats_match_scipy():
    x = np.array([0.71, 0.74, 0.69, 0.80, 0.75])
    s = seed_stats(x)
    low, high = sps.t.interval(0.95, df=4, loc=x.mean(), scale=sps.sem(x))
    assert s["mean"] == pytest.approx(x.mean()) and (s["ci_low"], s["ci_high"]) == pytest.approx((low, high))
    assert s["iqm"] == pytest.approx(sps.trim_mean(x, 0.25)) and s["sd"] == pytest.approx(x.std(ddof=1))
    assert seed_stats(np.array([0.5, np.nan])) == {"n": 1.0, "mean": 0.5, "iqm": 0.5}  # no interval from one seed
    assert seed_stats(np.zeros(0)) == {"n": 0.0}


def test_curve_bands_are_per_epoch_over_seeds():
    rows = [[{"epoch": 1, "acc": 0.5}, {"epoch": 2, "acc": 0.7}], [{"epoch": 1, "acc": 0.6}, {"epoch": 2, "acc": 0.9}]]
    points = {(k, step): v for k, v, _, step in curve_bands(rows, ts=5)}
    assert points[("curve/acc/mean", 1)] == pytest.approx(0.55) and points[("curve/acc/mean", 2)] == pytest.approx(0.8)
    half = sps.t.ppf(0.975, 1) * np.std([0.5, 0.6], ddof=1) / np.sqrt(2)
    assert points[("curve/acc/ci_low", 1)] == pytest.approx(0.55 - half)


def test_verdict_entries_take_extra_fields():
    verdict = {"hypothesis": "a > b", "verdict": "REPRODUCED", "estimate": 0.1, "p_value": None, "bound": [0, 1]}
    verdict["p_adjusted"] = 0.02  # a field added later (adjusted p-values): exported without a code change
    verdict["details"] = {"paired": True, "share_better": 0.8}
    tags, points = verdict_entries(2, verdict, ts=7)
    assert tags["scrutiny.h2"] == "REPRODUCED: a > b" and tags["scrutiny.h2.bound"] == "[0, 1]"
    assert tags["scrutiny.h2.details.paired"] == "true" and "scrutiny.h2.p_value" not in tags
    assert {k: v for k, v, _, _ in points} == {
        "h2.estimate": 0.1,
        "h2.p_adjusted": 0.02,
        "h2.details.share_better": 0.8,
    }
