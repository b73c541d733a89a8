"""The package's imports follow the data flow of DESIGN.md: no arrow points up, not even inside a function.

Every ``import`` and ``from ... import`` in ``src/scrutiny`` is read from the source (module level, inside
functions and under ``TYPE_CHECKING`` alike), resolved to the room it names, and checked against ``MAY_IMPORT``:
the rooms each room may use. A room not in the table fails the test, so a new room has to say where it stands.

The order of the building blocks: ``layers`` < ``models`` < ``data`` < ``protocols`` < ``diagnostics`` <
``audit`` < ``probes`` < ``ablation`` < ``analysis.sections``; each may import those before it. DESIGN.md lists
``probes`` before ``diagnostics`` and ``audit``, but a probe is a measurement owned by one of them (eKLD and
signal propagation from ``diagnostics``, the smoothed-monitor check from ``audit``) run at the end of a trial, so
the probes stand on the diagnostics and the audit and not the other way round.
"""

from __future__ import annotations

import ast
from pathlib import Path

import scrutiny

SRC = Path(scrutiny.__file__).parent

# running: which trial this process runs, so that a data builder can ask the trial loop for a dependency trial
BASE = {"errors", "_version", "_discover", "registry", "device", "running"}
BLOCKS = ["layers", "models", "data", "protocols", "diagnostics", "audit", "probes", "ablation", "analysis.sections"]
BOTTOM = BASE | {"stats", "spec", "store"}


def _blocks_before(room: str) -> set[str]:
    return set(BLOCKS[: BLOCKS.index(room)])


MAY_IMPORT: dict[str, set[str]] = {
    "errors": set(),
    "_version": set(),
    "_discover": set(),
    "registry": {"errors"},
    "device": {"errors"},
    "running": {"errors"},
    "stats": {"_discover", "errors"},  # pure numpy and scipy
    "spec": BASE | {"stats"},
    "store": BASE | {"spec"},
    **{room: BOTTOM | _blocks_before(room) for room in BLOCKS},
    "trials": BOTTOM | set(BLOCKS) - {"analysis.sections"},
    "execute": BOTTOM | {"trials"},
    # analysis reads the store (or scores a user brings) and never runs anything: no execute, trials or workflows
    "analysis": BOTTOM | set(BLOCKS),
    "report": BASE | {"spec", "store", "analysis", "analysis.sections"},  # renders; never computes a statistic
    "export": BOTTOM | {"analysis"},
    "workflows": BOTTOM | set(BLOCKS) | {"trials", "execute", "analysis", "report", "export"},
    "cli": BOTTOM | set(BLOCKS) | {"trials", "execute", "analysis", "report", "export", "workflows", "cases"},
    "cases": BASE,
    "__main__": {"cli"},
}
MAY_IMPORT["analysis.sections"] |= {"analysis"}  # a section reads the score tables of the claim it is part of


def _room(module: str) -> str | None:
    """The room of a dotted module name inside the package (``None`` outside it or for the package itself)."""
    parts = module.split(".")
    if parts[0] != "scrutiny" or len(parts) == 1:
        return None
    if parts[1] == "analysis" and len(parts) > 2 and parts[2] == "sections":
        return "analysis.sections"
    return parts[1]


def _module_name(path: Path, src: Path = SRC) -> str:
    return ".".join(path.relative_to(src.parent).with_suffix("").parts).removesuffix(".__init__")


def _imports(path: Path, src: Path = SRC) -> list[tuple[int, str]]:
    """``(line, module)`` for every import in the file, relative ones resolved; ``from m import x`` gives m and m.x."""
    module = _module_name(path, src)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))
            out += [(node.lineno, base)] + [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
    return out


def _arrows() -> list[tuple[str, str, str]]:
    """``(source room, target room, "file:line")`` for every import between two different rooms."""
    found = []
    for path in sorted(SRC.rglob("*.py")):
        source = _room(_module_name(path))
        if source is None:
            continue  # scrutiny/__init__.py: the public API re-exports from every room
        for line, target in _imports(path):
            room = _room(target)
            if room is not None and room != source:
                found.append((source, room, f"{path.relative_to(SRC)}:{line}"))
    return found


def test_every_room_is_placed_in_the_flow():
    rooms = {_room(_module_name(p)) for p in SRC.rglob("*.py")}
    assert rooms - {None} <= set(MAY_IMPORT), f"rooms missing from MAY_IMPORT: {sorted(rooms - set(MAY_IMPORT))}"


def test_no_import_points_against_the_data_flow():
    against = sorted({f"{where}: {src} -> {dst}" for src, dst, where in _arrows() if dst not in MAY_IMPORT[src]})
    assert not against, "imports against the data flow of DESIGN.md:\n" + "\n".join(against)


def test_the_checker_sees_imports_inside_functions_and_relative_ones(tmp_path):
    path = tmp_path / "scrutiny" / "analysis" / "mod.py"
    path.parent.mkdir(parents=True)
    path.write_text("def f():\n    from scrutiny.execute import run_trials\n    from ..trials import loop\n")
    found = [(line, module) for line, module in _imports(path, tmp_path / "scrutiny")]
    assert found == [(2, "scrutiny.execute"), (2, "scrutiny.execute.run_trials"), (3, "scrutiny.trials"),
                     (3, "scrutiny.trials.loop")]  # fmt: skip
    assert {_room(m) for _, m in found} == {"execute", "trials"}
    assert not {"execute", "trials"} & MAY_IMPORT["analysis"]
