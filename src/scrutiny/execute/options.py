"""Where a sweep's trials run: this machine (serial, worker processes, GPUs), a Ray cluster, or a SLURM cluster.

An :class:`Executor` is plain data, checked when it is made; a bad value raises a :class:`ExecutorError` that
names the parameter (the CLI maps it to its flag).
"""

from __future__ import annotations

from dataclasses import dataclass

from scrutiny.errors import ScrutinyError

KINDS = ("local", "ray", "slurm")


class ExecutorError(ScrutinyError):
    """An executor that cannot run: a missing extra, an unreachable cluster, resources it does not have."""


@dataclass(frozen=True)
class SlurmOptions:
    """A SLURM job array per sweep, through submitit.

    Attributes:
        partition: The partition (``None``: the cluster's default).
        time_min: Wall-time limit of each array task, in minutes.
        gpus_per_task: GPUs of each array task.
        cpus_per_task: CPUs of each array task.
        array_parallelism: At most this many array tasks run at once.
        folder: Where submitit keeps its job files (default: ``<store>/.slurm``, beside the store, so on the
            filesystem that the compute nodes share).
        cluster: ``None`` picks SLURM when ``srun`` exists, else local subprocesses; ``"local"`` forces the
            subprocesses (testing), ``"slurm"`` forces SLURM.
    """

    partition: str | None = None
    time_min: int = 60
    gpus_per_task: int = 0
    cpus_per_task: int = 1
    array_parallelism: int = 32
    folder: str | None = None
    cluster: str | None = None

    def __post_init__(self) -> None:
        for name in ("time_min", "cpus_per_task", "array_parallelism"):
            if getattr(self, name) < 1:
                raise ExecutorError(f"{name}: expected a positive integer, got {getattr(self, name)}")
        if self.gpus_per_task < 0:
            raise ExecutorError(f"gpus_per_task: expected a non-negative integer, got {self.gpus_per_task}")
        if self.cluster not in (None, "local", "slurm"):
            raise ExecutorError(f"cluster: expected None, 'local' or 'slurm', got {self.cluster!r}")


@dataclass(frozen=True)
class Executor:
    """How to run a sweep's trials.

    Attributes:
        kind: ``local`` (this machine), ``ray`` (a Ray cluster) or ``slurm`` (a SLURM job array via submitit).
        address: Ray only: ``None`` starts a local cluster for the sweep; ``auto``, ``HOST:PORT`` or
            ``ray://HOST:PORT`` joins a running one.
        cpus_per_trial: CPUs a trial declares (Ray; default: ``threads`` or 1).
        gpus_per_trial: GPUs a trial uses, fractions allowed (``0.25``: four trials share a GPU). Local: each worker
            sees one GPU, and ``1 / gpus_per_trial`` workers share each one; default 1 where there are GPUs.
        slurm: Options of the SLURM executor.
    """

    kind: str = "local"
    address: str | None = None
    cpus_per_trial: float | None = None
    gpus_per_trial: float | None = None
    slurm: SlurmOptions | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ExecutorError(f"executor: expected one of {', '.join(KINDS)}, got {self.kind!r}")
        if self.cpus_per_trial is not None and not self.cpus_per_trial > 0:
            raise ExecutorError(f"cpus_per_trial: expected a positive number, got {self.cpus_per_trial}")
        if self.gpus_per_trial is not None and not self.gpus_per_trial >= 0:
            raise ExecutorError(f"gpus_per_trial: expected a non-negative number, got {self.gpus_per_trial}")
        if self.address is not None and self.kind != "ray":
            raise ExecutorError(f"address: only the ray executor joins a cluster (executor is {self.kind!r})")
        if self.slurm is not None and self.kind != "slurm":
            raise ExecutorError(f"slurm: SLURM options need executor 'slurm' (executor is {self.kind!r})")
