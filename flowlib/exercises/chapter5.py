"""Checkers for chapter 5's exercises."""

import math

import torch

from ._base import _checker, _number, _one_per_sample, _result, _verdict


@_checker
def check_bits_per_dim(bits_per_dim):
    """Chapter 5: ``bits_per_dim(log_p, dims, levels)`` turns log-densities on the unit
    cube (nats) into the bits/dim bound of each sample."""
    log_p = torch.tensor([0.0, 100.0, -250.0], dtype=torch.float64)
    for dims, levels in ((784, 256), (64, 16), (3, 2)):
        got = _result(bits_per_dim(log_p.clone(), dims, levels),
                      f"bits_per_dim(log_p, {dims}, {levels})")
        want = -log_p / (dims * math.log(2)) + math.log2(levels)
        _one_per_sample(got, want)
        _verdict(torch.allclose(got, want), f"with dims={dims}, levels={levels} "
                 f"you return {got.tolist()}, expected {want.tolist()} (a density "
                 f"of 1 on the cube costs log2(levels) bits/dim)")
    print("Correct: a density of 1 on the cube costs log2(levels) bits per dimension.")


@_checker
def check_logit_log_det(logit_log_det):
    """Chapter 5: ``logit_log_det(y, eps)``, log|dv/dy| of the logit preprocessing
    ``v = logit(eps + (1 - 2 eps) y)``, summed over dimension 1."""
    from ..elementwise import Sigmoid
    y = torch.rand(6, 5, generator=torch.Generator().manual_seed(0),
                   dtype=torch.float64)
    y[0, 0], y[1, 1] = 0.0, 1.0
    for eps in (0.05, 0.2):
        got = _result(logit_log_det(y.clone(), eps), f"logit_log_det(y, {eps})")
        want = Sigmoid(eps).inv(y)[1]
        _one_per_sample(got, want)
        _verdict(torch.allclose(got, want), f"with eps={eps} the first rows give "
                 f"{got[:3].tolist()}, expected {want[:3].tolist()}")
    print("Correct: each coordinate adds log((1 - 2 eps) / (s (1 - s))).")


@_checker
def check_jensen_gap(jensen_gap):
    """Chapter 5: the Jensen gap of uniform dequantization for ``p(y) = a e^{-a y}``,
    checked against quadrature over the cell of x = 3."""
    t, w = (torch.as_tensor(v) for v in _legendre(64))
    for a in (0.1, 1.0, 5.0):
        log_p = math.log(a) - a * (3 + t)
        want = math.log((w * log_p.exp()).sum()) - (w * log_p).sum().item()
        got = _number(jensen_gap(a), f"jensen_gap({a})")
        _verdict(abs(got - want) < 1e-6, f"jensen_gap({a}) returns {got:.6f}, "
                 f"expected {want:.6f} (log P(x) - E_u log p(x + u))")
    print("Correct: the gap is log(1 - e^-a) - log a + a/2 in every cell.")


def _legendre(n):
    """Gauss-Legendre nodes and weights on [0, 1], weights summing to one."""
    import numpy as np
    t, w = np.polynomial.legendre.leggauss(n)
    return (t + 1) / 2, w / 2


@_checker
def check_iw_bound(iw_bound):
    """Chapter 5: ``iw_bound(log_w)``, the log of the mean weight over dimension 0."""
    log_w = torch.randn(8, 5, generator=torch.Generator().manual_seed(0),
                        dtype=torch.float64)
    for shift in (0.0, -1000.0, 1000.0):
        got = _result(iw_bound(log_w + shift), f"iw_bound(log_w {shift:+g})")
        want = log_w.exp().mean(0).log() + shift
        _one_per_sample(got, want)
        _verdict(torch.allclose(got, want), f"with log-weights near {shift:g} you "
                 f"return {got[:3].tolist()}, expected {want[:3].tolist()}")
    print("Correct: a logsumexp minus log M, finite whatever the weights' scale.")


@_checker
def check_cell_probability(cell_probability):
    """Chapter 5: the mass of a diagonal 2-D Gaussian on cell (i, j) of a grid,
    checked against quadrature of its density over the cell."""
    t, w = (torch.as_tensor(v) for v in _legendre(48))
    mean = torch.tensor([0.4, 0.6], dtype=torch.float64)
    std = torch.tensor([0.1, 0.03], dtype=torch.float64)
    for i, j, levels in ((6, 9, 16), (3, 9, 16), (1, 2, 4)):
        got = _number(cell_probability(mean.clone(), std.clone(), i, j, levels),
                      f"cell_probability(mean, std, {i}, {j}, {levels})")
        pdf = [torch.distributions.Normal(m, s).log_prob((k + t) / levels).exp()
               for m, s, k in zip(mean, std, (i, j))]
        want = ((w * pdf[0]).sum() * (w * pdf[1]).sum()).item() / levels**2
        _verdict(abs(got - want) < 1e-7 + 1e-5 * want,
                 f"cell ({i}, {j}) of a {levels}x{levels} grid: you return {got:.6g}, "
                 f"expected {want:.6g}")
    print("Correct: independent coordinates, so a product of two CDF differences.")
