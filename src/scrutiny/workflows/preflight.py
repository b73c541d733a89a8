"""Check the models of a sweep or a claim before any trial runs: build each on PyTorch's meta device.

A builder's own constraints (``preact_resnet`` with a depth it does not know) and the arguments that an adapter
forwards to another library (``width`` on ``torchvision:resnet18``) are only checked when the builder runs. Built on
the meta device (shapes, no memory, no computation), every model of a claim or a sweep is built in well under a
second, with the dataset's facts (``num_classes``, ``in_channels``, ``image_size``) that the trial would give it,
and a batch of two examples of the dataset's shape is passed through it. A failure is one line naming the spec file
and the model key, before anything is stored.

The dataset's facts come without loading the data (:func:`dataset_facts`): from the dataset's registration
(``facts=``, a callable of the dataset's arguments), else from what the built-in datasets' arguments determine
(for ``imagefolder``: its class folders are counted, no image is read). A dataset that cannot tell before it is
loaded (a user's ``module:callable`` without ``facts``) is not checked, and the check says so.
"""

from __future__ import annotations

import inspect
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from scrutiny.errors import ScrutinyError, SpecError
from scrutiny.registry import CONTEXT_ARGS, DATASETS
from scrutiny.spec import Spec, canonical_json

FORWARD_SECONDS = 1.0  # a forward pass stops here (on the meta device a deep net costs ~1 ms a layer)
CPU_FORWARD_PARAMS = 5_000_000  # a model up to this size is also built on the CPU for its forward pass


@dataclass(frozen=True)
class DatasetFacts:
    """What a dataset tells before it is loaded.

    Attributes:
        num_classes: Number of classes (0 where the task has none).
        in_channels: Channels of an example.
        image_size: ``(H, W)`` of an example, None where sizes vary.
        task: The learning task (:mod:`scrutiny.trials.tasks`).
        input_shape: One example's shape where it is not ``(in_channels, *image_size)`` (coordinates: ``(2,)``).
        sizes: Split -> number of examples, where known without loading.
    """

    num_classes: int
    in_channels: int
    image_size: tuple[int, int] | None
    task: str = "classification"
    input_shape: tuple[int, ...] | None = None
    sizes: Mapping[str, int] = field(default_factory=dict)

    def example_shape(self) -> tuple[int, ...] | None:
        """The shape of one input example, None where it varies."""
        if self.input_shape is not None:
            return self.input_shape
        return (self.in_channels, *self.image_size) if self.image_size is not None else None

    def context(self) -> dict[str, Any]:
        """``num_classes``, ``in_channels`` and ``image_size``, as :func:`scrutiny.models.model_context` gives them."""
        return {key: getattr(self, key) for key in CONTEXT_ARGS}


def _square(a: Mapping[str, Any], key: str = "size") -> tuple[int, int]:
    return (int(a[key]), int(a[key]))


def _digits(a: Mapping[str, Any]) -> DatasetFacts:
    n_test = math.ceil(1797 * float(a["test_fraction"]))  # sklearn's train_test_split rounds the test part up
    return DatasetFacts(10, int(a["channels"]), _square(a), sizes={"train": 1797 - n_test, "test": n_test})


def _cifar(classes: int) -> Callable[[Mapping[str, Any]], DatasetFacts]:
    return lambda a: DatasetFacts(classes, 3, (32, 32), sizes={"train": 50_000, "test": 10_000})


def _imagefolder(a: Mapping[str, Any]) -> DatasetFacts | None:
    if a.get("root") is None:
        return None
    folder = Path(str(a["root"])).expanduser() / ("val" if a["val_only"] else "train")
    if not folder.is_dir():
        return None
    classes = sum(1 for entry in folder.iterdir() if entry.is_dir())  # torchvision's ImageFolder: one per folder
    return DatasetFacts(classes, 3, _square(a))


def _not_so_clevr(a: Mapping[str, Any]) -> DatasetFacts:
    task, canvas = str(a["task"]), int(a["canvas"])
    coords = task != "regression"  # classification and rendering take pixel coordinates (x, y)
    return DatasetFacts(
        canvas * canvas if task == "classification" else 0,
        2 if coords else 1,
        (canvas, canvas),
        task=task,
        input_shape=(2,) if coords else (1, canvas, canvas),
    )


def _git_lt(a: Mapping[str, Any]) -> DatasetFacts | None:
    source = str(a.get("source", "digits_lt"))
    base = _BUILTIN.get(source)
    if base is None:
        return None
    args = _with_defaults(source, {k: v for k, v in a.items() if k != "source"})
    facts = base(args)
    if facts is None:
        return None
    return DatasetFacts(facts.num_classes, facts.in_channels, facts.image_size, task="transformation")


# The built-in datasets whose facts follow from their arguments (a dataset registered with facts= needs no entry).
_BUILTIN: dict[str, Callable[[Mapping[str, Any]], DatasetFacts | None]] = {
    "synthetic": lambda a: DatasetFacts(
        int(a["num_classes"]),
        int(a["channels"]),
        _square(a),
        sizes={"train": int(a["n_train"]), "test": int(a["n_test"])},
    ),
    "digits": _digits,
    "cifar10": _cifar(10),
    "cifar100": _cifar(100),
    "imagefolder": _imagefolder,
    "digits_lt": lambda a: DatasetFacts(10, 1, _square(a)),
    "kuzushiji49_lt": lambda a: DatasetFacts(49, 1, (28, 28)),
    "not_so_clevr": _not_so_clevr,
    "shapes": lambda a: DatasetFacts(10, 3, _square(a), sizes={"train": int(a["n_train"]), "val": int(a["n_val"])}),
    "git_lt": _git_lt,
}


def _with_defaults(name: str, given: Mapping[str, Any]) -> dict[str, Any]:
    """The dataset builder's defaults, then ``given``."""
    try:
        params = inspect.signature(DATASETS.get(name)).parameters
    except (TypeError, ValueError):
        return dict(given)
    defaults = {k: p.default for k, p in params.items() if p.default is not inspect.Parameter.empty}
    return {**defaults, **given}


def dataset_facts(spec: Spec) -> DatasetFacts | None:
    """The facts of ``spec``'s dataset without loading it; None where the dataset cannot tell before it is loaded.

    A dataset registered with ``facts=`` (a callable of its arguments returning a :class:`DatasetFacts` or a
    mapping of its fields) tells through it; the built-in ones through what their arguments determine.
    """
    name = spec.data.name
    args = {"root": spec.data.root, **spec.data.kwargs}
    declared = DATASETS.meta(name).get("facts") if name in DATASETS else None
    if declared is None and ":" in name and not name.startswith(("torchvision:", "timm:")):
        declared = getattr(DATASETS.get(name), "facts", None)  # a user's builder may carry a facts attribute
    try:
        if callable(declared):
            out = declared(**args)
            return out if isinstance(out, DatasetFacts) or out is None else DatasetFacts(**out)
        known = _BUILTIN.get(name)
        return known(_with_defaults(name, args)) if known is not None else None
    except (KeyError, TypeError, ValueError):
        return None  # arguments the facts cannot follow (the dataset itself says what is wrong when it loads)


@dataclass(frozen=True)
class ModelCheck:
    """The outcome of building one spec's model before its trials run.

    Attributes:
        checked: Whether the model was built (and a batch passed through it).
        n_params: Its number of parameters, where built.
        note: What was checked, or why not.
    """

    checked: bool
    n_params: int | None
    note: str


def _meta_unsupported(exc: BaseException) -> bool:
    """An operation that the meta device cannot run (data-dependent), as opposed to an error of the model."""
    text = f"{type(exc).__name__}: {exc}".lower()
    return "meta" in text or isinstance(exc, NotImplementedError)


def _build(spec: Spec, context: Mapping[str, Any], device: str) -> torch.nn.Module:
    from scrutiny.models import build_model

    section = {k: v for k, v in spec.model.model_dump().items() if k != "weights"}  # weights: checked at load
    with torch.device(device):
        return build_model(section, dict(context))


class _Enough(Exception):
    """Raised by a hook to end a forward pass that has run long enough."""


_warm: list[bool] = []


def _warm_up() -> None:
    """The first operations on the meta device load its machinery (about a second, once per process): not timed."""
    if not _warm:
        with torch.device("meta"), torch.no_grad():
            net = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.BatchNorm2d(2), torch.nn.ReLU())
            torch.nn.Linear(2, 2)(net.eval()(torch.zeros(1, 1, 4, 4)).mean((2, 3)))
        _warm.append(True)


def _forward(model: torch.nn.Module, x: torch.Tensor, limit: float | None = None) -> bool:
    """Pass ``x`` through ``model`` in eval mode without gradients; True if it ran to the end within ``limit``
    seconds (a deep model on the meta device is stopped there: the layers it reached are checked)."""
    if x.device.type == "meta":
        _warm_up()
    was = model.training
    model.eval()
    start = time.perf_counter()

    def stop(*_: Any) -> None:
        if limit is not None and time.perf_counter() - start > limit:
            raise _Enough

    handles = [m.register_forward_pre_hook(stop) for m in model.modules()] if limit is not None else []
    try:
        with torch.no_grad():
            model(x)
        return True
    except _Enough:
        return False
    finally:
        for handle in handles:
            handle.remove()
        model.train(was)


def check_model(spec: Spec, facts: DatasetFacts | None) -> ModelCheck:
    """Build ``spec``'s model on the meta device with the dataset's facts and pass a batch of two through it.

    The forward pass runs on the CPU for a small model (at most :data:`CPU_FORWARD_PARAMS` parameters: built for
    real in milliseconds, and the meta device's machinery costs seconds to load), on the meta device for a larger
    one, for at most :data:`FORWARD_SECONDS`. An operation that the meta device cannot run is tried on the CPU.

    Raises:
        ModelBuildError: The builder or the forward pass fails (the model key and the builder's own message).
    """
    if facts is None:
        return ModelCheck(
            False, None, f"not checked: dataset '{spec.data.name}' does not tell its facts before it is loaded"
        )
    context = facts.context()
    built_on = "meta"
    try:
        model = _build(spec, context, "meta")
    except Exception as exc:
        if not _meta_unsupported(exc):
            raise ModelBuildError(spec, exc, "building") from None
        built_on = "cpu"
        try:
            model = _build(spec, context, "cpu")
        except Exception as again:
            raise ModelBuildError(spec, again, "building") from None
    n_params = _count(model)
    shape = facts.example_shape()
    if shape is None:
        return ModelCheck(True, n_params, f"built on the {built_on} device; no forward pass (input sizes vary)")
    x = torch.zeros((2, *shape))
    on = "cpu" if n_params <= CPU_FORWARD_PARAMS or built_on == "cpu" else "meta"
    try:
        if on == "meta":
            try:
                whole = _forward(model, x.to("meta"), FORWARD_SECONDS)
            except Exception as exc:
                if not _meta_unsupported(exc):
                    raise
                on = "cpu"  # the meta device lacks an operation: the real model decides
        if on == "cpu":
            real = model if built_on == "cpu" else _build(spec, context, "cpu")
            whole = _forward(real, x, FORWARD_SECONDS)
    except Exception as exc:
        raise ModelBuildError(spec, exc, "a forward pass of a batch shaped " + _shape(x)) from None
    how = "a forward pass" if whole else f"the first {FORWARD_SECONDS:g} s of a forward pass"
    return ModelCheck(True, n_params, f"built on the {built_on} device; {how} of a batch shaped {_shape(x)} on {on}")


def _count(model: torch.nn.Module) -> int:
    """Parameters of ``model`` (a lazy module's are counted once a forward pass has shaped them)."""
    from torch.nn.parameter import is_lazy

    return sum(p.numel() for p in model.parameters() if not is_lazy(p))


def _shape(x: torch.Tensor) -> str:
    return "(" + ", ".join(map(str, x.shape)) + ")"


class ModelBuildError(ScrutinyError):
    """A model that cannot be built (or run) from its spec, found before any trial.

    Attributes:
        key: The spec key to blame: ``model.<argument>`` where the builder's message names an argument, else
            ``model``.
        message: The builder's message, with the model's name.
    """

    def __init__(self, spec: Spec, exc: BaseException, what: str) -> None:
        text = " ".join(str(exc).split()) or type(exc).__name__
        names = [*spec.model.kwargs, *CONTEXT_ARGS]
        named = [n for n in names if f"'{n}'" in text or text.startswith(f"{n} ") or f" {n} " in f" {text} "]
        self.key = f"model.{named[0]}" if named and named[0] in spec.model.kwargs else "model"
        self.message = f"model '{spec.model.name}' fails in {what}: {type(exc).__name__}: {text[:400]}"
        super().__init__(f"{self.key}: {self.message}")


def preflight(
    specs: Mapping[str, Spec], sources: Mapping[str, str], *, claim: str | None = None
) -> dict[str, ModelCheck]:
    """Check the model of every spec before any trial runs (each distinct spec once).

    Args:
        specs: Name (an arm, or the spec file for a sweep) -> resolved spec.
        sources: Name -> the spec file to name in an error.
        claim: The claim file, where the specs are a claim's arms (named in an error beside the arm).

    Returns:
        Name -> what was checked.

    Raises:
        SpecError: One line naming the spec file and the model key, with the arm and the claim where given.
    """
    done: dict[str, ModelCheck] = {}
    out: dict[str, ModelCheck] = {}
    for name, spec in specs.items():
        facts = dataset_facts(spec)
        key = canonical_json(
            {"model": spec.model.model_dump(mode="json"), "facts": None if facts is None else repr(facts)}
        )
        if key not in done:  # arms that differ elsewhere than in the model and its data share one check
            try:
                done[key] = check_model(spec, facts)
            except ModelBuildError as exc:
                where = f" (arm '{name}' of {claim})" if claim is not None else ""
                raise SpecError(sources.get(name, name), exc.key, exc.message + where) from None
        out[name] = done[key]
    return out
