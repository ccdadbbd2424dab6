"""Checkers for chapter 4's exercises."""

import math

import torch

from ._base import _checker, _number, _result, _verdict


def _bool_image(value, shape, what):
    got = _result(value, what)
    _verdict(tuple(got.shape) == shape, f"{what} should have shape {shape}, got "
                                        f"{tuple(got.shape)}")
    return got != 0


@_checker
def check_checkerboard(mask):
    """Chapter 4: ``mask(h, w)`` is an ``(h, w)`` boolean tensor, True where the row
    and column indices add up to an odd number (the pixels a coupling passes)."""
    for h, w in ((2, 2), (4, 6), (5, 3), (1, 7)):
        got = _bool_image(mask(h, w), (h, w), f"mask({h}, {w})")
        want = (torch.arange(h)[:, None] + torch.arange(w)[None, :]) % 2 == 1
        _verdict(torch.equal(got, want),
                 f"mask({h}, {w}) differs from the checkerboard at "
                 f"{(got != want).sum().item()} pixels; the top-left pixel "
                 "(0 + 0, even) is False")
    print("Correct: every pixel's four neighbours are on the other side of the mask.")


@_checker
def check_conv1x1_log_det(log_det):
    """Chapter 4: ``log_det(weight, h, w)`` is log|det J| of the 1x1 convolution with
    the ``(c, c)`` matrix ``weight`` on a ``(c, h, w)`` feature map."""
    g = torch.Generator().manual_seed(10)
    for c, h, w in ((2, 1, 1), (3, 2, 2), (4, 5, 3), (8, 14, 14)):
        weight = torch.randn(c, c, generator=g, dtype=torch.float64)
        got = _number(log_det(weight.clone(), h, w), "log_det")
        want = h * w * torch.linalg.slogdet(weight).logabsdet.item()
        _verdict(math.isclose(got, want, rel_tol=1e-6, abs_tol=1e-9),
                 f"for c, h, w = {c}, {h}, {w} you return {got:.4f}, "
                 f"expected {want:.4f}:"
                 " the same c x c matrix acts on every one of the h w pixels")
    print("Correct: the Jacobian is block diagonal with h w copies of W, so "
          "log|det J| = h w log|det W|.")


@_checker
def check_coupling_inverse(invert):
    """Chapter 4: ``invert(z, mask, net)`` inverts the affine coupling
    ``z = where(mask, x, (x - loc) * exp(-log_scale))`` with
    ``loc, log_scale = net(x * mask)``; it returns x."""
    g = torch.Generator().manual_seed(11)
    w1, w2 = (torch.randn(a, b, generator=g, dtype=torch.float64) / 3
              for a, b in ((6, 16), (16, 12)))

    def net(x_a):
        loc, log_scale = (torch.tanh(x_a @ w1) @ w2).chunk(2, 1)
        return loc, log_scale

    for parity in (0, 1):
        mask = (torch.arange(6) + parity) % 2 == 1
        x = torch.randn(5, 6, generator=g, dtype=torch.float64)
        loc, log_scale = net(x * mask)
        z = torch.where(mask, x, (x - loc) * torch.exp(-log_scale))
        got = _result(invert(z.clone(), mask, net), "invert(z, mask, net)")
        _verdict(got.shape == x.shape,
                 f"invert should return x's shape {tuple(x.shape)}"
                 f", got {tuple(got.shape)}")
        err = (got - x).abs().max().item()
        _verdict(err < 1e-9,
                 f"with mask {mask.int().tolist()} your x is off by "
                 f"{err:.3g}; which part of z equals x, and can net see it?")
    print("Correct: z_A = x_A gives loc and log_scale at once, and x_B = "
          "loc + exp(log_scale) z_B: one pass, no network inverted.")


@_checker
def check_factored_dims(count):
    """Chapter 4: ``count(shape, levels)`` lists how many dimensions leave the
    multi-scale flow at each of its ``levels`` scales (the last scale keeps the rest),
    for images of ``shape`` ``(C, H, W)``."""
    from ..glow import MultiScale
    for shape, levels in (((1, 28, 28), 2), ((3, 32, 32), 3), ((1, 8, 8), 1),
                          ((2, 16, 16), 4)):
        got = count(shape, levels)
        _verdict(isinstance(got, (list, tuple)), f"count should return a list, got "
                                                 f"{type(got).__name__}")
        flow = MultiScale(shape, [None] * levels)
        want = [p[0].numel() for p in flow.split(torch.zeros(1, *shape))]
        _verdict([int(n) for n in got] == want,
                 f"count({shape}, {levels}) returns {list(got)}, expected {want}")
    print("Correct: each scale but the last lets half of its squeezed channels go.")


@_checker
def check_squeeze(squeeze):
    """Chapter 4: ``squeeze(x)`` turns ``(n, c, h, w)`` into ``(n, 4c, h/2, w/2)``; the
    channels of output pixel (i, j) are, for each input channel, its 2x2 patch at
    rows 2i, 2i+1 and columns 2j, 2j+1 in reading order."""
    from ..glow import Squeeze
    x = torch.arange(2 * 2 * 4 * 6, dtype=torch.float64).view(2, 2, 4, 6)
    got = _result(squeeze(x.clone()), "squeeze(x)")
    want = Squeeze()(x)[0]
    _verdict(got.shape == want.shape,
             f"squeeze(x) of shape {tuple(x.shape)} should "
             f"have shape {tuple(want.shape)}, got {tuple(got.shape)}")
    _verdict(torch.equal(got, want),
             f"pixel (0, 0) of your output holds {got[0, :8, 0, 0].tolist()}, expected "
             f"{want[0, :8, 0, 0].tolist()} (the first channel's patch, then the "
             "second's)")
    print("Correct: a reshape and a permutation, so log|det J| = 0.")
