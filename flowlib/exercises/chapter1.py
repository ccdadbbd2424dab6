"""Checkers for chapter 1's exercises."""

import math

import torch

from .. import scalar
from ._base import _checker, _number, _result, _verdict


@_checker
def check_scaled_uniform_density(density):
    """Chapter 1: ``density(y)`` is the density of Y = 2X for X ~ Uniform(0, 1)."""
    y = torch.tensor([-0.5, 0.1, 0.7, 1.0, 1.5, 1.9, 2.5], dtype=torch.float64)
    got = _result(density(y))
    want = torch.where((y >= 0) & (y <= 2), 0.5, 0.0).double()
    _verdict(got.shape == y.shape,
             f"density(y) should return one value per y, got shape {tuple(got.shape)}")
    _verdict(torch.allclose(got, want),
             f"at y = {y.tolist()} you return {got.tolist()}, "
             f"expected {want.tolist()}; the support doubled, so the height must halve")
    print("Correct: p_Y(y) = 1/2 on [0, 2] and 0 elsewhere, so it integrates to 1.")


@_checker
def check_flow_log_likelihood(log_likelihood):
    """Chapter 1: ``log_likelihood(x, f, df, base_log_prob)`` is the log-density of a
    1-D flow.

    ``f`` maps data to latent, ``df`` is its derivative, ``base_log_prob`` the
    log-density of z.
    """
    x = torch.linspace(-3, 3, 13, dtype=torch.float64)
    cases = {  # f, df, base log-density
        "sinh with a normal base": (
            torch.sinh, torch.cosh,
            lambda z: -0.5 * z**2 - 0.5 * math.log(2 * math.pi)),
        "a decreasing affine map with a logistic base": (
            lambda x: 1 - 2 * x, lambda x: -2 * torch.ones_like(x),
            lambda z: -z - 2 * torch.nn.functional.softplus(-z)),
    }
    for name, (f, df, base) in cases.items():
        want = base(f(x)) + torch.log(torch.abs(df(x)))
        got = _result(log_likelihood(x, f, df, base))
        _verdict(got.shape == x.shape,
                 f"{name}: expected one value per x, got shape {tuple(got.shape)}")
        _verdict(torch.allclose(got, want),
                 f"{name}: at x = {x[0].item()} you return {got[0].item():.4f}, "
                 f"expected {want[0].item():.4f} (do you take |f'(x)|?)")
    print("Correct: log p(x) = log p_Z(f(x)) + log |f'(x)|, also for a decreasing f.")


@_checker
def check_bisection(invert_cdf, tol=1e-6):
    """Chapter 1: ``invert_cdf(y, params)`` inverts ``scalar.gaussian_mixture_cdf`` to
    ``tol``."""
    g = torch.Generator().manual_seed(1)
    params = torch.randn(200, 9, generator=g, dtype=torch.float64)
    y = torch.rand(200, generator=g, dtype=torch.float64) * 0.98 + 0.01
    x = _result(invert_cdf(y, params))
    _verdict(x.shape == y.shape, f"expected one x per y, got shape {tuple(x.shape)}")
    want = scalar.bisect(lambda x: scalar.gaussian_mixture_cdf(x, params)[0], y,
                         -100.0, 100.0)
    err = (x - want).abs().max().item()
    _verdict(err <= tol,
             f"your inverse is off by up to {err:.2g} (tolerance {tol:g}); "
             f"for example F({x[0].item():.4f}) should be y = {y[0].item():.4f}")
    print(f"Correct: your inverse agrees with bisection to {err:.1g}.")


@_checker
def check_best_affine(best_affine):
    """Chapter 1: ``best_affine(x)`` gives the ``(loc, scale)`` of the
    maximum-likelihood affine flow ``z = (x - loc) / scale`` with a standard-normal
    base, for a 1-D ``x``."""
    g = torch.Generator().manual_seed(4)
    for n in (3, 10, 1000):
        u = torch.rand(n, generator=g, dtype=torch.float64)
        x = -2 * torch.log(-torch.log(u))             # skewed (Gumbel) data
        pair = _result(best_affine(x.clone()), "best_affine(x)").flatten()
        _verdict(len(pair) == 2,
                 f"best_affine(x) should return (loc, scale), got {pair}")
        got = tuple(pair.tolist())
        want = (x.mean().item(), x.std(correction=0).item())
        _verdict(len(got) == 2 and all(math.isclose(a, b, rel_tol=1e-5, abs_tol=1e-6)
                                       for a, b in zip(got, want)),
                 f"for {n} points you return (loc, scale) = {got}; the likelihood is "
                 f"highest at {want}. Set its derivatives in loc and scale to zero.")
    print("Correct: the best affine flow has the data's mean and (1/n) standard "
          "deviation.")


@_checker
def check_non_monotone_mass(total):
    """Chapter 1: ``total`` is the integral of ``N(x^3 - 3x; 0, 1) |3x^2 - 3|`` over the
    line."""
    normal = torch.distributions.Normal(0.0, 1.0)
    inside = (normal.cdf(torch.tensor(2.0)) - normal.cdf(torch.tensor(-2.0))).item()
    want = 1 + 2 * inside
    total = _number(total, "total")
    error = total - want
    _verdict(abs(error) < 1e-3,
             f"your total is too {'large' if error > 0 else 'small'} (is your grid "
             "wide and fine enough, and do you take |f'(x)|?)")
    print(f"Correct: q integrates to 1 + 2 P(|Z| < 2) = {want:.4f}, so it is no "
          "density.")
