"""Augmentation: seeded, shape-keeping; random erasing and mixup do what their parameters say."""

import numpy as np
import pytest
import torch

from ferviz.data.augment import AugmentConfig, _beta, augment_batch, mixup_batch, random_erase

IDENTITY = AugmentConfig(rotate_deg=0, scale=0, shift=0, flip=0, brightness=0, contrast=0)


def test_erase_probability_zero_and_one():
    x = torch.zeros(64, 1, 16, 16)
    assert torch.equal(random_erase(x, 0.0, torch.Generator().manual_seed(0)), x)
    out = random_erase(x, 1.0, torch.Generator().manual_seed(0))
    changed = (out != 0).flatten(1).float().mean(1)
    assert (changed > 0).all()  # every image got a rectangle
    assert (changed <= 0.25 + 2 / 16).all()  # of at most ~25 % of the area (rounding of the sides)
    assert torch.equal(x, torch.zeros_like(x))  # the input is not modified


def test_erase_is_seeded_and_part_of_augment_batch():
    x = torch.randn(8, 1, 32, 32)
    cfg = AugmentConfig(erase=0.5)
    a = augment_batch(x, cfg, torch.Generator().manual_seed(3))
    b = augment_batch(x, cfg, torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    plain = augment_batch(x, IDENTITY, torch.Generator().manual_seed(3))
    erase_all = AugmentConfig(**{**IDENTITY.to_dict(), "erase": 1.0})
    erased = augment_batch(x, erase_all, torch.Generator().manual_seed(3))
    assert not torch.allclose(plain, erased)


def test_beta_draws_have_the_right_mean_and_variance():
    for alpha in (0.2, 1.0, 2.0):
        lam = _beta(20000, alpha, torch.Generator().manual_seed(0))
        assert ((lam >= 0) & (lam <= 1)).all()
        assert lam.mean().item() == pytest.approx(0.5, abs=0.01)
        assert lam.var().item() == pytest.approx(1 / (4 * (2 * alpha + 1)), rel=0.08)  # Var of Beta(a, a)


def test_mixup_targets_are_convex_mixes_dominated_by_the_first_image():
    gen = torch.Generator().manual_seed(1)
    x = torch.arange(4, dtype=torch.float32).view(4, 1, 1, 1).expand(4, 1, 2, 2).contiguous()
    y = torch.tensor([0, 1, 2, 3])
    soft = torch.eye(4)[[3, 2, 1, 0]]
    mixed, target, soft_mixed = mixup_batch(x, y, soft, 0.4, 4, gen)
    np.testing.assert_allclose(target.sum(1).numpy(), 1, atol=1e-6)
    np.testing.assert_allclose(soft_mixed.sum(1).numpy(), 1, atol=1e-6)
    assert (target[torch.arange(4), y] >= 0.5 - 1e-6).all()  # lam >= 0.5: own label dominates
    # a pixel value is the same convex mix as the label: x_i = lam * i + (1 - lam) * partner
    lam = target[torch.arange(4), y]
    for i in range(4):
        others = target[i] - lam[i] * torch.nn.functional.one_hot(y[i], 4)
        partner = int(torch.argmax(others)) if lam[i] < 1 else i
        expect = lam[i] * i + (1 - lam[i]) * partner
        assert mixed[i, 0, 0, 0].item() == pytest.approx(expect.item(), abs=1e-5)
