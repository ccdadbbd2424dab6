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
    P, L, U = lin.factors()
    W = lin.weight()
    torch.testing.assert_close(W, P @ L @ U)
    flow = flowlib.Flow(lin, flowlib.StandardNormal(3)).double()
    x = torch.randn(6, 3, dtype=torch.float64)
    mean = -torch.linalg.solve(W, lin.bias)
    cov = torch.linalg.inv(W.T @ W)
    gauss = torch.distributions.MultivariateNormal(mean, cov)
    torch.testing.assert_close(flow.log_prob(x), gauss.log_prob(x))


def test_linear_lu_reaches_matrices_that_need_a_permutation():
    # W = L U (unit L) has leading minors det(U_1..k) > 0; this W has a zero one and
    # det W < 0, so it needs Glow's P and a negative diagonal sign.
    w = torch.tensor([[0.0, 2.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, -3.0]])
    lin = flowlib.LinearLU(3, w)
    torch.testing.assert_close(lin.weight(), w)
    x = torch.randn(5, 3)
    z, ladj = lin(x)
    torch.testing.assert_close(z, x @ w.T)
    torch.testing.assert_close(ladj, torch.linalg.slogdet(w).logabsdet.expand(5))
    torch.testing.assert_close(lin.inverse(z)[0], x, atol=1e-5, rtol=1e-5)
    assert lin.perm.requires_grad is False and len(list(lin.parameters())) == 4


def test_linear_lu_refuses_a_bad_weight():
    with pytest.raises(ValueError, match=r"\(3, 3\)"):
        flowlib.LinearLU(3, torch.eye(2))
    with pytest.raises(ValueError, match="invertible"):
        flowlib.LinearLU(2, torch.zeros(2, 2))
