"""One :class:`Registry` type for every named thing in scrutiny: models, datasets, protocols, ...

A registry maps a name to a callable (a builder). Registering a name twice raises. Names are resolved as:

1. a registered name (``small_cnn``);
2. ``prefix:rest`` where ``prefix`` has a resolver (``torchvision:resnet50``, ``timm:resnet50``);
3. ``package.module:callable``: the user's own builder, imported on demand (``mylab.nets:wide_cnn``).

The built-in entries of a registry live in a package that is imported the first time the registry is used, so
importing :mod:`scrutiny.registry` is cheap and free of import cycles.

Trust: a spec or a claim is code, like a Python script, and its ``package.module:callable`` names are imported.
A stored spec (a trial folder's ``spec.json``, received with a store) is data: rebuilding from it passes
``trust_code=False``, which resolves only registered names, registered prefixes and modules of scrutiny itself,
and raises :class:`UntrustedCodeError` for any other module, before importing it.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from typing import Any

from scrutiny.errors import RegistryError, suggest

Builder = Callable[..., Any]


class UntrustedCodeError(RegistryError):
    """A name from data (a stored spec) that would import a module outside scrutiny; the caller may trust it.

    Attributes:
        kind: The registry's kind ("model", "dataset", ...).
        name: The name that was refused.
        where: ``"<file>: <key>: "`` when the name's origin is known, else empty.
    """

    def __init__(self, kind: str, name: str, where: str = "") -> None:
        self.kind, self.name, self.where = kind, name, where
        super().__init__(self.message("pass trust_code=True only if you trust where it came from"))

    def message(self, hint: str) -> str:
        """The one-line message, ending with ``hint`` (the CLI names its flag there)."""
        module = self.name.partition(":")[0]
        return (
            f"{self.where}{self.kind} '{self.name[:80]}' would import module '{module[:60]}' from stored data, "
            f"which runs its code; {hint}"
        )


class Registry:
    """A name -> builder table of one kind.

    Args:
        kind: What the registry holds, in the singular ("model", "dataset"); used in error messages.
        builtins: Dotted name of the package whose import registers the built-in entries.
    """

    def __init__(self, kind: str, builtins: str | None = None) -> None:
        self.kind = kind
        self._builtins = builtins
        self._loaded = builtins is None
        self._entries: dict[str, Builder] = {}
        self._meta: dict[str, dict[str, Any]] = {}
        self._prefixes: dict[str, Callable[[str], Builder]] = {}

    def _load_builtins(self) -> None:
        if not self._loaded:
            self._loaded = True
            importlib.import_module(self._builtins)  # type: ignore[arg-type]

    def register(self, name: str | None = None, **meta: Any) -> Callable[[Builder], Builder]:
        """Decorator that registers a builder under ``name`` (default: the function's name).

        ``meta`` is kept for tools and tests, e.g. ``example_input=lambda: torch.randn(2, 2)`` for a model whose
        input is not an image batch ``(N, C, 32, 32)``.
        """

        def decorator(fn: Builder) -> Builder:
            self.add(name or fn.__name__, fn, **meta)
            return fn

        return decorator

    def add(self, name: str, fn: Builder, **meta: Any) -> None:
        """Register ``fn`` under ``name``; a duplicate name raises :class:`RegistryError`."""
        if ":" in name:
            raise RegistryError(f"{self.kind} name '{name}' must not contain ':' (reserved for prefixes and modules)")
        if name in self._entries:
            raise RegistryError(
                f"duplicate {self.kind} name '{name}' (already registered by {_origin(self._entries[name])})"
            )
        self._entries[name] = fn
        self._meta[name] = meta

    def add_prefix(self, prefix: str, resolver: Callable[[str], Builder]) -> None:
        """Resolve every ``prefix:rest`` name through ``resolver(rest)``."""
        if prefix in self._prefixes:
            raise RegistryError(f"duplicate {self.kind} prefix '{prefix}'")
        self._prefixes[prefix] = resolver

    def get(self, name: str, *, trust_code: bool = True) -> Builder:
        """Return the builder for ``name``; an unknown name raises with a close-match suggestion.

        Args:
            name: A registered name, ``prefix:rest``, or ``package.module:callable``.
            trust_code: Allow importing a module outside scrutiny for a ``package.module:callable`` name. Pass
                False for names read from data (a stored spec): such a name raises :class:`UntrustedCodeError`.
        """
        self._load_builtins()
        if name in self._entries:
            return self._entries[name]
        if ":" in name:
            prefix, rest = name.split(":", 1)
            if prefix in self._prefixes:
                return self._prefixes[prefix](rest)
            if not trust_code and not is_own_module(prefix):
                raise UntrustedCodeError(self.kind, name)
            return _import_callable(name, self.kind)
        raise RegistryError(
            f"unknown {self.kind} '{name}'{suggest(name, self._entries)} (see 'scrutiny list {self.kind}s')"
        )

    def user_module(self, name: str) -> str | None:
        """The module a ``package.module:callable`` name imports, for a name resolved that way; else ``None``.

        ``None`` for a registered name, a registered ``prefix:rest`` and a module of scrutiny itself: what scrutiny
        ships is identified by its version, a user's module by its source (see :mod:`scrutiny.spec.identity`).
        """
        if ":" not in name:
            return None  # a registered name (registered names never hold ':')
        prefix = name.split(":", 1)[0]
        if is_own_module(prefix):
            return None
        self._load_builtins()
        return None if prefix in self._prefixes else prefix

    def __contains__(self, name: str) -> bool:
        self._load_builtins()
        return name in self._entries

    def meta(self, name: str) -> dict[str, Any]:
        """The metadata given when ``name`` was registered."""
        self._load_builtins()
        return dict(self._meta.get(name, {}))

    def names(self) -> list[str]:
        """Sorted names of the registered entries (prefix resolvers not included)."""
        self._load_builtins()
        return sorted(self._entries)

    def prefixes(self) -> list[str]:
        self._load_builtins()
        return sorted(self._prefixes)

    def describe(self, name: str) -> str:
        """First line of the builder's docstring."""
        doc = inspect.getdoc(self.get(name)) or ""
        return doc.splitlines()[0] if doc else ""

    def arguments(self, name: str) -> list[dict[str, Any]]:
        """The builder's arguments: ``name``, ``type``, ``default`` (``None`` with ``required``), and the first line
        of its entry in the docstring's ``Args:`` section. Variadic arguments are left out."""
        fn = self.get(name)
        docs = _arg_docs(inspect.getdoc(fn) or "")
        out = []
        for pname, param in inspect.signature(fn).parameters.items():
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                continue
            annotation = param.annotation
            kind = "" if annotation is inspect.Parameter.empty else getattr(annotation, "__name__", str(annotation))
            required = param.default is inspect.Parameter.empty
            out.append(
                {
                    "name": pname,
                    "type": kind,
                    "default": None if required else param.default,
                    "required": required,
                    "doc": docs.get(pname, ""),
                }
            )
        return out


def _arg_docs(doc: str) -> dict[str, str]:
    """``{argument: first line}`` from a Google-style ``Args:`` section."""
    out: dict[str, str] = {}
    inside = False
    for line in doc.splitlines():
        stripped = line.strip()
        if stripped in ("Args:", "Arguments:"):
            inside = True
            continue
        if inside and stripped.endswith(":") and not line.startswith(" "):
            break  # the next section (Returns:, Raises:, ...)
        if inside and line.startswith("    ") and not line.startswith("     ") and ":" in stripped:
            key, _, text = stripped.partition(":")
            out[key.split(" ")[0]] = text.strip()
    return out


def is_own_module(module: str) -> bool:
    """Whether ``module`` is scrutiny or one of its submodules (what a stored spec may import without trust)."""
    return module == "scrutiny" or module.startswith("scrutiny.")


def _origin(fn: Builder) -> str:
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', '?')}"


def _import_callable(name: str, kind: str) -> Builder:
    module_name, _, attr = name.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise RegistryError(f"unknown {kind} '{name}': cannot import module '{module_name}' ({exc})") from None
    fn = getattr(module, attr, None)
    if not callable(fn):
        raise RegistryError(f"unknown {kind} '{name}': module '{module_name}' has no callable '{attr}'")
    return fn


# Facts about the entries that a spec is checked against when it is loaded. They live here, beside the registries,
# so that scrutiny.spec (at the bottom of the data flow) checks a spec without importing the packages of the entries.

#: Arguments of a model builder that are filled from the dataset (``num_classes``, ...) when the builder accepts them
#: and the spec does not set them.
CONTEXT_ARGS = ("num_classes", "in_channels", "image_size")


def is_image_protocol(protocol: object) -> bool:
    """True for a protocol that starts from raw images (has ``views`` and ``boxes``), False for a tensor protocol.

    See :mod:`scrutiny.protocols._base` for the two kinds; a trial's evaluation takes a tensor protocol.
    """
    return callable(getattr(protocol, "views", None)) and callable(getattr(protocol, "boxes", None))


MODELS = Registry("model", builtins="scrutiny.models")
DATASETS = Registry("dataset", builtins="scrutiny.data")
PROTOCOLS = Registry("protocol", builtins="scrutiny.protocols")
PROBES = Registry("probe", builtins="scrutiny.probes")
SECTIONS = Registry("section", builtins="scrutiny.analysis.sections")
