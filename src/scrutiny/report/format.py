"""How a value is written for a person: one definition for the terminal, Markdown and HTML.

:func:`fmt` writes numbers (and ``None``, booleans, sequences) for tables and prose; :func:`spec_value` writes a value
of a spec key exactly, as in YAML; :func:`plural` writes a count with its noun. Light on purpose: the command line
imports this module, so it imports nothing beyond the standard library.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any


def fmt(value: Any, digits: int = 4) -> str:
    """Short human form of a value, the same in every output.

    Floats get ``digits`` significant digits; those of 10 ** ``digits`` and more are rounded to integers with
    thousands separators, and from a million up or below 0.001 they are written in scientific notation
    (``1.235e+06``, ``2e-05``). ``±inf`` becomes ``∞`` and ``−∞``; NaN and ``None`` an em dash; integers get
    thousands separators; booleans ``yes`` and ``no``; sequences their formatted items.

    Examples:
        >>> fmt(0.123456), fmt(-2.5), fmt(12345.6), fmt(1234567), fmt(7.57e-05), fmt(None), fmt(True), fmt([1.0, 0.5])
        ('0.1235', '-2.5', '12,346', '1,234,567', '7.57e-05', '—', 'yes', '[1, 0.5]')
    """
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isnan(value):
            return "—"
        if math.isinf(value):
            return "∞" if value > 0 else "−∞"
        if value != 0 and (abs(value) >= 1e6 or abs(value) < 1e-3):
            mantissa, exponent = f"{value:.{digits - 1}e}".split("e")
            return f"{mantissa.rstrip('0').rstrip('.')}e{exponent}"
        text = f"{value:.{digits}g}"
        return f"{value:,.0f}" if "e" in text else text
    if getattr(value, "ndim", None) == 0 and hasattr(value, "item"):  # a numpy scalar
        return fmt(value.item(), digits)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(fmt(v, digits) for v in value) + "]"
    return str(value)


def spec_value(value: Any) -> str:
    """A spec key's value written exactly, as YAML spells it: ``true``/``false``, numbers unrounded, absent as ``—``.

    Examples:
        >>> spec_value(False), spec_value(0.000123), spec_value(None), spec_value([3, 5])
        ('false', '0.000123', '—', '[3, 5]')
    """
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(spec_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {spec_value(v)}" for k, v in value.items()) + "}"
    return str(value)


def plural(n: int, noun: str, nouns: str | None = None) -> str:
    """``1 factor``, ``2 factors``; ``nouns`` where the plural is not ``noun + "s"``.

    Examples:
        >>> plural(1, "seed"), plural(3, "seed"), plural(2, "hypothesis", "hypotheses")
        ('1 seed', '3 seeds', '2 hypotheses')
    """
    return f"{n} {noun if n == 1 else (nouns or noun + 's')}"
