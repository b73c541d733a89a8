"""Identity of specs and trials.

``spec_hash`` is the first 12 hex digits of the SHA-256 of the resolved spec serialised as canonical JSON (keys
sorted, no whitespace, tuples as lists), with ``label`` and ``description`` removed. Keys added to the schema
after its first version are left out while they hold their default (``probes: []``, ``eval.save_batches:
false``, ``model.weights: null``, ``train.save_checkpoint: true``), so adding a key never changes the id of an
existing trial. One such default depends on the spec: ``eval.precision`` is left out where it gives the numbers
of the code before it (``train`` for bf16 and fp16 training, which used to be evaluated under their autocast,
``fp32`` for fp32), so an old id keeps its numbers, and a bf16 or fp16 spec evaluated in fp32 (the default now)
has a new id. Because the spec is resolved first (every default, including builder defaults, written out), key
order and spelling a default explicitly do not change it. The seed is not part of a spec, so it is excluded by
construction.

**Identity follows the code and the files.** A spec that names the user's own code or files also hashes what
they hold (:func:`code_digests`), under a ``code`` key that exists only for such a spec, so that the id of a
spec of built-in names is what it always was:

- Every ``package.module:callable`` name that the registries resolve by import (``model.name``, ``data.name``,
  ``eval.protocol``, ``probes.<i>.name``; see :meth:`scrutiny.registry.Registry.user_module`) adds the SHA-256
  of the source of the module it names, of the module that defines the callable (where that is another one), and
  of the modules of the same package that these import, followed transitively: absolute imports under the same
  top-level package and relative imports, with the ``__init__.py`` of every package on the way (for a top-level
  module, ``nets:cnn``, the other top-level modules of its folder that it imports, unless that folder is a
  ``site-packages``). Imports of other packages are not followed: an installed library is identified by its
  version, recorded with the trial. At most :data:`MAX_MODULE_FILES` files are followed per name; past that,
  :class:`~scrutiny.errors.SpecError` asks for a smaller package. A module is keyed by its dotted name, not its
  path, so moving the project folder keeps the ids.
- Every file that the spec names by path adds the SHA-256 of its bytes: ``model.weights``, ``data.root`` when it
  is a file (a folder of data is identified by its path only), and any string argument of the ``model``,
  ``data`` or a probe section named ``weights``, ``path``, ``file`` or ending in ``_weights``, ``_path`` or
  ``_file`` that names an existing file. Paths are relative to the working directory, as when the trial reads
  them.

So editing a user builder's body, or replacing a weights file at the same path, gives new trial ids, and
``--dry-run`` shows the trials to run. Digests are cheap: each file's digest is cached in the process by path,
size, inode and modification time. The digest is of the file on disk when the spec is hashed; a long-lived
process (a notebook) that imported the module before it was edited runs the code in memory, so reload the module
(or restart) after editing it. Hashing a spec imports the modules it names, as loading it did.

A trial's id is ``<spec hash>-s<seed>``.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from scrutiny.errors import RegistryError, SpecError
from scrutiny.registry import DATASETS, MODELS, PROBES, PROTOCOLS, is_own_module
from scrutiny.spec.schema import Spec

NOT_IDENTITY = ("label", "description")


def _eval_precision_before(data: dict[str, Any]) -> str:
    """The ``eval.precision`` of the numbers before the key existed: evaluation ran under the training autocast."""
    return "fp32" if data.get("train", {}).get("precision", "fp32") == "fp32" else "train"


_LATER_KEYS: tuple[tuple[tuple[str, ...], Any], ...] = (
    (("probes",), []),
    (("eval", "save_batches"), False),
    (("model", "weights"), None),
    (("train", "save_checkpoint"), True),
    (("eval", "precision"), _eval_precision_before),  # a default that depends on the spec (module docstring)
    (("optim", "norm_bias_lr_scale"), 1.0),
    (("optim", "lookahead_every"), 0),
    (("optim", "lookahead_decay"), 0.7737809375),
    (("optim", "lookahead_power"), 3.0),
    (("schedule", "knots"), []),
    (("train", "max_steps"), None),
    (("data", "on_device"), "auto"),
    (("data", "crop_padding"), 4),
    (("data", "pad_mode"), "zeros"),
    (("data", "flip"), "random"),
)  # (path, default) of keys added later; a callable default is computed from the identity dict
HASH_LENGTH = 12
#: Files followed from one ``module:callable`` name (the module, the callable's module and their local imports).
MAX_MODULE_FILES = 512
_PATH_NAMES = ("weights", "path", "file")
_PATH_SUFFIXES = ("_weights", "_path", "_file")


def canonical_json(data: Any) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def identity_dict(spec: Spec) -> dict[str, Any]:
    """The part of the resolved spec that defines its identity, with ``code`` where it names user code or files."""
    data = spec.to_dict()
    for key in NOT_IDENTITY:
        data.pop(key, None)
    for path, default in _LATER_KEYS:
        parent = data
        for part in path[:-1]:
            parent = parent.get(part, {})
        if path[-1] in parent and parent[path[-1]] == (default(data) if callable(default) else default):
            del parent[path[-1]]
    code = code_digests(spec)
    if code:
        data["code"] = code
    return data


def spec_hash(spec: Spec) -> str:
    """Stable content hash of the resolved spec and of the user code and files it names (seed, label and
    description excluded)."""
    data = identity_dict(spec)
    h = hashlib.sha256(canonical_json(data).encode()).hexdigest()[:HASH_LENGTH]
    if "code" in data:
        _remember(h, data["code"])
    return h


def trial_id(spec: Spec | str, seed: int) -> str:
    """``<spec hash>-s<seed>``: the one definition of a trial's id.

    Args:
        spec: The resolved spec, or its hash (:func:`spec_hash`) where only the hash is at hand.
        seed: The trial's root seed.
    """
    h = spec if isinstance(spec, str) else spec_hash(spec)
    return f"{h}-s{seed}"


# ---- user code and files -------------------------------------------------------------------------------------


def code_digests(spec: Spec, source: Callable[[str], str] | None = None) -> dict[str, Any]:
    """The SHA-256 of the user modules and files that ``spec`` names (see the module's docstring).

    Args:
        spec: A resolved spec (its ``module:callable`` names are trusted: it was loaded from a spec file).
        source: Dotted key -> the file (or ``--set``) that gave it, for error messages (default: ``<spec>``).

    Returns:
        ``{}`` for a spec of built-in names and no files, else ``{"modules": {dotted name: sha256}, "files":
        {dotted key: sha256}}`` with only the non-empty parts.

    Raises:
        SpecError: A named module or file that cannot be read, or a package past :data:`MAX_MODULE_FILES`.
    """
    where = source or (lambda key: "<spec>")
    names = [("model.name", spec.model.name, MODELS), ("data.name", spec.data.name, DATASETS)]
    names.append(("eval.protocol", spec.eval.protocol, PROTOCOLS))
    names += [(f"probes.{i}.name", p.name, PROBES) for i, p in enumerate(spec.probes)]
    modules: dict[str, str] = {}
    for key, name, registry in names:
        module = registry.user_module(name)
        if module is None:
            continue
        try:
            fn = registry.get(name)
        except RegistryError as exc:
            raise SpecError(where(key), key, str(exc)) from None
        try:
            modules.update(_module_digests(module, fn))
        except (OSError, SyntaxError, ValueError) as exc:
            raise SpecError(where(key), key, f"cannot hash the source of '{name}': {_reason(exc)}") from None
    files: dict[str, str] = {}
    for key, path in _named_files(spec):
        try:
            files[key] = file_digest(path)
        except OSError as exc:
            raise SpecError(where(key), key, f"cannot read {path}: {_reason(exc)}") from None
    out: dict[str, Any] = {}
    if modules:
        out["modules"] = dict(sorted(modules.items()))
    if files:
        out["files"] = files
    return out


def recorded_code(h: str) -> dict[str, Any] | None:
    """The code digests that went into spec hash ``h`` when this process computed it (``None``: none, or not
    computed here). The store writes them into ``spec.json`` beside the hash."""
    return _RECORDED.get(h)


_RECORDED: dict[str, dict[str, Any]] = {}
_DIGESTS: dict[tuple[str, int, int, int], str] = {}
_IMPORTS: dict[tuple[str, int, int, int], list[tuple[int, str, tuple[str, ...]]]] = {}
_CACHE_LIMIT = 4096


def _remember(h: str, code: dict[str, Any]) -> None:
    if len(_RECORDED) >= _CACHE_LIMIT:
        _RECORDED.clear()
    _RECORDED[h] = code


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


def _stat_key(path: Path) -> tuple[str, int, int, int]:
    st = os.stat(path)
    return (str(path), st.st_mtime_ns, st.st_size, st.st_ino)


def file_digest(path: str | Path) -> str:
    """The SHA-256 of a file's bytes, cached by path, modification time, size and inode."""
    path = Path(path).expanduser()
    key = _stat_key(path)
    if key not in _DIGESTS:
        digest = hashlib.sha256()
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        if len(_DIGESTS) >= _CACHE_LIMIT:
            _DIGESTS.clear()
        _DIGESTS[key] = digest.hexdigest()
    return _DIGESTS[key]


def _named_files(spec: Spec) -> list[tuple[str, str]]:
    """``(dotted key, path)`` of every file the spec names by path (see the module's docstring)."""
    out = []
    if spec.model.weights is not None:
        out.append(("model.weights", spec.model.weights))
    if spec.data.root is not None and Path(spec.data.root).expanduser().is_file():
        out.append(("data.root", spec.data.root))
    sections = [("model", spec.model.kwargs), ("data", spec.data.kwargs)]
    sections += [(f"probes.{i}", p.kwargs) for i, p in enumerate(spec.probes)]
    for section, kwargs in sections:
        for name, value in sorted(kwargs.items()):
            pathlike = name in _PATH_NAMES or name.endswith(_PATH_SUFFIXES)
            if pathlike and isinstance(value, str) and value and Path(value).expanduser().is_file():
                out.append((f"{section}.{name}", value))
    return out


def _file_of(module_name: str) -> Path | None:
    module = sys.modules.get(module_name)
    file = getattr(module, "__file__", None)
    return Path(file).resolve() if file else None


def _module_digests(module_name: str, fn: Any) -> dict[str, str]:
    """``{dotted module name: sha256}`` of the module, the callable's defining module and their local imports."""
    file = _file_of(module_name)
    if file is None:
        return {}  # a module without a source file (built into Python): nothing to hash
    parts = module_name.split(".")
    depth = len(parts) - (0 if file.name == "__init__.py" else 1)
    root = file.parents[depth] if depth < len(file.parents) else None
    installed = root is None or _site(root)
    local = _Local(root or file.parent, parts[0], siblings=depth == 0, follow=not installed)
    local.add(module_name, file)
    out: dict[str, str] = {}
    defining = getattr(fn, "__module__", None)
    if isinstance(defining, str) and defining != module_name and not is_own_module(defining):
        dfile = _file_of(defining)
        if dfile is not None and local.inside(defining, dfile):
            local.add(defining, dfile)
        elif dfile is not None:
            out[defining] = file_digest(dfile)  # another package: its file, not its imports
    out.update(local.follow())
    return out


def _site(folder: Path) -> bool:
    return folder.name in ("site-packages", "dist-packages")


class _Local:
    """The files of one package (or of one folder of top-level modules) that a module reaches by its imports.

    Args:
        root: The folder that the package (or the top-level module) is imported from.
        top: The package's top-level name.
        siblings: Also follow the other top-level modules of ``root`` (the module is a top-level one).
        follow: Follow imports at all (False for an installed package: only the files added are hashed).
    """

    def __init__(self, root: Path, top: str, siblings: bool, follow: bool) -> None:
        self.root, self.top, self.siblings, self.follows = root, top, siblings and not _site(root), follow
        self.queue: list[tuple[str, Path]] = []
        self.seen: dict[str, Path] = {}

    def inside(self, name: str, file: Path) -> bool:
        return (name.split(".")[0] == self.top or self.siblings) and file.is_relative_to(self.root)

    def add(self, name: str, file: Path) -> None:
        if name in self.seen:
            return
        if len(self.seen) >= MAX_MODULE_FILES:
            raise ValueError(f"package '{self.top}' imports more than {MAX_MODULE_FILES} of its modules")
        self.seen[name] = file
        self.queue.append((name, file))
        parent = name.rpartition(".")[0]
        if parent:  # importing a.b runs a/__init__.py
            self.find(parent)

    def find(self, name: str) -> None:
        """Add the module ``name`` if it is a file under the root that this package may follow."""
        if not self.follows or name in self.seen or not (name.split(".")[0] == self.top or self.siblings):
            return
        base = self.root.joinpath(*name.split("."))
        for candidate in (base.with_name(base.name + ".py"), base / "__init__.py"):
            if candidate.is_file():
                self.add(name, candidate)
                return

    def follow(self) -> dict[str, str]:
        while self.queue:
            name, file = self.queue.pop(0)
            package = name if file.name == "__init__.py" else name.rpartition(".")[0]
            for level, module, names in _imports_of(file):
                if level:
                    parts = package.split(".") if package else []
                    if level - 1 > len(parts):
                        continue
                    base = ".".join(parts[: len(parts) - level + 1] + ([module] if module else []))
                else:
                    base = module
                if not base:
                    continue
                self.find(base)
                for sub in names:  # from a import b: b may be a module
                    self.find(f"{base}.{sub}")
        return {name: file_digest(file) for name, file in sorted(self.seen.items())}


def _imports_of(file: Path) -> list[tuple[int, str, tuple[str, ...]]]:
    """``(level, module, names)`` of every import in a Python file (``[]`` for a file that is not Python)."""
    if file.suffix != ".py":
        return []
    key = _stat_key(file)
    if key not in _IMPORTS:
        tree = ast.parse(file.read_bytes(), str(file))
        found: list[tuple[int, str, tuple[str, ...]]] = []
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found += [(0, alias.name, ()) for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                found.append((node.level, node.module or "", tuple(a.name for a in node.names if a.name != "*")))
        if len(_IMPORTS) >= _CACHE_LIMIT:
            _IMPORTS.clear()
        _IMPORTS[key] = found
    return _IMPORTS[key]
