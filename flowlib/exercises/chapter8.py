"""Checkers for chapter 8's exercises."""

import math

import torch

from ._base import _checker, _number, _one_per_sample, _result, _verdict


def _matrix(g, dim, scale=1.0):
    return scale * torch.randn(dim, dim, generator=g, dtype=torch.float64)


def _tanh_field(g, dim):
    """``f(t, z) = tanh(z W^T + t c)`` and its Jacobian's trace, per row of ``z``."""
    w, c = _matrix(g, dim, 0.8), torch.randn(dim, generator=g, dtype=torch.float64)
    field = lambda t, z: torch.tanh(z @ w.T + t * c)
    trace = lambda t, z: ((1 - field(t, z).square()) * torch.diagonal(w)).sum(-1)
    return field, trace


@_checker
def check_linear_log_det(log_det):
    """Chapter 8: ``log_det(A, T)`` is log|det dz(T)/dz(0)| for the linear field
    ``dz/dt = A z``."""
    g = torch.Generator().manual_seed(81)
    for dim, T in ((1, 0.5), (2, 1.0), (4, 2.0), (3, -1.5)):
        a = _matrix(g, dim)
        got = _number(log_det(a.clone(), T), "log_det(A, T)")
        want = torch.linalg.slogdet(torch.linalg.matrix_exp(T * a)).logabsdet.item()
        _verdict(abs(got - want) < 1e-9, f"in {dim}-D with T = {T}: got {got:.6f}, the "
                 f"flow map exp(T A) has log|det| {want:.6f}. Integrate d log|det|/dt "
                 "= tr(df/dz) from 0 to T")
    print("Correct: det exp(T A) = exp(T tr A), so the log-det is T tr A: one trace, "
          "never a determinant.")


@_checker
def check_euler_augmented(euler_step):
    """Chapter 8: ``euler_step(f, t, z, log_p, h, trace)`` is one Euler step of the
    augmented ODE for ``z`` and ``log p(z(t))``, where ``trace(t, z)`` gives
    ``tr(df/dz)`` per row of ``z``."""
    g = torch.Generator().manual_seed(82)
    for dim, t, h in ((1, 0.0, 0.1), (2, 0.3, 0.05), (5, 1.0, -0.2)):
        field, trace = _tanh_field(g, dim)
        z = torch.randn(7, dim, generator=g, dtype=torch.float64)
        log_p = torch.randn(7, generator=g, dtype=torch.float64)
        out = euler_step(field, t, z.clone(), log_p.clone(), h, trace)
        _verdict(isinstance(out, tuple) and len(out) == 2,
                 "return a pair (z_next, log_p_next)")
        z_next, log_p_next = (_result(o) for o in out)
        _verdict(z_next.shape == z.shape, f"z_next should have shape {tuple(z.shape)}, "
                 f"got {tuple(z_next.shape)}")
        _one_per_sample(log_p_next, log_p)
        err_z = (z_next - z - h * field(t, z)).abs().max().item()
        _verdict(err_z < 1e-12, f"in {dim}-D z_next is off by {err_z:.3g}: the step is "
                 "z + h f(t, z)")
        want = log_p - h * trace(t, z)
        err = (log_p_next - want).abs().max().item()
        _verdict(err < 1e-12, f"in {dim}-D log_p_next is off by {err:.3g}; e.g. "
                 f"{log_p_next[0].item():.6f} where {want[0].item():.6f} is right "
                 "(d log p / dt = -tr(df/dz): a spreading field lowers the density)")
    print("Correct: log p falls at the rate the field spreads mass, tr(df/dz); a "
          "solver carries both in one state.")


def _rk4(f, t, z, h):
    k1 = f(t, z)
    k2 = f(t + h / 2, z + h / 2 * k1)
    k3 = f(t + h / 2, z + h / 2 * k2)
    k4 = f(t + h, z + h * k3)
    return z + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)


@_checker
def check_rk4_step(rk4_step):
    """Chapter 8: ``rk4_step(f, t, z, h)`` is one step of the classical fourth-order
    Runge-Kutta method for ``dz/dt = f(t, z)``."""
    g = torch.Generator().manual_seed(83)
    for dim, t, h in ((1, 0.0, 0.1), (3, 0.5, 0.25), (3, 1.0, -0.3)):
        field, _ = _tanh_field(g, dim)
        z = torch.randn(5, dim, generator=g, dtype=torch.float64)
        got = _result(rk4_step(field, t, z.clone(), h), "rk4_step(f, t, z, h)")
        want = _rk4(field, t, z, h)
        _verdict(got.shape == z.shape, f"expected shape {tuple(z.shape)}, got "
                 f"{tuple(got.shape)}")
        err = (got - want).abs().max().item()
        _verdict(err < 1e-12, f"in {dim}-D at t = {t}, h = {h}: off by {err:.3g} from "
                 "z + h (k1 + 2 k2 + 2 k3 + k4) / 6, with k2, k3 at t + h/2 and k4 "
                 "at t + h")
    print("Correct: four evaluations a step, error O(h^4) over a fixed interval: "
          "halving h cuts it about 16-fold.")


@_checker
def check_hutchinson_variance(variance):
    """Chapter 8: ``variance(A, kind)`` is the variance of ``v^T A v`` for
    ``kind = "gaussian"`` (v standard normal) or ``"rademacher"`` (random signs)."""
    g = torch.Generator().manual_seed(84)
    for dim in (1, 2, 6):
        a = _matrix(g, dim)
        s = (a + a.T) / 2
        wants = {"gaussian": 2 * s.square().sum().item(),
                 "rademacher": 2 * (s.square().sum() - s.diagonal().square().sum())
                 .item()}
        for kind, want in wants.items():
            got = _number(variance(a.clone(), kind), f"variance(A, {kind!r})")
            _verdict(math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-12),
                     f"in {dim}-D, {kind}: got {got:.6f}, expected {want:.6f}. Only "
                     "A's symmetric part S = (A + A^T)/2 enters v^T A v")
    print("Correct: 2 ||S||_F^2 for Gaussian probes; random signs drop the diagonal's "
          "share, since v_i^2 = 1 exactly.")


@_checker
def check_linear_cnf_density(log_density):
    """Chapter 8: ``log_density(x, A, T)`` is ``log p(x)`` for the flow ``dz/dt = A z``
    run from ``z(0) = x`` to ``z(T)``, with a standard normal base at ``T``."""
    g = torch.Generator().manual_seed(85)
    for dim, T in ((1, 1.0), (2, 0.7), (3, 2.0)):
        a = _matrix(g, dim, 0.5)
        x = torch.randn(6, dim, generator=g, dtype=torch.float64)
        z = x @ torch.linalg.matrix_exp(T * a).T
        want = (-0.5 * z.square().sum(-1) - dim / 2 * math.log(2 * math.pi)
                + T * torch.trace(a))
        got = _result(log_density(x.clone(), a.clone(), T), "log_density(x, A, T)")
        _one_per_sample(got, want)
        err = (got - want).abs().max().item()
        _verdict(err < 1e-9, f"in {dim}-D with T = {T}: off by up to {err:.3g}; "
                 f"e.g. {got[0].item():.6f} where {want[0].item():.6f} is right "
                 "(z(T) = exp(T A) x, and log p(x) = log N(z(T)) + T tr A)")
    print("Correct: the density of a linear flow is a Gaussian with covariance "
          "exp(-T A) exp(-T A)^T, here reached by the change of variables.")
