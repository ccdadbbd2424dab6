"""Checkers for the chapters' exercises: pass your answer, get a verdict.

A checker prints a short confirmation when the answer is right and raises an
``AssertionError`` that says what is wrong (and on which input) when it is not.

>>> import torch
>>> check_scaled_uniform_density(lambda y: torch.where((y >= 0) & (y <= 2), 0.5, 0.0))
Correct: p_Y(y) = 1/2 on [0, 2] and 0 elsewhere, so it integrates to 1.
"""

import math

import torch

from . import scalar


def _verdict(ok, message):
    if not ok:
        raise AssertionError(message)


def check_scaled_uniform_density(density):
    """Chapter 1: ``density(y)`` is the density of Y = 2X for X ~ Uniform(0, 1)."""
    y = torch.tensor([-0.5, 0.1, 0.7, 1.0, 1.5, 1.9, 2.5], dtype=torch.float64)
    got = torch.as_tensor(density(y), dtype=torch.float64)
    want = torch.where((y >= 0) & (y <= 2), 0.5, 0.0).double()
    _verdict(got.shape == y.shape, f"density(y) should return one value per y, got shape {tuple(got.shape)}")
    _verdict(torch.allclose(got, want), f"at y = {y.tolist()} you return {got.tolist()}, expected {want.tolist()}; "
                                        "the support doubled, so the height must halve")
    print("Correct: p_Y(y) = 1/2 on [0, 2] and 0 elsewhere, so it integrates to 1.")


def check_flow_log_likelihood(log_likelihood):
    """Chapter 1: ``log_likelihood(x, f, df, base_log_prob)`` is the log-density of a 1-D flow.

    ``f`` maps data to latent, ``df`` is its derivative, ``base_log_prob`` the log-density of z.
    """
    x = torch.linspace(-3, 3, 13, dtype=torch.float64)
    cases = {  # f, df, base log-density
        "sinh with a normal base": (torch.sinh, torch.cosh, lambda z: -0.5 * z**2 - 0.5 * math.log(2 * math.pi)),
        "a decreasing affine map with a logistic base": (lambda x: 1 - 2 * x, lambda x: -2 * torch.ones_like(x),
                                                         lambda z: -z - 2 * torch.nn.functional.softplus(-z)),
    }
    for name, (f, df, base) in cases.items():
        want = base(f(x)) + torch.log(torch.abs(df(x)))
        got = torch.as_tensor(log_likelihood(x, f, df, base), dtype=torch.float64)
        _verdict(got.shape == x.shape, f"{name}: expected one value per x, got shape {tuple(got.shape)}")
        _verdict(torch.allclose(got, want), f"{name}: at x = {x[0].item()} you return {got[0].item():.4f}, "
                                            f"expected {want[0].item():.4f} (do you take |f'(x)|?)")
    print("Correct: log p(x) = log p_Z(f(x)) + log |f'(x)|, also for a decreasing f.")


def check_bisection(invert_cdf, tol=1e-6):
    """Chapter 1: ``invert_cdf(y, params)`` inverts ``scalar.gaussian_mixture_cdf`` to ``tol``."""
    g = torch.Generator().manual_seed(1)
    params = torch.randn(200, 9, generator=g, dtype=torch.float64)
    y = torch.rand(200, generator=g, dtype=torch.float64) * 0.98 + 0.01
    x = torch.as_tensor(invert_cdf(y, params), dtype=torch.float64)
    _verdict(x.shape == y.shape, f"expected one x per y, got shape {tuple(x.shape)}")
    want = scalar.bisect(lambda x: scalar.gaussian_mixture_cdf(x, params)[0], y, -100.0, 100.0)
    err = (x - want).abs().max().item()
    _verdict(err <= tol, f"your inverse is off by up to {err:.2g} (tolerance {tol:g}); "
                              f"for example F({x[0].item():.4f}) should be y = {y[0].item():.4f}")
    print(f"Correct: your inverse agrees with bisection to {err:.1g}.")


def check_best_affine(best_affine):
    """Chapter 1: ``best_affine(x)`` gives the ``(loc, scale)`` of the maximum-likelihood
    affine flow ``z = (x - loc) / scale`` with a standard-normal base, for a 1-D ``x``."""
    g = torch.Generator().manual_seed(4)
    for n in (3, 10, 1000):
        u = torch.rand(n, generator=g, dtype=torch.float64)
        x = -2 * torch.log(-torch.log(u))             # skewed (Gumbel) data
        got = tuple(float(v) for v in best_affine(x.clone()))
        want = (x.mean().item(), x.std(correction=0).item())
        _verdict(len(got) == 2 and all(math.isclose(a, b, rel_tol=1e-5, abs_tol=1e-6)
                                       for a, b in zip(got, want)),
                 f"for {n} points you return (loc, scale) = {got}; the likelihood is "
                 f"highest at {want}. Set its derivatives in loc and scale to zero.")
    print("Correct: the best affine flow has the data's mean and (1/n) standard deviation.")


def _ar2d_maps():
    """Two scalar maps of a 2-D autoregressive flow with uniform base, made of mixture CDFs."""
    g = torch.Generator().manual_seed(2)
    p1, w, b = torch.randn(9, generator=g, dtype=torch.float64), torch.randn(9, generator=g, dtype=torch.float64), \
        torch.randn(9, generator=g, dtype=torch.float64)
    f1 = lambda x1: scalar.gaussian_mixture_cdf(x1, p1.expand(len(x1), 9))
    f2 = lambda x2, x1: scalar.gaussian_mixture_cdf(x2, torch.tanh(x1[:, None] * w + b))
    return f1, f2


def check_ar2d_log_density(log_density):
    """Chapter 2: ``log_density(x, f1, f2)`` is the log-density of the 2-D autoregressive flow
    ``z1 = f1(x1)``, ``z2 = f2(x2, x1)`` with a uniform base (each map returns ``(z, log-derivative)``)."""
    f1, f2 = _ar2d_maps()
    x = torch.randn(50, 2, generator=torch.Generator().manual_seed(3), dtype=torch.float64) * 1.5
    want = f1(x[:, 0])[1] + f2(x[:, 1], x[:, 0])[1]
    got = torch.as_tensor(log_density(x, f1, f2), dtype=torch.float64)
    _verdict(got.shape == (50,), f"expected one value per row of x, shape (50,), got {tuple(got.shape)}")
    _verdict(torch.allclose(got, want), f"at x = {x[0].tolist()} you return {got[0].item():.4f}, expected "
                                        f"{want[0].item():.4f}: the log-determinant of a triangular Jacobian "
                                        "is the sum of its diagonal log-derivatives")
    print("Correct: log p(x) = log F1'(x1) + log F2'(x2; x1) with a uniform base.")


def check_ar2d_sampling(sample):
    """Chapter 2: ``sample(z, invert1, invert2)`` turns uniform ``z`` (n, 2) into data by
    inverting ``z1 = f1(x1)`` and then ``z2 = f2(x2, x1)``."""
    f1, f2 = _ar2d_maps()
    invert1 = lambda z1: scalar.bisect(lambda x: f1(x)[0], z1, -60.0, 60.0)
    invert2 = lambda z2, x1: scalar.bisect(lambda x: f2(x, x1)[0], z2, -60.0, 60.0)
    z = 0.02 + 0.96 * torch.rand(50, 2, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    x = torch.as_tensor(sample(z, invert1, invert2), dtype=torch.float64)
    _verdict(x.shape == (50, 2), f"expected samples of shape (50, 2), got {tuple(x.shape)}")
    z_back = torch.stack([f1(x[:, 0])[0], f2(x[:, 1], x[:, 0])[0]], 1)
    err = (z_back - z).abs().max().item()
    _verdict(err < 1e-6, f"mapping your samples forward does not give z back (off by {err:.2g}); "
                         "is x2 inverted with the parameters of x1, which must come first?")
    print("Correct: x1 = F1^-1(z1) first, then x2 = F2^-1(z2; x1).")


def check_gaussian_ar_covariance(covariance):
    """Chapter 3: ``covariance(A, log_scale)`` is the covariance of the linear Gaussian
    autoregressive model ``x_i = sum_{j<i} A[i, j] x_j + exp(log_scale[i]) eps_i``."""
    g = torch.Generator().manual_seed(5)
    for d in (1, 3, 6):
        A = torch.randn(d, d, generator=g, dtype=torch.float64).tril(-1)
        log_scale = 0.5 * torch.randn(d, generator=g, dtype=torch.float64)
        B = torch.linalg.inv(torch.eye(d, dtype=torch.float64) - A) * log_scale.exp()  # x = B eps
        want = B @ B.T
        got = torch.as_tensor(covariance(A, log_scale), dtype=torch.float64)
        _verdict(got.shape == (d, d), f"for D = {d} expected a ({d}, {d}) matrix, got shape {tuple(got.shape)}")
        _verdict(torch.allclose(got, want), f"for D = {d} you return\n{got}\nexpected\n{want}\n"
                                            "(hint: x = A x + S eps, so x = (I - A)^-1 S eps)")
    print("Correct: Sigma = (I - A)^-1 S^2 (I - A)^-T, a full covariance from a triangular flow.")


def check_made_masks(made_masks):
    """Chapter 3: ``made_masks(in_degrees, hidden_degrees)`` returns the two 0/1 masks of a
    one-hidden-layer MADE, ``(hidden, D)`` and ``(D, hidden)``, with one output per input."""
    from .autoregressive import MADE
    g = torch.Generator().manual_seed(6)
    for d, h in ((2, 3), (4, 8), (5, 7)):
        in_degrees = torch.randperm(d, generator=g) + 1
        hidden_degrees = torch.randint(1, max(2, d), (h,), generator=g)
        got = [torch.as_tensor(m).float() for m in made_masks(in_degrees, hidden_degrees)]
        want = [(hidden_degrees[:, None] >= in_degrees[None, :]).float(),
                (in_degrees[:, None] > hidden_degrees[None, :]).float()]
        for name, a, b in (("hidden", got[0], want[0]), ("output", got[1], want[1])):
            _verdict(a.shape == b.shape, f"the {name} mask should have shape {tuple(b.shape)}, got {tuple(a.shape)}")
            _verdict(torch.equal(a, b), f"for input degrees {in_degrees.tolist()} and hidden degrees "
                                        f"{hidden_degrees.tolist()} your {name} mask is\n{a}\nexpected\n{b}\n"
                                        "(a hidden unit sees inputs of degree <= its own; an output of "
                                        "degree d sees hidden units of degree < d)")
    made = MADE(3, 1, hidden=(4,), order=[2, 0, 1])        # and they agree with flowlib's MADE
    position = torch.empty(3, dtype=torch.long)
    position[made.order] = torch.arange(1, 4)
    hidden_mask, out_mask = [torch.as_tensor(m).float() for m in made_masks(position, torch.arange(4) % 2 + 1)]
    _verdict(torch.equal(hidden_mask, made.net[0].mask) and torch.equal(out_mask, made.out.mask),
             "your masks differ from flowlib.MADE's for order [2, 0, 1]")
    print("Correct: hidden units see degrees <= theirs; outputs see degrees strictly below.")


def check_pixelcnn_mask(mask):
    """Chapter 3: ``mask(kernel_size, mask_type)`` is the (k, k) 0/1 mask of a masked convolution."""
    from .autoregressive import MaskedConv2d
    for k in (3, 5, 7):
        for kind in ("A", "B"):
            got = torch.as_tensor(mask(k, kind)).float()
            want = MaskedConv2d(1, 1, k, kind).mask
            _verdict(torch.equal(got, want), f"for kernel_size={k}, type {kind} you return\n{got}\nexpected\n{want}\n"
                                             "(rows above the centre, the pixels left of it, and the centre only for B)")
    print("Correct: a type-A mask hides the centre pixel, a type-B mask lets it through.")


def check_maf_sampling(sample):
    """Chapter 3: ``sample(z, conditioner)`` inverts one affine MAF layer
    ``z_i = (x_i - mu_i(x_<i)) * exp(-alpha_i(x_<i))``, where ``conditioner(x)`` returns
    ``(mu, alpha)``, each of shape ``(n, D)``, computed autoregressively from ``x``."""
    from .autoregressive import Autoregressive
    from .testing import randomize
    g = torch.Generator().manual_seed(7)
    layer = randomize(Autoregressive(5, scalar.affine, 2, hidden=(16, 16)), 0.5, g).double()

    def conditioner(x):
        mu, alpha = layer.made(x).unbind(-1)
        return mu, scalar.soft_clamp(alpha)

    z = torch.randn(20, 5, generator=g, dtype=torch.float64)
    x = torch.as_tensor(sample(z, conditioner), dtype=torch.float64)
    _verdict(x.shape == z.shape, f"expected samples of shape {tuple(z.shape)}, got {tuple(x.shape)}")
    err = (layer(x)[0] - z).abs().max().item()
    _verdict(err < 1e-8, f"mapping your samples through the layer does not give z back (off by {err:.2g}); "
                         "x_i needs mu_i and alpha_i computed from the x_<i you already have")
    print("Correct: D passes, x_i = mu_i + exp(alpha_i) z_i once x_<i is known.")
