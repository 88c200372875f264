"""Wasserstein losses, the gradient penalty and the generator objective."""

import pytest
import torch
from seeinggan.losses import (
    GeneratorObjective,
    PerceptualLoss,
    StructuralLoss,
    gradient_penalty,
    wasserstein_critic_loss,
    wasserstein_generator_loss,
)
from seeinggan.models import PatchCritic
from torch import nn


class LinearCritic(nn.Module):
    """D(x) = <w, x> (+ <v, condition>): its gradient w.r.t. x is w everywhere."""

    def __init__(self, shape, *, norm: float, seed: int = 0):
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        w = torch.randn(*shape, generator=gen, dtype=torch.float64)
        self.w = nn.Parameter(w / w.norm() * norm)
        self.v = torch.randn(*shape, generator=gen, dtype=torch.float64)

    def forward(self, x, condition=None):
        score = (x * self.w).flatten(1).sum(1)
        if condition is not None:
            score = score + (condition * self.v).flatten(1).sum(1)
        return score


def test_wasserstein_losses():
    real = torch.tensor([2.0, 4.0])
    fake = torch.tensor([-1.0, 0.0])
    assert wasserstein_critic_loss(real, fake).item() == pytest.approx(-3.5)
    assert wasserstein_generator_loss(fake).item() == pytest.approx(0.5)


def test_gradient_penalty_vanishes_for_a_unit_gradient_critic():
    torch.manual_seed(0)
    shape = (1, 8, 8)
    real = torch.randn(4, *shape, dtype=torch.float64)
    fake = torch.randn(4, *shape, dtype=torch.float64)
    critic = LinearCritic(shape, norm=1.0)
    assert gradient_penalty(critic, real, fake).item() < 1e-12
    assert gradient_penalty(critic, real, fake, condition=torch.randn_like(real)).item() < 1e-12
    # |grad| = 3 everywhere: penalty (3 - 1)^2 = 4 exactly; 0.5: 0.25
    assert gradient_penalty(LinearCritic(shape, norm=3.0), real, fake).item() == pytest.approx(4.0)
    assert gradient_penalty(LinearCritic(shape, norm=0.5), real, fake).item() == pytest.approx(0.25)


def test_gradient_penalty_trains_the_critic():
    torch.manual_seed(0)
    critic = PatchCritic(base_channels=4, dropout=0.0)
    real, fake, cond = (torch.randn(2, 1, 32, 32) for _ in range(3))
    penalty = gradient_penalty(critic, real, fake, condition=cond)
    assert penalty.item() > 0
    penalty.backward()  # double backward through the critic works
    grads = [p.grad for p in critic.parameters() if p.grad is not None]
    assert grads and sum(g.abs().sum().item() for g in grads) > 0


def _vgg_file(tmp_path):
    from safetensors.torch import save_file

    gen = torch.Generator().manual_seed(0)
    state, index, channels = {}, 0, 3
    for item in [64, 64, "M", 128, 128, "M", 256]:
        if item == "M":
            index += 1
            continue
        state[f"features.{index}.weight"] = torch.randn(item, channels, 3, 3, generator=gen) * 0.05
        state[f"features.{index}.bias"] = torch.zeros(item)
        channels, index = item, index + 2
    path = tmp_path / "vgg.safetensors"
    save_file(state, str(path))
    return path


def test_perceptual_loss_compares_features(tmp_path):
    loss = PerceptualLoss(_vgg_file(tmp_path))
    x = torch.rand(2, 1, 32, 32)
    assert loss(x, x).item() == 0.0
    y = x + 0.1 * torch.randn_like(x)
    y.requires_grad_(True)
    value = loss(y, x)
    assert value.item() > 0
    value.backward()
    assert y.grad.abs().sum() > 0


def test_structural_loss_is_one_minus_cw_ssim():
    torch.manual_seed(0)
    loss = StructuralLoss(levels=(1, 2))
    yy, xx = torch.meshgrid(torch.arange(64.0), torch.arange(64.0), indexing="ij")
    galaxy = torch.exp(-((yy - 30) ** 2 + (xx - 34) ** 2) / 40.0)[None, None]
    assert loss(galaxy, galaxy).item() == pytest.approx(0.0, abs=1e-5)
    noisy = (galaxy + 0.3 * torch.randn_like(galaxy)).requires_grad_(True)
    value = loss(noisy, galaxy)
    assert 0.05 < value.item() <= 2.0
    value.backward()
    assert noisy.grad.abs().sum() > 0


def test_generator_objective_weights_and_terms(tmp_path):
    torch.manual_seed(0)
    out = torch.randn(2, 1, 32, 32)
    target = torch.randn(2, 1, 32, 32)
    scores = torch.tensor([1.0, 3.0])
    objective = GeneratorObjective({"l1": 2.0, "adversarial": 0.5})
    total, terms = objective(out, target, fake_scores=scores)
    assert set(terms) == {"l1", "adversarial"}
    l1 = (out - target).abs().mean()
    assert terms["adversarial"].item() == pytest.approx(-2.0)
    assert total.item() == pytest.approx(2.0 * l1.item() - 1.0, rel=1e-6)
    assert objective.uses_critic
    assert objective.describe()["weights"] == {"l1": 2.0, "structural": 0.0, "perceptual": 0.0, "adversarial": 0.5,
                                               "consistency": 0.0, "band": 0.0, "lowband": 0.0,
                                               "power": 0.0}
    with pytest.raises(ValueError, match="needs the critic's scores"):
        objective(out, target)
    with pytest.raises(ValueError, match="unknown loss terms ssim"):
        GeneratorObjective({"ssim": 1.0})
    with pytest.raises(ValueError, match="needs local VGG-19 ImageNet weights"):
        GeneratorObjective({"perceptual": 1.0})
    with_vgg = GeneratorObjective({"perceptual": 1.0}, vgg19_weights=_vgg_file(tmp_path))
    total, terms = with_vgg(out, target)
    assert set(terms) == {"perceptual"} and total.item() > 0
