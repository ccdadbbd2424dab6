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


SPLINE = scalar.rational_quadratic_spline


def _spline_params(k, n, scale, seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    return (scale * torch.randn(n, 3 * k - 1, generator=g)).to(dtype)


@pytest.mark.parametrize("k", [1, 2, 8, 64])
@pytest.mark.parametrize("scale", [0.5, 3.0, 10.0])
def test_spline_round_trip_in_float32_across_bins_and_tails(k, scale):
    params = _spline_params(k, 4000, scale)
    x = torch.linspace(-6, 6, 4000)            # inside [-4, 4] and in both tails
    y, ladj = SPLINE(x, params)
    back, ladj_back = SPLINE.inverse(y, params)
    # where the spline is nearly flat, a rounding of y (or of a knot) moves x by
    # ulp / slope: the round trip is exact to 1e-5 wherever the slope is 0.5 or more,
    # and f(inverse(y)) to 1e-5 everywhere
    steep = ladj > math.log(0.5)
    assert steep.float().mean() > 0.3
    assert (back - x)[steep].abs().max() <= 1e-5
    y_again, ladj_again = SPLINE(back, params)
    assert (y_again - y).abs().max() <= 1e-5
    # in a bin of width 0.008, rounding x_k moves xi by 3e-5: log-slopes agree to 1e-3
    assert (ladj_again + ladj_back)[steep].abs().max() <= 1e-3
    one = params[:1].expand_as(params)         # one spline over the whole range
    assert (SPLINE(x, one)[0].diff() >= 0).all()   # flat to float32 in places
    tails = x.abs() >= 4
    assert torch.equal(y[tails], x[tails]) and (ladj[tails] == 0).all()


def test_spline_at_its_knots_and_edges():
    k = 5
    params = _spline_params(k, 1, 2.0, dtype=torch.float64).expand(k + 1, -1)
    size = lambda raw: scalar.MIN_BIN + (1 - scalar.MIN_BIN * k) * raw.softmax(-1)
    knots = [8 * torch.cat([torch.zeros(1, **F64), size(raw).cumsum(0)]) - 4
             for raw in (params[0, :k], params[0, k:2 * k])]
    y, _ = SPLINE(knots[0], params)            # each knot lands on its knot
    torch.testing.assert_close(y[:k], knots[1][:k], atol=1e-9, rtol=0)
    back, _ = SPLINE.inverse(knots[1][:k].contiguous(), params[:k])
    torch.testing.assert_close(back, knots[0][:k], atol=1e-9, rtol=0)
    # the derivative at the outer knots is 1, where the identity tails take over
    x = torch.tensor([4 - 1e-9, -4 + 1e-9], **F64, requires_grad=True)
    y, ladj = SPLINE(x, params[:2])
    assert ladj.abs().max() < 1e-6
    derivative = torch.autograd.grad(y.sum(), x)[0]
    torch.testing.assert_close(derivative, torch.ones(2, **F64), atol=1e-6, rtol=0)


def test_spline_is_the_identity_at_zero_parameters_and_finite_at_extremes():
    x = torch.linspace(-5, 5, 101)
    y, ladj = SPLINE(x, torch.zeros(101, 3 * 6 - 1))
    torch.testing.assert_close(y, x)
    assert ladj.abs().max() < 1e-5
    for value in (-80.0, 80.0):                 # bins and slopes at their floors/ceilings
        y, ladj = SPLINE(x, torch.full((101, 17), value))
        back, _ = SPLINE.inverse(y, torch.full((101, 17), value))
        assert torch.isfinite(y).all() and torch.isfinite(ladj).all()
        assert (back - x).abs().max() < 1e-4


@pytest.mark.parametrize("transform, n", [
    (scalar.dsf, 12), (scalar.logistic_mixture_affine, 14),
    (scalar.ddsf(units=4, layers=3), scalar.ddsf(units=4, layers=3).n_params)])
def test_sigmoidal_transforms_are_increasing_and_invert_by_bisection(transform, n):
    g = torch.Generator().manual_seed(3)
    params = 2 * torch.randn(1, n, generator=g, **F64).expand(400, -1)
    x = torch.linspace(-30, 30, 400, **F64)
    y, ladj = transform(x, params)
    assert (y.diff() > 0).all() and torch.isfinite(ladj).all()
    back, ladj_back = scalar.invert(transform, y, params, -100.0, 100.0)
    assert (back - x).abs().max() < 1e-8
    assert (ladj + ladj_back).abs().max() < 1e-8
    # extreme parameters stay finite: soft-clamped scales, log-space logits
    y, ladj = transform(x, torch.full((400, n), 50.0, **F64))
    assert torch.isfinite(y).all() and torch.isfinite(ladj).all()


def test_ddsf_counts_its_parameters_and_dsf_is_its_one_layer_core():
    # layer 1: log a, b, W (units x units), its U (units x 1) is all ones; layer 2:
    # U (units x units), log a, b, W (1 x units): (2L - 2) u^2 + (2L + 1) u in all
    assert scalar.ddsf(units=4, layers=2).n_params == (4 + 4 + 16) + (16 + 4 + 4 + 4)
    assert scalar.ddsf(units=5, layers=1).n_params == 3 * 5
    assert scalar.ddsf(units=3, layers=4).n_params == 6 * 9 + 9 * 3
    # one layer is a DSF: the same map, its parameters in another order
    params = torch.randn(7, 15, **F64)
    x = torch.randn(7, **F64)
    log_a, b, raw_w = params.split(5, -1)
    as_dsf = torch.cat([raw_w, -(b + 2 * torch.linspace(-1, 1, 5, **F64))
                        * torch.exp(-scalar.soft_clamp(log_a)), -log_a], -1)
    torch.testing.assert_close(scalar.ddsf(units=5, layers=1)(x, params),
                               scalar.dsf(x, as_dsf - torch.cat(
                                   [torch.zeros(5, **F64), torch.linspace(-1, 1, 5, **F64),
                                    torch.zeros(5, **F64)])))


def test_invert_widens_its_bracket_for_roots_outside_it():
    # scales of e^7: the transform's range on [-100, 100] is a narrow band around 0
    params = torch.tensor([[0.0, 0.0, 7.0, 7.0, 7.0, 7.0]], **F64).expand(3, -1)
    x = torch.tensor([-5e3, 20.0, 4e4], **F64)
    y, _ = scalar.dsf(x, params)
    assert scalar.dsf(torch.full((3,), 100.0, **F64), params)[0].max() < y.max()
    back, _ = scalar.invert(scalar.dsf, y, params, -100.0, 100.0)
    torch.testing.assert_close(back, x, rtol=1e-9, atol=1e-9)


def test_invert_warns_and_clamps_where_no_root_is_within_reach():
    params = torch.zeros(2, 6, **F64)               # a logistic mixture CDF: onto (0, 1)
    y = torch.tensor([0.5, 1.5], **F64)              # 1.5 has no root at all
    with pytest.warns(scalar.NotConverged, match="1 values have no root"):
        x, _ = scalar.invert(scalar.logistic_mixture_cdf, y, params, -10.0, 10.0)
    assert abs(x[0].item()) < 1e-6 and 30 < x[1].item() < math.inf  # where F rounds to 1


def test_mixture_cdf_inverse_rejects_values_outside_its_range():
    with pytest.raises(ValueError, match=r"z must lie in \(0, 1\)"):
        flowlib.MixtureCDF(2).inverse(torch.tensor([[0.5, 1.5]]))


def test_contracting_affine_inverts_with_any_stretch_limit():
    torch.manual_seed(0)
    x, params = torch.randn(50), 2 * torch.randn(50, 2)
    for expand in (0.1, 0.3, 1.0):
        y, ladj = scalar.contracting_affine(x, params, expand)
        x_back, ladj_inv = scalar.contracting_affine.inverse(y, params, expand)
        torch.testing.assert_close(x_back, x)
        torch.testing.assert_close(ladj_inv, -ladj)
