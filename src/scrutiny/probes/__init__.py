"""Probes: measurements that a trial runs on its model after training, registered in :data:`PROBES`.

A spec lists them under ``probes``; each entry names a probe and its arguments::

    probes:
      - {name: spp, resolution: 32}
      - {name: monitor}

A probe is a function ``probe(ctx: ProbeContext, **args) -> ProbeOutput``. Its ``metrics`` (scalars) become
fields ``<prefix>_<key>`` of the trial's result, where claims can test them like any ``final_*`` field; its
``tables`` are written to ``probes/<prefix>.json`` in the trial folder, for reports and figures. A probe runs
after the final evaluation and checkpoint; an error in a probe fails the trial like any other error.

A probe is an adapter: the measurement lives in the room that owns it (signal propagation and eKLD in
:mod:`scrutiny.diagnostics`, the replay of the PNN accuracy monitor in :mod:`scrutiny.audit`), where it is usable
without a trial; the probe runs it on the trial's model, data and per-batch counts. So probes import diagnostics and
audit, never the other way round, and stand above both in the order of the building blocks.

Every public module of this package is imported on first use, so a new probe is a new file.
"""

from scrutiny._discover import import_submodules
from scrutiny.probes._base import ProbeContext, ProbeOutput, run_probes

__all__ = ["ProbeContext", "ProbeOutput", "run_probes"]

import_submodules(__name__)
