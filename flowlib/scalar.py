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


contracting_affine.inverse = lambda y, params, expand=0.3: affine.inverse(
    y, _limit_stretch(params, expand))


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
    # clamped: in float32 the weights can sum to 1 + 1e-7
    y = (log_w.exp() * cdf(t)).sum(-1).clamp(0, 1)
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


MIN_BIN, MIN_SLOPE = 1e-3, 1e-3   # the smallest bin (a fraction) and derivative


def rational_quadratic_spline(x, params, bound=4.0):
    """A monotone rational-quadratic spline on ``[-bound, bound]`` with identity tails
    (Durkan et al., 2019).

    ``params[..., 3K - 1]`` holds K width logits, K height logits and the K - 1
    derivatives at the inner knots, before a softplus. The knots are the cumulated
    widths and heights (each bin at least ``MIN_BIN`` of the interval); the outer
    derivatives are 1, so the spline meets its tails smoothly. Zero parameters give the
    identity. Inside bin k, with ``xi`` the position in the bin, ``s`` its slope
    ``h / w`` and ``d0``, ``d1`` the derivatives at its ends, the spline is

        y = y_k + h (s xi^2 + d0 xi (1 - xi)) / (s + (d0 + d1 - 2 s) xi (1 - xi)),

    increasing because ``s``, ``d0`` and ``d1`` are positive. Its inverse,
    ``rational_quadratic_spline.inverse(y, params)``, solves a quadratic in ``xi``.
    """
    y_k, h, s, d0, d1, x_k, w = _spline_bins(params, bound, x, "x")
    xi = ((x.clamp(-bound, bound) - x_k) / w).clamp(0, 1)
    between = xi * (1 - xi)
    denominator = s + (d0 + d1 - 2 * s) * between
    y = y_k + h * (s * xi.square() + d0 * between) / denominator
    slope = s.square() * (d1 * xi.square() + 2 * s * between + d0 * (1 - xi).square())
    ladj = slope.log() - 2 * denominator.log()
    inside = x.abs() < bound
    return torch.where(inside, y, x), torch.where(inside, ladj, 0.0)


def _spline_inverse(y, params, bound=4.0):
    y_k, h, s, d0, d1, x_k, w = _spline_bins(params, bound, y, "y")
    dy = y.clamp(-bound, bound) - y_k
    curve = (d0 + d1 - 2 * s)
    a = h * (s - d0) + dy * curve                   # a xi^2 + b xi + c = 0
    b = h * d0 - dy * curve
    c = -s * dy
    root = (b.square() - 4 * a * c).clamp(min=0).sqrt()
    # the root in [0, 1], in the form that does not cancel (a + b = h s > 0, so b < 0
    # makes a > 0); each form divides by a safe value where the other is used
    plus = b >= 0
    xi = torch.where(plus, 2 * c / torch.where(plus, -b - root, -1.0),
                     (root - b) / torch.where(plus, 1.0, 2 * a)).clamp(0, 1)
    # one Newton step on the piece itself, whose root is better conditioned than
    # the quadratic's where the two roots of the quadratic are close
    between = xi * (1 - xi)
    denominator = s + curve * between
    slope = s.square() * (d1 * xi.square() + 2 * s * between + d0 * (1 - xi).square())
    miss = h * (s * xi.square() + d0 * between) / denominator - dy
    xi = (xi - miss * denominator.square() / (w * slope)).clamp(0, 1)
    x = x_k + xi * w
    between = xi * (1 - xi)
    slope = s.square() * (d1 * xi.square() + 2 * s * between + d0 * (1 - xi).square())
    ladj = 2 * (s + curve * between).log() - slope.log()
    inside = y.abs() < bound
    return torch.where(inside, x, y), torch.where(inside, ladj, 0.0)


rational_quadratic_spline.inverse = _spline_inverse


def _spline_bins(params, bound, v, side):
    """Knots and derivatives of the spline, and the quantities of the bin of each ``v``
    (found on the ``side`` axis, x or y)."""
    k = (params.shape[-1] + 1) // 3
    raw_sizes, raw_d = params.split([2 * k, k - 1], -1)
    sizes = _log_softmax(raw_sizes.unflatten(-1, (2, k)).contiguous()).exp()  # w, h
    edges = F.pad((MIN_BIN + (1 - MIN_BIN * k) * sizes).cumsum(-1), (1, 0))
    xs, ys = (2 * bound * edges - bound).unbind(-2)
    one = math.log(math.expm1(1 - MIN_SLOPE))       # softplus(one) + MIN_SLOPE = 1
    d = F.pad(MIN_SLOPE + F.softplus(raw_d + one), (1, 1), value=1.0)
    search = (xs if side == "x" else ys)[..., 1:-1].contiguous()
    bin_of = torch.searchsorted(search, v[..., None].contiguous())   # 0..K-1

    def pick(t):
        return t.gather(-1, bin_of).squeeze(-1)
    x_k, w = pick(xs), pick(xs.diff(dim=-1))
    y_k, h = pick(ys), pick(ys.diff(dim=-1))
    return y_k, h, h / w, pick(d), pick(d[..., 1:]), x_k, w


def _log_softmax(x):
    """``log_softmax`` over the last dimension, written out for rows of fewer than 16
    entries, where ``F.log_softmax`` is a few times slower on a CPU (and faster beyond:
    ``benchmarks/small_softmax.py``)."""
    if x.shape[-1] >= 16:
        return F.log_softmax(x, -1)
    return x - x.logsumexp(-1, keepdim=True)


def _logit_mixture(x, logits, loc, log_scale):
    """``logit`` of a mixture of logistic CDFs, and its log-derivative, in log space
    (so that neither tail rounds to 0 or 1)."""
    log_scale = soft_clamp(log_scale)
    t = (x[..., None] - loc) * torch.exp(-log_scale)
    log_w = _log_softmax(logits)
    log_c = torch.logsumexp(log_w + F.logsigmoid(t), -1)       # log C(x)
    log_1mc = torch.logsumexp(log_w + F.logsigmoid(-t), -1)    # log (1 - C(x))
    log_density = log_w + F.logsigmoid(t) + F.logsigmoid(-t) - log_scale
    log_pdf = torch.logsumexp(log_density, -1)                   # log C'(x)
    return log_c - log_1mc, log_pdf - log_c - log_1mc


def _spread(n, like):
    """Fixed offsets that start n components apart, so that they can learn apart."""
    return torch.linspace(-1.0, 1.0, n, dtype=like.dtype, device=like.device)


def dsf(x, params):
    """The deep sigmoidal flow's transform (Huang et al., 2018), one sigmoidal layer:
    ``y = logit(sum_j w_j sigmoid((x - m_j) / s_j))``.

    ``params[..., 3K]`` holds K weight logits, K locations and K log-scales, as in
    ``logistic_mixture_cdf``: NAF's ``sigmoid(a x + b)`` with ``a > 0`` is a logistic
    CDF with scale ``1 / a``. The weights are positive and sum to one and every slope
    is positive, so the map is increasing, from the whole line onto the whole line.
    Locations start spread over [-1, 1]. No closed-form inverse: ``invert`` bisects.
    """
    logits, loc, log_scale = params.chunk(3, dim=-1)
    return _logit_mixture(x, logits, loc + _spread(loc.shape[-1], loc), log_scale)


def logistic_mixture_affine(x, params):
    """Flow++'s transform (Ho et al., 2019): ``dsf``, then ``affine``.

    ``params[..., 3K + 2]``: the 3K parameters of ``dsf`` and the two of ``affine``.
    """
    y, ladj = dsf(x, params[..., :-2])
    z, ladj_affine = affine(y, params[..., -2:])
    return z, ladj + ladj_affine


def ddsf(units=8, layers=2):
    """A dense sigmoidal flow transform (NAF's DDSF): ``layers`` sigmoidal layers of
    ``units`` units, from 1 to ``units`` to ... to 1 values; returns the transform,
    whose ``n_params`` says how many parameters it takes per coordinate.

    A layer maps its inputs ``h`` to ``logit(W sigmoid(a * (U h) + b))``: the rows of
    ``U`` and ``W`` are convex weights (softmax), ``a > 0``. Every factor of the chain
    rule is then positive, so the map is increasing; its log-derivative is carried
    through the layers as the log of a positive Jacobian, by ``logsumexp``.
    """
    sizes = [1] + [units] * (layers - 1) + [1]
    # U mixes d_in inputs; from the single input of the first layer it is 1, not free
    shapes = [(units * d_in * (d_in > 1), units, units, d_out * units)
              for d_in, d_out in zip(sizes[:-1], sizes[1:])]

    def transform(x, params):
        h, log_j = x[..., None], torch.zeros_like(x)[..., None]   # log dh/dx
        for chunk, (d_in, d_out) in zip(params.split([sum(s) for s in shapes], -1),
                                        zip(sizes[:-1], sizes[1:])):
            raw_u, log_a, b, raw_w = _split_layer(chunk, units, d_in, d_out)
            log_u = _log_softmax(raw_u)                     # (..., units, d_in)
            log_a = soft_clamp(log_a)
            t = torch.exp(log_a) * (log_u.exp() * h[..., None, :]).sum(-1) \
                + b + 2 * _spread(units, b)
            log_dt = log_a + torch.logsumexp(log_u + log_j[..., None, :], -1)
            log_w = _log_softmax(raw_w)                     # (..., d_out, units)
            up, down = F.logsigmoid(t)[..., None, :], F.logsigmoid(-t)[..., None, :]
            log_c = torch.logsumexp(log_w + up, -1)
            log_1mc = torch.logsumexp(log_w + down, -1)
            log_ds = (up + down + log_dt[..., None, :])
            h = log_c - log_1mc
            log_j = torch.logsumexp(log_w + log_ds, -1) - log_c - log_1mc
        return h[..., 0], log_j[..., 0]

    transform.n_params = sum(sum(s) for s in shapes)
    return transform


def _split_layer(chunk, units, d_in, d_out):
    sizes = [units * d_in * (d_in > 1), units, units, d_out * units]
    raw_u, log_a, b, raw_w = chunk.split(sizes, -1)
    if d_in == 1:
        raw_u = chunk.new_zeros(*chunk.shape[:-1], units)
    return (raw_u.unflatten(-1, (units, d_in)), log_a, b,
            raw_w.unflatten(-1, (d_out, units)))


class NotConverged(UserWarning):
    """An iterative inverse stopped at its iteration cap before reaching its
    tolerance."""


def bisect(f, y, lo, hi, tol=None, max_iter=100):
    """Solve ``f(x) = y`` elementwise for an increasing ``f``, with the root inside
    ``[lo, hi]``.

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
        raise ValueError(f"bisect: {outside} values of y lie outside the range of the "
                         "function on [lo, hi]; the inverse is defined only on that "
                         "range")
    needed = max(0, math.ceil(math.log2(width / tol))) if width > 0 else 0
    for _ in range(min(needed, max_iter)):
        mid = (lo + hi) / 2
        below = f(mid) < y
        lo = torch.where(below, mid, lo)
        hi = torch.where(below, hi, mid)
    if needed > max_iter:
        warnings.warn(f"bisect stopped after max_iter={max_iter} iterations with a "
                      f"bracket of {width / 2 ** max_iter:.2g}, wider than "
                      f"tol={tol:.2g} ({needed} were needed)", NotConverged,
                      stacklevel=2)
    return (lo + hi) / 2


def _widen(f, y, lo, hi, doublings=64):
    """Per element, the bracket ``[lo, hi]`` doubled about its centre until it holds
    the root of ``f(x) = y`` (one host sync per doubling; none when it already does),
    and ``y``, clamped into ``f``'s range on the final bracket with a ``NotConverged``
    warning where even that did not reach."""
    lo = torch.as_tensor(lo, dtype=y.dtype, device=y.device).expand_as(y)
    hi = torch.as_tensor(hi, dtype=y.dtype, device=y.device).expand_as(y)
    for _ in range(doublings):
        low, high = f(lo) > y, f(hi) < y
        if not (low | high).any():
            return y, lo, hi
        centre, half = (lo + hi) / 2, (hi - lo) / 2
        lo = torch.where(low, centre - 2 * half, lo)
        hi = torch.where(high, centre + 2 * half, hi)
    f_lo, f_hi = f(lo), f(hi)
    beyond = ((y < f_lo) | (y > f_hi)).sum().item()
    if beyond:
        warnings.warn(f"invert: {beyond} values have no root within {doublings} "
                      "doublings of the bracket; they are clamped to its ends",
                      NotConverged, stacklevel=3)
    return torch.minimum(torch.maximum(y, f_lo), f_hi), lo, hi


def invert(transform, y, params, lo, hi, tol=None, max_iter=100):
    """Invert a monotone scalar transform: ``x`` with ``transform(x, params)[0] = y``,
    and the log-derivative of the inverse map, ``-ladj(x)``.

    A transform with a closed-form ``inverse`` uses it (no bracket needed). Otherwise
    bisection finds ``x`` without gradients, in ``[lo, hi]`` widened (doubling) where
    a root lies outside it; a correction whose value is zero then
    gives ``x`` the gradients of the inverse function (implicit differentiation):
    ``dx/dy = 1 / f'(x)`` and ``dx/dparams = -(df/dparams) / f'(x)``.
    """
    if hasattr(transform, "inverse"):
        return transform.inverse(y, params)
    with torch.no_grad():
        f = lambda x: transform(x, params)[0]
        x = bisect(f, *_widen(f, y, lo, hi), tol, max_iter)
    y_at_x, ladj = transform(x, params)
    residual = y - y_at_x
    x = x + (residual - residual.detach()) / ladj.detach().exp()
    return x, -transform(x, params)[1]
