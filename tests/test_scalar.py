import math
import warnings

import pytest
import torch
from torch import distributions as D

import flowlib
from flowlib import scalar

F64 = dict(dtype=torch.float64)


def _params(k=4, n=50, seed=0):
    return torch.randn(n, 3 * k, generator=torch.Generator().manual_seed(seed), **F64)


@pytest.mark.parametrize("transform, component", [(scalar.gaussian_mixture_cdf, D.Normal),
                                                  (scalar.logistic_mixture_cdf, "logistic")])
def test_mixture_cdfs_match_torch_distributions(transform, component):
    params = _params()
    x = torch.randn(50, **F64) * 3
    logits, loc, log_scale = params.chunk(3, -1)
    scale = scalar.soft_clamp(log_scale).exp()
    if component == "logistic":  # logistic(loc, scale) = loc + scale * logit(U)
        base = D.TransformedDistribution(D.Uniform(torch.zeros_like(loc), torch.ones_like(loc)),
                                         [D.SigmoidTransform().inv, D.AffineTransform(loc, scale)])
        comp_cdf = torch.sigmoid((x[:, None] - loc) / scale)
    else:
        base = D.Normal(loc, scale)
        comp_cdf = base.cdf(x[:, None])
    mixture = D.MixtureSameFamily(D.Categorical(logits=logits), D.Independent(base, 0))
    y, ladj = transform(x, params)
    torch.testing.assert_close(y, (logits.softmax(-1) * comp_cdf).sum(-1))
    torch.testing.assert_close(ladj, mixture.log_prob(x))


def test_bisect_reaches_its_tolerance_in_the_predicted_number_of_steps():
    params = _params()
    f = lambda x: scalar.gaussian_mixture_cdf(x, params)[0]
    y = torch.rand(50, **F64) * 0.9 + 0.05
    calls = []
    counted = lambda x: calls.append(1) or f(x)
    x = scalar.bisect(counted, y, -50.0, 50.0, tol=1e-9)
    assert len(calls) - 2 == math.ceil(math.log2(100 / 1e-9))  # two calls check the bracket
    assert (f(x) - y).abs().max() < 1e-8


def test_bisect_warns_when_capped_and_rejects_unbracketed_values():
    f = torch.sigmoid
    with pytest.warns(scalar.NotConverged, match="after max_iter=5 iterations"):
        x = scalar.bisect(f, torch.tensor([0.3], **F64), -10.0, 10.0, max_iter=5)
    assert (x - torch.logit(torch.tensor([0.3], **F64))).abs() < 20 / 2**5
    with pytest.raises(ValueError, match="outside the range"):
        scalar.bisect(f, torch.tensor([0.3, 1.5]), -10.0, 10.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scalar.bisect(f, torch.tensor([0.3]), -10.0, 10.0)  # the default cap is enough


def test_invert_has_the_gradients_of_the_inverse_function():
    params = _params(k=3, n=6).requires_grad_()
    y = (torch.rand(6, generator=torch.Generator().manual_seed(2), **F64) * 0.9 + 0.05).requires_grad_()
    fn = lambda y, p: scalar.invert(scalar.gaussian_mixture_cdf, y, p, -60.0, 60.0)
    assert torch.autograd.gradcheck(fn, (y, params))


def test_mixture_cdf_bijector_rejects_unknown_components():
    with pytest.raises(ValueError, match="component must be one of"):
        flowlib.MixtureCDF(1, component="cauchy")
    with pytest.raises(ValueError, match="slope > 0"):
        flowlib.LeakyReLU(0.0)


def test_beta_base():
    base = flowlib.Beta(5, 5, 1).double()
    z = torch.tensor([[0.5], [1.2], [-0.1]], **F64)
    lp = base.log_prob(z)
    assert lp[0].item() == pytest.approx(D.Beta(5.0, 5.0).log_prob(torch.tensor(0.5)).item())
    assert torch.isinf(lp[1:]).all()
    s = base.sample(20000)
    assert s.shape == (20000, 1) and abs(s.mean().item() - 0.5) < 0.01


@pytest.mark.parametrize("transform", [scalar.gaussian_mixture_cdf, scalar.logistic_mixture_cdf])
def test_mixture_cdfs_stay_in_the_unit_interval_far_in_the_tails(transform):
    # in float32 the mixture weights can sum to just above 1; a uniform base would then give
    # a point beyond every component log-density -inf (found when chapter 2's full run stopped)
    params = 3 * torch.randn(100_000, 30, generator=torch.Generator().manual_seed(0))
    for x in (1e3, -1e3):
        y, ladj = transform(torch.full((100_000,), x), params)
        assert ((y >= 0) & (y <= 1)).all() and torch.isfinite(ladj).all()


def test_contracting_affine_bounds_the_stretch_and_keeps_affine_near_zero():
    x = torch.randn(1000, **F64)
    params = 20 * torch.randn(1000, 2, generator=torch.Generator().manual_seed(0), **F64)
    y, ladj = scalar.contracting_affine(x, params)
    assert ladj.max() < 0.3 and ladj.min() > -7  # stretch <= e^0.3, shrink <= e^7
    x_back, ladj_inv = scalar.contracting_affine.inverse(y, params)
    torch.testing.assert_close(x_back, x)
    torch.testing.assert_close(ladj_inv, -ladj)
    small = 1e-3 * torch.randn(1000, 2, **F64)  # slope one at zero: affine to first order
    torch.testing.assert_close(scalar.contracting_affine(x, small)[1],
                               scalar.affine(x, small)[1], atol=1e-6, rtol=0)
