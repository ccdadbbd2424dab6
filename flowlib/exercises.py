"""Checkers for the chapters' exercises: pass your answer, get a verdict.

A checker prints a short confirmation when the answer is right and raises an
``AssertionError`` that says what is wrong (and on which input) when it is not. Each
code exercise starts from a cell whose body is ``...``; run as it is, its checker says
that the exercise is not attempted yet, so a notebook runs from top to bottom before
the reader has filled anything in.

>>> import torch
>>> check_scaled_uniform_density(
...     lambda y: torch.where((y >= 0) & (y <= 2), 0.5, 0.0))
Correct: p_Y(y) = 1/2 on [0, 2] and 0 elsewhere, so it integrates to 1.
>>> def density_of_2x(y):
...     ...  # your code here
>>> check_scaled_uniform_density(density_of_2x)
Not attempted yet: fill in density_of_2x and run the cell again.
"""

import ast
import functools
import inspect
import math
import textwrap

import torch

from . import scalar


def _verdict(ok, message):
    if not ok:
        raise AssertionError(message)


def _result(value, what="your answer"):
    """``value`` as a float64 tensor, or a verdict that says why it is not one."""
    _verdict(value is not None, f"{what} is None: did you forget to return the result?")
    try:
        return torch.as_tensor(value, dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError):
        raise AssertionError(f"{what} should be numbers (a tensor), got "
                             f"{type(value).__name__}") from None


def _number(value, what="your answer"):
    """``value`` as one Python float (a number, or a tensor with one element)."""
    t = _result(value, what)
    _verdict(t.numel() == 1, f"{what} should be one number, got shape {tuple(t.shape)}")
    return t.item()


def _one_per_sample(got, want):
    _verdict(got.shape == want.shape, f"expected one value per sample, shape "
             f"{tuple(want.shape)}, got {tuple(got.shape)}")


def _is_starter(answer):
    """True for an answer left as the starter cell gave it: the value ``...``, or a
    function whose body holds nothing but a docstring and ``...`` (or ``pass``)."""
    if answer is Ellipsis:
        return True
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(answer)))
    except (OSError, TypeError, SyntaxError):  # a lambda in an expression, a builtin
        return False
    if not tree.body or not isinstance(tree.body[0], ast.FunctionDef):
        return False
    empty = lambda node: isinstance(node, ast.Pass) or (
        isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
        and (node.value.value is Ellipsis or isinstance(node.value.value, str)))
    return all(empty(node) for node in tree.body[0].body)


def _checker(check):
    """Make ``check(answer, ...)`` say "not attempted yet" for an untouched starter."""
    @functools.wraps(check)
    def checked(answer, *args, **kwargs):
        if _is_starter(answer):
            what = ("replace the ... with your answer" if answer is Ellipsis
                    else f"fill in {answer.__name__}")
            print(f"Not attempted yet: {what} and run the cell again.")
            return None
        return check(answer, *args, **kwargs)
    return checked


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
    from .autoregressive import MADE
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
    from .autoregressive import MaskedConv2d
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
    from .autoregressive import Autoregressive
    from .testing import randomize
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


@_checker
def check_logit_normal_log_prob(log_prob):
    """Chapter 0: ``log_prob(x, loc, scale)`` is the log-density, at each entry of a 1-D
    tensor ``x`` in (0, 1), of the flow ``z = (logit(x) - loc) / scale`` with a
    standard-normal base."""
    from . import Affine, Compose, Flow, Sigmoid, StandardNormal
    x = torch.tensor([0.01, 0.3, 0.5, 0.9, 0.999], dtype=torch.float64)
    for loc, scale in ((0.0, 1.0), (1.5, 0.4), (-2.0, 3.0)):
        affine = Affine(1)
        with torch.no_grad():
            affine.loc.fill_(loc)
            affine.log_scale.fill_(math.log(scale))
        flow = Flow(Compose(Sigmoid().inv, affine), StandardNormal(1)).double()
        with torch.no_grad():
            want = flow.log_prob(x[:, None])
        got = _result(log_prob(x.clone(), loc, scale))
        _verdict(got.shape == x.shape,
                 f"expected one value per x, shape {tuple(x.shape)}, "
                 f"got {tuple(got.shape)}")
        _verdict(torch.allclose(got, want),
                 f"for loc = {loc}, scale = {scale} and x = {x.tolist()} you return "
                 f"{got.tolist()}, expected {want.tolist()} (both steps, the logit and "
                 "the affine map, contribute a log-derivative)")
    print("Correct: log N(z) - log scale - log x - log(1 - x), as flow.log_prob "
          "computes.")


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


@_checker
def check_triangular_log_det(log_det):
    """Chapter 2: ``log_det(bijector, x)`` is log|det J| of the bijector's forward map
    at one point ``x`` of shape ``(2,)``, from the diagonal of its autograd
    Jacobian."""
    from .autoregressive import Autoregressive
    from .testing import randomize
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
    from .glow import MultiScale
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
    from .glow import Squeeze
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
    from .elementwise import Sigmoid
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
