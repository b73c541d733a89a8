import importlib

import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from scrutiny.protocols.plain import plain
from scrutiny.trials import EvaluationCountError, evaluate


class LookupModel(nn.Module):
    """Predicts the class stored in the first feature of each example."""

    def __init__(self, k: int) -> None:
        super().__init__()
        self.k = k

    def forward(self, x):
        return torch.nn.functional.one_hot(x[:, 0].long(), self.k).float() * 10


def make(n: int, wrong: int, k: int = 3):
    y = torch.arange(n) % k
    pred = y.clone()
    pred[:wrong] = (pred[:wrong] + 1) % k
    return TensorDataset(pred.float().unsqueeze(1), y)


@pytest.mark.parametrize("batch_size", [1, 3, 4, 7, 10, 64])
def test_accuracy_counts_every_example_with_uneven_batches(batch_size):
    ds = make(10, wrong=3)
    result = evaluate(LookupModel(3), ds, "test", plain(), batch_size=batch_size, device=torch.device("cpu"))
    assert result.n == 10 and result.correct == 7
    assert result.acc == 0.7
    assert result.metrics()["test_n"] == 10


def test_eval_mode_is_used_and_restored():
    seen = []

    class Probe(nn.Module):
        def forward(self, x):
            seen.append(self.training)
            return torch.zeros(len(x), 2)

    model = Probe().train()
    ds = TensorDataset(torch.zeros(5, 1), torch.zeros(5, dtype=torch.long))
    evaluate(model, ds, "test", plain(), batch_size=2, device=torch.device("cpu"))
    assert seen == [False, False, False] and model.training


def test_outputs_are_kept_per_example():
    ds = make(7, wrong=2)
    result = evaluate(LookupModel(3), ds, "val", plain(), batch_size=3, device=torch.device("cpu"), keep_outputs=True)
    assert result.outputs["pred"].shape == (7,)
    assert (result.outputs["pred"] == result.outputs["target"]).sum() == 5


def test_a_dropped_batch_fails_loudly(monkeypatch):
    module = importlib.import_module("scrutiny.trials.evaluate")

    real = module.eval_batches

    def drop_last_batch(ds, batch_size, num_workers=0):  # the bug the check exists for
        batches = list(real(ds, batch_size, num_workers=num_workers))
        yield from batches[:-1]

    monkeypatch.setattr(module, "eval_batches", drop_last_batch)
    with pytest.raises(EvaluationCountError, match="evaluated 8 examples of split 'test', which has 10"):
        evaluate(LookupModel(3), make(10, wrong=0), "test", plain(), batch_size=4, device=torch.device("cpu"))
