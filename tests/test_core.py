import math

import pytest
import torch

import flowlib
from flowlib import Affine, Compose, Flow, Inverse, Sigmoid, StandardLogistic, StandardNormal, StandardUniform


def test_inverse_swaps_directions_and_shares_parameters():
    a = Affine(2)
    assert a.inv.inv is a
    assert isinstance(a.inv, Inverse) and a.inv.bijector is a
    x = torch.randn(3, 2)
    with torch.no_grad():
        a.loc.fill_(1.0)
    assert torch.equal(a.inv(x)[0], a.inverse(x)[0])


def test_compose_sums_log_dets_in_order():
    a, s = Affine(2), Sigmoid()
    with torch.no_grad():
        a.log_scale.fill_(0.3)
    x = torch.randn(4, 2)
    z, ladj = Compose(a, s)(x)
    y, l1 = a(x)
    z2, l2 = s(y)
    torch.testing.assert_close(z, z2)
    torch.testing.assert_close(ladj, l1 + l2)
    x_back, ladj_inv = Compose(a, s).inverse(z)
    torch.testing.assert_close(x_back, x)
    torch.testing.assert_close(ladj_inv, -ladj)


@pytest.mark.parametrize("base, inside", [(StandardNormal(2), torch.randn(5, 2)),
                                          (StandardUniform(2), torch.rand(5, 2)),
                                          (StandardLogistic(2), torch.randn(5, 2))])
def test_bases_integrate_to_one_and_sample_their_density(base, inside):
    base = base.double()
    # 1-D marginal: a fine Riemann sum of exp(log_density) is 1
    grid = torch.linspace(-30, 30, 600_001, dtype=torch.float64)[:, None]
    density = base.log_density(grid).exp().squeeze(1)
    assert torch.trapezoid(density, grid[:, 0]).item() == pytest.approx(1.0, abs=1e-4)
    # samples: the mean log-density of samples is minus the entropy, up to Monte-Carlo error
    torch.manual_seed(0)
    s = base.sample(200_000)
    assert s.shape == (200_000, 2) and s.dtype == torch.float64
    entropy = {"StandardNormal": 0.5 * math.log(2 * math.pi * math.e), "StandardUniform": 0.0,
               "StandardLogistic": 2.0}[type(base).__name__]
    assert -base.log_prob(s).mean().item() / 2 == pytest.approx(entropy, abs=0.01)
    assert base.log_prob(inside.double()).shape == (5,)


def test_uniform_is_zero_outside_the_unit_cube():
    lp = StandardUniform(2).log_prob(torch.tensor([[0.5, 0.5], [1.5, 0.5], [-0.1, 0.2]]))
    assert lp[0] == 0 and torch.isinf(lp[1:]).all() and (lp[1:] < 0).all()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_logistic_samples_stay_finite_when_rand_returns_zero(monkeypatch, dtype):
    real_rand = torch.rand
    monkeypatch.setattr(torch, "rand", lambda *a, **k: real_rand(*a, **k) * 0)
    z = flowlib.StandardLogistic(3).to(dtype).sample(4)
    top = torch.logit(torch.tensor(1 - torch.finfo(dtype).eps / 2, dtype=dtype))
    assert torch.isfinite(z).all() and torch.allclose(z, -top)  # as far out as the top


def test_base_follows_the_flow_to_dtype():
    flow = Flow(Affine(2), StandardNormal(2)).double()
    assert flow.sample(3).dtype == torch.float64


def test_log_prob_is_change_of_variables():
    """An affine flow with a normal base is the Gaussian N(loc, scale^2)."""
    flow = Flow(Affine(1), StandardNormal(1)).double()
    with torch.no_grad():
        flow.bijector.loc.fill_(2.0)
        flow.bijector.log_scale.fill_(math.log(3.0))
    x = torch.linspace(-5, 5, 11, dtype=torch.float64)[:, None]
    expected = torch.distributions.Normal(2.0, 3.0).log_prob(x[:, 0])
    torch.testing.assert_close(flow.log_prob(x), expected)
    x, lp = flow.sample_and_log_prob(7)
    torch.testing.assert_close(lp, flow.log_prob(x))


def test_losses():
    flow = Flow(Affine(2), StandardNormal(2))
    x = torch.randn(8, 2)
    torch.testing.assert_close(flow.forward_kl(x), -flow.log_prob(x).mean())
    # reverse KL against the base itself is zero for the identity flow, and has gradients
    kl = flow.reverse_kl(lambda x: StandardNormal(2).log_prob(x), 64)
    assert kl.abs().item() < 1e-6
    kl.backward()
    assert flow.bijector.log_scale.grad is not None


@pytest.mark.parametrize("x, message", [
    (torch.zeros(2), r"expected x of shape \(batch, 2\), got \(2,\)"),
    (torch.zeros(4, 3), r"expected x of shape \(batch, 2\), got \(4, 3\)"),
    (torch.zeros(4, 2, 1), r"got \(4, 2, 1\)"),
    (torch.zeros(4, 2, dtype=torch.long), "floating-point"),
    ([[0.0, 0.0]], "floating-point"),
])
def test_log_prob_rejects_bad_input_clearly(x, message):
    with pytest.raises(ValueError, match=message):
        Flow(Affine(2), StandardNormal(2)).log_prob(x)


def test_show_renders_library_source():
    md = flowlib.show(flowlib.Flow)
    assert md.data.startswith("```python\nclass Flow") and "def log_prob" in md.data
    with pytest.raises(ValueError, match="needs a class, function or method"):
        flowlib.show(3)


def test_gaussian_mixture_matches_torch_and_samples_centers_plus_noise():
    from torch import distributions as D
    torch.manual_seed(0)
    gm = flowlib.GaussianMixture(3, 2).double()
    with torch.no_grad():
        gm.logits.normal_()
        gm.log_scales.normal_(0, 0.3)
    x = torch.randn(10, 2, dtype=torch.float64)
    ref = D.MixtureSameFamily(D.Categorical(logits=gm.logits),
                              D.Independent(D.Normal(gm.means, gm.log_scales.exp()), 1))
    torch.testing.assert_close(gm.log_prob(x), ref.log_prob(x))
    with torch.no_grad():
        gm.log_scales.fill_(-6.0)  # tiny noise: every sample sits on a stored mean
        s = gm.sample(100)
    assert torch.cdist(s, gm.means).min(1).values.max() < 0.02
    with pytest.raises(ValueError, match="expected x with 2 values per sample"):
        gm.log_prob(torch.zeros(4, 3))
