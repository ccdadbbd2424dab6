"""Checkers for chapter 6's exercises."""

import torch

from ._base import _checker, _number, _one_per_sample, _result, _verdict


def _rq_bins(g, n=200):
    """Random rational-quadratic bins: x_k, y_k, w, h, d0, d1 (float64)."""
    u = lambda lo, hi: lo + (hi - lo) * torch.rand(n, generator=g, dtype=torch.float64)
    return u(-3, 3), u(-3, 3), u(0.05, 2), u(0.05, 2), u(0.01, 5), u(0.01, 5)


def _rq_forward(x, x_k, y_k, w, h, d0, d1):
    xi, s = (x - x_k) / w, h / w
    between = xi * (1 - xi)
    denominator = s + (d0 + d1 - 2 * s) * between
    y = y_k + h * (s * xi**2 + d0 * between) / denominator
    slope = s**2 * (d1 * xi**2 + 2 * s * between + d0 * (1 - xi)**2) / denominator**2
    return y, slope


@_checker
def check_rq_derivative(derivative):
    """Chapter 6: ``derivative(xi, s, d0, d1)`` is dy/dx of a rational-quadratic bin
    at position ``xi`` in [0, 1], for bin slope ``s = h / w`` and end derivatives
    ``d0``, ``d1``."""
    g = torch.Generator().manual_seed(61)
    x_k, y_k, w, h, d0, d1 = _rq_bins(g)
    xi = torch.rand(200, generator=g, dtype=torch.float64)
    got = _result(derivative(xi.clone(), h / w, d0.clone(), d1.clone()))
    want = _rq_forward(x_k + xi * w, x_k, y_k, w, h, d0, d1)[1]
    _one_per_sample(got, want)
    ends = _result(derivative(torch.tensor([0.0, 1.0], dtype=torch.float64),
                              torch.tensor([0.7, 0.7], dtype=torch.float64),
                              torch.tensor([2.0, 2.0], dtype=torch.float64),
                              torch.tensor([0.3, 0.3], dtype=torch.float64)))
    _verdict(torch.allclose(ends, torch.tensor([2.0, 0.3], dtype=torch.float64)),
             f"at xi = 0 and 1 the derivative must equal d0 = 2 and d1 = 0.3, you "
             f"return {ends.tolist()}")
    err = (got - want).abs().max().item()
    _verdict(err < 1e-9, f"off by up to {err:.3g}; e.g. at xi = {xi[0].item():.3f}, "
             f"s = {(h / w)[0].item():.3f} you return {got[0].item():.5f}, expected "
             f"{want[0].item():.5f} (differentiate the ratio, then divide by w)")
    print("Correct: the derivative is s^2 (d1 xi^2 + 2 s xi(1-xi) + d0 (1-xi)^2) / "
          "(s + (d0 + d1 - 2s) xi(1-xi))^2, positive whenever s, d0, d1 are.")


@_checker
def check_rq_inverse(invert_bin):
    """Chapter 6: ``invert_bin(y, x_k, y_k, w, h, d0, d1)`` returns the x in the bin
    ``[x_k, x_k + w]`` that the rational-quadratic bin maps to ``y``."""
    g = torch.Generator().manual_seed(62)
    bins = _rq_bins(g)
    x_k, _, w = bins[:3]
    x = x_k + torch.rand(200, generator=g, dtype=torch.float64) * w
    y = _rq_forward(x, *bins)[0]
    got = _result(invert_bin(y.clone(), *(b.clone() for b in bins)))
    _one_per_sample(got, x)
    err = (got - x).abs().max().item()
    _verdict(err < 1e-8, f"off by up to {err:.3g}; e.g. for y = {y[0].item():.4f} you "
             f"return {got[0].item():.6f}, expected {x[0].item():.6f} (multiply out "
             "the denominator: a quadratic in xi; which root lies in [0, 1]?)")
    print("Correct: the bin inverts in closed form, one quadratic per value, no "
          "iterations.")


@_checker
def check_dsf_derivative(derivative):
    """Chapter 6: ``derivative(x, w, a, b)`` is dy/dx of the one-layer sigmoidal flow
    ``y = logit(sum_j w_j sigmoid(a_j x + b_j))``; ``w``, ``a``, ``b`` have shape
    ``(K,)`` and ``x`` shape ``(n,)``."""
    g = torch.Generator().manual_seed(63)
    x = 3 * torch.randn(50, generator=g, dtype=torch.float64)
    for k in (1, 4):
        w = torch.rand(k, generator=g, dtype=torch.float64) + 0.1
        w = w / w.sum()
        a = torch.rand(k, generator=g, dtype=torch.float64) * 2 + 0.1
        b = torch.randn(k, generator=g, dtype=torch.float64)
        xg = x.clone().requires_grad_()
        y = torch.logit((w * torch.sigmoid(a * xg[:, None] + b)).sum(-1))
        want = torch.autograd.grad(y.sum(), xg)[0]
        got = _result(derivative(x.clone(), w.clone(), a.clone(), b.clone()))
        _one_per_sample(got, want)
        err = ((got - want).abs() / want).max().item()
        _verdict(err < 1e-8, f"with K = {k}, your derivative is off by up to "
                 f"{100 * err:.2g}%; the chain rule has a logit, a sum and sigmoids")
    print("Correct: dy/dx = sum_j w_j a_j s_j (1 - s_j) / (c (1 - c)), every term "
          "positive when w_j > 0 and a_j > 0: the map is increasing.")


@_checker
def check_spline_parameters(count):
    """Chapter 6: ``count(bins, features)`` is the number of values a coupling layer's
    conditioner outputs to drive rational-quadratic splines with identity tails on
    ``features`` transformed coordinates."""
    for bins, features in ((1, 1), (4, 1), (8, 392), (16, 3)):
        got = _number(count(bins, features), f"count({bins}, {features})")
        want = (3 * bins - 1) * features
        _verdict(got == want, f"count({bins}, {features}) = {got:g}, expected "
                 f"{want}; per coordinate: widths, heights, and the derivatives at "
                 "the inner knots only")
    print("Correct: 3K - 1 per coordinate: K widths, K heights, K - 1 inner "
          "derivatives (the outer two are 1, to meet the tails).")
