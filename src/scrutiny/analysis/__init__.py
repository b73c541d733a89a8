"""Analysis reads only the store (or scores a user brings) and builds arrays of scores per arm; it runs nothing.

:mod:`~scrutiny.analysis.check` scores a claim and decides its hypotheses (:mod:`~scrutiny.analysis.verdicts`);
running the trials a claim needs is :mod:`scrutiny.workflows.check`. Results are dataclasses that
:mod:`scrutiny.report` renders.

Names are imported on first use (PEP 562), so that ``import scrutiny.analysis`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scrutiny._discover import lazy_exports

# public name -> the module that defines it
_WHERE = {
    "SpecSummary": "scrutiny.analysis.runs",
    "summarise": "scrutiny.analysis.runs",
}

if TYPE_CHECKING:  # for type checkers and IDEs; at run time the names come from __getattr__
    from scrutiny.analysis.runs import SpecSummary, summarise

__getattr__, __dir__ = lazy_exports(__name__, _WHERE)

__all__ = ["SpecSummary", "summarise"]
