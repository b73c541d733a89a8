"""``spp``: a signal propagation plot of the trial's model, with scalar summaries that make its shape testable.

Paper: Brock, De, Smith, "Characterizing signal propagation to close the performance gap in unnormalized ResNets",
ICLR 2021 (arXiv 2101.08692), Section 3 (SPPs) and Section 4 (NF-ResNets). The statistics are those of
:func:`scrutiny.diagnostics.spp.spp`; this module only runs it inside a trial and summarises the curves.

Notation used by the summaries: block ``k`` (0-based, forward order) lies in stage ``s`` at position ``j = 1..n_s``
within the stage (``j = 1`` for the first block of a stage, the transition block); ``v_k`` is its output's average
channel variance, ``m_k`` its output's average channel squared mean and ``r_k`` its residual branch's average channel
variance. Stage numbers in field names count from 1 (``_s1`` is the first stage). Statistics that overflowed
(an exploding network) are non-finite; every summary ignores them and ``nonfinite_blocks`` counts them.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np

from scrutiny.diagnostics.spp import SPPResult, spp
from scrutiny.probes._base import ProbeContext, ProbeOutput
from scrutiny.registry import PROBES

MIN_FIT_BLOCKS = 3  # a line through two points fits perfectly: slopes and R² need 3 blocks of a stage or more


def _fit(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Least-squares slope of ``y`` on ``x`` and its R² (NaN when ``y`` is constant), over finite ``y``."""
    ok = np.isfinite(y)
    x, y = x[ok], y[ok]
    if x.size < MIN_FIT_BLOCKS:
        return math.nan, math.nan
    slope, intercept = np.polyfit(x, y, 1)
    ss_tot = float(((y - y.mean()) ** 2).sum())
    ss_res = float(((y - (slope * x + intercept)) ** 2).sum())
    return float(slope), (1.0 - ss_res / ss_tot) if ss_tot > 0 else math.nan


def _agg(values: list[float] | np.ndarray, fn) -> float:
    arr = np.asarray(values, dtype=float)
    arr = arr[np.isfinite(arr)]
    return float(fn(arr)) if arr.size else math.nan


def positions(stages: np.ndarray) -> np.ndarray:
    """Position ``j`` of each block within its stage, from 1: ``(n_blocks,)`` int."""
    j = np.zeros(stages.size, dtype=int)
    for i, s in enumerate(stages):
        j[i] = j[i - 1] + 1 if i and stages[i - 1] == s else 1
    return j


def nf_expected_var(stages: np.ndarray, alpha: float) -> np.ndarray:
    """Expected block-output variance of an NF-ResNet, ``1 + j·α²``, ``(n_blocks,)``.

    The variance resets to 1 at each transition block (its shortcut sees the β-scaled input) and grows by α² per
    block (Brock et al. 2021, Section 4; ``expected_std`` in ``nfnets/nf_resnet.py``).
    """
    return 1.0 + positions(stages) * alpha**2


def summarize(result: SPPResult, alpha: float | None = None) -> dict[str, float | int | None]:
    """Scalar summaries of an SPP (all computed from the curves; NaN where undefined).

    Fields (``s`` a stage, 1-based in names; "per-stage fit" is a least-squares line against ``j`` over the blocks
    of one stage, for stages of at least 3 blocks):

    - ``n_blocks``, ``n_stages``; ``nonfinite_blocks``: blocks whose ``v_k`` overflowed (inf or NaN).
    - ``var_slope_mean``, ``var_slope_min``, ``var_slope_max``: slope of ``v`` per block, over stages. Expected
      ``1 − 1/π`` (BN-ReLU-Conv), 2 (ReLU-BN-Conv), α² (NF-ResNet).
    - ``var_r2_min``: the smallest R² of those fits (1: growth exactly linear within every stage).
    - ``log2_var_slope``: slope of ``log2 v_k`` against ``k`` over all blocks: 1 when the variance doubles every
      block (an unnormalised He-init ResNet), near 0 for linear growth with resets.
    - ``log2_second_moment_slope``: the same for ``m_k + v_k``, the average channel second moment, which includes
      the mean shift: 1 when the second moment doubles every block.
    - ``var_end_s{s}``: ``v`` at the last block of stage ``s``; ``var_end_mean``: their mean.
    - ``reset_fraction``: over stage transitions, the fraction where ``v`` drops from the last block of a stage to
      the first block of the next; ``reset_ratio_max``: the largest ``v_first(s+1) / v_last(s)``.
    - ``restart_log2_min``, ``restart_log2_max``: over transitions, ``log2(v_first(s+1) / v_first(s))``: about 0
      when every stage starts again from the same variance, far above 0 when the growth carries over (a small drop
      at a transition, as the ReLU of a mean-shifted signal can give, is not a restart). In log2 because the ratio
      of an exploding net spans orders of magnitude across seeds, which an interval on its mean cannot summarise.
    - ``sq_mean_slope_mean``: per-stage fit slope of ``m`` (the growth of the mean shift; ``1/π`` per block for
      BN-ReLU-Conv), averaged over stages; ``sq_mean_max``: the largest ``m_k``.
    - ``sq_mean_to_var_max``, ``sq_mean_to_var_mean``: ``m_k / v_k`` over blocks. Above 1: the mean shift dominates.
    - ``res_var_mean``, ``res_var_min``, ``res_var_max``: ``r_k`` over blocks (NaN without residuals);
      ``res_var_mean_s{s}``: the mean within stage ``s``. Expected ``1 − 1/π`` (BN-ReLU-Conv), 2 (ReLU-BN-Conv),
      1 (NF-ResNet with Scaled WS).
    - With ``alpha`` (NF-ResNets): ``nf_var_dev_max`` = ``max_k |v_k − (1 + j_k·α²)|``, ``nf_var_dev_mean`` (the
      mean of ``|v_k − (1 + j_k·α²)|``), ``nf_var_rel_dev_max`` = ``max_k |v_k / (1 + j_k·α²) − 1|`` and
      ``nf_var_dev_max_s{s}`` per stage; NaN without ``alpha``.

    Args:
        result: The SPP.
        alpha: The NF residual scale α times the skip gain, or ``None`` for a network that is not an NF-ResNet.

    Returns:
        ``{field: value}``; NaN marks an undefined summary (the probe records it as missing).
    """
    v, m, r = result.avg_var, result.avg_sq_mean, result.res_avg_var
    stages = result.stages
    j = positions(stages)
    order = list(dict.fromkeys(stages.tolist()))
    finite = np.isfinite(v)
    out: dict[str, float | int | None] = {
        "n_blocks": len(result),
        "n_stages": len(order),
        "nonfinite_blocks": int((~finite).sum()),
    }
    slopes, r2s, sq_slopes, ends = [], [], [], []
    for s in order:
        idx = np.flatnonzero(stages == s)
        slope, r2 = _fit(j[idx].astype(float), v[idx])
        slopes.append(slope)
        r2s.append(r2)
        sq_slopes.append(_fit(j[idx].astype(float), m[idx])[0])
        ends.append(float(v[idx[-1]]))
    out["var_slope_mean"] = _agg(slopes, np.mean)
    out["var_slope_min"] = _agg(slopes, np.min)
    out["var_slope_max"] = _agg(slopes, np.max)
    out["var_r2_min"] = _agg(r2s, np.min)
    pos = finite & (v > 0)
    out["log2_var_slope"] = _fit(np.flatnonzero(pos).astype(float), np.log2(v[pos]))[0]
    second = m + v
    pos2 = np.isfinite(second) & (second > 0)
    out["log2_second_moment_slope"] = _fit(np.flatnonzero(pos2).astype(float), np.log2(second[pos2]))[0]
    for i, end in enumerate(ends):
        out[f"var_end_s{i + 1}"] = end
    out["var_end_mean"] = _agg(ends, np.mean)
    drops, ratios, restarts = [], [], []
    for a, b in zip(order, order[1:], strict=False):
        start, last = v[np.flatnonzero(stages == a)[0]], v[np.flatnonzero(stages == a)[-1]]
        first = v[np.flatnonzero(stages == b)[0]]
        if np.isfinite(last) and np.isfinite(first) and last > 0:
            drops.append(float(first < last))
            ratios.append(float(first / last))
        if np.isfinite(start) and np.isfinite(first) and start > 0:
            restarts.append(float(np.log2(first / start)))
    out["reset_fraction"] = _agg(drops, np.mean)
    out["reset_ratio_max"] = _agg(ratios, np.max)
    out["restart_log2_min"] = _agg(restarts, np.min)
    out["restart_log2_max"] = _agg(restarts, np.max)
    out["sq_mean_slope_mean"] = _agg(sq_slopes, np.mean)
    out["sq_mean_max"] = _agg(m, np.max)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(finite & (v > 0), m / v, np.nan)
    out["sq_mean_to_var_max"] = _agg(ratio, np.max)
    out["sq_mean_to_var_mean"] = _agg(ratio, np.mean)
    out["res_var_mean"] = _agg(r, np.mean)
    out["res_var_min"] = _agg(r, np.min)
    out["res_var_max"] = _agg(r, np.max)
    for i, s in enumerate(order):
        out[f"res_var_mean_s{i + 1}"] = _agg(r[stages == s], np.mean)
    expected = nf_expected_var(stages, alpha) if alpha is not None else None
    dev = np.abs(v - expected) if expected is not None else np.full(v.shape, np.nan)
    out["nf_var_dev_max"] = _agg(dev, np.max)
    out["nf_var_dev_mean"] = _agg(dev, np.mean)
    out["nf_var_rel_dev_max"] = _agg(dev / expected if expected is not None else dev, np.max)
    for i, s in enumerate(order):
        out[f"nf_var_dev_max_s{i + 1}"] = _agg(dev[stages == s], np.max)
    return out


def model_alpha(spec: Any) -> float | None:
    """α times the initial skip gain from the spec's model arguments (``alpha``, ``skip_gain``), or ``None``."""
    kwargs = spec.model.kwargs if spec is not None else {}
    if kwargs.get("alpha") is None:
        return None
    return float(kwargs["alpha"]) * float(kwargs.get("skip_gain", 1.0))


def _plain(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def _eval_seed(seed: int) -> int:
    """A seed for the probe's Gaussian inputs, derived from the trial's eval stream seed (distinct from it)."""
    return int(np.random.SeedSequence([int(seed), 0x535050]).generate_state(1, dtype=np.uint64)[0] >> 1)


@PROBES.register("spp")
def spp_probe(
    ctx: ProbeContext,
    inputs: Literal["gaussian", "data"] = "gaussian",
    batch_size: int = 8,
    resolution: int = 224,
    num_batches: int = 1,
    split: str | None = None,
    mode: Literal["batch_stats", "eval", "train"] = "batch_stats",
    blocks: str | list[str] | None = None,
    residuals: str | list[str] | None = None,
    alpha: float | None = None,
) -> ProbeOutput:
    """The SPP of the trial's model: the per-block table and the summaries of :func:`summarize`.

    Args:
        ctx: The trial.
        inputs: ``"gaussian"``: ``num_batches`` batches of unit Gaussian noise ``(batch_size, C, resolution,
            resolution)``, seeded from the trial's eval stream; ``"data"``: the first ``num_batches`` batches of
            ``split`` in order.
        batch_size: Examples per batch.
        resolution: Side of the Gaussian inputs (ignored for ``"data"``).
        num_batches: Batches pooled into the statistics.
        split: The split for ``"data"`` (default: the spec's ``eval.split``).
        mode: ``"batch_stats"`` (BatchNorm uses the batch statistics, as at initialisation in the paper), ``"eval"``
            or ``"train"``; see :func:`scrutiny.diagnostics.spp.spp`.
        blocks: Block patterns (default: the model's ``spp_blocks()`` or a built-in layout).
        residuals: Residual-branch patterns inside each block.
        alpha: NF-ResNet α for the ``nf_var_*`` summaries; default: the spec's ``model.alpha`` times its
            ``model.skip_gain`` when the model has an ``alpha`` argument, else none.

    Returns:
        ``metrics``: the summaries (NaN ones are recorded as missing). ``tables``: ``rows`` (one per block: name,
        stage, avg_sq_mean, avg_var, res_avg_var; non-finite values as ``null``), ``meta``, ``stage_ends``,
        ``alpha`` and ``expected_var`` (``1 + j·α²`` per block, or ``null``).
    """
    source: Any = "gaussian"
    if inputs == "data":
        from torch.utils.data import DataLoader

        source = DataLoader(ctx.bundle.split(split or ctx.spec.eval.split), batch_size=batch_size, shuffle=False)
    result = spp(
        ctx.model,
        blocks,
        residuals,
        source,
        batch_size=batch_size,
        resolution=resolution,
        seed=_eval_seed(ctx.seed),
        num_batches=num_batches,
        mode=mode,
    )
    alpha = alpha if alpha is not None else model_alpha(ctx.spec)
    table = result.to_dict()
    for row in table["rows"]:
        for key in ("avg_sq_mean", "avg_var", "res_avg_var"):
            if row[key] is not None and not math.isfinite(row[key]):
                row[key] = None
    expected = nf_expected_var(result.stages, alpha).tolist() if alpha is not None else None
    table.update({"stage_ends": result.stage_ends.tolist(), "alpha": alpha, "expected_var": expected})
    metrics = {k: (_plain(v) if isinstance(v, float) else v) for k, v in summarize(result, alpha).items()}
    return ProbeOutput(metrics=metrics, tables=table)


def table_result(table: dict[str, Any]) -> SPPResult:
    """The :class:`SPPResult` of a stored ``spp`` probe table (``null`` statistics become NaN)."""
    from scrutiny.diagnostics.spp import SPPRow

    def num(x: Any) -> float:
        return math.nan if x is None else float(x)

    rows = tuple(
        SPPRow(r["name"], int(r["stage"]), num(r["avg_sq_mean"]), num(r["avg_var"]), num(r["res_avg_var"]))
        for r in table["rows"]
    )
    return SPPResult(rows, dict(table.get("meta", {})))
