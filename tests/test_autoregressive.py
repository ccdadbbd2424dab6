import pytest
import torch

import flowlib
from flowlib import MADE, Autoregressive, scalar
from flowlib.testing import randomize


@pytest.mark.parametrize("features, hidden, order", [
    (2, (16,), None), (2, (8, 8), [1, 0]), (5, (32, 32), None), (5, (7,), [3, 0, 4, 1, 2]), (1, (4,), None),
])
def test_made_outputs_depend_only_on_earlier_coordinates(features, hidden, order):
    made = randomize(MADE(features, 3, hidden, order), 1.0).double()
    order = list(range(features)) if order is None else order
    x = torch.randn(features, dtype=torch.float64)
    J = torch.autograd.functional.jacobian(lambda v: made(v[None])[0], x)  # (features, params, features)
    depends = (J.abs() > 0).any(1)                                          # output coordinate x input
    for k, i in enumerate(order):
        allowed = set(order[:k])
        assert {j for j in range(features) if depends[i, j]} <= allowed, (i, allowed)
    # and with enough hidden units every allowed connection has a path through the masks
    if min(hidden) >= features - 1:
        paths = made.out.mask
        for layer in reversed([m for m in made.net if isinstance(m, flowlib.MaskedLinear)][:-1]):
            paths = paths @ layer.mask
        reach = (paths.view(features, 3, features) > 0).any(1)
        for k, i in enumerate(order):
            assert {j for j in range(features) if reach[i, j]} == set(order[:k])


def test_made_rejects_an_order_that_is_not_a_permutation():
    with pytest.raises(ValueError, match="permutation"):
        MADE(3, 2, order=[0, 0, 2])


def test_autoregressive_starts_as_independent_mixture_cdfs():
    ar = Autoregressive(2, n_params=15)
    x = torch.randn(7, 2)
    z, ladj = ar(x)
    z_ref, ladj_ref = flowlib.MixtureCDF(2, k=5)(x)
    torch.testing.assert_close(z, z_ref)
    torch.testing.assert_close(ladj, ladj_ref)


def test_autoregressive_jacobian_is_triangular_in_its_order():
    ar = randomize(Autoregressive(3, n_params=9, hidden=(16,), order=[2, 0, 1]), 1.0).double()
    J = torch.autograd.functional.jacobian(lambda v: ar(v[None])[0][0], torch.randn(3, dtype=torch.float64))
    position = {i: k for k, i in enumerate([2, 0, 1])}
    for i in range(3):
        for j in range(3):
            if position[j] > position[i]:
                assert J[i, j] == 0, (i, j)


def test_autoregressive_flow_learns_a_2d_density():
    flowlib.seed(0)
    truth = flowlib.dataset("8gaussians")
    flow = flowlib.Flow(Autoregressive(2, n_params=15, hidden=(32, 32)), flowlib.StandardUniform(2))
    flowlib.fit(flow, truth.sample(5000), steps=500, lr=5e-3, batch_size=256, progress=False)
    assert flowlib.kl_divergence(truth, flow.log_prob, truth.sample(5000)) < 0.3


def test_affine_transform_has_a_closed_form_inverse_that_invert_uses():
    params = torch.randn(10, 2, dtype=torch.float64)
    x = torch.randn(10, dtype=torch.float64)
    y, ladj = scalar.affine(x, params)
    x_back, ladj_inv = scalar.invert(scalar.affine, y, params, None, None)  # no bracket needed
    torch.testing.assert_close(x_back, x)
    torch.testing.assert_close(ladj_inv, -ladj)


def test_maf_layer_starts_as_the_identity_only_when_asked():
    from flowlib.testing import check_identity
    x = torch.randn(6, 4)
    check_identity(Autoregressive(4, scalar.affine, 2), x)
    check_identity(flowlib.MAF(4, layers=3, zero_last=True), x)
    # by default a MAF's last layers start random (benchmarks/identity_start.py)
    layer = flowlib.MAF(4, layers=3).bijectors[0]
    assert layer.made.out.weight.abs().sum() > 0
    with pytest.raises(AssertionError, match="identity"):
        check_identity(layer, x)


def test_iaf_is_a_maf_turned_around():
    maf = randomize(flowlib.MAF(5, layers=2, hidden=(16,)), 0.3)
    iaf = maf.inv
    assert isinstance(iaf, flowlib.Inverse) and iaf.bijector is maf    # the same parameters
    z = torch.randn(8, 5)
    x, ladj = iaf.inverse(z)                                          # IAF sampling: MAF's one-pass forward
    torch.testing.assert_close((x, ladj), maf(z))
    z_back, ladj_back = iaf(x)                                        # IAF density: MAF's D-pass inverse
    torch.testing.assert_close(z_back, z, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(ladj_back, -ladj, atol=1e-5, rtol=1e-5)


def test_inverse_needs_exactly_one_pass_per_coordinate():
    ar = randomize(Autoregressive(6, scalar.affine, 2, hidden=(32,), order=[3, 5, 0, 1, 4, 2]), 0.5)
    calls = []
    ar.made.register_forward_hook(lambda *a: calls.append(1))
    z = torch.randn(4, 6)
    x, _ = ar.inverse(z)
    assert len(calls) == 6
    torch.testing.assert_close(ar(x)[0], z, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("kernel", [3, 5])
def test_masked_convolutions_are_autoregressive_in_raster_order(kernel):
    torch.manual_seed(0)
    net = torch.nn.Sequential(flowlib.MaskedConv2d(1, 4, kernel, "A"), torch.nn.ReLU(),
                              flowlib.MaskedConv2d(4, 4, kernel, "B"), torch.nn.ReLU(),
                              flowlib.MaskedConv2d(4, 1, kernel, "B")).double()
    x = torch.randn(1, 1, 6, 6, dtype=torch.float64)
    J = torch.autograd.functional.jacobian(lambda v: net(v.view(1, 1, 6, 6)).flatten(), x.flatten())
    assert (J.abs() > 0).triu().sum() == 0      # output pixel k sees only pixels before k in raster order
    assert (J.abs() > 0).tril(-1).any(1)[1:].all()  # and every pixel after the first sees something


def test_masked_convolution_masks():
    assert flowlib.MaskedConv2d(1, 1, 3, "A").mask.tolist() == [[1, 1, 1], [1, 0, 0], [0, 0, 0]]
    assert flowlib.MaskedConv2d(1, 1, 3, "B").mask.tolist() == [[1, 1, 1], [1, 1, 0], [0, 0, 0]]
    with pytest.raises(ValueError, match="mask_type"):
        flowlib.MaskedConv2d(1, 1, 3, "C")


def test_maf_learns_a_2d_density():
    flowlib.seed(0)
    truth = flowlib.dataset("8gaussians")
    flow = flowlib.Flow(flowlib.MAF(2, layers=4, hidden=(32, 32)), flowlib.StandardNormal(2))
    before = flowlib.kl_divergence(truth, flow, truth.sample(5000))
    flowlib.fit(flow, truth.sample(5000), steps=500, lr=5e-3, progress=False)
    assert flowlib.kl_divergence(truth, flow, truth.sample(5000)) < before / 2


def test_a_made_context_reaches_every_coordinate_and_keeps_the_order():
    """The first coordinate's parameters see no input, but they do see the context;
    the context never opens a path from x_j to the parameters of x_i, i <= j."""
    torch.manual_seed(0)
    made = flowlib.testing.randomize(flowlib.MADE(4, 2, hidden=(16,), context=3))
    x, c = torch.randn(1, 4), torch.randn(1, 3)
    change = made(x, c + 1) - made(x, c)
    assert (change.abs().sum(-1) > 0).all(), change
    jac = torch.autograd.functional.jacobian(lambda v: made(v[None], c)[0], x[0])
    for i in range(4):          # parameters of coordinate i against inputs j >= i
        assert torch.all(jac[i, :, i:] == 0), i
