"""Checks for evaluation bugs: which computation reproduces a reported accuracy (the PNN monitor, and others)."""

from scrutiny.audit.accuracy import AccuracyAudit, Computation, audit_reported_accuracy
from scrutiny.audit.monitor import SMOOTHNESS, SmoothedMonitor, monitor_epoch_values
from scrutiny.audit.sources import counts_from_file, counts_from_trial

__all__ = [
    "SMOOTHNESS",
    "AccuracyAudit",
    "Computation",
    "SmoothedMonitor",
    "audit_reported_accuracy",
    "counts_from_file",
    "counts_from_trial",
    "monitor_epoch_values",
]
