"""``scrutiny list models|datasets|protocols|probes|sections|cases``: what the registries hold."""

from __future__ import annotations

import typer

from scrutiny.cli import app
from scrutiny.cli._common import JsonOpt
from scrutiny.cli._output import Output
from scrutiny.errors import ScrutinyError, suggest
from scrutiny.registry import DATASETS, MODELS, PROBES, PROTOCOLS, SECTIONS

REGISTRIES = {
    "models": MODELS,
    "datasets": DATASETS,
    "protocols": PROTOCOLS,
    "probes": PROBES,
    "sections": SECTIONS,
}


@app.command("list")
def list_command(
    what: str = typer.Argument(..., help="models, datasets, protocols, probes, sections or cases"),
    name: str = typer.Argument(None, help="One entry: print its arguments with their types, defaults and docs."),
    as_json: bool = JsonOpt,
) -> None:
    """List the registered names of one kind (models, datasets, protocols, probes, sections, cases), one line each;
    with a NAME, that entry's arguments."""
    if what == "cases":
        _list_cases(Output(as_json))
        return
    if what not in REGISTRIES:
        raise ScrutinyError(
            f"list: unknown kind '{what}'{suggest(what, REGISTRIES)}; choose one of {', '.join(REGISTRIES)}"
        )
    out = Output(as_json)
    registry = REGISTRIES[what]
    if name is not None:
        _show_arguments(out, what, registry, name)
        return
    entries = [{"name": n, "description": registry.describe(n)} for n in registry.names()]
    prefixes = [f"{p}:<name>" for p in registry.prefixes()]
    if as_json:
        out.json({"kind": what, "entries": entries, "prefixes": prefixes})
        return
    rows = [[e["name"], e["description"]] for e in entries]
    rows += [[p, "any model of that library, random weights"] for p in prefixes]
    out.table(f"{what} (plus 'package.module:callable' for your own)", ["name", "description"], rows)


def _show_arguments(out: Output, what: str, registry, name: str) -> None:
    from scrutiny.models import CONTEXT_ARGS

    args = registry.arguments(name)  # an unknown name raises a one-line RegistryError with close matches
    given = set(CONTEXT_ARGS) if what == "models" else set()
    for arg in args:
        arg["given_by_scrutiny"] = arg["name"] in given
    if out.as_json:
        out.json({"kind": what, "name": name, "description": registry.describe(name), "arguments": args})
        return
    rows = [
        [
            a["name"],
            a["type"],
            "from the dataset" if a["given_by_scrutiny"] else ("required" if a["required"] else repr(a["default"])),
            a["doc"],
        ]
        for a in args
    ]
    out.table(f"{what}: {name} — {registry.describe(name)}", ["argument", "type", "default", "description"], rows)


def _list_cases(out: Output) -> None:
    from scrutiny.cases import case_claim, case_names
    from scrutiny.spec.claim import load_claim

    entries = []
    for name in case_names():
        claim = load_claim(case_claim(name))
        entries.append(
            {
                "name": name,
                "title": claim.title,
                "source": claim.source.paper,
                "scales": sorted(claim.scales),
                "default_scale": claim.default_scale,
            }
        )
    if out.as_json:
        out.json({"kind": "cases", "entries": entries})
        return
    out.table(
        "cases ('scrutiny case NAME --scale smoke|cpu|paper')",
        ["name", "claim", "scales"],
        [[e["name"], e["title"], ", ".join(e["scales"])] for e in entries],
    )
