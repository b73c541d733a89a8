"""Import every public submodule of a package, so that the registrations they hold take effect.

A new model family, dataset, protocol or command module only has to be added as a file; nothing else lists it.
Modules whose names start with an underscore hold machinery and are not imported here.
"""

from __future__ import annotations

import importlib
import pkgutil


def import_submodules(package: str) -> list[str]:
    """Import ``package``'s public submodules (not recursively) in name order; return their names."""
    pkg = importlib.import_module(package)
    names = sorted(m.name for m in pkgutil.iter_modules(pkg.__path__) if not m.name.startswith("_"))
    for name in names:
        importlib.import_module(f"{package}.{name}")
    return names
