"""Turn pydantic validation errors into scrutiny's one-line :class:`SpecError`."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from scrutiny.errors import SpecError, suggest

_EXPECT = {
    "float_parsing": "expected a number",
    "float_type": "expected a number",
    "int_parsing": "expected an integer",
    "int_type": "expected an integer",
    "int_from_float": "expected an integer",
    "finite_number": "expected a finite number",
    "bool_parsing": "expected true or false",
    "bool_type": "expected true or false",
    "string_type": "expected a string",
    "dict_type": "expected a mapping",
    "model_type": "expected a mapping",
    "model_attributes_type": "expected a mapping",
    "tuple_type": "expected a list",
    "list_type": "expected a list",
}


EXCERPT_CHARS = 60


def excerpt(value: Any, limit: int = EXCERPT_CHARS) -> str:
    """``repr(value)`` cut to ``limit`` characters: an error message never echoes more than a short excerpt.

    Containers are summarised by type and length before ``repr`` is called, so a huge value costs nothing.
    """
    if isinstance(value, dict | list | tuple) and len(value) > 8:
        return f"<{type(value).__name__} of {len(value)} items>"
    if isinstance(value, str | bytes) and len(value) > 4 * limit:
        value = value[: 2 * limit]
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def dotted(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part)[:EXCERPT_CHARS] for part in loc)


def _fields_at(model: type[BaseModel] | None, loc: tuple[Any, ...]) -> list[str]:
    """Names of the fields of the (nested) model found at ``loc``."""
    for part in loc:
        if model is None or part not in model.model_fields:
            return []
        annotation = model.model_fields[part].annotation
        model = annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
    return list(model.model_fields) if model is not None else []


def first_error(exc: ValidationError, model: type[BaseModel] | None, prefix: tuple[Any, ...] = ()) -> tuple[str, str]:
    """The dotted key and a one-line message for the first error of ``exc``."""
    errors = exc.errors(include_url=False)
    # A misspelt key also makes the right one "missing": name the unknown key first, it is the cause.
    err = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    loc = tuple(err["loc"])
    kind = err["type"]
    if kind == "extra_forbidden":
        name, fields = str(loc[-1]), _fields_at(model, loc[:-1])
        valid = f" (valid keys: {', '.join(fields[:30])}{', ...' if len(fields) > 30 else ''})" if fields else ""
        return dotted(prefix + loc), "unknown key" + suggest(name, fields) + valid
    if kind == "missing":
        return dotted(prefix + loc), "required key is missing"
    shown = excerpt(err.get("input"))
    if kind == "literal_error":
        return dotted(prefix + loc), f"expected one of {err['ctx']['expected'][:200]}, got {shown}"
    if kind in _EXPECT:
        return dotted(prefix + loc), f"{_EXPECT[kind]}, got {shown}"
    message = err["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
    message = message[0].lower() + message[1:]
    return dotted(prefix + loc), f"{message[:200]}, got {shown}"


def raise_spec_error(
    exc: ValidationError,
    model: type[BaseModel] | None,
    sources: dict[str, str],
    fallback: str,
    prefix: tuple[Any, ...] = (),
) -> None:
    """Raise the :class:`SpecError` for ``exc``, naming the file (or ``--set``) that gave the offending key."""
    key, message = first_error(exc, model, prefix)
    raise SpecError(source_of(key, sources, fallback), key, message) from None


def source_of(key: str, sources: dict[str, str], fallback: str) -> str:
    """The source of ``key`` or of its nearest ancestor that has one."""
    parts = key.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in sources:
            return sources[candidate]
        parts.pop()
    return fallback
