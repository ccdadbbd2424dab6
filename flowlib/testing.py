"""The bijector harness: one set of checks that every bijector in flowlib passes.

``check_bijector(b, x)`` runs, in float64: shapes and dtype kept; the round trip
both ways; ``ladj(forward) + ladj(inverse) = 0``; ``ladj`` equal to log|det| of
the Jacobian that autograd computes (the only check that catches a wrong sign
or a missing term); and a finite gradient for the input and every parameter.
``examples()`` yields a small instance with non-identity parameters and a
valid input batch for every bijector flowlib exports.

>>> import flowlib
>>> from flowlib.testing import check_bijector, examples
>>> for name, bijector, x in examples():
...     check_bijector(bijector, x)
"""

import copy
import importlib.util

import torch
from torch.autograd.functional import jacobian

from . import scalar
from .autoregressive import MAF, Autoregressive
from .core import Compose, Inverse
from .coupling import Coupling, channel_mask, checkerboard
from .elementwise import Affine, LeakyReLU, MixtureCDF, NormalCDF, Sigmoid
from .glow import ActNorm, Conv1x1, MultiScale, Squeeze
from .linear import LinearLU, Permutation, Reverse
from .nets import MLP, ConvNet, GatedAttentionNet, WithContext
from .residual import (Planar, Radial, ResidualBlock, SpectralLinear, Sylvester,
                       lipschitz_mlp)


def check_bijector(bijector, x, context=None, atol=1e-7):
    """Assert that ``bijector`` is a correct bijector at the batch ``x`` (checked in
    float64)."""
    b = copy.deepcopy(bijector).double()
    x = x.double()
    context = (context.double() if context is not None and context.is_floating_point()
               else context)

    z, ladj = b(x, context)
    _expect(z.dtype == ladj.dtype == torch.float64,
            f"forward returns dtypes {z.dtype}, {ladj.dtype}, not float64")
    _expect(z.shape[0] == x.shape[0] and z.numel() == x.numel(),
            f"forward maps shape {tuple(x.shape)} to {tuple(z.shape)}: "
            "the batch or the size changed")
    _expect(ladj.shape == (x.shape[0],),
            f"forward's ladj has shape {tuple(ladj.shape)}, not ({x.shape[0]},)")

    x_back, ladj_inv = b.inverse(z, context)
    _expect(x_back.dtype == ladj_inv.dtype == torch.float64,
            f"inverse returns dtypes {x_back.dtype}, {ladj_inv.dtype}")
    _expect(x_back.shape == x.shape,
            f"inverse returns shape {tuple(x_back.shape)}, not {tuple(x.shape)}")
    _close(x_back, x, atol, "round trip x -> z -> x")
    _close(b(x_back, context)[0], z, atol, "round trip z -> x -> z")
    _close(ladj + ladj_inv, torch.zeros_like(ladj), atol,
           "ladj(forward) + ladj(inverse)")

    for i in range(len(x)):
        ctx = None if context is None else context[i:i + 1]
        for direction, fn, point, claimed in (("forward", b.forward, x, ladj),
                                              ("inverse", b.inverse, z, ladj_inv)):
            shape = point[i:i + 1].shape
            J = jacobian(lambda v: fn(v.view(shape), ctx)[0].flatten(),
                         point[i].flatten())
            _close(claimed[i], torch.linalg.slogdet(J).logabsdet, atol * 100,
                   f"{direction} ladj of sample {i} against log|det| of the autograd "
                   "Jacobian")

    x = x.clone().requires_grad_()
    z, ladj = b(x, context)
    x_back, ladj_inv = b.inverse(z.detach(), context)
    (z.square().sum() + ladj.sum() + x_back.square().sum() + ladj_inv.sum()).backward()
    for name, p in [("the input x", x), *b.named_parameters()]:
        _expect(p.grad is not None, f"parameter {name} gets no gradient")
        _expect(torch.isfinite(p.grad).all(),
                f"parameter {name} has a non-finite gradient")


def check_identity(bijector, x, context=None, atol=1e-7):
    """Assert that ``bijector`` is the identity at ``x`` (as designed at
    initialization)."""
    z, ladj = bijector.double()(x.double(), context)
    _close(z, x.double(), atol, "identity at initialization: z = x")
    _close(ladj, torch.zeros_like(ladj), atol, "identity at initialization: ladj = 0")


def randomize(module, scale=0.5, generator=None):
    """Replace every parameter of ``module`` by Gaussian noise of std ``scale`` (in
    place), so that tests see a bijector away from its (often identity)
    initialization; returns it."""
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(scale * torch.randn(p.shape, generator=generator, dtype=p.dtype))
    return module


def examples():
    """Yield ``(name, bijector, x)``: every exported bijector, randomized, with a valid
    batch."""
    g = torch.Generator().manual_seed(0)

    def randn(*shape):
        return torch.randn(*shape, generator=g)

    def randomized(b, scale=0.5):
        return randomize(b, scale, generator=g)

    # inside (0, 1), away from the edges
    unit = 0.01 + 0.98 * torch.rand(4, 3, generator=g)
    yield "Affine", randomized(Affine(3)), randn(4, 3)
    yield "Affine on images", randomized(Affine(1, 3, 3)), randn(2, 1, 3, 3)
    yield "Sigmoid", Sigmoid(), 2 * randn(4, 3)
    yield "Inverse(Sigmoid)", Inverse(Sigmoid()), unit
    yield "Compose(logit, Affine)", Compose(Sigmoid().inv, randomized(Affine(3))), unit
    yield "NormalCDF", NormalCDF(), 2 * randn(4, 3)
    yield "LeakyReLU", LeakyReLU(0.2), randn(4, 3)
    yield "MixtureCDF", randomized(MixtureCDF(3, k=4)), 2 * randn(4, 3)
    yield "MixtureCDF logistic", randomized(
        MixtureCDF(2, k=3, component="logistic")), 2 * randn(4, 2)
    yield "Inverse(MixtureCDF)", Inverse(randomized(MixtureCDF(3, k=4))), unit
    yield "Autoregressive", randomized(
        Autoregressive(3, n_params=9, hidden=(16,))), 2 * randn(4, 3)
    yield "Autoregressive, reversed order", randomized(
        Autoregressive(2, n_params=6, hidden=(8, 8), order=[1, 0])), randn(4, 2)
    yield "Autoregressive affine", randomized(
        Autoregressive(4, scalar.affine, 2, hidden=(16,), order=[2, 0, 3, 1])), \
        randn(4, 4)
    yield "MAF", randomized(MAF(3, layers=2, hidden=(8,))), randn(4, 3)
    yield "IAF = Inverse(MAF)", randomized(MAF(3, layers=2, hidden=(8,))).inv, \
        randn(4, 3)
    yield "Sigmoid(eps).inv at the edges", Sigmoid(0.05).inv, \
        torch.cat([unit, torch.tensor([[0.0, 1.0, 0.5]])])
    yield "Permutation", Permutation([2, 0, 1]), randn(4, 3)
    yield "Reverse", Reverse(3), randn(4, 3)
    yield "Permutation of image channels", Permutation([2, 0, 3, 1]), randn(2, 4, 3, 3)
    yield "Reverse of image channels", Reverse(4), randn(2, 4, 3, 3)
    yield "LinearLU", randomized(LinearLU(3)), randn(4, 3)
    rotation = torch.linalg.qr(randn(3, 3))[0]   # Glow's start: P and signs not trivial
    yield "LinearLU from a rotation", randomized(LinearLU(3, rotation)), randn(4, 3)
    yield "Inverse(Autoregressive)", Inverse(randomized(
        Autoregressive(3, n_params=9, hidden=(16,)))), unit
    yield "Coupling, affine (RealNVP)", randomized(
        Coupling(checkerboard((4,)), MLP(4, 8, (16,)))), randn(4, 4)
    yield "Coupling, additive (NICE)", randomized(
        Coupling(checkerboard((4,), 1), MLP(4, 4, (16,)), scalar.additive, 1)), \
        randn(4, 4)
    yield "Coupling, mixture CDF", randomized(Coupling(
        checkerboard((3,)), MLP(3, 27, (16,)), scalar.gaussian_mixture_cdf, 9)), \
        randn(4, 3)
    spline, mol = scalar.rational_quadratic_spline, scalar.logistic_mixture_affine
    dense = scalar.ddsf(units=3, layers=2)
    for name, transform, n in [("spline", spline, 11), ("DSF", scalar.dsf, 9),
                               ("Flow++ mixture", mol, 11), ("DDSF", dense,
                                                             dense.n_params)]:
        # 3 * randn: some inputs in the spline's identity tails
        yield f"Autoregressive, {name}", randomized(
            Autoregressive(3, transform, n, hidden=(16,))), 3 * randn(4, 3)
        yield f"Coupling, {name}", randomized(
            Coupling(checkerboard((3,)), MLP(3, 3 * n, (16,)), transform, n)), \
            3 * randn(4, 3)
    yield "Coupling on images, attention conditioner", randomized(Coupling(
        channel_mask((4, 3, 3)), GatedAttentionNet(4, 4 * 11, 8, heads=2, size=(3, 3)),
        mol, 11), 0.1), randn(2, 4, 3, 3)   # at 0.5, parameters reach 50
    yield "Coupling on images, checkerboard", randomized(
        Coupling(checkerboard((2, 4, 4)), ConvNet(2, 4, hidden=8))), randn(2, 2, 4, 4)
    yield "Coupling on images, channels", randomized(
        Coupling(channel_mask((4, 2, 2)), ConvNet(4, 8, hidden=8))), randn(2, 4, 2, 2)
    yield "Coupling on images, contracting affine", randomized(Coupling(
        channel_mask((4, 2, 2)), ConvNet(4, 8, hidden=8), scalar.contracting_affine)), \
        randn(2, 4, 2, 2)
    yield "Coupling on images, bfloat16 conditioner", randomized(
        Coupling(channel_mask((4, 2, 2), 1), ConvNet(4, 8, hidden=8, bf16=True))), \
        randn(2, 4, 2, 2)
    yield "ActNorm on images", randomized(_initialized(ActNorm(3))), randn(2, 3, 4, 4)
    yield "ActNorm on vectors", randomized(_initialized(ActNorm(3, image=False))), \
        randn(4, 3)
    yield "Conv1x1", randomized(Conv1x1(3)), randn(2, 3, 4, 4)
    yield "Squeeze", Squeeze(), randn(2, 2, 4, 4)
    level = lambda c, h, w: Compose(_initialized(ActNorm(c)), Conv1x1(c), Coupling(
        channel_mask((c, h, w)), ConvNet(c, 2 * c, hidden=8)))
    # six layers of noise at 0.5 send z to 1e7 and beyond, no trained flow's range
    yield "Planar", randomized(Planar(3)), randn(4, 3)
    yield "Radial", randomized(Radial(3)), randn(4, 3)
    yield "IAF-style Inverse(Planar)", randomized(Planar(2)).inv, randn(4, 2)
    for kind, m in (("orthogonal", 2), ("householder", 3), ("triangular", None)):
        yield f"Sylvester, {kind}", randomized(Sylvester(3, m, kind, flip=True)), \
            randn(4, 3)
    yield "ResidualBlock, exact log-det", settled(randomized(ResidualBlock(
        lipschitz_mlp(3, (8, 8))))), 2 * randn(4, 3)
    if importlib.util.find_spec("torchdiffeq"):   # the optional ``ode`` extra
        from .continuous import CNF, TimeMLP
        yield "CNF, exact trace", CNF(randomized(TimeMLP(3, (8, 8))), rtol=1e-10,
                                      atol=1e-10), randn(4, 3)
    yield "MultiScale, two scales", randomized(
        MultiScale((1, 4, 4), [level(4, 2, 2), level(8, 1, 1)]), 0.2), randn(2, 1, 4, 4)


def conditional_examples():
    """Yield ``(name, bijector, x, context)``: every layer that can take a context
    (MADE-based, amortized residual layers, couplings with ``WithContext``),
    randomized, with a valid batch and a context of 2 features per sample."""
    g = torch.Generator().manual_seed(1)
    randn = lambda *shape: torch.randn(*shape, generator=g)
    randomized = lambda b: randomize(b, 0.5, generator=g)
    context = randn(4, 2)
    yield "Autoregressive affine", randomized(
        Autoregressive(3, scalar.affine, 2, hidden=(8,), context=2)), randn(4, 3), \
        context
    yield "Autoregressive spline", randomized(Autoregressive(
        3, scalar.rational_quadratic_spline, 11, hidden=(8,), context=2)), \
        3 * randn(4, 3), context
    yield "IAF = Inverse(MAF)", randomized(
        MAF(3, layers=2, hidden=(8,), context=2)).inv, randn(4, 3), context
    yield "Planar", randomized(Planar(3, context=2)), randn(4, 3), context
    yield "Radial", randomized(Radial(3, context=2)), randn(4, 3), context
    for kind, m in (("orthogonal", 2), ("householder", 3), ("triangular", None)):
        yield f"Sylvester, {kind}", randomized(
            Sylvester(3, m, kind, flip=True, context=2)), randn(4, 3), context
    yield "Coupling, WithContext", randomized(Coupling(
        checkerboard((3,)), WithContext(MLP(5, 6, (16,))))), randn(4, 3), context


def settled(bijector, iterations=50):
    """``bijector`` with the power iterations of its spectral norms run to
    convergence, then in eval mode, where they stay put and the map is fixed."""
    for layer in bijector.modules():
        if isinstance(layer, SpectralLinear):
            for _ in range(iterations):
                layer.train()(layer.weight.new_zeros(1, layer.in_features))
    return bijector.eval()


def _initialized(actnorm):
    """ActNorm as after its first batch, so that randomized parameters stay."""
    actnorm.initialized.fill_(True)
    return actnorm


def _close(actual, expected, atol, what):
    err = (actual - expected).abs().max().item()
    if not err <= atol * (1 + expected.abs().max().item()):
        raise AssertionError(f"{what}: off by {err:.3g} (tolerance {atol:.1g})")


def _expect(condition, message):
    if not condition:
        raise AssertionError(message)
