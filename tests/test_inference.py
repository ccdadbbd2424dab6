"""flowlib.inference: the energies and their normalizers, the IW bound, the VAE's
posterior densities, and binarized MNIST."""

import math
import os
from pathlib import Path

import pytest
import torch

import flowlib
from flowlib.inference import (VAE, energy, grid, iw_bound, log_mean_exp,
                               log_normalizer)

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", ["U1", "U2", "U3", "U4"])
def test_energies_are_proper_and_their_normalizers_converge(name):
    """The midpoint rule on a finer grid and a wider square gives the same log Z: the
    mass lies inside the square and the grid resolves the density."""
    coarse = log_normalizer(energy(name), 10.0, 1001)
    fine = log_normalizer(energy(name), 12.0, 1801)
    assert math.isfinite(coarse) and abs(coarse - fine) < 1e-6, (coarse, fine)


def test_the_energies_follow_the_paper_where_they_are_not_walled():
    """U1 is used as published; U2 is 0.5 ((z2 - sin(pi z1 / 2)) / 0.4)^2 plus the
    Gaussian wall on z1."""
    z = torch.tensor([[2.0, 0.0], [0.5, 1.0]], dtype=torch.float64)
    r = z.norm(dim=-1)
    u1 = 0.5 * ((r - 2) / 0.4) ** 2 - torch.log(
        torch.exp(-0.5 * ((z[:, 0] - 2) / 0.6) ** 2)
        + torch.exp(-0.5 * ((z[:, 0] + 2) / 0.6) ** 2))
    assert torch.allclose(energy("U1")(z), -u1)
    u2 = 0.5 * ((z[:, 1] - torch.sin(math.pi * z[:, 0] / 2)) / 0.4) ** 2
    assert torch.allclose(energy("U2")(z), -u2 - 0.5 * (z[:, 0] / 2) ** 2)
    with pytest.raises(ValueError, match="U1"):
        energy("U5")


def test_grid_cells_tile_the_square():
    points, cell = grid(3.0, 301)
    assert points.shape == (301 ** 2, 2) and math.isclose(cell, 0.02 ** 2)


def test_iw_bound_is_the_elbo_at_k_1_and_never_below_its_halves():
    torch.manual_seed(0)
    log_w = torch.randn(64, 5, dtype=torch.float64) * 2 - 100
    assert torch.allclose(iw_bound(log_w[:1]), log_w[0])
    for k in (2, 8, 64):      # the bound of k samples against that of its two halves
        halves = (iw_bound(log_w[:k // 2]) + iw_bound(log_w[k // 2:k])) / 2
        assert (iw_bound(log_w[:k]) >= halves).all(), k
    assert torch.allclose(log_mean_exp(log_w), log_w.exp().mean(0).log())
    with pytest.raises(ValueError, match=r"\(k, batch\)"):
        iw_bound(log_w[0])


def _vae(flow=None, context=0, latent=3):
    torch.manual_seed(1)
    encoder = flowlib.MLP(6, 2 * latent + context, (8,), zero_last=False)
    return VAE(encoder, flowlib.MLP(latent, 6, (8,)), latent, flow).double()


@pytest.mark.parametrize("kind", ["diagonal", "IAF", "planar", "Sylvester"])
def test_the_posterior_log_density_is_the_change_of_variables(kind):
    """log q(z | x) from the VAE against the density of z computed from scratch: the
    Gaussian's log-density at z_0 minus log|det dz/dz_0| from autograd's Jacobian."""
    flows = {"diagonal": None,
             "IAF": flowlib.MAF(3, layers=2, hidden=(8,), context=4).inv,
             "planar": flowlib.Compose(*[flowlib.Planar(3, context=4)
                                         for _ in range(2)]).inv,
             "Sylvester": flowlib.Sylvester(3, context=4).inv}
    flow = flows[kind]
    if flow is not None:
        flowlib.testing.randomize(flow, 0.5, torch.Generator().manual_seed(2))
    vae = _vae(flow, 0 if flow is None else 4)
    x = torch.bernoulli(torch.full((2, 6), 0.5, dtype=torch.float64))
    torch.manual_seed(3)
    z, log_q = vae.posterior(x, k=5)
    assert z.shape == (5, 2, 3) and log_q.shape == (5, 2)
    out = vae.encoder(x)
    mean, log_std, h = out[:, :3], out[:, 3:6], out[:, 6:]
    torch.manual_seed(3)
    eps = torch.randn(5, 2, 3, dtype=torch.float64)
    for i in range(2):
        z0 = mean[i] + log_std[i].exp() * eps[0, i]
        g = (lambda v: v) if flow is None else (
            lambda v: flow.inverse(v[None], h[i:i + 1])[0][0])
        assert torch.allclose(g(z0), z[0, i])
        log_det = torch.linalg.slogdet(torch.autograd.functional.jacobian(g, z0))[1]
        gauss = torch.distributions.Normal(mean[i], log_std[i].exp())
        want = gauss.log_prob(z0).sum() - log_det
        assert torch.allclose(log_q[0, i], want), (kind, log_q[0, i], want)


def test_the_vae_bounds_and_bad_input():
    vae = _vae(flowlib.MAF(3, layers=1, hidden=(8,), context=2).inv, 2)
    x = torch.bernoulli(torch.full((4, 6), 0.5, dtype=torch.float64))
    assert vae.elbo(x, k=3).shape == (4,) and vae.log_weights(x, 7).shape == (7, 4)
    assert vae.forward_kl(x).dim() == 0
    with pytest.raises(ValueError, match="float batch"):
        vae.log_weights(x.long())
    with pytest.raises(ValueError, match="context of shape"):
        vae.flow.inverse(torch.zeros(4, 3, dtype=torch.float64), None)


def _mnist_folder():
    for folder in (os.environ.get("FLOWLIB_DATA"), ROOT.parent / "shared" / "data"):
        if folder and (Path(folder) / "mnist.npz").exists():
            return str(folder)
    pytest.skip("no mnist.npz: set FLOWLIB_DATA to the folder that holds it")


def test_binarized_mnist_is_binary_and_fixed_by_its_seed(monkeypatch):
    monkeypatch.setenv("FLOWLIB_DATA", _mnist_folder())
    train, test = flowlib.binarized_mnist()
    assert train.shape == (60_000, 784) and test.shape == (10_000, 784)
    assert set(train[:100].unique().tolist()) == {0.0, 1.0}
    assert torch.equal(test, flowlib.binarized_mnist()[1])
    assert not torch.equal(test, flowlib.binarized_mnist(seed=1)[1])
    # each pixel is on about as often as its intensity says
    intensity = flowlib.mnist().x_test.flatten(1).float() / 255
    assert abs(test.mean() - intensity.mean()) < 2e-3
