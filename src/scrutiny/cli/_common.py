"""Options shared by several commands."""

from __future__ import annotations

import typer

from scrutiny.store import DEFAULT_STORE

StoreOpt = typer.Option(DEFAULT_STORE, "--store", help="Trial store folder.", envvar="SCRUTINY_STORE")
JsonOpt = typer.Option(False, "--json", help="Machine-readable output on stdout, no colours.")
SetOpt = typer.Option(None, "--set", help="Override a spec key: --set optim.lr=0.05 (repeatable).")
TrustOpt = typer.Option(
    False,
    "--trust-code",
    help="Let a stored spec (a trial folder's spec.json) import modules outside scrutiny to rebuild its model. "
    "A store is data; trust it like a script only if you trust where it came from.",
    envvar="SCRUTINY_TRUST_CODE",
)
TRUST_HINT = "pass --trust-code (or set SCRUTINY_TRUST_CODE=1) only if you trust where the store came from"
