"""Export the trial store (and a claim's verdicts and seed aggregates) to an experiment tracker: MLflow.

MLflow is optional (``pip install 'scrutiny[mlflow]'``); it is imported only when an export starts.
"""

from scrutiny.export._tracker import ExportError, default_tracking_uri
from scrutiny.export.claim import export_claim
from scrutiny.export.mlflow import DEFAULT_EXPERIMENT, ExportSummary, export_store

__all__ = ["DEFAULT_EXPERIMENT", "ExportError", "ExportSummary", "default_tracking_uri", "export_claim", "export_store"]
