"""Load a spec: YAML file(s) -> ``extends`` chain -> ``key=value`` overrides -> validated, resolved :class:`Spec`.

Precedence: schema defaults, then the ``extends`` chain (base first), then the file, then each override in order.
Mappings merge key by key; any other value (lists included) replaces the one below it.

Resolution also checks the ``model`` and ``data`` arguments against their builders' signatures (unknown keys and
wrong types fail with the same one-line error) and writes every builder default explicitly, so that a spec that
spells a default out has the same identity as one that leaves it implicit.

Importing the user's code: the folder of every spec file that is read (and of each file of its ``extends``
chain) is appended to ``sys.path`` (:func:`add_import_folder`) before the spec's names are resolved, so
``mylab.nets:cnn`` is found in ``mylab/`` beside the spec without ``PYTHONPATH``. Appended, not prepended: a
package of the same name that is already importable (installed, or on ``PYTHONPATH``) wins. The user modules
and files that a spec names are part of its identity (:func:`scrutiny.spec.identity.code_digests`); a file
named by path that exists but cannot be read fails at load, naming the file and the key.

Limits (each a one-line :class:`SpecError` that names it): only regular files are read, of at most
:data:`MAX_YAML_BYTES`, as UTF-8; a document expands (YAML aliases included) to at most :data:`MAX_NODES` values,
nested at most :data:`MAX_DEPTH` deep; a ``key=value`` override is at most :data:`MAX_OVERRIDE_CHARS` long.
"""

from __future__ import annotations

import copy
import inspect
import math
import sys
from pathlib import Path
from typing import Any

import yaml
from pydantic import ConfigDict, ValidationError, create_model

from scrutiny.errors import RegistryError, SpecError
from scrutiny.registry import (
    CONTEXT_ARGS,
    DATASETS,
    MODELS,
    PROBES,
    PROTOCOLS,
    UntrustedCodeError,
    is_image_protocol,
)
from scrutiny.spec._errors import excerpt, raise_spec_error, source_of
from scrutiny.spec._yaml import MAX_DEPTH, MAX_NODES, MAX_YAML_BYTES, check_size, parse_yaml, read_text, read_yaml
from scrutiny.spec.identity import code_digests

__all__ = [
    "MAX_DEPTH",
    "MAX_NODES",
    "MAX_OVERRIDE_CHARS",
    "MAX_YAML_BYTES",
    "OVERRIDE_SOURCE",
    "add_import_folder",
    "apply_overrides",
    "load_spec",
    "parse_override",
    "parse_yaml",
    "read_text",
    "read_yaml",
    "resolve",
]
from scrutiny.spec.schema import DataSection, Spec, builder_annotation

OVERRIDE_SOURCE = "--set"
MAX_OVERRIDE_CHARS = 10_000


def _merge(base: dict, top: dict, sources: dict[str, str], source: str, prefix: str = "") -> dict:
    """Merge ``top`` into a copy of ``base``; record the source of every key that ``top`` sets."""
    out = dict(base)
    for key, value in top.items():
        dotted = f"{prefix}{key}"
        sources[dotted] = source
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value, sources, source, dotted + ".")
        else:
            out[key] = copy.deepcopy(value)
            _mark_children(value, sources, source, dotted + ".")
    return out


def _mark_children(value: Any, sources: dict[str, str], source: str, prefix: str) -> None:
    if isinstance(value, dict):
        for key, sub in value.items():
            sources[f"{prefix}{key}"] = source
            _mark_children(sub, sources, source, f"{prefix}{key}.")


def add_import_folder(folder: str | Path) -> None:
    """Append ``folder`` (made absolute) to ``sys.path`` unless it is there: the modules beside a spec or claim file
    become importable for its ``package.module:callable`` names. Worker processes need the same entry."""
    entry = str(Path(folder).resolve())
    if entry not in sys.path:
        sys.path.append(entry)


def _load_chain(path: Path, sources: dict[str, str], seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    resolved = path.resolve()
    if resolved in seen:
        raise SpecError(str(path), "extends", "circular extends: " + " -> ".join(str(p) for p in (*seen, resolved)))
    raw = read_yaml(path)
    add_import_folder(resolved.parent)
    parent = raw.pop("extends", None)
    base: dict[str, Any] = {}
    if parent is not None:
        if not isinstance(parent, str) or not parent:
            raise SpecError(str(path), "extends", f"expected a relative path, got {excerpt(parent)}")
        if len(seen) >= 32:
            raise SpecError(str(path), "extends", "a chain longer than the limit of 32 files")
        base = _load_chain(path.parent / parent, sources, (*seen, resolved))
    return _merge(base, raw, sources, str(path))


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"optim.lr=0.05"`` -> ``(["optim", "lr"], 0.05)``; the value is read as YAML (``[1, 2]``, ``true``)."""
    if len(text) > MAX_OVERRIDE_CHARS:
        raise SpecError(OVERRIDE_SOURCE, None, f"longer than the limit of {MAX_OVERRIDE_CHARS:,} characters")
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key or any(not part for part in key.split(".")):
        raise SpecError(OVERRIDE_SOURCE, None, f"expected key=value with a dotted key, got {excerpt(text)}")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    except RecursionError:
        raise SpecError(OVERRIDE_SOURCE, key, f"nested deeper than the limit of {MAX_DEPTH} levels") from None
    check_size(value, OVERRIDE_SOURCE, key)
    if isinstance(value, dict) and any(not isinstance(k, str) for k in value):
        raise SpecError(OVERRIDE_SOURCE, key, "keys must be strings")
    return key.split("."), value


def apply_overrides(data: dict[str, Any], overrides: list[str], sources: dict[str, str]) -> dict[str, Any]:
    """Apply ``key=value`` overrides in order to a copy of ``data``."""
    out = copy.deepcopy(data)
    for text in overrides:
        parts, value = parse_override(text)
        node = out
        for i, part in enumerate(parts[:-1]):
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            elif not isinstance(child, dict):
                where = ".".join(parts[: i + 1])
                raise SpecError(OVERRIDE_SOURCE, where, f"is a value, not a section ({excerpt(child)})")
            node = child
        node[parts[-1]] = value
        dotted_key = ".".join(parts)
        for stale in [k for k in sources if k.startswith(dotted_key + ".")]:
            del sources[stale]  # the override replaced what the file said below this key
        sources[dotted_key] = OVERRIDE_SOURCE
        _mark_children(value, sources, OVERRIDE_SOURCE, ".".join(parts) + ".")
    return out


def load_spec(
    path: str | Path | None = None, overrides: list[str] | None = None, *, data: dict[str, Any] | None = None
) -> Spec:
    """Load, merge, override, validate and resolve a spec.

    Args:
        path: A YAML file (may ``extends:`` another, by a path relative to itself).
        overrides: ``key=value`` strings applied after the file.
        data: A mapping to use instead of a file (its source is named ``<dict>``).

    Returns:
        The resolved, frozen spec.

    Raises:
        SpecError: One line naming the file (or ``--set``), the dotted key and what is wrong.
    """
    sources: dict[str, str] = {}
    if path is not None:
        merged = _load_chain(Path(path), sources)
        fallback = str(path)
    else:
        check_size(data or {}, "<dict>")
        merged = _merge({}, data or {}, sources, "<dict>")
        fallback = "<dict>"
    merged = apply_overrides(merged, overrides or [], sources)
    return resolve(merged, sources, fallback)


def resolve(
    data: dict[str, Any], sources: dict[str, str] | None = None, fallback: str = "<dict>", *, trust_code: bool = True
) -> Spec:
    """Validate a merged mapping and resolve the builder arguments of ``model`` and ``data``.

    Args:
        data: The merged spec mapping.
        sources: Dotted key -> the file (or ``--set``) that gave it, for error messages.
        fallback: The source named for keys without one.
        trust_code: Allow ``package.module:callable`` names outside scrutiny. False for a stored spec (data,
            not code): such a name raises :class:`~scrutiny.registry.UntrustedCodeError` before any import.
    """
    sources = sources or {}
    _check_finite(data, sources, fallback)
    try:
        spec = Spec.model_validate(data)
    except ValidationError as exc:
        raise_spec_error(exc, Spec, sources, fallback)
    model_kwargs = _resolve_builder_args(
        spec.model.name, spec.model.kwargs, "model", MODELS, sources, fallback, trust_code=trust_code
    )
    data_kwargs = _resolve_builder_args(
        spec.data.name,
        spec.data.kwargs,
        "data",
        DATASETS,
        sources,
        fallback,
        trust_code=trust_code,
        common=set(DataSection.model_fields) - {"name"},
    )
    resolved = spec.model_dump(mode="python")
    if spec.model.weights is not None and not Path(spec.model.weights).expanduser().is_file():
        raise SpecError(
            source_of("model.weights", sources, fallback), "model.weights", f"no such file: {spec.model.weights}"
        )
    resolved["model"] = {"name": spec.model.name, "weights": spec.model.weights, **model_kwargs}
    resolved["data"] = {**{k: resolved["data"][k] for k in DataSection.model_fields}, **data_kwargs}
    resolved["eval"]["protocol_args"] = _resolve_builder_args(
        spec.eval.protocol,
        spec.eval.protocol_args,
        "eval.protocol_args",
        PROTOCOLS,
        sources,
        fallback,
        trust_code=trust_code,
        name_key="eval.protocol",
    )
    _check_trial_protocol(spec.eval.protocol, resolved["eval"]["protocol_args"], sources, fallback, trust_code)
    resolved["probes"] = [
        {
            "name": probe.name,
            "prefix": probe.prefix,
            **_resolve_builder_args(
                probe.name,
                probe.kwargs,
                f"probes.{i}",
                PROBES,
                sources,
                fallback,
                trust_code=trust_code,
                common={"ctx", "prefix"},
                name_key=f"probes.{i}.name",
            ),
        }
        for i, probe in enumerate(spec.probes)
    ]
    _check_probe_requirements(resolved, sources, fallback)
    out = Spec.model_validate(resolved)
    code_digests(out, lambda key: source_of(key, sources, fallback))  # an unreadable file fails here, named
    return out


def _check_finite(data: Any, sources: dict[str, str], fallback: str, prefix: str = "") -> None:
    """No NaN or infinity anywhere: no spec value can mean them, and JSON (the store, the hash) cannot hold them."""
    items = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list | tuple) else ()
    for k, value in items:
        key = f"{prefix}{k}"
        if isinstance(value, float) and not math.isfinite(value):
            raise SpecError(source_of(key, sources, fallback), key, f"expected a finite number, got {value}")
        _check_finite(value, sources, fallback, key + ".")


def _check_probe_requirements(resolved: dict[str, Any], sources: dict[str, str], fallback: str) -> None:
    """A probe registered with ``requires={"eval.save_batches": True}`` needs those spec values: say so at load."""
    for i, probe in enumerate(resolved["probes"]):
        for key, expected in PROBES.meta(probe["name"]).get("requires", {}).items():
            value: Any = resolved
            for part in key.split("."):
                value = value.get(part) if isinstance(value, dict) else None
            if value != expected:
                raise SpecError(
                    source_of(f"probes.{i}", sources, fallback),
                    f"probes.{i}",
                    f"probe '{probe['name']}' needs {key}: {expected} (the spec has {value})",
                )


def _check_trial_protocol(
    name: str, args: dict[str, Any], sources: dict[str, str], fallback: str, trust_code: bool = True
) -> None:
    """A trial evaluates tensors; protocols that start from raw images (crops, scales) are for image folders."""
    try:
        protocol = PROTOCOLS.get(name, trust_code=trust_code)(**args)
    except (TypeError, ValueError) as exc:
        raise SpecError(source_of("eval.protocol_args", sources, fallback), "eval.protocol_args", str(exc)) from None
    if is_image_protocol(protocol):
        raise SpecError(
            source_of("eval.protocol", sources, fallback),
            "eval.protocol",
            f"'{name}' evaluates raw images (scrutiny.protocols.evaluate_imagefolder); a trial's evaluation takes a "
            "tensor protocol such as 'plain'",
        )


def _resolve_builder_args(
    name: str,
    kwargs: dict[str, Any],
    section: str,
    registry,
    sources: dict[str, str],
    fallback: str,
    common: set[str] | None = None,
    name_key: str | None = None,
    trust_code: bool = True,
) -> dict[str, Any]:
    """Check ``kwargs`` against the builder's signature and fill its defaults (context arguments excluded)."""
    name_key = name_key or f"{section}.name"
    try:
        builder = registry.get(name, trust_code=trust_code)
    except UntrustedCodeError as exc:
        raise UntrustedCodeError(
            exc.kind, exc.name, f"{source_of(name_key, sources, fallback)}: {name_key}: "
        ) from None
    except RegistryError as exc:
        raise SpecError(source_of(name_key, sources, fallback), name_key, str(exc)) from None
    try:
        params = inspect.signature(builder).parameters
    except (TypeError, ValueError):
        return dict(kwargs)
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return dict(kwargs)  # an adapter that forwards to another library: its arguments are checked there
    skip = set(common or ()) | ({"root"} if section == "data" else set())
    fields: dict[str, Any] = {}
    for pname, param in params.items():
        if pname in skip or param.kind in (param.VAR_POSITIONAL, param.POSITIONAL_ONLY):
            continue
        annotation = Any if param.annotation is inspect.Parameter.empty else param.annotation
        if isinstance(annotation, str):
            annotation = _eval_annotation(builder, annotation)
        default = ... if param.default is inspect.Parameter.empty else param.default
        annotation = builder_annotation(pname, annotation, default)
        if section == "model" and pname in CONTEXT_ARGS and pname not in kwargs:
            continue  # filled from the dataset at build time
        fields[pname] = (annotation, default)
    checker = create_model(
        f"{section}_args",
        __config__=ConfigDict(extra="forbid", arbitrary_types_allowed=True, allow_inf_nan=False),
        **fields,
    )
    try:
        checked = checker.model_validate(kwargs)
    except ValidationError as exc:
        raise_spec_error(exc, checker, sources, fallback, prefix=tuple(section.split(".")))
    return checked.model_dump(mode="python")


def _eval_annotation(fn, annotation: str) -> Any:
    """Evaluate a string annotation (``from __future__ import annotations``) in the builder's module."""
    import typing

    module = sys.modules.get(getattr(fn, "__module__", ""), None)
    namespace = {**vars(typing), **(vars(module) if module else {})}
    try:
        return eval(annotation, namespace)  # noqa: S307 - annotations of registered builders, not user input
    except Exception:
        return Any
