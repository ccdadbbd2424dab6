import inspect

import pytest
import torch

import flowlib
from flowlib.testing import (check_bijector, check_identity, conditional_examples,
                             examples, randomize)

EXAMPLES = list(examples())


@pytest.mark.parametrize("name, bijector, x", EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_every_bijector_passes_the_harness(name, bijector, x):
    check_bijector(bijector, x)


def test_examples_cover_every_exported_bijector():
    exported = {obj for obj in vars(flowlib).values()
                if inspect.isclass(obj) and issubclass(obj, flowlib.Bijector) and obj is not flowlib.Bijector}
    covered = {type(b) for _, b, _ in EXAMPLES}
    for _, b, _ in EXAMPLES:  # bijectors nested in Compose and Inverse count too
        covered |= {type(m) for m in b.modules()}
    assert exported <= covered, f"no example for {sorted(c.__name__ for c in exported - covered)}"


def test_examples_are_not_the_identity():
    for name, b, x in EXAMPLES:
        z, _ = b.double()(x.double())
        assert z.shape != x.shape or not torch.allclose(z, x.double()), name


@pytest.mark.parametrize("bijector, x", [(flowlib.Affine(3), torch.randn(5, 3)),
                                         (flowlib.Affine(1, 2, 2), torch.randn(2, 1, 2, 2))])
def test_identity_at_initialization(bijector, x):
    check_identity(bijector, x)


class FlippedSign(flowlib.Affine):
    """Consistent in both directions, so only the Jacobian check can see the error."""

    def forward(self, x, context=None):
        z, ladj = super().forward(x)
        return z, -ladj

    def inverse(self, z, context=None):
        x, ladj = super().inverse(z)
        return x, -ladj


class MissingTerm(flowlib.Sigmoid):
    """Drops log(1 - sigma(x)) from the log-derivative of the sigmoid."""

    def forward(self, x, context=None):
        return torch.sigmoid(x), torch.nn.functional.logsigmoid(x).sum(1)

    def inverse(self, z, context=None):
        return torch.logit(z), -torch.log(z).sum(1)


class NotInverse(flowlib.Affine):
    def inverse(self, z, context=None):
        x, ladj = super().inverse(z)
        return x + 1e-3, ladj



@pytest.mark.parametrize("broken, message", [
    (randomize(FlippedSign(3), 1.0), "autograd Jacobian"),
    (MissingTerm(), "autograd Jacobian"),
    (randomize(NotInverse(3), 1.0), "round trip"),
])
def test_harness_catches_planted_errors(broken, message):
    with pytest.raises(AssertionError, match=message):
        check_bijector(broken, torch.randn(4, 3))


def test_harness_catches_a_parameter_without_gradient():
    b = randomize(flowlib.Affine(3), 1.0)
    b.unused = torch.nn.Parameter(torch.zeros(2))
    with pytest.raises(AssertionError, match="unused gets no gradient"):
        check_bijector(b, torch.randn(4, 3))


@pytest.mark.parametrize("direction", ["forward", "inverse"])
def test_directions_without_bisection_have_no_host_syncs(direction, monkeypatch):
    """torch.compile (and a CUDA graph) can capture a direction whole only if nothing in it
    reads a tensor back to the host. Bisection must (it counts its iterations once); every
    other direction of every example bijector must trace as a single graph."""
    calls = []
    real_bisect = flowlib.scalar.bisect
    for name, b, x in EXAMPLES:
        if any(type(m).__name__ in ("ResidualBlock", "CNF") for m in b.modules()):
            continue  # log-dets by autograd inside forward; iterative inverses, and
                      # adaptive ODE solvers that choose their steps on the host
        fn, x = getattr(b.double(), direction), x.double()  # as the harness leaves them
        monkeypatch.setattr(flowlib.scalar, "bisect", lambda *a, **k: calls.append(name) or real_bisect(*a, **k))
        try:
            fn(x)
            valid = True
        except ValueError:  # examples hold data-space points, which may fall outside
            valid = False   # an inverse's range or shape (a squeeze's inverse)
        monkeypatch.setattr(flowlib.scalar, "bisect", real_bisect)
        if valid and name not in calls:
            explained = torch._dynamo.explain(fn)(x)
            assert explained.graph_break_count == 0, (name, [r.reason for r in explained.break_reasons])
        torch._dynamo.reset()
    assert len(set(calls)) < len(EXAMPLES)  # the check ran on most of them


@pytest.mark.parametrize("name, bijector, x, context", list(conditional_examples()),
                         ids=lambda v: v if isinstance(v, str) else "")
def test_conditional_examples_pass_the_harness_and_depend_on_the_context(
        name, bijector, x, context):
    check_bijector(bijector, x, context=context)
    b = bijector.double()
    x, context = x.double(), context.double()
    assert not torch.allclose(b(x, context)[0], b(x, context + 0.5)[0])
    assert not torch.allclose(b(x, context)[1], b(x, context + 0.5)[1])


@pytest.mark.parametrize("layer", [flowlib.Planar(3, context=2),
                                   flowlib.Sylvester(3, context=2),
                                   flowlib.Autoregressive(3, context=2)],
                         ids=["Planar", "Sylvester", "Autoregressive"])
def test_a_conditional_layer_without_its_context_says_what_it_needs(layer):
    for context in (None, torch.zeros(4, 5)):
        with pytest.raises(ValueError, match=r"context of shape \(4|batch, 2\)"):
            layer(torch.randn(4, 3), context)


def test_amortized_layers_start_as_the_shared_layer():
    """Zero weights from the context: every sample starts from the same map."""
    torch.manual_seed(0)
    layer = flowlib.Planar(3, context=2)
    x = torch.randn(1, 3).expand(5, 3)
    z, ladj = layer(x, torch.randn(5, 2))
    assert torch.allclose(z, z[:1]) and torch.allclose(ladj, ladj[:1])


def test_conditional_layers_pass_the_harness_with_their_context():
    """Variational dequantization's noise: couplings whose conditioners see a context
    (WithContext), on vectors and on images, behind a logit; the context changes
    the map."""
    g = torch.Generator().manual_seed(1)
    rand = lambda *shape: torch.rand(*shape, generator=g)
    vector = flowlib.Compose(flowlib.Sigmoid().inv, randomize(flowlib.Coupling(
        flowlib.checkerboard((3,)), flowlib.WithContext(flowlib.MLP(5, 6, (16,)))),
        generator=g))
    image = flowlib.Compose(flowlib.Sigmoid().inv, randomize(flowlib.Coupling(
        flowlib.checkerboard((1, 4, 4)),
        flowlib.WithContext(flowlib.ConvNet(2, 2, hidden=8))), generator=g))
    for b, u, context in ((vector, rand(4, 3), rand(4, 2) - 0.5),
                          (image, rand(2, 1, 4, 4), rand(2, 1, 4, 4) - 0.5)):
        u = 0.01 + 0.98 * u
        check_bijector(b, u, context=context)
        assert not torch.allclose(b(u, context)[0], b(u, context + 0.3)[0])
