"""Generative invariance transfer (GIT) as a training augmentation: a learned generator transforms tail images.

Zhou et al., ICLR 2022; reference code ``AllanYangZhou/generative-invariance-transfer`` at a4047f39,
``core/train_baselines.py`` (``train``): with ``gen_frac = 0.5`` half of each batch is replaced by
``decode(content(x), s)``, ``s ~ N(0, I)``, of images from a second loader with the same sampler; with
``--weighted_gen --class_size_threshold K`` a generated image of class ``c`` is kept with probability
``max((K - n_c) / (K - n_min), 0)`` (``n_c`` its training size, ``n_min`` the smallest), else the real image is used.

Here, per training example and epoch (:class:`scrutiny.data.augment.AugmentedDataset` seeds the draw from the
trial's ``augment`` stream, so a run replays): with probability ``gen_frac × keep(c)`` the example is replaced by its
own transformation ``decode(content(x), s)``, ``s`` drawn from the same stream, clamped to the value range of the
training images. ``threshold: null`` augments every class (``keep = 1``).

Deviations from the reference: the generated image is a transform of the example itself, not of an example from a
second loader, so the batch's class mix is the sampler's; and GIT is on from the first epoch, where the reference
turns it on with DRS (``delayed_munit``, epoch > 30): an :class:`~scrutiny.data.augment.Augment` sees neither the
epoch nor the label, so the label reaches :class:`GITAugment` through :class:`GITTrainSplit` (see there).

A long-tail builder (``digits_lt``, ``kuzushiji49_lt``) selects it with a mapping as ``data.augment``:
``{name: git, fit: {...} | generator: REF, threshold: K | null, gen_frac: 0.5, model: {...}}``.
The generator (:mod:`scrutiny.models.git_generator`) comes from ``generator`` (a ``checkpoint.pt``, a trial folder,
or a trial id with ``store``; trained by the ``transformation`` task, e.g. ``cases/invariance/git_generator.yaml``)
or is trained from ``fit`` (``{epochs, batch_size, lr, seed}``; Adam with betas (0.5, 0.999) and weight decay 1e-4, as
MUNIT's config) as a **trial of its own** in the classifier's store: :func:`generator_spec` derives its spec (model
``git_generator``, data ``git_lt`` over the classifier's own long-tail arguments, task ``transformation``), and
:func:`scrutiny.running.ensure_trial` has the trial loop run it once, wait for the worker running it, or find it
complete.
Every seed of every arm with the same data and recipe therefore shares one generator, and each classifier trial
records it under ``depends_on`` (trial id and checkpoint SHA-256) in ``data.json`` and its final record. Outside a
trial (no store; e.g. a bundle rebuilt to inspect a model) the recipe is fitted in this process on first use, by a
plain loop (:func:`fit_generator`), so a bundle that never augments never fits.

``start_epoch`` (default 1) delays GIT: before that epoch no example is replaced. The reference turns GIT on with DRS
(``delayed_munit``: epoch > 30 of 50), i.e. ``start_epoch`` equal to ``data.drs_start_epoch``.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch.utils.data import Dataset, TensorDataset

from scrutiny.data._bundle import DataBundle
from scrutiny.errors import DataError
from scrutiny.registry import DATASETS

if TYPE_CHECKING:
    from scrutiny.models.git_generator import GITGenerator
    from scrutiny.spec import Spec

_KEYS = {"name", "generator", "store", "fit", "model", "threshold", "gen_frac", "start_epoch"}
_FIT_DEFAULTS: dict[str, Any] = {"epochs": 30, "batch_size": 32, "lr": 1e-3, "seed": 0}
_TRIAL_ID = re.compile(r"^[0-9a-f]{6,64}-s\d+$")
_FITTED: dict[str, dict[str, torch.Tensor]] = {}  # fitted generator states by digest of (images, recipe), per process


def keep_probabilities(sizes: np.ndarray, threshold: int | None) -> np.ndarray:
    """Per class: the chance that a generated image is kept, ``clip((K - n_c) / (K - n_min), 0, 1)``; 1 without K.

    Args:
        sizes: Training size of each class ``(K,)``.
        threshold: ``K`` (the reference's ``class_size_threshold``), or ``None`` for every class.

    Returns:
        ``(K,)`` float64. Example: sizes ``[130, 16, 11, 5]`` with ``K = 16`` give ``[0, 0, 0.4545…, 1]``.
    """
    sizes = np.asarray(sizes, dtype=np.float64)
    if threshold is None:
        return np.ones_like(sizes)
    span = threshold - sizes.min()
    if span <= 0:
        return np.zeros_like(sizes)
    return np.clip((threshold - sizes) / span, 0.0, 1.0)


def _resolve(ref: str, store: str | None) -> Path:
    path = Path(ref).expanduser()
    if path.is_dir():
        path = path / "checkpoint.pt"
    elif not path.exists() and _TRIAL_ID.match(ref) and store is not None:
        path = Path(store).expanduser() / ref / "checkpoint.pt"
    if not path.is_file():
        where = f" in store '{store}'" if store and _TRIAL_ID.match(ref) else ""
        raise DataError(
            f"data.augment.generator: no generator checkpoint at '{ref}'{where} (a checkpoint.pt, a trial "
            "folder, or a trial id with data.augment.store)"
        )
    return path


def load_generator(ref: str, store: str | None = None, model: dict[str, Any] | None = None) -> tuple[GITGenerator, str]:
    """The generator saved at ``ref`` and the SHA-256 of its file.

    Args:
        ref: A ``checkpoint.pt`` (a trial's, ``{"model": state_dict, ...}``, or a bare state_dict), a trial folder,
            or a trial id looked up in ``store``.
        store: The store folder for a trial id.
        model: Builder arguments of ``git_generator``; default: the ``model`` section of the trial's ``spec.json``
            beside the checkpoint, else the builder's defaults.

    Raises:
        DataError: One line, when the file is missing, unreadable or holds weights that do not fit.
    """

    path = _resolve(ref, store)
    spec_file = path.parent / "spec.json"
    if model is None and spec_file.is_file():
        section = json.loads(spec_file.read_text())["spec"]["model"]
        if section.get("name") != "git_generator":
            raise DataError(f"data.augment.generator: '{path}' is a '{section.get('name')}' trial, not a git_generator")
        model = {k: v for k, v in section.items() if k not in ("name", "weights")}
    net = _build(model)
    problem = _misfit(path, net.state_dict())
    if problem:
        raise DataError(f"data.augment.generator: '{path}' does not fit git_generator{model or {}}: {problem}")
    return net.eval(), hashlib.sha256(path.read_bytes()).hexdigest()


def _build(model: dict[str, Any] | None) -> GITGenerator:
    from scrutiny.models.git_generator import git_generator

    try:
        return git_generator(**(model or {}))
    except TypeError as exc:
        raise DataError(f"data.augment.model: {exc}".replace("git_generator() ", "")) from None


def _misfit(path: Path, expected: dict[str, torch.Tensor]) -> str | None:
    """Why the file at ``path`` cannot be loaded into a model with state ``expected``, or ``None`` (it is loaded)."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # any unreadable file is the user's input, reported in one line
        return f"not a readable torch checkpoint ({type(exc).__name__})"
    if isinstance(state, dict) and isinstance(state.get("model"), dict):
        state = state["model"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        return "it holds no state_dict of tensors"
    missing, extra = sorted(set(expected) - set(state)), sorted(set(state) - set(expected))
    if missing or extra:
        return f"{len(missing)} missing keys (first: {missing[:1]}), {len(extra)} unexpected (first: {extra[:1]})"
    for key, value in expected.items():
        if tuple(state[key].shape) != tuple(value.shape):
            return f"'{key}' has shape {tuple(state[key].shape)}, expected {tuple(value.shape)}"
    for key, value in expected.items():
        value.copy_(state[key])
    return None


def _fit_recipe(fit: dict[str, Any] | None) -> dict[str, Any]:
    fit = dict(fit or {})
    unknown = set(fit) - set(_FIT_DEFAULTS)
    if unknown:
        raise DataError(f"data.augment.fit: unknown key '{sorted(unknown)[0]}'; expected {sorted(_FIT_DEFAULTS)}")
    return {**_FIT_DEFAULTS, **fit}


def generator_spec(classifier: Spec, config: dict[str, Any]) -> Spec:
    """The spec of the trial that trains the generator named by ``config["fit"]`` for ``classifier``'s data.

    Model ``git_generator`` with ``config["model"]``; data ``git_lt`` over the classifier's long-tail builder and
    its arguments (without ``augment``); Adam at ``fit.lr`` with betas (0.5, 0.999) and weight decay 1e-4, a
    constant rate, ``fit.epochs`` epochs of batch ``fit.batch_size`` on the classifier's device; evaluated on the
    test images (``final_test_recon``). Its seed is ``fit.seed``.
    """
    from scrutiny.spec import load_spec
    from scrutiny.spec.schema import DataSection

    recipe = _fit_recipe(config.get("fit"))
    data = classifier.data.model_dump()
    builder = {k: v for k, v in data.items() if k not in DataSection.model_fields and k != "augment"}
    spec = {
        "label": "git-generator",
        "model": {"name": "git_generator", **(config.get("model") or {})},
        "data": {"name": "git_lt", "source": data["name"], "root": data.get("root"), **builder,
                 "batch_size": int(recipe["batch_size"]), "eval_batch_size": data["eval_batch_size"]},
        "optim": {"name": "adam", "lr": float(recipe["lr"]), "betas": [0.5, 0.999], "weight_decay": 1e-4},
        "schedule": {"name": "constant"},
        "train": {"epochs": int(recipe["epochs"]), "device": classifier.train.device},
        "eval": {"split": "test"},
    }  # fmt: skip
    return load_spec(data=spec)


def trained_generator(config: dict[str, Any]) -> tuple[GITGenerator, dict[str, Any]] | None:
    """The generator of ``config["fit"]`` as a trial in the current trial's store, and its dependency record.

    ``None`` outside a trial. The trial is run here, waited for, or found
    (:func:`scrutiny.running.ensure_trial`).
    """
    from scrutiny.running import add_dependency, current, ensure_trial

    ctx = current()
    if ctx is None:
        return None
    spec = generator_spec(ctx.spec, config)
    tid = ensure_trial(spec, int(_fit_recipe(config.get("fit"))["seed"]), role="data.augment.fit")
    net, digest = load_generator(str(ctx.store.trial_dir(tid)))
    entry = {"trial": tid, "role": "data.augment generator", "checkpoint_sha256": digest}
    add_dependency(entry)
    return net, entry


def fit_generator(
    images: torch.Tensor, fit: dict[str, Any], model: dict[str, Any] | None = None
) -> tuple[GITGenerator, str]:
    """Fit a ``git_generator`` on ``images`` ``(N, C, H, W)`` without labels; return it and a digest of its weights.

    ``fit``: ``epochs`` (default 30), ``batch_size`` (32), ``lr`` (1e-3), ``seed`` (0: initialisation, order and
    style codes, independent of any trial seed). Fitted states are kept per process, keyed by the images and recipe.
    A classifier trial does not use this loop: it trains the generator as a trial (:func:`trained_generator`).
    """

    recipe = {**_fit_recipe(fit), "model": model or {}}
    key = hashlib.sha256(images.numpy().tobytes() + json.dumps(recipe, sort_keys=True).encode()).hexdigest()
    in_channels = images.shape[1]
    if key not in _FITTED:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(recipe["seed"]))
            net = _build({"in_channels": in_channels, **(model or {})})
            opt = torch.optim.Adam(net.parameters(), lr=float(recipe["lr"]), betas=(0.5, 0.999), weight_decay=1e-4)
            order = torch.Generator().manual_seed(int(recipe["seed"]))
            net.train()
            for _ in range(int(recipe["epochs"])):
                for batch in torch.randperm(len(images), generator=order).split(int(recipe["batch_size"])):
                    loss = net(images[batch])[:, 0].mean()
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
        _FITTED[key] = {k: v.detach().clone() for k, v in net.state_dict().items()}
    net = _build({"in_channels": in_channels, **(model or {})})
    net.load_state_dict(_FITTED[key])
    return net.eval(), key


class GITTrainSplit(Dataset):
    """The training split ``(x, y)``; it hands the label of the example it last returned to its :class:`GITAugment`.

    :class:`~scrutiny.data.augment.AugmentedDataset` reads ``base[index]``, then draws, then applies, one example at a
    time in one process (each loader worker holds its own copy of both), so ``last_label`` is the applied example's.
    """

    def __init__(self, base: TensorDataset) -> None:
        self.base = base
        self.targets = base.tensors[1]
        self.last_label: int | None = None

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = self.base[index]
        self.last_label = int(y)
        return x, y


class GITAugment:
    """Replace an example by its generated transformation with probability ``gen_frac × keep[label]``.

    Args:
        generator: A ``GITGenerator`` in eval mode, or a function that returns one, called on first use.
        keep: Per-class keep probability ``(K,)`` (:func:`keep_probabilities`).
        gen_frac: The reference's fraction of generated images (0.5).
        value_range: ``(low, high)`` that generated images are clamped to (the training images' range).
        source: The split whose ``last_label`` names the class of the example being augmented.
        style_dim: Length of a style code (the generator's; needed before a lazy generator is made).
        start_epoch: No example is replaced before this epoch (:meth:`set_epoch`; 1: from the start).
    """

    def __init__(
        self,
        generator,
        keep: np.ndarray,
        gen_frac: float,
        value_range: tuple[float, float],
        source,
        *,
        style_dim: int | None = None,
        start_epoch: int = 1,
    ) -> None:
        self._generator, self.keep, self.gen_frac = generator, np.asarray(keep, dtype=np.float64), float(gen_frac)
        self.low, self.high = float(value_range[0]), float(value_range[1])
        self.source = source
        self.style_dim = int(style_dim if style_dim is not None else generator.style_dim)
        self.start_epoch, self.epoch = int(start_epoch), 1

    @property
    def generator(self) -> GITGenerator:
        """The generator, made on first use where it was given as a function."""
        if callable(self._generator) and not isinstance(self._generator, torch.nn.Module):
            with torch.enable_grad():  # first use may come inside a no_grad block; fitting needs gradients
                self._generator = self._generator()
        return self._generator

    @generator.setter
    def generator(self, net: GITGenerator) -> None:
        self._generator = net

    def set_epoch(self, epoch: int) -> None:
        """The epoch about to be trained (:class:`~scrutiny.data.augment.AugmentedDataset` passes it on)."""
        self.epoch = int(epoch)

    def draw(self, generator: torch.Generator, shape: tuple[int, ...]) -> dict[str, Any]:
        """A uniform ``u`` (generate if ``u < gen_frac × keep``) and a style code ``(style_dim,)`` as plain floats."""
        u = float(torch.rand((), generator=generator, dtype=torch.float64))
        style = torch.randn(self.style_dim, generator=generator)
        return {"u": u, "style": style.tolist()}

    def apply(self, x: torch.Tensor, params: dict[str, Any]) -> torch.Tensor:
        """``x`` ``(C, H, W)`` or its transformation, same shape, within ``[low, high]``."""
        label = self.source.last_label
        if self.epoch < self.start_epoch or label is None or not params["u"] < self.gen_frac * self.keep[label]:
            return x
        with torch.no_grad():
            style = torch.tensor(params["style"], dtype=x.dtype).unsqueeze(0)
            out = self.generator.transform(x.unsqueeze(0), style).squeeze(0)
        return out.clamp(self.low, self.high)

    def transform_batch(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        """Transform every image of ``x`` ``(N, C, H, W)`` with styles ``(N, style_dim)`` (for sample grids)."""
        with torch.no_grad():
            return self.generator.transform(x, style).clamp(self.low, self.high)


def git_parts(train: TensorDataset, sizes: np.ndarray, config: dict) -> tuple[GITTrainSplit, GITAugment, dict]:
    """The training split, the augmentation and the facts to record, from a long-tail bundle's ``data.augment``.

    Args:
        train: The normalised long-tailed training split (tensors ``(N, C, H, W)`` and ``(N,)``).
        sizes: Training size of each class ``(K,)``.
        config: ``name: git``; ``generator`` (with ``store`` and ``model``) or ``fit`` (with ``model``); ``threshold``;
            ``gen_frac``.
    """
    if not isinstance(config, dict):
        raise DataError(f"data.augment: expected a mapping, got {type(config).__name__}")
    if config.get("name") != "git":
        raise DataError(
            f"data.augment.name: a mapping selects the learned augmentation 'git', got {config.get('name')!r}"
        )
    unknown = set(config) - _KEYS
    if unknown:
        raise DataError(f"data.augment: unknown key '{sorted(unknown)[0]}'; expected {sorted(_KEYS)}")
    if ("generator" in config) == ("fit" in config):
        raise DataError("data.augment: give exactly one of 'generator' (a checkpoint or trial) and 'fit' (a recipe)")
    threshold, gen_frac = config.get("threshold"), float(config.get("gen_frac", 0.5))
    if threshold is not None and (isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 1):
        raise DataError(f"data.augment.threshold: expected a class size >= 1 or null, got {threshold!r}")
    if not 0 <= gen_frac <= 1:
        raise DataError(f"data.augment.gen_frac: expected a fraction in [0, 1], got {gen_frac}")
    start_epoch = config.get("start_epoch", 1)
    if isinstance(start_epoch, bool) or not isinstance(start_epoch, int) or start_epoch < 1:
        raise DataError(f"data.augment.start_epoch: expected an epoch >= 1, got {start_epoch!r}")
    images = train.tensors[0]
    generator: Any
    source: dict[str, Any]
    style_dim: int | None = None
    if "generator" in config:
        net, digest = load_generator(str(config["generator"]), config.get("store"), config.get("model"))
        if net.in_channels != images.shape[1]:
            raise DataError(
                f"data.augment.generator: the generator takes {net.in_channels} channels, "
                f"the images have {images.shape[1]}"
            )
        generator, source = net, {"checkpoint_sha256": digest}
    else:
        _fit_recipe(config["fit"])  # unknown keys fail here, in or out of a trial
        found = trained_generator(config)
        if found is not None:
            generator, source = found
        else:
            fit, model = dict(config["fit"] or {}), config.get("model")
            style_dim = _build({"in_channels": images.shape[1], **(model or {})}).style_dim  # bad arguments fail now
            generator = lambda: fit_generator(images, fit, model)[0]  # noqa: E731  (fitted on first use)
            source = {"fitted_in_process": True}
    keep = keep_probabilities(sizes, threshold)
    split = GITTrainSplit(train)
    value_range = (float(images.min()), float(images.max()))
    augment = GITAugment(generator, keep, gen_frac, value_range, split, style_dim=style_dim, start_epoch=start_epoch)
    info = {"generator": source, "keep": keep.tolist(), "threshold": threshold, "gen_frac": gen_frac,
            "start_epoch": start_epoch}  # fmt: skip
    return split, augment, info


@DATASETS.register("git_lt")
def git_lt(*, root: str | None = None, source: str = "digits_lt", **kwargs: Any) -> DataBundle:
    """The images of a long-tailed dataset for training a GIT generator (task ``transformation``, labels unused).

    ``source`` names the long-tail builder (``digits_lt`` or ``kuzushiji49_lt``); the other arguments are its own
    (``size``, ``instance``, ``transform``, ...). Splits: ``train`` (the long-tailed, transformed training images the
    classifier sees) and ``test``; no augmentation.
    """
    if source not in ("digits_lt", "kuzushiji49_lt"):
        raise DataError(f"data.source: expected digits_lt or kuzushiji49_lt, got '{source}'")
    if kwargs.get("augment", "none") != "none":
        raise DataError("data.augment: a generator trains on the un-augmented images; remove data.augment")
    base = DATASETS.get(source)(root=root, **kwargs)
    splits = {"train": base.splits["train"], "test": base.splits["test"]}
    info = {**base.info, "source_builder": source}
    return DataBundle(
        splits, base.num_classes, base.in_channels, base.image_size, None, "train", info, "transformation"
    )
