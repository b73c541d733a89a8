"""Report sections beyond the verdicts, registered in :data:`scrutiny.registry.SECTIONS`.

A claim lists them under ``sections``; each entry names a section and its arguments::

    sections:
      - {name: seeds_needed_table, difference: 0.0004, sds: [0.0005, 0.001, 0.002]}
      - {name: spp_figure, arms: [bn_relu, relu_bn, nf]}

A section is a function ``section(result: ClaimResult, store: Store, **args) -> ReportSection`` (the
:class:`Section` protocol). It computes from the claim's result and the store (never from a model) and returns
plain data: paragraphs, tables, and figures as drawing functions that the report calls. Every public module here
is imported on first use, so a new section is a new file.
"""

from scrutiny._discover import import_submodules
from scrutiny.analysis.sections._base import (
    Cell,
    Figure,
    ReportSection,
    Section,
    Table,
    arm_names,
    build_sections,
    probe_table,
)

__all__ = ["Cell", "Figure", "ReportSection", "Section", "Table", "arm_names", "build_sections", "probe_table"]

import_submodules(__name__)
