"""Analysis reads only the store and builds arrays of scores per arm."""

from scrutiny.analysis.runs import SpecSummary, summarise

__all__ = ["SpecSummary", "summarise"]
