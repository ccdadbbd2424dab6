"""Continuous-time flows: neural ODEs and FFJORD (chapter 8).

A residual flow with infinitely many infinitesimal steps: the data point ``x`` is the
state at ``t = 0`` of the ODE ``dz/dt = f(z, t)``, and ``z = z(T)``. The map is
invertible for any ``f`` Lipschitz in ``z`` (run the ODE backwards), and its
log-determinant obeys the instantaneous change of variables

    d log|det dz(t)/dx| / dt = tr(df/dz),

so the log-det is an integral of traces, solved together with ``z`` as one augmented
ODE. The trace is exact (one vector-Jacobian product per dimension) or Hutchinson's
``v^T (df/dz) v`` with one noise vector per sample, drawn once per solve (FFJORD,
Grathwohl et al., 2019). The solvers and the adjoint method are torchdiffeq's.

>>> import torch
>>> cnf = CNF(TimeMLP(2, (8,)), rtol=1e-8, atol=1e-8).double()
>>> x = torch.randn(5, 2, dtype=torch.float64)
>>> z, ladj = cnf(x)
>>> x_back, ladj_back = cnf.inverse(z)
>>> bool((x_back - x).abs().max() < 1e-6), bool((ladj + ladj_back).abs().max() < 1e-6)
(True, True)
"""

import contextlib

import torch
from torch import nn

try:
    import torchdiffeq
except ImportError as error:   # an optional dependency: say how to get it
    raise ImportError("flowlib.continuous needs torchdiffeq: pip install "
                      "'flowlib[ode]' (or pip install torchdiffeq)") from error

from .core import Bijector


class TimeMLP(nn.Module):
    """A velocity field ``f(z, t)``, called as ``field(t, z)`` (torchdiffeq's order):
    an MLP that sees the time ``t`` beside its input at every layer, with smooth
    activations (the field must be Lipschitz in ``z`` for the ODE to have unique
    solutions; tanh and softplus nets are)."""

    def __init__(self, dim, hidden=(64, 64, 64), activation=nn.Tanh):
        super().__init__()
        sizes = (dim, *hidden, dim)
        self.layers = nn.ModuleList(nn.Linear(a + 1, b)
                                    for a, b in zip(sizes, sizes[1:]))
        self.activation = activation()

    def forward(self, t, z):
        t = t.expand(len(z), 1).to(z)
        for i, layer in enumerate(self.layers):
            z = layer(torch.cat([z, t], 1))
            if i < len(self.layers) - 1:
                z = self.activation(z)
        return z


def exact_trace(dz, z, graph):
    """``tr(d dz / dz)`` per sample: one vector-Jacobian product per dimension."""
    trace = 0.0
    for i in range(z.shape[1]):
        e = torch.zeros_like(z)
        e[:, i] = 1
        trace = trace + torch.autograd.grad(dz, z, e, retain_graph=True,
                                            create_graph=graph)[0][:, i]
    return trace


def hutchinson_trace(dz, z, v, graph):
    """``v^T (d dz / dz) v`` per sample: unbiased for the trace if ``E[v v^T] = I``."""
    vjp = torch.autograd.grad(dz, z, v, retain_graph=True, create_graph=graph)[0]
    return (vjp * v).sum(1)


def noise(like, kind):
    """Probe vectors for Hutchinson's estimator: ``"gaussian"`` or ``"rademacher"``
    (random signs, the smaller variance)."""
    if kind == "gaussian":
        return torch.randn_like(like)
    if kind == "rademacher":
        return torch.randint_like(like, 2) * 2 - 1
    raise ValueError(f"noise must be 'gaussian' or 'rademacher', got {kind!r}")


class _Dynamics(nn.Module):
    """The augmented ODE: ``d(z, l)/dt = (f(z, t), tr(df/dz))``; counts its calls."""

    def __init__(self, field):
        super().__init__()
        self.field, self.trace, self.v, self.nfe = field, "exact", None, 0

    def forward(self, t, state):
        z = state[0]
        self.nfe += 1
        graph = torch.is_grad_enabled()
        with torch.enable_grad():
            if not (graph and z.requires_grad):   # a fresh leaf to differentiate by
                z = z.detach().requires_grad_()
            dz = self.field(t, z)
            if self.trace == "exact":
                tr = exact_trace(dz, z, graph)
            else:
                tr = hutchinson_trace(dz, z, self.v, graph)
        return (dz, tr) if graph else (dz.detach(), tr.detach())


class CNF(Bijector):
    """A continuous normalizing flow: ``z = z(T)`` for ``dz/dt = field(t, z)``,
    ``z(0) = x``; ``ladj`` is the integral of the trace from 0 to ``T``.

    ``trace="exact"`` or ``"hutchinson"`` (``stochastic``: an unbiased estimate of the
    log-det, its noise of kind ``noise`` drawn once per solve). ``method``, ``rtol``,
    ``atol`` and ``options`` go to ``torchdiffeq.odeint`` (``"dopri5"`` is adaptive;
    ``"rk4"`` with ``options=dict(step_size=...)`` is fixed-step). With
    ``adjoint=True`` gradients come from solving the adjoint ODE backwards in time
    instead of backpropagating through the solver's steps: memory stops growing with
    the number of steps, at the cost of a second solve. ``nfe`` counts the field's
    evaluations since the last ``forward``/``inverse``/``integrate`` began, including
    those of a backward pass that follows it. Adaptive solvers decide their steps on
    the host, so a solve synchronizes.
    """

    def __init__(self, field, T=1.0, trace="exact", noise="gaussian", method="dopri5",
                 rtol=1e-5, atol=1e-5, options=None, adjoint=False):
        super().__init__()
        if trace not in ("exact", "hutchinson"):
            raise ValueError(f"trace must be 'exact' or 'hutchinson', got {trace!r}")
        self.dynamics = _Dynamics(field)
        self.T, self.trace, self.noise, self.method = T, trace, noise, method
        self.rtol, self.atol, self.options, self.adjoint = rtol, atol, options, adjoint

    @property
    def stochastic(self):
        return self.trace != "exact"

    @contextlib.contextmanager
    def settings(self, **changes):
        """Solve with other settings inside a ``with`` block (e.g. ``rtol``, ``atol``,
        ``trace``, ``method``, ``options``, ``adjoint``), restored afterwards."""
        unknown = set(changes) - {"T", "trace", "noise", "method", "rtol", "atol",
                                  "options", "adjoint"}
        if unknown:
            raise ValueError(f"unknown CNF settings {sorted(unknown)}")
        saved = {name: getattr(self, name) for name in changes}
        try:
            for name, value in changes.items():
                setattr(self, name, value)
            yield self
        finally:
            for name, value in saved.items():
                setattr(self, name, value)

    @property
    def nfe(self):
        return self.dynamics.nfe

    def integrate(self, x, times):
        """The states ``z(t)`` and the log-dets ``log|det dz(t)/dz(times[0])|`` at each
        of ``times`` (a 1-D tensor, increasing or decreasing), starting from ``x`` at
        ``times[0]``; shapes ``(len(times), *x.shape)`` and ``(len(times), len(x))``."""
        if x.dim() != 2:
            raise ValueError(f"CNF expects a batch of vectors (batch, dim), got shape "
                             f"{tuple(x.shape)}")
        if self.trace not in ("exact", "hutchinson"):
            raise ValueError(f"trace must be 'exact' or 'hutchinson', got "
                             f"{self.trace!r}")
        self.dynamics.nfe, self.dynamics.trace = 0, self.trace
        if self.stochastic:
            self.dynamics.v = noise(x, self.noise)
        times = torch.as_tensor(times, dtype=x.dtype, device=x.device)
        state = (x, x.new_zeros(len(x)))
        kwargs = dict(rtol=self.rtol, atol=self.atol, method=self.method,
                      options=self.options)
        if self.adjoint:
            zs, ladjs = torchdiffeq.odeint_adjoint(
                self.dynamics, state, times, adjoint_params=tuple(self.parameters()),
                **kwargs)
        else:
            zs, ladjs = torchdiffeq.odeint(self.dynamics, state, times, **kwargs)
        return zs, ladjs

    def forward(self, x, context=None):
        zs, ladjs = self.integrate(x, [0.0, self.T])
        return zs[-1], ladjs[-1]

    def inverse(self, z, context=None):
        xs, ladjs = self.integrate(z, [self.T, 0.0])
        return xs[-1], ladjs[-1]
