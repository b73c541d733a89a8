"""The spec schema: frozen pydantic models with unknown keys forbidden.

A spec describes one training and evaluation setup in six sections. ``model`` and ``data`` name a registry
entry and carry its keyword arguments; those arguments are checked against the builder's signature when the
spec is resolved (:func:`scrutiny.spec.load.resolve`), so an unknown or mistyped argument fails there too.

Numbers are numbers: a boolean is never accepted where a number is expected (YAML's ``true`` is not 1), and
non-finite floats (``.inf``, ``.nan``) are rejected everywhere in the schema. Sizes and counts are positive,
rates and weights non-negative; each field's range is in its type below.
"""

from __future__ import annotations

import re
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator


def _not_bool(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("expected a number, not a boolean")
    return value


Int = Annotated[int, BeforeValidator(_not_bool)]
Float = Annotated[float, BeforeValidator(_not_bool)]
PositiveInt = Annotated[int, BeforeValidator(_not_bool), Field(gt=0)]
NonNegativeInt = Annotated[int, BeforeValidator(_not_bool), Field(ge=0)]
PositiveFloat = Annotated[float, BeforeValidator(_not_bool), Field(gt=0)]
NonNegativeFloat = Annotated[float, BeforeValidator(_not_bool), Field(ge=0)]
UnitFloat = Annotated[float, BeforeValidator(_not_bool), Field(ge=0, lt=1)]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class OpenSection(BaseModel):
    """A section whose extra keys are a registry builder's keyword arguments."""

    model_config = ConfigDict(extra="allow", frozen=True, allow_inf_nan=False)

    @property
    def kwargs(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class ModelSection(OpenSection):
    """``model``: a registry name (``small_cnn``, ``torchvision:resnet50``, ``pkg.mod:builder``) and its arguments.

    ``weights``: a local state_dict file (or a scrutiny checkpoint) loaded strictly into the built model before
    training, e.g. published weights to evaluate with ``train.epochs: 0``. Nothing is downloaded.
    """

    name: str
    weights: str | None = None


class DataSection(OpenSection):
    """``data``: a dataset builder and its arguments, plus how it is batched."""

    name: str
    root: str | None = None
    batch_size: PositiveInt = 128
    eval_batch_size: PositiveInt | None = Field(None, description="defaults to batch_size")
    num_workers: NonNegativeInt = 0
    drop_last: bool = Field(False, description="drop the last partial training batch (never done in evaluation)")
    sampler: Literal["uniform", "class_balanced", "drs"] = Field(
        "uniform", description="training order: each example once (uniform), class-balanced, or deferred (drs)"
    )
    drs_start_epoch: PositiveInt | None = Field(None, description="drs: first epoch (from 1) that samples balanced")
    on_device: bool | Literal["auto"] = Field(
        "auto",
        description="hold in-memory splits on the training device, batched augmentation (auto: on CUDA when they fit)",
    )

    @model_validator(mode="after")
    def _fill_eval_batch_size(self) -> DataSection:
        if self.eval_batch_size is None:
            object.__setattr__(self, "eval_batch_size", self.batch_size)
        if self.sampler == "drs" and self.drs_start_epoch is None:
            raise ValueError("drs_start_epoch: required when sampler is 'drs'")
        return self


class OptimSection(Section):
    """``optim``: the optimizer. ``wd_on: weights_only`` exempts biases and normalisation parameters (ndim < 2)."""

    name: Literal["sgd", "adam", "adamw"] = "sgd"
    lr: PositiveFloat = 0.1
    momentum: NonNegativeFloat = 0.9
    nesterov: bool = False
    betas: tuple[UnitFloat, UnitFloat] = (0.9, 0.999)
    eps: PositiveFloat = 1e-8
    weight_decay: NonNegativeFloat = 0.0
    wd_on: Literal["all", "weights_only"] = "all"
    norm_bias_lr_scale: PositiveFloat = Field(
        1.0,
        description="learning rate × this for the biases of normalisation layers, their weight decay ÷ it, so "
        "that the decay per step is unchanged (airbench's bias_scaler)",
    )
    lookahead_every: NonNegativeInt = Field(
        0, description="every k steps, average the model into an EMA and copy the EMA back (0: off; airbench: 5)"
    )
    lookahead_decay: UnitFloat = Field(
        0.7737809375, description="lookahead: EMA decay at the last step, 0.95**5 (airbench)"
    )
    lookahead_power: NonNegativeFloat = Field(
        3.0, description="lookahead: the decay at step s is lookahead_decay × (s / total steps) ** this"
    )


class ScheduleSection(Section):
    """``schedule``: learning rate as a function of fractional epoch, applied at every step.

    ``step`` multiplies by ``gamma`` every ``step_size`` epochs; ``multistep`` at each of ``milestones``;
    ``cosine`` anneals from the base rate to ``min_lr`` over the epochs after warm-up. Warm-up is linear from
    zero over ``warmup_epochs``. ``piecewise_linear`` interpolates the factor between ``knots``, pairs
    ``[fraction of training, factor]`` from fraction 0 to fraction 1 (airbench: ``[[0, 0.2], [0.23, 1], [1, 0.07]]``).
    """

    name: Literal["constant", "step", "multistep", "cosine", "piecewise_linear"] = "constant"
    milestones: tuple[NonNegativeInt, ...] = ()
    step_size: PositiveInt = 30
    gamma: PositiveFloat = 0.1
    warmup_epochs: NonNegativeFloat = 0.0
    min_lr: NonNegativeFloat = 0.0
    knots: tuple[tuple[NonNegativeFloat, NonNegativeFloat], ...] = Field(
        (), description="piecewise_linear: [fraction of training, factor] pairs, fractions from 0 up to 1"
    )

    @model_validator(mode="after")
    def _check_knots(self) -> ScheduleSection:
        if self.name != "piecewise_linear":
            if self.knots:
                raise ValueError(f"knots: only for name 'piecewise_linear', not '{self.name}'")
            return self
        fractions = [f for f, _ in self.knots]
        if len(fractions) < 2 or fractions[0] != 0.0 or fractions[-1] != 1.0:
            raise ValueError(f"knots: piecewise_linear needs at least two, from fraction 0 to 1; got {fractions}")
        if any(b <= a for a, b in zip(fractions[:-1], fractions[1:], strict=True)):
            raise ValueError(f"knots: fractions must increase; got {fractions}")
        return self


class TrainSection(Section):
    """``train``: the loop. ``deterministic`` also sets deterministic algorithms and the matching backend flags."""

    epochs: NonNegativeInt = Field(10, description="0: no training; the initialised model is evaluated and probed")
    device: Literal["auto", "cpu", "cuda"] = "auto"
    precision: Literal["fp32", "bf16", "fp16"] = "fp32"
    channels_last: bool = False
    compile: bool = False
    deterministic: bool = False
    cudnn_benchmark: bool = False
    tf32: bool = False
    label_smoothing: NonNegativeFloat = 0.0
    grad_clip: PositiveFloat | None = None
    checkpoint_every: NonNegativeInt = Field(0, description="also checkpoint every N epochs (0: only at the end)")
    save_checkpoint: bool = Field(
        True, description="write the final checkpoint (off for diagnostics whose model is its seeded initialisation)"
    )
    max_steps: PositiveInt | None = Field(
        None, description="stop after this many training steps in all (a fractional last epoch; null: every epoch)"
    )


class EvalSection(Section):
    """``eval``: which split is evaluated, under which protocol, how often."""

    split: str = "test"
    protocol: str = "plain"
    protocol_args: dict[str, Any] = Field(default_factory=dict)
    every_epochs: PositiveInt = 1
    save_outputs: bool = Field(False, description="store per-example predictions of the final evaluation")
    save_batches: bool = Field(
        False, description="store each evaluation's per-batch sums and sizes (eval_batches.npz), e.g. for audits"
    )
    precision: Literal["fp32", "train"] = Field(
        "fp32", description="fp32: evaluate exactly, without autocast; train: under train.precision's autocast"
    )


class ProbeSection(OpenSection):
    """One entry of ``probes``: a measurement run on the trained model at the end of a trial.

    ``name`` is a key of the probe registry (``scrutiny list probes``); the other keys are the probe's arguments.
    Its scalar results become fields of the trial's result, named ``<prefix>_<key>``; ``prefix`` defaults to the
    name (with ``:`` and ``.`` written as ``_``), and two probes of one spec need different prefixes.
    """

    name: str
    prefix: str | None = Field(None, description="prefix of the probe's result fields (default: the name)")

    @property
    def kwargs(self) -> dict[str, Any]:
        return dict(self.model_extra or {})

    @property
    def field_prefix(self) -> str:
        return self.prefix or self.name.replace(":", "_").replace(".", "_")


class Spec(Section):
    """One training and evaluation setup. ``label`` and ``description`` are not part of its identity."""

    label: str | None = None
    description: str | None = None
    model: ModelSection
    data: DataSection
    optim: OptimSection = OptimSection()
    schedule: ScheduleSection = ScheduleSection()
    train: TrainSection = TrainSection()
    eval: EvalSection = EvalSection()
    probes: tuple[ProbeSection, ...] = ()

    @model_validator(mode="after")
    def _distinct_probe_prefixes(self) -> Spec:
        prefixes = [p.field_prefix for p in self.probes]
        for i, prefix in enumerate(prefixes):
            if prefix in prefixes[:i]:
                raise ValueError(f"probes.{i}.prefix: two probes write fields named '{prefix}_*'; give one a prefix")
        return self

    def to_dict(self) -> dict[str, Any]:
        """The resolved spec as plain JSON-compatible data (tuples become lists)."""
        return self.model_dump(mode="json")


_COUNT_NAMES = re.compile(
    r"width|depth|\w*channels|\w*classes|\w*_size|size|\w*_side|resize|crop|resolution|canvas|reps|n_train|n_test"
    r"|n_transforms|num_batches|nmasks|nfilters"
)


def builder_annotation(name: str, annotation: Any, default: Any) -> Any:
    """The type a registered builder's argument is checked with: booleans are not numbers, and a size or count.

    A size or count is an ``int`` argument named like one (``width``, ``depth``, ``batch_size``, ``*_channels``,
    ``n_train``, ...) whose default is positive: it must be positive too (``min_*`` arguments excepted). Counts that
    may be zero (``n_val``, ``val_per_class``) keep their builder's own check.
    """
    if annotation is int or annotation is float:
        positive = (
            annotation is int
            and isinstance(default, int)
            and not isinstance(default, bool)
            and default >= 1
            and _COUNT_NAMES.fullmatch(name) is not None
            and not name.startswith("min_")
        )
        return (
            Annotated[annotation, BeforeValidator(_not_bool), Field(gt=0)]
            if positive
            else (Annotated[annotation, BeforeValidator(_not_bool)])
        )
    origin, args = get_origin(annotation), get_args(annotation)
    if origin in (Union, UnionType) and args:
        inner = [builder_annotation(name, a, default) for a in args]
        return Union[tuple(inner)]  # noqa: UP007 - built from a runtime list
    if origin in (tuple, list) and args:
        items = tuple(a if a is Ellipsis else builder_annotation(name, a, None) for a in args)
        return origin[items] if origin is tuple else origin[items[0]]  # origin is tuple or list
    return annotation
