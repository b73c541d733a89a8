"""Built-in case studies, shipped as data: ``<case>/claim.yaml``, its specs and a README."""

from __future__ import annotations

from pathlib import Path

from scrutiny.errors import ScrutinyError, suggest

ROOT = Path(__file__).resolve().parent


def case_names() -> list[str]:
    """Names of the packaged cases (folders that hold a ``claim.yaml``)."""
    return sorted(p.name for p in ROOT.iterdir() if (p / "claim.yaml").is_file())


def case_claim(name: str) -> Path:
    """Path of a packaged case's claim file; an unknown name raises with a suggestion."""
    path = ROOT / name / "claim.yaml"
    if not path.is_file():
        names = case_names()
        raise ScrutinyError(f"unknown case '{name}'{suggest(name, names)}; cases: {', '.join(names) or 'none'}")
    return path
