"""Checkers for chapter 3's exercises."""

import torch

from .. import scalar
from ._base import _checker, _result, _verdict


@_checker
def check_gaussian_ar_covariance(covariance):
    """Chapter 3: ``covariance(A, log_scale)`` is the covariance of the linear Gaussian
    autoregressive model ``x_i = sum_{j<i} A[i, j] x_j + exp(log_scale[i]) eps_i``."""
    g = torch.Generator().manual_seed(5)
    for d in (1, 3, 6):
        A = torch.randn(d, d, generator=g, dtype=torch.float64).tril(-1)
        log_scale = 0.5 * torch.randn(d, generator=g, dtype=torch.float64)
        # x = B eps
        B = torch.linalg.inv(torch.eye(d, dtype=torch.float64) - A) * log_scale.exp()
        want = B @ B.T
        got = _result(covariance(A, log_scale))
        _verdict(got.shape == (d, d),
                 f"for D = {d} expected a ({d}, {d}) matrix, "
                 f"got shape {tuple(got.shape)}")
        _verdict(torch.allclose(got, want),
                 f"for D = {d} you return\n{got}\nexpected\n{want}\n"
                 "(hint: x = A x + S eps, so x = (I - A)^-1 S eps)")
    print("Correct: Sigma = (I - A)^-1 S^2 (I - A)^-T, a full covariance from a "
          "triangular flow.")


@_checker
def check_made_masks(made_masks):
    """Chapter 3: ``made_masks(in_degrees, hidden_degrees)`` returns the two 0/1 masks
    of a one-hidden-layer MADE, ``(hidden, D)`` and ``(D, hidden)``, with one output per
    input."""
    from ..autoregressive import MADE
    g = torch.Generator().manual_seed(6)
    for d, h in ((2, 3), (4, 8), (5, 7)):
        in_degrees = torch.randperm(d, generator=g) + 1
        hidden_degrees = torch.randint(1, max(2, d), (h,), generator=g)
        got = [_result(m).float() for m in made_masks(in_degrees, hidden_degrees)]
        want = [(hidden_degrees[:, None] >= in_degrees[None, :]).float(),
                (in_degrees[:, None] > hidden_degrees[None, :]).float()]
        for name, a, b in (("hidden", got[0], want[0]), ("output", got[1], want[1])):
            _verdict(a.shape == b.shape,
                     f"the {name} mask should have shape {tuple(b.shape)}, "
                     f"got {tuple(a.shape)}")
            _verdict(torch.equal(a, b),
                     f"for input degrees {in_degrees.tolist()} and hidden degrees "
                     f"{hidden_degrees.tolist()} your {name} mask is\n{a}\n"
                     f"expected\n{b}\n"
                     "(a hidden unit sees inputs of degree <= its own; an output of "
                     "degree d sees hidden units of degree < d)")
    # and they agree with flowlib's MADE
    made = MADE(3, 1, hidden=(4,), order=[2, 0, 1])
    position = torch.empty(3, dtype=torch.long)
    position[made.order] = torch.arange(1, 4)
    hidden_mask, out_mask = [_result(m).float()
                          for m in made_masks(position, torch.arange(4) % 2 + 1)]
    _verdict(torch.equal(hidden_mask, made.net[0].mask)
             and torch.equal(out_mask, made.out.mask),
             "your masks differ from flowlib.MADE's for order [2, 0, 1]")
    print("Correct: hidden units see degrees <= theirs; outputs see degrees strictly "
          "below.")


@_checker
def check_pixelcnn_mask(mask):
    """Chapter 3: ``mask(kernel_size, mask_type)`` is the (k, k) 0/1 mask of a masked
    convolution."""
    from ..autoregressive import MaskedConv2d
    for k in (3, 5, 7):
        for kind in ("A", "B"):
            got = _result(mask(k, kind)).float()
            want = MaskedConv2d(1, 1, k, kind).mask
            _verdict(torch.equal(got, want),
                     f"for kernel_size={k}, type {kind} you return\n{got}\n"
                     f"expected\n{want}\n"
                     "(rows above the centre, the pixels left of it, and the centre "
                     "only for B)")
    print("Correct: a type-A mask hides the centre pixel, a type-B mask lets it "
          "through.")


@_checker
def check_maf_sampling(sample):
    """Chapter 3: ``sample(z, conditioner)`` inverts one affine MAF layer
    ``z_i = (x_i - mu_i(x_<i)) * exp(-alpha_i(x_<i))``, where ``conditioner(x)`` returns
    ``(mu, alpha)``, each of shape ``(n, D)``, computed autoregressively from ``x``."""
    from ..autoregressive import Autoregressive
    from ..testing import randomize
    g = torch.Generator().manual_seed(7)
    layer = randomize(Autoregressive(5, scalar.affine, 2, hidden=(16, 16)),
                      0.5, g).double()

    def conditioner(x):
        mu, alpha = layer.made(x).unbind(-1)
        return mu, scalar.soft_clamp(alpha)

    z = torch.randn(20, 5, generator=g, dtype=torch.float64)
    x = _result(sample(z, conditioner))
    _verdict(x.shape == z.shape,
             f"expected samples of shape {tuple(z.shape)}, got {tuple(x.shape)}")
    err = (layer(x)[0] - z).abs().max().item()
    _verdict(err < 1e-8,
             f"mapping your samples through the layer does not give z back "
             f"(off by {err:.2g}); "
             "x_i needs mu_i and alpha_i computed from the x_<i you already have")
    print("Correct: D passes, x_i = mu_i + exp(alpha_i) z_i once x_<i is known.")
