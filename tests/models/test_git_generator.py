"""The GIT generator: shapes, gradient routing of its one-step GAN, the transformation task, and that it learns."""

import pytest
import torch
import torch.nn.functional as F

from scrutiny.data.git_augment import fit_generator
from scrutiny.models.git_generator import LOSS_TERMS, git_generator
from scrutiny.trials.tasks import LOWER_IS_BETTER, make_task


@pytest.fixture(autouse=True)
def one_thread():
    """One intra-op thread: on a loaded 2-core machine two threads make these small convolutions ten times slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _digits(n: int = 48, size: int = 12) -> torch.Tensor:
    """``n`` scikit-learn digits upscaled to ``size`` px and standardised ``(n, 1, size, size)``."""
    from scrutiny.data.digits import load_digits_arrays

    images, _ = load_digits_arrays()
    x = torch.from_numpy(images[:n]).float().unsqueeze(1)
    x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    return (x - x.mean()) / x.std()


@pytest.mark.parametrize("size", [12, 16])
def test_transform_keeps_the_shape_and_forward_gives_one_row_of_terms_per_example(size):
    torch.manual_seed(0)
    net = git_generator(width=8)
    x = torch.randn(3, 1, size, size)
    assert net.transform(x, torch.randn(3, net.style_dim)).shape == x.shape
    content, style = net.encode(x)
    assert content.shape == (3, 32, size // 4, size // 4) and style.shape == (3, 8)
    out = net(x)
    assert out.shape == (3, len(LOSS_TERMS)) and torch.isfinite(out).all()


def test_each_network_gets_the_gradient_of_its_own_adversarial_term():
    torch.manual_seed(0)
    net = git_generator(width=8)
    x = torch.randn(4, 1, 12, 12)
    dis = {id(p) for p in net.dis.parameters()}
    gen = [p for p in net.parameters() if id(p) not in dis]
    cols = {name: i for i, name in enumerate(LOSS_TERMS)}
    out = net(x)
    out[:, cols["gan_d"]].sum().backward(retain_graph=True)  # discriminator's loss: sees the fake detached
    assert all(p.grad is None or p.grad.abs().sum() == 0 for p in gen)
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in net.dis.parameters())
    net.zero_grad(set_to_none=True)
    out[:, cols["gan_g"]].sum().backward()  # generator's loss: sees the discriminator frozen
    assert all(p.grad is None or p.grad.abs().sum() == 0 for p in net.dis.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in gen)


def test_the_transformation_task_reads_the_models_columns():
    task = make_task("transformation")
    assert task.primary == "recon" and "recon" in LOWER_IS_BETTER
    # columns: total, recon_x, recon_c, recon_s, gan_g, gan_d, baseline_x
    out = torch.tensor([[5.0, 0.2, 0.3, 0.4, 0.5, 0.6, 0.9], [7.0, 1.0, 0.1, 0.1, 0.1, 0.1, 0.8]])
    labels = torch.tensor([3, 4])  # ignored
    assert task.per_example_loss(out, labels).tolist() == [5.0, 7.0]
    m = task.metrics(out, labels)
    assert m["acc"].tolist() == [1.0, 0.0]  # the reconstruction beats the other image only in the first row
    assert m["recon"].tolist() == pytest.approx([0.2, 1.0]) and m["baseline"].tolist() == pytest.approx([0.9, 0.8])
    assert set(m) == {"acc", "recon", "recon_c", "recon_s", "gan_g", "gan_d", "baseline"}
    assert task.prediction(out).tolist() == pytest.approx([0.2, 1.0])
    logits, y = torch.tensor([[2.0, 0.0], [0.0, 1.0]]), torch.tensor([0, 0])  # other tasks unchanged
    assert make_task("classification").loss(logits, y).item() == pytest.approx(F.cross_entropy(logits, y).item())


def test_it_learns_to_reconstruct_better_than_another_image_and_than_before_training():
    x = _digits()
    torch.manual_seed(1)
    untrained = git_generator(width=8).eval()
    trained, _ = fit_generator(x, {"epochs": 12, "batch_size": 16, "lr": 2e-3, "seed": 0}, {"width": 8})
    with torch.no_grad():
        other = (x - x.roll(1, 0)).abs().mean().item()  # the identity applied to a random (another) image
        before = (untrained.decode(*untrained.encode(x)) - x).abs().mean().item()
        after = (trained.decode(*trained.encode(x)) - x).abs().mean().item()
    assert after < 0.75 * other and after < 0.5 * before, (after, other, before)  # measured: 0.34, 0.67, 0.92
