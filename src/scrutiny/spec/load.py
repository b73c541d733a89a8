"""Load a spec: YAML file(s) -> ``extends`` chain -> ``key=value`` overrides -> validated, resolved :class:`Spec`.

Precedence: schema defaults, then the ``extends`` chain (base first), then the file, then each override in order.
Mappings merge key by key; any other value (lists included) replaces the one below it.

Resolution also checks the ``model`` and ``data`` arguments against their builders' signatures (unknown keys and
wrong types fail with the same one-line error) and writes every builder default explicitly, so that a spec that
spells a default out has the same identity as one that leaves it implicit.
"""

from __future__ import annotations

import copy
import inspect
from pathlib import Path
from typing import Any

import yaml
from pydantic import ConfigDict, ValidationError, create_model

from scrutiny.errors import RegistryError, SpecError
from scrutiny.registry import DATASETS, MODELS, PROBES, PROTOCOLS
from scrutiny.spec._errors import raise_spec_error, source_of
from scrutiny.spec.schema import DataSection, Spec

OVERRIDE_SOURCE = "--set"


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Read one YAML mapping; errors name the file (and the line for malformed YAML)."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise SpecError(str(path), None, "file not found") from None
    except OSError as exc:
        raise SpecError(str(path), None, f"cannot read ({exc.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise SpecError(str(path), None, f"{where}malformed YAML ({problem})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise SpecError(str(path), None, f"expected a mapping at the top level, got {type(data).__name__}")
    return data


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


def _load_chain(path: Path, sources: dict[str, str], seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    resolved = path.resolve()
    if resolved in seen:
        raise SpecError(str(path), "extends", "circular extends: " + " -> ".join(str(p) for p in (*seen, resolved)))
    raw = read_yaml(path)
    parent = raw.pop("extends", None)
    base: dict[str, Any] = {}
    if parent is not None:
        if not isinstance(parent, str):
            raise SpecError(str(path), "extends", f"expected a relative path, got {parent!r}")
        base = _load_chain(path.parent / parent, sources, (*seen, resolved))
    return _merge(base, raw, sources, str(path))


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"optim.lr=0.05"`` -> ``(["optim", "lr"], 0.05)``; the value is read as YAML (``[1, 2]``, ``true``)."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key or any(not part for part in key.split(".")):
        raise SpecError(OVERRIDE_SOURCE, None, f"expected key=value with a dotted key, got {text!r}")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
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
                raise SpecError(OVERRIDE_SOURCE, ".".join(parts[: i + 1]), f"is a value, not a section ({child!r})")
            node = child
        node[parts[-1]] = value
        sources[".".join(parts)] = OVERRIDE_SOURCE
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
        merged = _merge({}, data or {}, sources, "<dict>")
        fallback = "<dict>"
    merged = apply_overrides(merged, overrides or [], sources)
    return resolve(merged, sources, fallback)


def resolve(data: dict[str, Any], sources: dict[str, str] | None = None, fallback: str = "<dict>") -> Spec:
    """Validate a merged mapping and resolve the builder arguments of ``model`` and ``data``."""
    sources = sources or {}
    try:
        spec = Spec.model_validate(data)
    except ValidationError as exc:
        raise_spec_error(exc, Spec, sources, fallback)
    model_kwargs = _resolve_builder_args(spec.model.name, spec.model.kwargs, "model", MODELS, sources, fallback)
    data_kwargs = _resolve_builder_args(
        spec.data.name,
        spec.data.kwargs,
        "data",
        DATASETS,
        sources,
        fallback,
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
        name_key="eval.protocol",
    )
    _check_trial_protocol(spec.eval.protocol, resolved["eval"]["protocol_args"], sources, fallback)
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
                common={"ctx", "prefix"},
                name_key=f"probes.{i}.name",
            ),
        }
        for i, probe in enumerate(spec.probes)
    ]
    _check_probe_requirements(resolved, sources, fallback)
    return Spec.model_validate(resolved)


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


def _check_trial_protocol(name: str, args: dict[str, Any], sources: dict[str, str], fallback: str) -> None:
    """A trial evaluates tensors; protocols that start from raw images (crops, scales) are for image folders."""
    from scrutiny.protocols._base import is_image_protocol

    try:
        protocol = PROTOCOLS.get(name)(**args)
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
) -> dict[str, Any]:
    """Check ``kwargs`` against the builder's signature and fill its defaults (context arguments excluded)."""
    from scrutiny.models import CONTEXT_ARGS

    try:
        builder = registry.get(name)
    except RegistryError as exc:
        name_key = name_key or f"{section}.name"
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
        if section == "model" and pname in CONTEXT_ARGS and pname not in kwargs:
            continue  # filled from the dataset at build time
        fields[pname] = (annotation, default)
    checker = create_model(
        f"{section}_args", __config__=ConfigDict(extra="forbid", arbitrary_types_allowed=True), **fields
    )
    try:
        checked = checker.model_validate(kwargs)
    except ValidationError as exc:
        raise_spec_error(exc, checker, sources, fallback, prefix=tuple(section.split(".")))
    return checked.model_dump(mode="python")


def _eval_annotation(fn, annotation: str) -> Any:
    """Evaluate a string annotation (``from __future__ import annotations``) in the builder's module."""
    import sys
    import typing

    module = sys.modules.get(getattr(fn, "__module__", ""), None)
    namespace = {**vars(typing), **(vars(module) if module else {})}
    try:
        return eval(annotation, namespace)  # noqa: S307 - annotations of registered builders, not user input
    except Exception:
        return Any
