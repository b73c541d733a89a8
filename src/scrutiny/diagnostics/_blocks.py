"""Which modules of a network are its blocks and residual branches, for signal propagation plots.

Blocks come from the model's ``spp_blocks()`` method (:class:`SupportsSPP`), from a built-in layout for torchvision
and timm ResNets and timm NF-ResNets (recognised by class name, without importing timm), or from patterns over
``named_modules()`` (:func:`compile_patterns`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from torch import nn

SPPBlock = tuple[str, int, nn.Module, nn.Module | None]
PatternArg = str | re.Pattern[str] | Sequence[str | re.Pattern[str]]


@runtime_checkable
class SupportsSPP(Protocol):
    """A model that lists its blocks for SPPs."""

    def spp_blocks(self) -> Sequence[SPPBlock]:
        """``(name, stage, block module, residual-branch module or None)`` per block, in forward order."""
        ...


def compile_patterns(patterns: PatternArg) -> list[re.Pattern[str]]:
    """Module-name patterns as regexes, matched against whole dotted names.

    A string is a glob where ``*`` matches within one dotted part, ``**`` across parts and ``?`` one character
    (``"layer*.*"`` matches ``layer1.0`` but not ``layer1.0.conv1``); a string starting with ``re:`` or a compiled
    pattern is a regular expression.
    """
    if isinstance(patterns, str | re.Pattern):
        patterns = [patterns]
    out = []
    for p in patterns:
        if isinstance(p, re.Pattern):
            out.append(p)
        elif p.startswith("re:"):
            out.append(re.compile(p[3:]))
        else:
            parts = re.split(r"(\*\*|\*|\?)", p)
            tr = {"**": ".*", "*": r"[^.]*", "?": r"[^.]"}
            out.append(re.compile("".join(tr.get(t, re.escape(t)) for t in parts)))
    return out


def _matches(name: str, patterns: list[re.Pattern[str]]) -> bool:
    return any(p.fullmatch(name) for p in patterns)


def _known_layout(model: nn.Module) -> tuple[str, list[str]] | None:
    """Block and residual patterns of torchvision/timm ResNets and timm NF-ResNets (by class, without importing)."""
    cls, module = type(model).__name__, type(model).__module__
    if cls == "ResNet" and (module.startswith("torchvision.models") or module.startswith("timm.models")):
        block = model.get_submodule("layer1.0")
        if getattr(block, "se", None) is not None:
            return "layer*.*", ["se"]
        return "layer*.*", ["bn3" if hasattr(block, "bn3") else "bn2"]
    if cls == "NormFreeNet" and module.startswith("timm.models"):
        first = next((m for m in model.get_submodule("stages").modules() if type(m).__name__ == "NormFreeBlock"), None)
        if first is None:
            return None
        if getattr(first, "attn_last", None) is not None:
            raise ValueError("timm NormFreeNet with attn_last: its residual is attn_gain·attn_last(·); pass residuals=")
        return "stages.*.*", ["conv3"]
    return None


def resolve_blocks(
    model: nn.Module,
    blocks: PatternArg | None = None,
    residuals: PatternArg | None = None,
) -> list[SPPBlock]:
    """The ``(name, stage, block, residual)`` tuples that :func:`spp` measures, in ``named_modules()`` order.

    Args:
        model: The network.
        blocks: Patterns over ``model.named_modules()`` names (see :func:`compile_patterns`). ``None``: the model's
            ``spp_blocks()``, else a built-in layout (torchvision/timm ResNet, timm NF-ResNet).
        residuals: Patterns over the names *inside* each block (``block.named_modules()``, e.g. ``"bn3"``); each
            must match exactly one submodule per block. ``None`` with explicit ``blocks``: no residual column.

    Returns:
        The blocks; a block's stage is the index of its parent module among the blocks' distinct parents.
    """
    if blocks is None:
        if isinstance(model, SupportsSPP):
            if residuals is not None:
                raise ValueError("residuals= needs blocks=; the model's spp_blocks() already names its residuals")
            return [(str(n), int(s), b, r) for n, s, b, r in model.spp_blocks()]
        layout = _known_layout(model)
        if layout is None:
            raise ValueError(
                f"{type(model).__name__} has no spp_blocks() and no built-in layout; name its blocks with blocks= "
                "(e.g. 'layer*.*') and residuals= (e.g. 'bn3')"
            )
        if residuals is None:
            blocks, residuals = layout
        else:
            blocks = layout[0]
    block_patterns = compile_patterns(blocks)
    found = [(n, m) for n, m in model.named_modules() if n and _matches(n, block_patterns)]
    if not found:
        names = [n for n, _ in model.named_modules() if n][:8]
        raise ValueError(f"no module name matches blocks={blocks!r}; names look like {names}")
    for (a, _), (b, _) in zip(found, found[1:], strict=False):
        if b.startswith(a + "."):
            raise ValueError(f"blocks={blocks!r} matches nested modules '{a}' and '{b}'; make the pattern stricter")
    res_patterns = compile_patterns(residuals) if residuals is not None else None
    parents: dict[str, int] = {}
    out: list[SPPBlock] = []
    for name, block in found:
        stage = parents.setdefault(name.rpartition(".")[0], len(parents))
        residual = None
        if res_patterns is not None:
            hits = [(n, m) for n, m in block.named_modules() if n and _matches(n, res_patterns)]
            if len(hits) != 1:
                raise ValueError(
                    f"residuals={residuals!r} must match exactly one submodule of block '{name}', "
                    f"matched {[n for n, _ in hits]}"
                )
            residual = hits[0][1]
        out.append((name, stage, block, residual))
    return out
