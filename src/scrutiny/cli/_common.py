"""Options shared by several commands."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypedDict

import typer

from scrutiny.errors import ScrutinyError
from scrutiny.store import DEFAULT_STORE

if TYPE_CHECKING:
    from scrutiny.spec import Spec

StoreOpt = typer.Option(DEFAULT_STORE, "--store", help="Trial store folder.", envvar="SCRUTINY_STORE")
JsonOpt = typer.Option(False, "--json", help="Machine-readable output on stdout, no colours.")
SetOpt = typer.Option(
    None, "--set", help="Override a spec key: --set optim.lr=0.05; one per flag, repeat it: --set a=1 --set b=2."
)
ShowSpecOpt = typer.Option(
    False, "--show-spec", help="Print the resolved spec (every default written out) as YAML; with --dry-run: only that."
)
TrustOpt = typer.Option(
    False,
    "--trust-code",
    help="Let a stored spec (a trial folder's spec.json) import modules outside scrutiny to rebuild its model. "
    "A store is data; trust it like a script only if you trust where it came from.",
    envvar="SCRUTINY_TRUST_CODE",
)
TRUST_HINT = "pass --trust-code (or set SCRUTINY_TRUST_CODE=1) only if you trust where the store came from"

# Where trials run: shared by run and check/case. The library names parameters; FLAGS maps them to these flags.
ExecutorOpt = typer.Option(
    "local", "--executor", help="local (this machine), ray (a Ray cluster) or slurm (a SLURM job array via submitit)."
)
AddressOpt = typer.Option(
    None, "--address", help="Ray: join a running cluster (auto, HOST:PORT or ray://HOST:PORT); default: start one."
)
CpusOpt = typer.Option(None, "--cpus-per-trial", min=0.0, help="Ray: CPUs each trial declares (default: --threads).")
GpusOpt = typer.Option(
    None, "--gpus-per-trial", min=0.0, help="GPUs per trial; below 1 several trials share a GPU (0.25: four)."
)
SlurmPartitionOpt = typer.Option(None, "--slurm-partition", help="SLURM: the partition.")
SlurmTimeOpt = typer.Option(None, "--slurm-time", min=1, help="SLURM: minutes per array task (default 60).")
SlurmGpusOpt = typer.Option(None, "--slurm-gpus-per-task", min=0, help="SLURM: GPUs per array task (default 0).")
SlurmCpusOpt = typer.Option(None, "--slurm-cpus-per-task", min=1, help="SLURM: CPUs per array task (default 1).")
SlurmParallelOpt = typer.Option(
    None, "--slurm-array-parallelism", min=1, help="SLURM: at most this many array tasks at once (default 32)."
)

FLAGS = {
    "executor": "--executor",
    "address": "--address",
    "cpus_per_trial": "--cpus-per-trial",
    "gpus_per_trial": "--gpus-per-trial",
    "partition": "--slurm-partition",
    "time_min": "--slurm-time",
    "gpus_per_task": "--slurm-gpus-per-task",
    "cpus_per_task": "--slurm-cpus-per-task",
    "array_parallelism": "--slurm-array-parallelism",
    "store": "--store",
}


class _SlurmFlags(TypedDict, total=False):
    """The :class:`scrutiny.execute.SlurmOptions` that SLURM flags set."""

    partition: str
    time_min: int
    gpus_per_task: int
    cpus_per_task: int
    array_parallelism: int


def executor_from_flags(
    executor: str = "local",
    address: str | None = None,
    cpus_per_trial: float | None = None,
    gpus_per_trial: float | None = None,
    slurm_partition: str | None = None,
    slurm_time: int | None = None,
    slurm_gpus_per_task: int | None = None,
    slurm_cpus_per_task: int | None = None,
    slurm_array_parallelism: int | None = None,
) -> Any:
    """The :class:`scrutiny.execute.Executor` that the executor flags describe (a bad value: one line naming its
    flag)."""
    from scrutiny.execute import Executor, SlurmOptions

    given: _SlurmFlags = {}  # the SLURM options given, in this order; the others keep SlurmOptions' defaults
    if slurm_partition is not None:
        given["partition"] = slurm_partition
    if slurm_time is not None:
        given["time_min"] = slurm_time
    if slurm_gpus_per_task is not None:
        given["gpus_per_task"] = slurm_gpus_per_task
    if slurm_cpus_per_task is not None:
        given["cpus_per_task"] = slurm_cpus_per_task
    if slurm_array_parallelism is not None:
        given["array_parallelism"] = slurm_array_parallelism
    if given and executor != "slurm":
        from scrutiny.execute import ExecutorError

        raise ExecutorError(f"{FLAGS[next(iter(given))]}: a SLURM option needs --executor slurm (got {executor!r})")
    with flag_errors():
        slurm = SlurmOptions(**given) if given or executor == "slurm" else None
        return Executor(executor, address, cpus_per_trial, gpus_per_trial, slurm)


@contextmanager
def flag_errors(flags: Mapping[str, str] | None = None) -> Iterator[None]:
    """Re-raise an error that names a library parameter (``name: ...``) with its command-line flag instead.

    An error that names parameters inside its message has a ``with_flags(flags)`` method that writes it with flags.

    Args:
        flags: Parameter -> flag for the command at hand, on top of the shared :data:`FLAGS` (executor and store).
    """
    names = {**FLAGS, **(flags or {})}
    try:
        yield
    except ScrutinyError as exc:
        with_flags = getattr(exc, "with_flags", None)  # an error naming several parameters renders itself
        exc.args = (with_flags(names) if callable(with_flags) else flag_message(str(exc), names),)
        raise


def flag_message(message: str, flags: Mapping[str, str]) -> str:
    """``"design: expected ..."`` -> ``"--design: expected ..."`` when ``design`` is in ``flags``; else unchanged."""
    name, sep, rest = message.partition(": ")
    return f"{flags[name]}: {rest}" if sep and name in flags else message


def reject_extra_args(ctx: typer.Context, positional: Sequence[str] = ()) -> None:
    """Fail on arguments the command does not take, in one line; ``--set a=1 b=2`` is told to repeat ``--set``.

    A command that calls this is registered with ``context_settings={"allow_extra_args": True}``, so that the extra
    arguments reach it (click would otherwise stop with "Got unexpected extra argument" and no hint): ``--set`` takes
    one assignment, and a second one after it lands here.

    Args:
        ctx: The command's context; ``ctx.args`` holds the extra arguments.
        positional: The command's positional values: an assignment there (``--set a=1 b=2 spec.yaml``) took a
            positional's place.
    """
    extra = list(ctx.args)
    if not extra:
        return
    assignments = [a for a in [*positional, *extra] if "=" in a and not a.startswith("-")]
    if assignments:
        raise ScrutinyError(
            f"--set takes one assignment; got {assignments[0]!r} as an extra argument: repeat --set for each "
            "assignment: --set a=1 --set b=2"
        )
    raise ScrutinyError(f"unexpected extra argument(s): {' '.join(extra)}")


def spec_yaml(spec: Spec) -> str:
    """The resolved spec as YAML, its sections in the schema's order, every default written out."""
    import yaml

    return yaml.safe_dump(spec.to_dict(), sort_keys=False, default_flow_style=False, width=120).rstrip("\n")
