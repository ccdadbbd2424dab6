"""Checkers for chapter 2's exercises."""

import math

import torch

from .. import scalar
from ._base import _checker, _number, _result, _verdict


def _ar2d_maps():
    """Two scalar maps of a 2-D autoregressive flow with uniform base, made of mixture
    CDFs."""
    g = torch.Generator().manual_seed(2)
    p1, w, b = torch.randn(9, generator=g, dtype=torch.float64), \
        torch.randn(9, generator=g, dtype=torch.float64), \
        torch.randn(9, generator=g, dtype=torch.float64)
    f1 = lambda x1: scalar.gaussian_mixture_cdf(x1, p1.expand(len(x1), 9))
    f2 = lambda x2, x1: scalar.gaussian_mixture_cdf(x2, torch.tanh(x1[:, None] * w + b))
    return f1, f2


@_checker
def check_ar2d_log_density(log_density):
    """Chapter 2: ``log_density(x, f1, f2)`` is the log-density of the 2-D
    autoregressive flow ``z1 = f1(x1)``, ``z2 = f2(x2, x1)`` with a uniform base (each
    map returns ``(z, log-derivative)``)."""
    f1, f2 = _ar2d_maps()
    x = torch.randn(50, 2, generator=torch.Generator().manual_seed(3),
                    dtype=torch.float64) * 1.5
    want = f1(x[:, 0])[1] + f2(x[:, 1], x[:, 0])[1]
    got = _result(log_density(x, f1, f2))
    _verdict(got.shape == (50,),
             f"expected one value per row of x, shape (50,), got {tuple(got.shape)}")
    _verdict(torch.allclose(got, want),
             f"at x = {x[0].tolist()} you return {got[0].item():.4f}, expected "
             f"{want[0].item():.4f}: the log-determinant of a triangular Jacobian "
             "is the sum of its diagonal log-derivatives")
    print("Correct: log p(x) = log F1'(x1) + log F2'(x2; x1) with a uniform base.")


@_checker
def check_ar2d_sampling(sample):
    """Chapter 2: ``sample(z, invert1, invert2)`` turns uniform ``z`` (n, 2) into data
    by inverting ``z1 = f1(x1)`` and then ``z2 = f2(x2, x1)``."""
    f1, f2 = _ar2d_maps()
    invert1 = lambda z1: scalar.bisect(lambda x: f1(x)[0], z1, -60.0, 60.0)
    invert2 = lambda z2, x1: scalar.bisect(lambda x: f2(x, x1)[0], z2, -60.0, 60.0)
    z = 0.02 + 0.96 * torch.rand(50, 2, generator=torch.Generator().manual_seed(4),
                                 dtype=torch.float64)
    x = _result(sample(z, invert1, invert2))
    _verdict(x.shape == (50, 2),
             f"expected samples of shape (50, 2), got {tuple(x.shape)}")
    z_back = torch.stack([f1(x[:, 0])[0], f2(x[:, 1], x[:, 0])[0]], 1)
    err = (z_back - z).abs().max().item()
    _verdict(err < 1e-6,
             f"mapping your samples forward does not give z back (off by {err:.2g}); "
             "is x2 inverted with the parameters of x1, which must come first?")
    print("Correct: x1 = F1^-1(z1) first, then x2 = F2^-1(z2; x1).")


@_checker
def check_triangular_log_det(log_det):
    """Chapter 2: ``log_det(bijector, x)`` is log|det J| of the bijector's forward map
    at one point ``x`` of shape ``(2,)``, from the diagonal of its autograd
    Jacobian."""
    from ..autoregressive import Autoregressive
    from ..testing import randomize
    g = torch.Generator().manual_seed(8)
    for transform, n_params in ((scalar.affine, 2), (scalar.gaussian_mixture_cdf, 9)):
        layer = randomize(Autoregressive(2, transform, n_params, hidden=(8,)), 0.5, g)
        layer = layer.double()
        for x in 0.5 * torch.randn(3, 2, generator=g, dtype=torch.float64):
            got = _number(log_det(layer, x.clone()), "log_det")
            want = layer(x[None])[1][0].item()
            _verdict(math.isclose(got, want, rel_tol=1e-6, abs_tol=1e-9),
                     f"at x = {x.tolist()} you return {got:.6f}, but log|det J| is "
                     f"{want:.6f}; what does a triangular Jacobian's determinant need?")
    print("Correct: for a triangular Jacobian, log|det J| is the sum over its "
          "diagonal.")


@_checker
def check_uniform_moment_error(moment_error):
    """Chapter 2: ``moment_error(z)`` is the largest distance, over the columns of ``z``
    (shape ``(n, D)``), of a column's mean from 1/2 or of its standard deviation from
    1/sqrt(12), the moments of Uniform(0, 1)."""
    g = torch.Generator().manual_seed(9)
    u = torch.rand(20_000, 2, generator=g, dtype=torch.float64)
    cases = {"uniform": u, "shifted": u * torch.tensor([1.0, 0.9]) + 0.05,
             "squeezed": 0.5 + 0.5 * (u - 0.5)}
    for name, z in cases.items():
        want = max((z.mean(0) - 0.5).abs().max().item(),
                   (z.std(0) - 12 ** -0.5).abs().max().item())
        got = _number(moment_error(z.clone()), "moment_error")
        _verdict(abs(got - want) < 1e-4,
                 f"for {name} latents you return {got:.4f}, expected {want:.4f}: the "
                 "largest distance of any coordinate's mean or standard deviation from "
                 "its ideal value")
    print("Correct: both moments of every coordinate, against those of Uniform(0, 1).")
