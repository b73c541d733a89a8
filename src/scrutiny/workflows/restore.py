"""Restore a trained model and its data: from a stored trial, or from a model name with local weights.

:func:`load_trial` rebuilds a trial's model from its stored spec, loads its final checkpoint strictly and rebuilds
its data bundle with the same builder and arguments (optionally changed, e.g. another long-tail ``instance``), so a
measurement made afterwards sees what the trial's own probes saw. :func:`load_model` does the same for a registry
model name, a state_dict file and a named dataset. Nothing is trained and nothing is downloaded.

The data are named by a short text, ``"NAME key=value ..."`` (values read as YAML), or by a mapping with ``name``
and the builder's arguments; for a trial, ``"key=value ..."`` alone changes the trial's own data.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scrutiny.errors import ScrutinyError
from scrutiny.store import DEFAULT_STORE

# data loading arguments of a spec's data section that a dataset builder does not take


@dataclass
class RestoredModel:
    """A trained model with its data.

    Attributes:
        model: The built model with its weights loaded (on the CPU, in training mode as built).
        bundle: The data bundle (``num_classes``, ``in_channels``, ``image_size``, ``split(name)``).
        trial: The trial id, or ``None`` for a model name with weights.
        model_name: The model's registry name.
        weights: Where the weights came from and how the file was read.
        data: The dataset's registry name.
        eval_split: The split the trial evaluated on (``"test"`` for a model name).
        eval_seed: The trial's evaluation seed (0 for a model name): its probes' draws come from it.
        spec: The trial's resolved spec (``None`` for a model name).
    """

    model: Any
    bundle: Any
    trial: str | None
    model_name: str
    weights: str
    data: str
    eval_split: str
    eval_seed: int
    spec: Any = None
    data_args: dict[str, Any] = field(default_factory=dict)

    def source(self) -> dict[str, Any]:
        """Where the model and the data came from, as plain data."""
        return {"trial": self.trial, "model": self.model_name, "weights": self.weights, "data": self.data}


def parse_data(data: str | Mapping[str, Any]) -> tuple[str | None, dict[str, Any]]:
    """``"digits_lt instance=2 size=16"`` -> ``("digits_lt", {...})``; ``"instance=2"`` names no dataset.

    Raises:
        ScrutinyError: A word that is not ``key=value`` after the name, or nothing at all (``data: ...``).
    """
    import yaml

    if isinstance(data, Mapping):
        args: dict[str, Any] = {str(k).removeprefix("data."): v for k, v in data.items() if k != "name"}
        name = data.get("name")
        if name is None and not args:
            raise ScrutinyError("data: expected a dataset name, e.g. {'name': 'digits_lt', 'instance': 1}")
        return (None if name is None else str(name)), args
    text = str(data)
    words = shlex.split(text)
    name = None
    if words and "=" not in words[0]:
        name, words = words[0], words[1:]
    args = {}
    for word in words:
        key, sep, raw = word.partition("=")
        if not sep or not key:
            raise ScrutinyError(f"data: expected 'NAME key=value ...' or 'key=value ...', got {word!r} in {text!r}")
        args[key.removeprefix("data.")] = yaml.safe_load(raw) if raw else ""
    if name is None and not args:
        raise ScrutinyError("data: expected a dataset name, e.g. 'digits_lt instance=1'")
    return name, args


def build_bundle(name: str, args: Mapping[str, Any]) -> Any:
    """The data bundle of dataset ``name`` with ``args`` (spec data-loading keys are dropped).

    Raises:
        ScrutinyError: Unknown dataset, or arguments its builder does not take.
    """
    from scrutiny.registry import DATASETS
    from scrutiny.spec.schema import DataSection

    loading = set(DataSection.model_fields) - {"root"}  # how data are batched and held, not which data
    builder = DATASETS.get(name)
    kwargs = {k: v for k, v in args.items() if k not in loading}
    try:
        return builder(**kwargs)
    except TypeError as exc:
        raise ScrutinyError(f"data: {name}: {str(exc).splitlines()[0]}") from None


def load_trial(
    trial: str,
    store: str | Path = DEFAULT_STORE,
    *,
    data: str | Mapping[str, Any] | None = None,
    trust_code: bool = False,
) -> RestoredModel:
    """The trained model (final checkpoint loaded) and the data bundle of a complete trial in ``store``.

    Args:
        trial: A trial id or a unique prefix of one.
        store: The trial store.
        data: Change the trial's data: ``"instance=2"`` changes arguments of its own dataset; ``"NAME key=value"``
            (or a mapping with ``name``) another dataset.
        trust_code: Let the stored spec (data, not code) import modules outside scrutiny to rebuild its model.

    Returns:
        The model, its data bundle, and where they came from.

    Raises:
        ScrutinyError: ``store`` is not a folder, no such trial, the trial is not complete, or its model or data
            cannot be rebuilt; :class:`~scrutiny.registry.UntrustedCodeError` for a stored name outside scrutiny.
    """
    from scrutiny.models import build_model, model_context
    from scrutiny.models.weights import load_weights
    from scrutiny.spec.load import resolve
    from scrutiny.store import Store
    from scrutiny.trials.seeding import TrialSeeds

    if not Path(store).is_dir():
        raise ScrutinyError(f"store: '{store}' is not a folder; '{trial}' is neither a trial there nor a model name")
    st = Store(store)
    tid = st.resolve_id(trial)
    if st.status(tid) != "complete":
        raise ScrutinyError(f"{trial}: trial '{tid}' is {st.status(tid)}, not complete; it has no final checkpoint")
    stored = st.spec(tid)
    spec = resolve(stored["spec"], fallback=f"{st.trial_dir(tid)}/spec.json", trust_code=trust_code)
    data_name, data_args = spec.data.name, {k: v for k, v in spec.data.model_dump().items() if k != "name"}
    if data is not None:
        name, extra = parse_data(data)
        if name is not None and name != data_name:
            data_name, data_args = name, {}
        data_args.update(extra)
    bundle = build_bundle(data_name, data_args)
    model = build_model(spec.model.model_dump(), model_context(bundle), trust_code=trust_code)
    fmt = load_weights(model, st.trial_dir(tid) / "checkpoint.pt")
    return RestoredModel(
        model=model,
        bundle=bundle,
        trial=tid,
        model_name=spec.model.name,
        weights=f"checkpoint.pt ({fmt})",
        data=data_name,
        eval_split=spec.eval.split,
        eval_seed=TrialSeeds.from_root(int(stored["seed"])).eval,
        spec=spec,
        data_args=data_args,
    )


def load_model(
    name: str,
    weights: str | Path | None,
    data: str | Mapping[str, Any] | None,
    overrides: Sequence[str] = (),
) -> RestoredModel:
    """A registry model with local weights, and the data bundle of a named dataset.

    Args:
        name: A registry model name (``small_cnn``, ``preact_resnet``, ``pkg.mod:builder``).
        weights: A state_dict or checkpoint file, loaded strictly.
        data: ``"NAME key=value ..."`` or a mapping with ``name``: the dataset and its builder's arguments.
        overrides: Model arguments, ``model.KEY=VALUE`` or ``KEY=VALUE``.

    Returns:
        The model, its data bundle, and where they came from (evaluation split ``test``, evaluation seed 0).

    Raises:
        ScrutinyError: ``data`` or ``weights`` missing, no dataset name, a bad override, or a model that cannot be
            built or does not fit the weights.
    """
    from scrutiny.models import build_model, model_context
    from scrutiny.models.weights import load_weights
    from scrutiny.spec.load import parse_override

    if data is None:
        raise ScrutinyError(f"data: required with a model name ('{name}'), e.g. 'digits_lt instance=1'")
    if weights is None:
        raise ScrutinyError(f"weights: required with a model name ('{name}'); or give a trial id from the store")
    data_name, data_args = parse_data(data)
    if data_name is None:
        raise ScrutinyError("data: name the dataset first with a model name, e.g. 'digits_lt instance=1'")
    bundle = build_bundle(data_name, data_args)
    section: dict[str, Any] = {"name": name}
    for text in overrides:
        parts, value = parse_override(text)
        parts = parts[1:] if parts[0] == "model" and len(parts) == 2 else parts
        if len(parts) != 1:
            raise ScrutinyError(f"overrides: expected model.KEY=VALUE, got {text!r}")
        section[parts[0]] = value
    try:
        model = build_model(section, model_context(bundle))
    except (TypeError, ValueError) as exc:
        raise ScrutinyError(f"{name}: {str(exc).splitlines()[0]}") from None
    fmt = load_weights(model, weights)
    return RestoredModel(
        model=model,
        bundle=bundle,
        trial=None,
        model_name=name,
        weights=f"{weights} ({fmt})",
        data=data_name,
        eval_split="test",
        eval_seed=0,
        data_args=data_args,
    )


def is_model_name(ref: str) -> bool:
    """Whether ``ref`` names a model (a registry name or ``pkg.mod:builder``) rather than a trial."""
    from scrutiny.registry import MODELS

    return ":" in ref or ref in MODELS
