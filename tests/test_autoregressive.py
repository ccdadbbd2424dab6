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
