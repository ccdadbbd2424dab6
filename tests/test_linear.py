import pytest
import torch

import flowlib
from flowlib.testing import check_identity, randomize


def test_permutation_and_reverse():
    x = torch.arange(8.0).view(2, 4)
    z, ladj = flowlib.Permutation([2, 0, 3, 1])(x)
    assert z[0].tolist() == [2, 0, 3, 1] and ladj.tolist() == [0, 0]
    assert flowlib.Reverse(4)(x)[0][0].tolist() == [3, 2, 1, 0]
    with pytest.raises(ValueError, match="permutation"):
        flowlib.Permutation([0, 0, 1])


def test_linear_lu_starts_as_the_identity_and_is_a_gaussian():
    check_identity(flowlib.LinearLU(4), torch.randn(5, 4))
    lin = randomize(flowlib.LinearLU(3), 0.5).double()
    L, U = lin.factors()
    W = L @ U
    flow = flowlib.Flow(lin, flowlib.StandardNormal(3)).double()
    x = torch.randn(6, 3, dtype=torch.float64)
    mean = -torch.linalg.solve(W, lin.bias)
    cov = torch.linalg.inv(W.T @ W)
    gauss = torch.distributions.MultivariateNormal(mean, cov)
    torch.testing.assert_close(flow.log_prob(x), gauss.log_prob(x))
