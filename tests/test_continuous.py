"""The continuous-time flow (flowlib.continuous): its gradients, estimators and
solver options. (The exact-trace CNF also passes the harness through
``flowlib.testing.examples``.)"""

import pytest
import torch

from flowlib.continuous import CNF, TimeMLP, exact_trace, hutchinson_trace, noise
from flowlib.testing import check_bijector, randomize


def cnf(dim=3, **kw):
    g = torch.Generator().manual_seed(0)
    return CNF(randomize(TimeMLP(dim, (8, 8)), 0.5, g), **kw).double()


def test_adjoint_passes_the_harness_and_matches_backprop():
    x = torch.randn(4, 3, dtype=torch.float64)
    check_bijector(cnf(rtol=1e-10, atol=1e-10, adjoint=True), x)
    grads = []
    for adjoint in (False, True):
        flow = cnf(rtol=1e-10, atol=1e-10, adjoint=adjoint)
        z, ladj = flow(torch.randn(32, 3, dtype=torch.float64,
                                   generator=torch.Generator().manual_seed(1)))
        (z.square().sum() - ladj.sum()).backward()
        grads.append(torch.cat([p.grad.flatten() for p in flow.parameters()]))
    assert (grads[0] - grads[1]).abs().max() < 1e-6


def test_fixed_step_solver_passes_the_harness():
    check_bijector(cnf(method="rk4", options=dict(step_size=0.01)),
                   torch.randn(4, 3, dtype=torch.float64), atol=1e-6)


@pytest.mark.parametrize("kind", ["gaussian", "rademacher"])
def test_hutchinson_log_det_is_unbiased(kind):
    flow = cnf(rtol=1e-9, atol=1e-9)
    x = torch.randn(8, 3, dtype=torch.float64)
    with torch.no_grad():
        exact = flow(x)[1]
        with flow.settings(trace="hutchinson", noise=kind):
            assert flow.stochastic
            draws = torch.stack([flow(x)[1] for _ in range(400)])
        assert not flow.stochastic
    se = draws.std(0) / len(draws) ** 0.5
    assert draws.std(0).min() > 0                     # it is an estimate...
    assert ((draws.mean(0) - exact).abs() < 5 * se + 1e-9).all()   # ...of the log-det


def test_trace_estimators_at_one_point():
    g = torch.Generator().manual_seed(2)
    a = torch.randn(4, 4, dtype=torch.float64, generator=g)
    z = torch.randn(5, 4, dtype=torch.float64, requires_grad=True)
    dz = z @ a.T
    assert torch.allclose(exact_trace(dz, z, False), torch.trace(a).expand(5))
    signs = noise(z, "rademacher")
    assert set(signs.unique().tolist()) <= {-1.0, 1.0}
    est = hutchinson_trace(dz, z, signs, False)
    assert torch.allclose(est, ((signs @ a) * signs).sum(1))


def test_nfe_counts_the_last_solve_and_its_backward():
    flow = cnf(rtol=1e-6, atol=1e-6, adjoint=True)
    g = torch.Generator().manual_seed(3)
    x = torch.randn(16, 3, dtype=torch.float64, generator=g)
    z, ladj = flow(x)
    forward = flow.nfe
    assert forward >= 8              # dopri5: at least one step of six stages
    (z.sum() + ladj.sum()).backward()
    assert flow.nfe > forward        # the adjoint solve evaluates the field again
    flow(x)
    assert flow.nfe == forward       # the count starts again with each solve


def test_bad_input_and_options_are_refused():
    with pytest.raises(ValueError, match="trace must be"):
        CNF(TimeMLP(2), trace="exact-ish")
    with pytest.raises(ValueError, match="batch of vectors"):
        CNF(TimeMLP(2))(torch.randn(2, 1, 2))
    with pytest.raises(ValueError, match="unknown CNF settings"):
        with CNF(TimeMLP(2)).settings(tolerance=1e-3):
            pass
    with pytest.raises(ValueError, match="noise must be"):
        CNF(TimeMLP(2), trace="hutchinson", noise="uniform")(torch.randn(3, 2))
