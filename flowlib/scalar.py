"""Monotone scalar transforms: plain functions ``(x, params) -> (y, ladj)``.

Each maps every element of ``x`` through an increasing function whose shape is set
by ``params``, a tensor with one extra trailing dimension (the parameters of that
element). ``ladj`` is the log-derivative, elementwise. The same function plugs into
any structure: free parameters (``MixtureCDF``), or parameters computed by a
conditioner network in autoregressive and coupling layers.

A transform with a closed-form inverse carries it as its ``inverse`` attribute
(``affine.inverse``). The others have none: ``bisect`` solves ``f(x) = y`` to a
tolerance, and ``invert`` wraps it so that gradients flow through the solution;
``invert`` uses the closed form when there is one, so callers need not know which.

>>> import torch
>>> params = torch.zeros(1, 6)                      # two equal components at 0, scale 1
>>> y, ladj = gaussian_mixture_cdf(torch.zeros(1), params)
>>> y
tensor([0.5000])
>>> x = bisect(lambda x: gaussian_mixture_cdf(x, params)[0], y, -10.0, 10.0)
>>> x.abs() < 1e-6
tensor([True])
"""

import math
import warnings

import torch
import torch.nn.functional as F


def soft_clamp(x, bound=7.0):
    """Smoothly squash ``x`` into (-bound, bound): keeps log-scales from exploding."""
    return bound * torch.tanh(x / bound)


def affine(x, params):
    """``y = (x - loc) * exp(-log_scale)``: the Gaussian autoregressive step of MAF.

    ``params[..., 2]`` holds ``loc`` and ``log_scale`` (soft-clamped); zeros give the
    identity. Its inverse, ``affine.inverse(y, params) -> (x, ladj)``, is closed-form.
    """
    loc, log_scale = params.unbind(-1)
    log_scale = soft_clamp(log_scale)
    return (x - loc) * torch.exp(-log_scale), -log_scale


def _affine_inverse(y, params):
    loc, log_scale = params.unbind(-1)
    log_scale = soft_clamp(log_scale)
    return loc + torch.exp(log_scale) * y, log_scale


affine.inverse = _affine_inverse


def contracting_affine(x, params, expand=0.3):
    """``affine`` that may shrink a coordinate by up to ``e^7`` but stretch it by at
    most ``e^expand``: log-scales below zero are soft-clamped to ``-expand``.

    Stretches compound through a deep flow: where every training image has the same
    value, the couplings learn to stretch as far as they may, and a test image that
    differs there lands astronomically far out in the base. Glow's couplings only
    shrink (a sigmoid scale); this keeps the identity at zero parameters and a slope
    of one there, and leaves large stretches to ActNorm, which is shared by a channel.
    """
    return affine(x, _limit_stretch(params, expand))


def _limit_stretch(params, expand=0.3):
    loc, log_scale = params.unbind(-1)
    limited = expand * torch.tanh(log_scale / expand)
    return torch.stack([loc, torch.where(log_scale < 0, limited, log_scale)], -1)


contracting_affine.inverse = lambda y, params: affine.inverse(y, _limit_stretch(params))


def additive(x, params):
    """``y = x - loc``: NICE's additive step. ``params[..., 1]`` holds ``loc``; the map
    preserves volume, so its log-derivative is zero everywhere."""
    return x - params[..., 0], torch.zeros_like(x)


additive.inverse = lambda y, params: (y + params[..., 0], torch.zeros_like(y))


def _mixture_cdf(x, params, cdf, log_pdf):
    logits, loc, log_scale = params.chunk(3, dim=-1)
    log_scale = soft_clamp(log_scale)
    t = (x[..., None] - loc) * torch.exp(-log_scale)
    log_w = F.log_softmax(logits, dim=-1)
    y = (log_w.exp() * cdf(t)).sum(-1).clamp(0, 1)  # in float32 the weights can sum to 1 + 1e-7
    ladj = torch.logsumexp(log_w + log_pdf(t) - log_scale, dim=-1)
    return y, ladj


def mixture_params(k, spread=2.0):
    """Starting parameters for a K-component mixture CDF: equal weights, means evenly
    spaced on [-spread, spread], unit scales (shape ``(3K,)``)."""
    loc = torch.linspace(-spread, spread, k)
    return torch.cat([torch.zeros(k), loc, torch.zeros(k)])


def gaussian_mixture_cdf(x, params):
    """The CDF of a mixture of K Gaussians, from the real line onto (0, 1).

    ``params[..., 3K]`` holds the K mixture logits, the K means and the K log-scales.
    """
    return _mixture_cdf(x, params, torch.special.ndtr,
                        lambda t: -0.5 * t.square() - 0.5 * math.log(2 * math.pi))


def logistic_mixture_cdf(x, params):
    """The CDF of a mixture of K logistics; ``params`` as in
    ``gaussian_mixture_cdf``."""
    return _mixture_cdf(x, params, torch.sigmoid,
                        lambda t: F.logsigmoid(t) + F.logsigmoid(-t))


class NotConverged(UserWarning):
    """An iterative inverse stopped at its iteration cap before reaching its
    tolerance."""


def bisect(f, y, lo, hi, tol=None, max_iter=100):
    """Solve ``f(x) = y`` elementwise for an increasing ``f``, with the root inside ``[lo, hi]``.

    Each iteration halves the bracket, so reaching a bracket narrower than ``tol``
    takes ``ceil(log2((hi - lo) / tol))`` iterations; the loop runs exactly that
    many (one host sync to count them, none inside). ``tol`` defaults to a few
    units of the dtype's precision. If ``max_iter`` is smaller than that, it stops
    there and warns with ``NotConverged``. A ``y`` outside ``f([lo, hi])`` is an error.
    """
    lo = torch.as_tensor(lo, dtype=y.dtype, device=y.device).expand_as(y).clone()
    hi = torch.as_tensor(hi, dtype=y.dtype, device=y.device).expand_as(y).clone()
    tol = tol if tol is not None else 4 * torch.finfo(y.dtype).eps
    outside = ((f(lo) > y) | (f(hi) < y) | ~torch.isfinite(y)).sum()
    width = (hi - lo).max()
    outside, width = outside.item(), width.item()
    if outside:
        raise ValueError(f"bisect: {outside} values of y lie outside the range of the function on "
                         "[lo, hi]; the inverse is defined only on that range")
    needed = max(0, math.ceil(math.log2(width / tol))) if width > 0 else 0
    for _ in range(min(needed, max_iter)):
        mid = (lo + hi) / 2
        below = f(mid) < y
        lo = torch.where(below, mid, lo)
        hi = torch.where(below, hi, mid)
    if needed > max_iter:
        warnings.warn(f"bisect stopped after max_iter={max_iter} iterations with a bracket of "
                      f"{width / 2 ** max_iter:.2g}, wider than tol={tol:.2g} ({needed} were needed)",
                      NotConverged, stacklevel=2)
    return (lo + hi) / 2


def invert(transform, y, params, lo, hi, tol=None, max_iter=100):
    """Invert a monotone scalar transform: ``x`` with ``transform(x, params)[0] = y``,
    and the log-derivative of the inverse map, ``-ladj(x)``.

    A transform with a closed-form ``inverse`` uses it (no bracket needed). Otherwise
    bisection finds ``x`` without gradients; a correction whose value is zero then
    gives ``x`` the gradients of the inverse function (implicit differentiation):
    ``dx/dy = 1 / f'(x)`` and ``dx/dparams = -(df/dparams) / f'(x)``.
    """
    if hasattr(transform, "inverse"):
        return transform.inverse(y, params)
    with torch.no_grad():
        x = bisect(lambda x: transform(x, params)[0], y, lo, hi, tol, max_iter)
    y_at_x, ladj = transform(x, params)
    residual = y - y_at_x
    x = x + (residual - residual.detach()) / ladj.detach().exp()
    return x, -transform(x, params)[1]
