"""``scrutiny check CLAIM`` and ``scrutiny case NAME``: run a claim's arms, test its hypotheses, write the report."""

from __future__ import annotations

from pathlib import Path

import typer

from scrutiny.cli import app
from scrutiny.cli._common import JsonOpt, SetOpt, StoreOpt
from scrutiny.cli._output import Output, fmt
from scrutiny.cli._progress import progress_reporter
from scrutiny.store import Store

# The options of ``check`` and ``case``, defined once (typer needs them in both signatures).
ScaleOpt = typer.Option(None, "--scale", help="smoke, cpu or paper (default: the claim's default_scale).")
OutOpt = typer.Option(None, "--out", help="Report folder (default: scrutiny-reports/<case>-<scale>).")
SeedsOpt = typer.Option(None, "--seeds", help="Override the scale's seeds: '0-4' or '0,3,7'.")
WorkersOpt = typer.Option(1, "--workers", min=1, help="Worker processes.")
ThreadsOpt = typer.Option(None, "--threads", min=1, help="CPU threads per trial.")
RetryOpt = typer.Option(False, "--retry-failed", help="Run failed trials again.")
DryRunOpt = typer.Option(False, "--dry-run", help="List the trials and their estimated cost; run nothing.")
DataRootOpt = typer.Option(
    None, "--data-root", help="Set data.root of every arm (e.g. an ImageNet folder with train/ and val/)."
)
WeightsOpt = typer.Option(
    None, "--weights", help="ARM=FILE: a local state_dict loaded into that arm's model (repeatable)."
)


def _check(
    claim_file: Path,
    scale: str | None,
    out_dir: Path | None,
    seeds: str | None,
    overrides: list[str],
    workers: int,
    threads: int | None,
    retry_failed: bool,
    dry_run: bool,
    store: Path,
    as_json: bool,
    data_root: Path | None = None,
    weights: list[str] | None = None,
) -> None:
    from scrutiny.analysis.check import check_claim, check_inputs, score_claim

    out = Output(as_json)
    trial_store = Store(store)
    if data_root is not None:
        overrides = [*overrides, f"data.root={data_root}"]
    p = _plan(claim_file, scale, trial_store, overrides, seeds, _arm_weights(weights or []))
    check_inputs(p)
    to_run = p.to_run(retry_failed)
    estimate = p.estimate_seconds(trial_store)
    if dry_run:
        rows = []
        for name, spec in p.specs.items():
            mine = [t for t in p.trials if t.spec == spec]
            rows.append(
                [
                    name,
                    p.claim.arms[name].label or spec.label,
                    len(mine),
                    sum(t.needs_run(retry_failed) for t in mine),
                    "unknown (no finished trial yet)" if estimate[name] is None else f"{estimate[name]:.0f} s",
                ]
            )
        out.table(
            f"{p.claim.title} — scale {p.scale}, seeds {p.seeds}: {len(to_run)} of {len(p.trials)} trials to run",
            ["arm", "label", "trials", "to run", "estimated time"],
            rows,
        )
        if as_json:
            out.json(
                {
                    "claim": str(claim_file),
                    "scale": p.scale,
                    "seeds": p.seeds,
                    "dry_run": True,
                    "trials": [
                        {
                            "arm": _arm_of(p, t.spec),
                            "trial_id": t.trial_id,
                            "seed": t.seed,
                            "status": t.status,
                            "run": t.needs_run(retry_failed),
                        }
                        for t in p.trials
                    ],
                    "estimated_seconds": estimate,
                }
            )
        return
    out.note(
        f"{p.claim.title}: scale {p.scale}, {len(p.specs)} arms × {len(p.seeds)} seeds; "
        f"running {len(to_run)} of {len(p.trials)} trials (store: {store})"
    )
    if to_run:
        with progress_reporter(out) as reporter:
            result = check_claim(
                p, trial_store, workers=workers, threads=threads, retry_failed=retry_failed, reporter=reporter
            )
    else:
        result = score_claim(p, trial_store)
    from scrutiny.report.render import write_report

    target = out_dir or Path("scrutiny-reports") / f"{p.path.parent.name}-{p.scale}"
    paths = write_report(result, target)
    if as_json:
        out.json({**result.to_dict(), "report": {k: str(v) for k, v in paths.items()}})
    else:
        rows = [
            [
                v.hypothesis,
                v.verdict,
                fmt(v.estimate),
                f"{fmt(v.low)} … {fmt(v.high)}",
                v.n_a,
                fmt(v.seeds_needed),
                v.reason,
            ]
            for v in result.verdicts
        ]
        out.table(
            f"{p.claim.title} ({p.scale})",
            ["hypothesis", "verdict", "estimate", "95% interval", "n", "seeds needed", "because"],
            rows,
        )
        out.print(f"report: {paths['report.html']}")
    if result.sweep.get("interrupted"):
        out.note("interrupted: finished trials are kept; run the same command again to complete the claim")
        raise typer.Exit(130)


def _arm_weights(items: list[str]) -> dict[str, str]:
    """``["resnet50=FILE", ...]`` -> ``{"resnet50": "FILE"}``; a malformed or repeated item raises one line."""
    from scrutiny.errors import ScrutinyError

    out: dict[str, str] = {}
    for item in items:
        arm, sep, path = item.partition("=")
        if not sep or not arm.strip() or not path.strip():
            raise ScrutinyError(f"--weights: expected ARM=FILE, got {item!r}")
        if arm.strip() in out:
            raise ScrutinyError(f"--weights: arm '{arm.strip()}' given twice")
        out[arm.strip()] = path.strip()
    return out


def _plan(claim_file: Path, scale: str | None, store: Store, overrides: list[str], seeds: str | None, weights):
    """The claim's plan; ``weights`` (arm -> file) becomes a ``model.weights`` override of that arm alone."""
    from scrutiny.analysis.check import plan_claim
    from scrutiny.errors import ScrutinyError
    from scrutiny.spec.claim import load_claim

    arms = list(load_claim(claim_file).arms) if weights else []
    unknown = sorted(set(weights) - set(arms))
    if unknown:
        raise ScrutinyError(f"--weights: unknown arm(s) {', '.join(unknown)}; arms are {', '.join(arms)}")
    arm_overrides = {arm: [f"model.weights={path}"] for arm, path in weights.items()}
    return plan_claim(claim_file, scale, store, overrides=overrides, seeds=seeds, arm_overrides=arm_overrides)


def _arm_of(p, spec) -> str:
    return next(name for name, s in p.specs.items() if s == spec)


@app.command()
def check(
    claim_file: Path = typer.Argument(..., help="Claim YAML file."),
    scale: str = ScaleOpt,
    out_dir: Path = OutOpt,
    seeds: str = SeedsOpt,
    overrides: list[str] = SetOpt,
    workers: int = WorkersOpt,
    threads: int = ThreadsOpt,
    retry_failed: bool = RetryOpt,
    dry_run: bool = DryRunOpt,
    store: Path = StoreOpt,
    as_json: bool = JsonOpt,
    data_root: Path = DataRootOpt,
    weights: list[str] = WeightsOpt,
) -> None:
    """Run what the store lacks for a claim, decide each hypothesis, write report.md/.html, results.json, PNGs."""
    _check(**{**locals(), "overrides": overrides or []})


@app.command()
def case(
    name: str = typer.Argument(..., help="A built-in case (see 'scrutiny list cases')."),
    scale: str = ScaleOpt,
    out_dir: Path = OutOpt,
    seeds: str = SeedsOpt,
    overrides: list[str] = SetOpt,
    workers: int = WorkersOpt,
    threads: int = ThreadsOpt,
    retry_failed: bool = RetryOpt,
    dry_run: bool = DryRunOpt,
    store: Path = StoreOpt,
    as_json: bool = JsonOpt,
    data_root: Path = DataRootOpt,
    weights: list[str] = WeightsOpt,
) -> None:
    """Run a built-in case study: 'scrutiny check' on its packaged claim."""
    args = {**locals(), "overrides": overrides or []}  # first: the parameters only
    from scrutiny.cases import case_claim

    _check(claim_file=case_claim(args.pop("name")), **args)
