"""A montage of the audited images closest to a training image, with their distances, for a person to judge."""

from __future__ import annotations

from pathlib import Path

from scrutiny.audit.duplicates import DuplicateAudit
from scrutiny.audit.images import _UNREADABLE, PixelSource


def montage(
    audit: DuplicateAudit,
    sources: dict[str, PixelSource],
    path: str | Path,
    *,
    k: int = 24,
    columns: int = 4,
    ax_size: float = 1.3,
) -> Path:
    """Write a PNG of the ``k`` closest cross-split pairs (audited image left, training image right).

    Each pair is titled with its pHash distance in bits, its cosine similarity where there are features, and
    ``exact`` or ``flagged`` when a detector matched it, so that a threshold can be set by eye.

    Args:
        audit: The report (:func:`~scrutiny.audit.duplicates.audit_duplicates`).
        sources: The pixels of the report's splits.
        path: Where the PNG goes.
        k: Pairs shown, the closest first (see :meth:`DuplicateAudit.closest`).
        columns: Pairs per row.
        ax_size: Inches per image.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    pairs = audit.closest(k)
    rows = max(1, -(-len(pairs) // columns))
    fig, axes = plt.subplots(rows, 2 * columns, figsize=(2 * columns * ax_size, rows * (ax_size + 0.35)), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    flagged = {(p.a_split, p.a_index, p.b_index): p for p in audit.pairs if p.b_split == audit.reference}
    ref = sources[audit.reference]
    for n, (split, i, j) in enumerate(pairs):
        r, c = divmod(n, columns)
        left, right = axes[r, 2 * c], axes[r, 2 * c + 1]
        _show(left, sources[split], i)
        _show(right, ref, j)
        near = audit.nearest[split]
        d = near["phash_distance"][i]
        cos = near["cosine"][i] if "cosine" in near and near["cosine_index"][i] == j else None
        pair = flagged.get((split, i, j))
        tag = ("exact" if pair.exact else "flagged") if pair is not None else ""
        text = f"{split}[{i}] d={d}" + (f" cos={cos:.3f}" if cos is not None else "")
        left.set_title(text, fontsize=6, loc="left")
        right.set_title(f"{audit.reference}[{j}] {tag}", fontsize=6, loc="left", color="red" if tag else "black")
    fig.suptitle(
        f"closest pairs (pHash bits; threshold {audit.thresholds.phash}, cosine {audit.thresholds.cosine})",
        fontsize=8,
    )
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _show(ax, source: PixelSource, i: int) -> None:
    try:
        pixels, _ = source.read(i)
    except _UNREADABLE:
        ax.text(0.5, 0.5, "unreadable", ha="center", va="center", fontsize=6)
        return
    ax.imshow(pixels, cmap="gray" if pixels.ndim == 2 else None, vmin=0, vmax=255, interpolation="nearest")
