"""Residual flows: constraints that keep them invertible, the log-det estimators against
the exact value, the Neumann gradient against backpropagation, the fixed-point
inverse. (Every residual bijector also passes the harness through
``flowlib.testing.examples``.)"""

import pytest
import torch

import flowlib
from flowlib.residual import (LipSwish, Planar, Radial, ResidualBlock, SpectralLinear,
                              Sylvester, exact, lipschitz_mlp)
from flowlib.scalar import NotConverged
from flowlib.testing import randomize, settled


def block(estimator="exact", dim=3, coeff=0.9, seed=0, **kw):
    """A block whose layers all sit at their spectral bound (weights scaled up before
    normalisation), so that its Jacobian is far from zero."""
    torch.manual_seed(seed)
    g = lipschitz_mlp(dim, (16, 16), coeff)
    with torch.no_grad():
        for layer in g:
            if isinstance(layer, SpectralLinear):
                layer.weight.mul_(10)
    return settled(ResidualBlock(g, estimator, **kw))


def exact_log_det(b, x):
    return b.double()(x.double())[1]


def test_planar_and_radial_stay_invertible_at_extreme_parameters():
    g = torch.Generator().manual_seed(0)
    x = 3 * torch.randn(64, 2, generator=g, dtype=torch.float64)
    for b in (Planar(2), Radial(2)):
        randomize(b.double(), 5.0, generator=g)
        z, ladj = b(x)
        assert torch.isfinite(ladj).all()
        x_back, _ = b.inverse(z)
        torch.testing.assert_close(x_back, x, atol=1e-7, rtol=0)
    planar = randomize(Planar(4), 5.0, generator=g)
    assert planar.w @ planar.u() > -1


def test_sylvester_leaves_the_complement_of_its_columns_alone():
    b = randomize(Sylvester(5, m=2), 0.7)
    x = torch.randn(8, 5, dtype=torch.float64)
    b.double()
    q = b.q()
    torch.testing.assert_close(q.T @ q, torch.eye(2, dtype=torch.float64))
    z, _ = b(x)
    outside = torch.eye(5, dtype=torch.float64) - q @ q.T
    torch.testing.assert_close(z @ outside, x @ outside)


@pytest.mark.parametrize("kind", ["orthogonal", "householder", "triangular"])
def test_sylvester_log_det_is_that_of_the_triangular_system(kind):
    b = randomize(Sylvester(3, kind=kind), 0.7).double()
    x = torch.randn(4, 3, dtype=torch.float64)
    for i in range(4):
        jac = torch.autograd.functional.jacobian(lambda v: b(v[None])[0][0], x[i])
        torch.testing.assert_close(b(x[i:i + 1])[1][0],
                                   torch.linalg.slogdet(jac).logabsdet)


def test_bad_arguments_are_rejected_with_what_was_expected():
    with pytest.raises(ValueError, match="kind must be"):
        Sylvester(3, kind="diagonal")
    with pytest.raises(ValueError, match="m must be between 1 and dim"):
        Sylvester(3, m=4)
    with pytest.raises(ValueError, match="estimator must be"):
        ResidualBlock(lipschitz_mlp(2), "hutchinson")


def test_spectral_normalisation_bounds_the_lipschitz_constant():
    torch.manual_seed(0)
    layer = SpectralLinear(6, 5, coeff=0.7)
    with torch.no_grad():
        layer.weight.mul_(10)
    for _ in range(50):                  # power iteration settles in training mode
        layer(torch.randn(2, 6))
    sigma = torch.linalg.matrix_norm(layer.normalized_weight(), 2).item()
    assert sigma == pytest.approx(0.7, rel=1e-3)
    assert block(coeff=0.9).lipschitz_bound() < 0.9 ** 3 + 1e-3
    x = torch.linspace(-6, 6, 1001, requires_grad=True)
    slope = torch.autograd.grad(LipSwish()(x).sum(), x)[0]
    assert slope.abs().max() <= 1


def test_a_fresh_spectral_layer_is_within_its_cap_and_the_bound_has_no_side_effect():
    torch.manual_seed(1)
    layer = SpectralLinear(256, 256, coeff=0.9)    # close top singular values: slow
    sigma = torch.linalg.matrix_norm(layer.eval().normalized_weight(), 2).item()
    assert sigma <= 0.9 * 1.01, sigma
    block = ResidualBlock(lipschitz_mlp(4, (8,)))
    u = [m.u.clone() for m in block.g.modules() if isinstance(m, SpectralLinear)]
    block.train().lipschitz_bound()
    assert all(torch.equal(a, m.u) for a, m in zip(
        u, (m for m in block.g.modules() if isinstance(m, SpectralLinear))))
    assert block.g.training


def test_series_estimators_agree_with_the_exact_log_det_in_expectation():
    """The roulette estimate is unbiased; the truncated one is biased by the terms it
    drops, and that bias is visible with one term and gone with twenty. (A linear g at
    spectral norm 0.6: a Jacobian far from zero, and a roulette of finite variance.)"""
    torch.manual_seed(0)
    linear = SpectralLinear(3, 3, coeff=0.6)
    with torch.no_grad():
        linear.weight.mul_(10)
    x = torch.randn(4, 3, dtype=torch.float64)
    exact = settled(ResidualBlock(linear)).double()(x)[1]
    torch.manual_seed(1)
    for estimator, kw, unbiased in (("roulette", {"n_terms": 1, "p": 0.5}, True),
                                    ("truncated", {"n_terms": 20}, True),
                                    ("truncated", {"n_terms": 1}, False)):
        b = settled(ResidualBlock(linear, estimator, **kw)).double()
        with torch.no_grad():
            draws = torch.stack([b(x)[1] for _ in range(4000)])
        mean, se = draws.mean(0), draws.std(0) / len(draws) ** 0.5
        z = ((mean - exact) / se).abs().max().item()
        assert (z < 5) == unbiased, (estimator, kw, mean, exact, se)


def test_neumann_gradient_is_unbiased_for_the_exact_gradient():
    """The Neumann-series gradient is not the gradient of the estimate it comes with
    (for one v, v^T J^k v differentiates into k different orders of J and dJ); it is
    an unbiased estimate of the gradient of the exact log-det, checked here by the
    mean of many draws."""
    x = torch.randn(3, 2, dtype=torch.float64)

    def gradient(b):
        b.zero_grad()
        b(x)[1].sum().backward()
        return torch.cat([torch.zeros(p.numel(), dtype=p.dtype) if p.grad is None
                          else p.grad.flatten() for p in b.parameters()])

    exact = gradient(block("exact", dim=2).double())
    b = block("roulette", dim=2, n_terms=2, neumann=True).double()
    torch.manual_seed(2)
    draws = torch.stack([gradient(b) for _ in range(1500)])
    se = draws.std(0) / len(draws) ** 0.5
    z = ((draws.mean(0) - exact) / (se + 1e-12)).abs()
    assert z.max() < 5, (z.max(), draws.mean(0), exact)


def test_fixed_point_inverse_round_trips_and_warns_when_capped():
    b = block("exact", coeff=0.95)
    x = 2 * torch.randn(256, 3)
    with torch.no_grad():
        z, _ = b(x)
        x_back, _ = b.inverse(z)
    assert (x_back - x).abs().max() < 1e-5
    b.max_iter = 2
    with pytest.warns(NotConverged, match="no fixed point"):
        b.inverse(z)


def test_a_flow_of_residual_blocks_trains_on_a_2d_set():
    truth = flowlib.dataset("moons")
    torch.manual_seed(0)
    flow = flowlib.Flow(flowlib.Compose(*[ResidualBlock(
        lipschitz_mlp(2, (32, 32)), "roulette", neumann=True) for _ in range(3)]),
        flowlib.StandardNormal(2))
    test = truth.sample(2_000)
    before = flowlib.kl_divergence(truth, flow.eval(), test)
    flowlib.fit(flow.train(), truth.sample(20_000), steps=500, lr=5e-3,
                progress=False)
    after = flowlib.kl_divergence(truth, flow.eval(), test)
    assert after < 0.8 * before, (before, after)   # three blocks move points little
    assert all(b.lipschitz_bound() < 1 for b in flow.bijector.bijectors)


def test_exact_switches_every_block_and_restores_it():
    flow = flowlib.Compose(block("roulette"), block("truncated", n_terms=3)).double()
    x = torch.randn(6, 3, dtype=torch.float64)
    with exact(flow):
        assert {b.estimator for b in flow.bijectors} == {"exact"}
        first, second = flow(x)[1], flow(x)[1]
    assert torch.equal(first, second)                # deterministic inside
    assert [b.estimator for b in flow.bijectors] == ["roulette", "truncated"]
