import math

import pytest
import torch

import flowlib
from flowlib import scalar

F64 = dict(dtype=torch.float64)


def _normal_on_the_cube():
    """A normal density on [0, 1) whose mass on each of 16 cells is known exactly."""
    normal = torch.distributions.Normal(torch.tensor(0.5, **F64), 0.15)
    cells = torch.arange(4, 12, **F64)
    exact = torch.log(normal.cdf((cells + 1) / 16) - normal.cdf(cells / 16))
    return (lambda y: normal.log_prob(y).sum(-1)), cells, exact


def _cell_noise():
    """q(u | x): a logistic variable, shifted and scaled by amounts that depend on x
    only (the mask passes nothing, so the conditioner sees the context alone), then
    squashed onto (0, 1). With zero parameters it is uniform."""
    net = flowlib.WithContext(flowlib.MLP(2, 2, (16,)))
    coupling = flowlib.Coupling(torch.zeros(1, dtype=torch.bool), net)
    flow = flowlib.Flow(flowlib.Compose(flowlib.Sigmoid().inv, coupling),
                        flowlib.StandardLogistic(1))
    return flowlib.Variational(flow, levels=16).double()


def test_variational_noise_lies_in_the_cell_and_reports_its_density():
    noise = _cell_noise()
    flowlib.testing.randomize(noise, 0.5)
    x = torch.arange(16, **F64).repeat(8)[:, None]
    u, log_q = noise(x)
    assert ((u > 0) & (u < 1)).all() and log_q.shape == (128,)
    context = x / 15 - 0.5
    torch.testing.assert_close(log_q, noise.flow.log_prob(u, context))


def test_the_bounds_approach_the_exact_probability():
    density, cells, exact = _normal_on_the_cube()
    x = cells.repeat(2000)[:, None]
    torch.manual_seed(0)
    gap = lambda noise, m: (flowlib.log_bound(density, x, noise, 16, m)
                            .view(2000, 8).mean(0) - exact)
    uniform = gap(None, 1)
    assert uniform.mean() < -0.005   # Jensen: below, by a margin on the steep cells
    noise = _cell_noise()
    model = flowlib.Dequantized(density, noise, levels=16)
    flowlib.fit(model, x, steps=400, lr=1e-2, batch_size=256, progress=False)
    with torch.no_grad():
        learned, weighted = gap(noise, 1), gap(noise, 16)
    # learned noise closes most of the gap; weighting its draws closes nearly all of it
    assert learned.mean() > uniform.mean() / 10 and learned.mean() < 0.002
    assert weighted.abs().max() < 1e-3
    bits = flowlib.bits_per_dim(density, x, 16, samples=1, noise=noise)
    assert bits == pytest.approx(-(exact.mean().item()) / math.log(2), abs=5e-3)


def test_bad_integers_are_refused():
    with pytest.raises(ValueError, match="integer values in 0..15"):
        flowlib.log_bound(lambda y: y.sum(-1), torch.tensor([[16.0]]), levels=16)
    with pytest.raises(ValueError, match="integer values in 0..255"):
        flowlib.dequantize(torch.tensor([[0.5]]))


@pytest.mark.parametrize("draw", [0.0, 1 - 2**-24])   # rand's extremes
def test_uniform_noise_never_lands_on_the_cube_edge(monkeypatch, draw):
    """torch.rand can return exactly 0, and 15 + its largest value rounds to 16 in
    float32; a logit flow's density at 0 or 1 is not a number, so the dequantized
    values are kept inside the cube."""
    monkeypatch.setattr(torch, "rand_like", lambda x, **k: torch.full_like(x, draw))
    flow = flowlib.Flow(flowlib.Sigmoid().inv, flowlib.StandardNormal(2))
    x = torch.tensor([[0.0, 15.0], [15.0, 0.0]])
    assert torch.isfinite(flowlib.log_bound(flow, x, levels=16, samples=4)).all()
    assert ((flowlib.dequantize(x, 16) > 0) & (flowlib.dequantize(x, 16) < 1)).all()


def test_learned_noise_on_the_cell_edge_keeps_the_bound_finite():
    """A float32 sigmoid rounds a logit beyond about 17 to exactly 1, and 15 + u
    rounds to 16 for u within 5e-7 of 1: the bound keeps (x + u) / L inside the
    cube, so a logit density there stays finite."""
    flow = flowlib.Flow(flowlib.Sigmoid().inv, flowlib.StandardLogistic(1))
    flow.base.sample = lambda n: torch.tensor([[100.0], [-100.0]])
    noise = flowlib.Variational(flow, levels=16)
    density = flowlib.Flow(flowlib.Sigmoid().inv, flowlib.StandardNormal(1))
    x = torch.tensor([[15.0], [0.0]])
    assert torch.isfinite(flowlib.log_bound(density, x, noise, levels=16)).all()
