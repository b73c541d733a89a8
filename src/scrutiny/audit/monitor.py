"""A documented reproduction of the accuracy monitor behind the PNN paper's inflated CIFAR-10 test accuracy.

Source: ``juefeix/pnn.pytorch`` ``plugins/monitor.py`` and ``train.py`` at ``d060c85`` (read there; reference notes,
Topic A.5). ``train.py`` builds the test monitor as ``plugins.Monitor()``, i.e. ``smoothing=True, smoothness=0.7``,
and ``Trainer.test`` does, per epoch::

    self.monitor_test.reset()
    for each batch of the unshuffled test loader:
        if batch_size == self.batch_size:            # a partial last batch is skipped
            acc = correct * 100.0 / batch_size        # the batch's accuracy, in percent
            self.monitor_test.update({'Accuracy': acc, ...}, batch_size)
    return self.monitor_test.getvalues('Accuracy')

and ``main.py`` keeps the best of these over the epochs. The monitor's ``update`` with ``smoothing=True`` computes the
correct running mean into ``temp``, discards it, and sets ``A <- 0.7·A + 0.3·acc_batch``: the 0.7 weighs the running
value, the 0.3 the new batch. ``reset`` rebinds a loop variable, so ``A`` is never cleared: it starts at 0 (from
``register``) in the first epoch and carries over from one epoch's last batch to the next epoch's first.

:class:`SmoothedMonitor` keeps that code's behaviour line for line (the no-op ``reset`` included);
:func:`monitor_epoch_values` drives it as ``Trainer.test`` does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

SMOOTHNESS = 0.7


class SmoothedMonitor:
    """``plugins.Monitor`` of ``juefeix/pnn.pytorch@d060c85``, bugs kept (see the module docstring).

    Args:
        smoothing: True (the code's default) keeps an exponential moving average; False the sample-weighted mean.
        smoothness: Weight of the running value in the moving average (0.7 by default).
    """

    def __init__(self, smoothing: bool = True, smoothness: float = SMOOTHNESS) -> None:
        self.keys: list[str] = []
        self.losses: dict[str, float] = {}
        self.smoothing = smoothing
        self.smoothness = smoothness
        self.num = 0

    def register(self, keys: Sequence[str]) -> None:
        for key in keys:
            self.keys.append(key)
            self.losses[key] = 0.0

    def reset(self) -> None:
        """The original's reset: sets ``num`` to 0 and leaves every value as it was (the loop rebinds a local)."""
        self.num = 0
        for _key, value in self.losses.items():  # noqa: B007 - the reproduced bug: this clears nothing
            value = 0  # noqa: F841

    def update(self, values: Mapping[str, float], batch_size: int) -> None:
        if not self.smoothing:
            for key, value in values.items():
                self.losses[key] = (self.losses[key] * self.num + value * batch_size) / (self.num + batch_size)
        else:
            for key, value in values.items():
                # the original computes the correct running mean here and discards it
                self.losses[key] = self.losses[key] * self.smoothness + value * (1 - self.smoothness)
        self.num += batch_size

    def getvalues(self, key: str) -> float:
        return self.losses[key]


def monitor_epoch_values(
    per_batch_correct: np.ndarray,
    per_batch_sizes: np.ndarray,
    batch_size: int | None,
    *,
    smoothing: bool = True,
    smoothness: float = SMOOTHNESS,
    initial: float = 0.0,
) -> np.ndarray:
    """What the original ``Trainer.test`` returned at each epoch, as a fraction (the code reports percent).

    Args:
        per_batch_correct: Correct predictions per test batch, ``(n_epochs, n_batches)``, in loader order.
        per_batch_sizes: Size of each batch, ``(n_batches,)`` or ``(n_epochs, n_batches)``.
        batch_size: The configured batch size; batches of another size are skipped, as in the code. ``None`` keeps
            every batch (a variant the code did not run).
        smoothing: The monitor's flag (True in the code; False is the README's fix).
        smoothness: The moving average's weight on the running value.
        initial: The monitor's value before the first batch, as a fraction (0 in the code).

    Returns:
        The reported value after each epoch, ``(n_epochs,)``.
    """
    correct = np.atleast_2d(np.asarray(per_batch_correct, dtype=np.float64))
    sizes = np.broadcast_to(np.asarray(per_batch_sizes, dtype=np.float64), correct.shape)
    monitor = SmoothedMonitor(smoothing=smoothing, smoothness=smoothness)
    monitor.register(["Accuracy"])
    monitor.losses["Accuracy"] = 100.0 * initial
    out = np.empty(correct.shape[0])
    for e in range(correct.shape[0]):
        monitor.reset()
        for c, n in zip(correct[e], sizes[e], strict=True):
            if batch_size is None or n == batch_size:
                monitor.update({"Accuracy": float(c * 100.0) / float(n)}, int(n))
        out[e] = monitor.getvalues("Accuracy") / 100.0
    return out
