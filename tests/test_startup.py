"""Start-up: ``import scrutiny`` and ``scrutiny --help`` import neither torch, scipy.stats nor matplotlib; every public
name is still importable from where it was; the command list read from source matches the imported one.

What is imported is checked, not how long it takes: timings live in ``benchmarks/startup.py``.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys

import pytest

HEAVY = ("torch", "scipy.stats", "matplotlib", "ray", "submitit")


def _python(code: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "120", "NO_COLOR": "1"}
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, timeout=300)


def _heavy_after(code: str, *args: str) -> list[str]:
    done = _python(f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))", *args)
    assert done.returncode == 0, done.stderr
    loaded = set(json.loads(done.stdout.strip().splitlines()[-1]))
    return [m for m in HEAVY if m in loaded]


@pytest.mark.parametrize(
    "code",
    [
        "import scrutiny",
        "import scrutiny.stats",
        "import scrutiny.errors",
        "import scrutiny.analysis",
        "import scrutiny.execute",
        "from scrutiny import ScrutinyError, Store, __version__",
    ],
)
def test_importing_scrutiny_imports_no_heavy_package(code):
    assert _heavy_after(code) == []


MAIN = "import sys\nfrom scrutiny.cli import main\ntry:\n    main()\nexcept SystemExit:\n    pass\n"
COMMANDS = "commands = sorted(m for m in sys.modules if m.startswith('scrutiny.cli.') and m[13:14] != '_')\n"


def test_help_imports_no_heavy_package_and_no_command_module():
    assert _heavy_after(MAIN + COMMANDS + "assert commands == [], commands") == [] == _heavy_after(MAIN, "--help")


def test_a_commands_help_imports_only_its_module():
    code = MAIN + COMMANDS + "assert commands == ['scrutiny.cli.run'], commands"
    assert _heavy_after(code, "run", "--help") == []


def _help(prelude: str) -> str:
    code = f"import sys\n{prelude}\nfrom scrutiny.cli import main\ntry:\n    main()\nexcept SystemExit:\n    pass"
    done = _python(code, "--help")
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_command_list_read_from_source_is_the_imported_one():
    lazy = _help("")
    full = _help("from scrutiny._discover import import_submodules\nimport_submodules('scrutiny.cli')")
    assert lazy == full and "  run " in lazy and "  audit " in lazy


def test_a_test_client_sees_every_command():
    from typer.testing import CliRunner

    from scrutiny._discover import declared_commands
    from scrutiny.cli import app

    out = CliRunner().invoke(app, ["--help"]).output
    names = [d.name for d in declared_commands("scrutiny.cli")]
    assert len(names) >= 10 and all(f"  {name} " in out for name in names)
    assert CliRunner().invoke(app, ["list", "--help"]).exit_code == 0


def test_a_mistyped_command_is_a_usage_error_without_traceback():
    done = _python("from scrutiny.cli import main; main()", "rnu")
    assert done.returncode == 2 and "Traceback" not in done.stderr and "No such command 'rnu'" in done.stderr


@pytest.mark.parametrize("package", ["scrutiny", "scrutiny.stats", "scrutiny.analysis"])
def test_every_public_name_is_importable_and_is_the_defining_modules_object(package):
    module = importlib.import_module(package)
    for name in module.__all__:
        value = getattr(module, name)
        if name != "__version__":
            assert value is getattr(importlib.import_module(module._WHERE[name]), name)
        assert name in dir(module)
    with pytest.raises(AttributeError, match="no attribute 'not_a_name'"):
        module.not_a_name  # noqa: B018
