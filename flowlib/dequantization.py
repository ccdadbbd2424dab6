"""Dequantization: a density on the cube as a model of integers, and its bound.

Pixels are integers ``x`` in ``0..levels-1``; a flow is a density, which could pile
up on the integers without limit. So the flow models ``y = (x + u) / levels``, with
noise ``u`` in ``[0, 1)^D`` drawn from ``q(u | x)``. The probability of ``x`` is the
density's mass on its cell, ``P(x) = levels^-D E_q[p(y) / q(u | x)]``, and by
Jensen's inequality

    log P(x) >= E_q[log p(y) - log q(u | x)] - D log levels.

Uniform noise (``noise=None``) has ``log q = 0``. A learned ``q``, a flow on the cube
that sees ``x`` (``Variational``, as in Flow++), can put the noise where the density
is within each cell, which tightens the bound. With ``samples`` M the log of the mean
of M weights ``levels^-D p(y) / q`` is a tighter bound still, and reaches ``log P(x)``
as M grows. ``log_bound`` computes all of these, ``bits_per_dim`` turns them into bits,
and ``Dequantized`` pairs a flow with its noise for training.

>>> import torch
>>> uniform = lambda y: torch.zeros(len(y))          # the density 1 on the cube
>>> bits_per_dim(uniform, torch.randint(0, 256, (5, 3)))
8.0
"""

import math

import torch
from torch import nn

from .metrics import _log_prob


def dequantize(x, levels=256):
    """Uniform dequantization: integers ``x`` in ``0..levels-1`` (such as uint8
    pixels) become ``y = (x + u) / levels`` in [0, 1), with fresh noise ``u ~ U[0, 1)``
    per value at every call. Fitting a density to ``y`` maximizes the bound of
    ``bits_per_dim``.
    """
    x = _integers(x, levels)
    return _inside((x + torch.rand_like(x)) / levels)


def _inside(y):
    """``y`` kept inside the open cube, where a logit is finite: ``torch.rand`` can
    return 0, and float32 rounds 15 + 0.99999997 to 16 (``u`` from a sigmoid, too)."""
    edge = torch.finfo(y.dtype).eps / 2
    return y.clamp(edge, 1 - edge)


def _integers(x, levels):
    x = x if x.is_floating_point() else x.float()
    if not ((x >= 0) & (x < levels) & (x == x.round())).all():
        raise ValueError(f"expected integer values in 0..{levels - 1}, "
                         "e.g. uint8 pixels")
    return x


def log_bound(model, x, noise=None, levels=256, samples=1):
    """A lower bound on ``log P(x)`` for each integer sample in ``x``, in nats.

    ``model`` is a density on ``[0, 1)^D`` (a ``Flow``, or a log-density function);
    ``noise(x)`` returns ``(u, log_q)``, a draw of ``u`` in ``[0, 1)^D`` from
    ``q(u | x)`` and its log-density per sample (``None``: uniform, ``log_q = 0``). The
    bound is importance-weighted over ``samples`` draws.
    """
    x = _integers(x, levels)
    dims = x[0].numel()

    def log_weight():
        u, log_q = (torch.rand_like(x), 0.0) if noise is None else noise(x)
        y = _inside((x + u) / levels)
        return _log_prob(model, y) - log_q - dims * math.log(levels)

    log_w = torch.stack([log_weight() for _ in range(samples)])
    return torch.logsumexp(log_w, 0) - math.log(samples)


def bits_per_dim(model, x, levels=256, per_sample=False, samples=1, noise=None):
    """An upper bound on the bits per dimension of integers ``x`` under ``model``.

    The negative of ``log_bound`` (same arguments), divided by ``D ln 2``: a model that
    is uniform on the cube gives ``log2(levels)``. ``per_sample=True`` returns each
    sample's bound, a tensor whose mean is the bound on the data set.
    """
    with torch.no_grad():
        bound = log_bound(model, x, noise, levels, samples)
    bits = -bound / (x[0].numel() * math.log(2))
    return bits if per_sample else bits.mean().item()


class Variational(nn.Module):
    """Learned noise ``q(u | x)``: a conditional flow on the cube that sees ``x``.

    ``flow`` is a ``Flow`` whose samples lie in ``(0, 1)^D`` (its bijector starts with
    a logit, ``Sigmoid().inv``) and whose layers take ``context``: here ``x`` scaled
    to ``[-0.5, 0.5]`` (``context(x)``; override it to show the flow something
    else). Calling it draws ``u`` and returns ``(u, log q(u | x))``.
    """

    def __init__(self, flow, levels=256):
        super().__init__()
        self.flow, self.levels = flow, levels

    def context(self, x):
        """What the noise flow sees of ``x``."""
        return x / (self.levels - 1) - 0.5

    def forward(self, x):
        return self.flow.sample_and_log_prob(len(x), self.context(x))


class Dequantized(nn.Module):
    """A model of integers: a density ``flow`` on the cube and its ``noise`` (``None``
    for uniform), trained together by ``forward_kl``, the negative mean bound."""

    def __init__(self, flow, noise=None, levels=256):
        super().__init__()
        self.flow, self.noise, self.levels = flow, noise, levels

    def log_prob(self, x, samples=1):
        """``log_bound`` of each sample: a stochastic lower bound on ``log P(x)``."""
        return log_bound(self.flow, x, self.noise, self.levels, samples)

    def forward_kl(self, x):
        return -self.log_prob(x).mean()
