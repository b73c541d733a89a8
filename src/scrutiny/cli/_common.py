"""Options shared by several commands."""

from __future__ import annotations

import typer

from scrutiny.store import DEFAULT_STORE

StoreOpt = typer.Option(DEFAULT_STORE, "--store", help="Trial store folder.", envvar="SCRUTINY_STORE")
JsonOpt = typer.Option(False, "--json", help="Machine-readable output on stdout, no colours.")
SetOpt = typer.Option(None, "--set", help="Override a spec key: --set optim.lr=0.05 (repeatable).")
