"""Residual flows: maps z = x + g(x) (chapter 7).

Two routes make such a map a bijector with a tractable log|det|. *Determinant
identities* restrict g to a low-rank or radial form whose determinant has a closed
form: planar, radial and Sylvester flows. *Contraction* lets g be any network with
Lip(g) < 1: then x + g(x) is invertible by fixed-point iteration, and

    log det(I + J) = sum_k (-1)^(k+1) tr(J^k) / k,

a series estimated with Hutchinson's trace estimator, truncated (i-ResNet, biased) or
cut at a random length and reweighted (Residual Flows' Russian roulette, unbiased).

``forward`` is the explicit map x + g(x); the inverse is iterative. Variational
inference, which samples through the explicit map, uses ``.inv``.
"""

import contextlib
import warnings

import torch
import torch.nn.functional as F
from torch import nn

from . import scalar
from .core import Bijector


def _tanh_line(v, params):
    """``y = v + r tanh(s v + c)`` and its log-slope, for ``params[..., 3] = (r, s,
    c)``: the scalar equation that inverting a planar or Sylvester layer comes down
    to; increasing when ``r s > -1``."""
    r, s, c = params.unbind(-1)
    t = torch.tanh(s * v + c)
    return v + r * t, torch.log1p(r * s * (1 - t.square()))


def _solve_line(y, r, s, c):
    """``v`` with ``_tanh_line(v) = y``: the root lies within ``|r|`` of ``y``."""
    params = torch.stack(torch.broadcast_tensors(r, s, c, y)[:3], -1)
    return scalar.invert(_tanh_line, y, params, y - r.abs(), y + r.abs())


class Amortized(Bijector):
    """A layer whose free parameters are either its own, shared by every sample, or,
    with ``context`` features, computed for each sample by a linear map of a context:
    amortized, as a VAE's encoder sets each data point's posterior. The map starts
    at zero weight and the shared initial values as bias, so every sample starts
    from the same layer. ``free(context)`` returns the parameters in the order given,
    each of its own shape, or with a batch dimension in front when amortized; the
    layers below are written to broadcast over both."""

    def _declare(self, context, **initial):
        self.shapes = {name: value.shape for name, value in initial.items()}
        if not context:
            self.amortize = None
            for name, value in initial.items():
                self.register_parameter(name, nn.Parameter(value))
            return
        self.amortize = nn.Linear(context, sum(v.numel() for v in initial.values()))
        with torch.no_grad():
            self.amortize.weight.zero_()
            self.amortize.bias.copy_(torch.cat([v.flatten() for v in initial.values()]))

    def free(self, context=None):
        if self.amortize is None:   # shared parameters: any context is ignored
            return [getattr(self, name) for name in self.shapes]
        n = self.amortize.in_features
        if context is None or context.dim() != 2 or context.shape[1] != n:
            raise ValueError(f"this {type(self).__name__} is amortized: it needs a "
                             f"context of shape (batch, {n}), got "
                             f"{None if context is None else tuple(context.shape)}")
        out = self.amortize(context.to(self.amortize.weight.dtype))
        parts = out.split([s.numel() for s in self.shapes.values()], -1)
        return [p.view(-1, *s) for p, s in zip(parts, self.shapes.values())]


def _dot(a, b):
    return (a * b).sum(-1)


def _vecmat(v, m):
    """Row vectors ``v`` (batch, n) times a matrix (n, k) or a matrix per row."""
    return (v.unsqueeze(-2) @ m).squeeze(-2)


class Planar(Amortized):
    """``z = x + u tanh(w . x + b)`` (Rezende and Mohamed, 2015).

    By the matrix determinant lemma, ``log|det| = log(1 + (w . u) tanh'(w . x + b))``,
    positive for every ``x`` when ``w . u > -1``: the free vector is moved along ``w``
    so that ``w . u = softplus(w . u_free) - 1``. The inverse solves one increasing
    scalar equation for ``a = w . x``, ``w . z = a + (w . u) tanh(a + b)``, then
    ``x = z - u tanh(a + b)``. With ``context`` features, ``w``, ``u`` and ``b`` are
    set per sample from a context (see ``Amortized``).
    """

    def __init__(self, dim, context=0):
        super().__init__()
        self._declare(context, w=torch.randn(dim) / dim ** 0.5,
                      u_free=torch.randn(dim) / dim ** 0.5, b=torch.zeros(()))

    def u(self, context=None):
        """The constrained ``u``, with ``w . u > -1``."""
        return self._params(context)[1]

    def _params(self, context):
        w, u_free, b = self.free(context)
        wu = _dot(w, u_free)[..., None]
        return w, u_free + (F.softplus(wu) - 1 - wu) * w / w.square().sum(-1, True), b

    def forward(self, x, context=None):
        w, u, b = self._params(context)
        t = torch.tanh(_dot(x, w) + b)
        return x + t[:, None] * u, torch.log1p(_dot(w, u) * (1 - t.square()))

    def inverse(self, z, context=None):
        w, u, b = self._params(context)
        a, ladj = _solve_line(_dot(z, w), _dot(w, u), torch.ones_like(b), b)
        return z - torch.tanh(a + b)[:, None] * u, ladj


class Radial(Amortized):
    """``z = x + beta (x - x0) / (alpha + r)``, ``r = |x - x0|`` (Rezende and Mohamed,
    2015): a contraction or expansion about ``x0``.

    With ``h = 1 / (alpha + r)``, ``log|det| = (D - 1) log(1 + beta h) + log(1 + beta
    alpha h^2)``; ``alpha = softplus(.) > 0`` and ``beta = softplus(.) - alpha``, so
    ``beta > -alpha``, keep both factors positive. The inverse is closed-form:
    ``|z - x0| = r (1 + beta h)`` is a quadratic in ``r``. With ``context`` features,
    the parameters are set per sample (see ``Amortized``).
    """

    def __init__(self, dim, context=0):
        super().__init__()
        self._declare(context, x0=torch.randn(dim), alpha_free=torch.zeros(()),
                      beta_free=torch.zeros(()))

    def _params(self, context):
        x0, alpha_free, beta_free = self.free(context)
        alpha = F.softplus(alpha_free)
        return x0, alpha, F.softplus(beta_free) - alpha

    def _ladj(self, r, dim, alpha, beta):
        h = 1 / (alpha + r)
        return (dim - 1) * torch.log1p(beta * h) + torch.log1p(beta * alpha * h * h)

    def forward(self, x, context=None):
        x0, alpha, beta = self._params(context)
        r = (x - x0).norm(dim=-1)
        z = x + (beta / (alpha + r))[:, None] * (x - x0)
        return z, self._ladj(r, x.shape[-1], alpha, beta)

    def inverse(self, z, context=None):
        x0, alpha, beta = self._params(context)
        rz = (z - x0).norm(dim=-1)
        # r^2 + p r - rz alpha = 0, its positive root in the form that does not cancel
        p = alpha + beta - rz
        root = (p.square() + 4 * rz * alpha).sqrt()
        r = torch.where(p > 0, 2 * rz * alpha / (p + root), (root - p) / 2)
        x = x0 + (z - x0) / (1 + beta / (alpha + r))[:, None]
        return x, -self._ladj(r, z.shape[-1], alpha, beta)


class Sylvester(Amortized):
    """``z = x + Q R tanh(S Q^T x + b)`` (van den Berg et al., 2018): ``Q`` has ``m``
    orthonormal columns, ``R`` and ``S`` are upper triangular ``m x m``.

    Sylvester's identity ``det(I_D + A B) = det(I_m + B A)`` turns the determinant
    into that of a triangular matrix, ``prod_i (1 + r_ii s_ii tanh'_i)``; diagonals
    ``tanh(.)`` keep ``r_ii s_ii > -1``, so every factor is positive. ``kind`` chooses
    ``Q``: ``"orthogonal"`` (QR of a free ``D x m`` matrix), ``"householder"`` (a
    product of ``m`` reflections, ``m <= D`` of them, square) or ``"triangular"`` (the
    identity, or the reversal when ``flip``). The inverse: ``v = Q^T x`` solves the
    triangular system ``Q^T z = v + R tanh(S v + b)`` from its last row up, one scalar
    equation per row, and the part of ``x`` outside the span of ``Q`` is that of ``z``.
    With ``context`` features, ``Q``, ``R``, ``S`` and ``b`` are set per sample from a
    context (see ``Amortized``), as in the paper's VAEs.
    """

    def __init__(self, dim, m=None, kind="orthogonal", flip=False, context=0):
        super().__init__()
        if kind not in ("orthogonal", "householder", "triangular"):
            raise ValueError(f"kind must be 'orthogonal', 'householder' or "
                             f"'triangular', got {kind!r}")
        m = dim if m is None or kind == "triangular" else m
        if not 1 <= m <= dim:
            raise ValueError(f"m must be between 1 and dim = {dim}, got {m}")
        self.kind, self.flip, self.dim, self.m = kind, flip, dim, m
        q = {} if kind == "triangular" else {"q_free": torch.randn(dim, m) / dim ** 0.5}
        self._declare(context, **q, r_free=torch.randn(2, m, m) / m ** 0.5,
                      b=torch.zeros(m))

    def q(self, context=None):
        """``Q``, ``D x m`` with orthonormal columns (one per sample if amortized)."""
        return self._q(self.free(context))

    def _q(self, free):
        b = free[-1]
        eye = torch.eye(self.dim, dtype=b.dtype, device=b.device)
        if self.kind == "triangular":
            return eye.flip(1) if self.flip else eye
        if self.kind == "orthogonal":
            return torch.linalg.qr(free[0])[0]
        q = eye
        for v in F.normalize(free[0], dim=-2).unbind(-1):  # I - 2 v v^T, m times
            q = q - 2 * (q @ v[..., None]) * v[..., None, :]
        return q[..., :self.m]

    def _rs(self, free):
        """``R`` and ``S``: strict upper triangles free, diagonals in (-1, 1)."""
        r_free = free[-2]
        diagonal = torch.tanh(r_free.diagonal(0, -2, -1))
        return (r_free.triu(1) + torch.diag_embed(diagonal)).unbind(-3)

    def forward(self, x, context=None):
        free = self.free(context)
        q, (r, s), b = self._q(free), self._rs(free), free[-1]
        t = torch.tanh(_vecmat(_vecmat(x, q), s.mT) + b)
        diagonals = r.diagonal(0, -2, -1) * s.diagonal(0, -2, -1)
        ladj = torch.log1p(diagonals * (1 - t.square())).sum(-1)
        return x + _vecmat(t, (q @ r).mT), ladj

    def inverse(self, z, context=None):
        free = self.free(context)
        q, (r, s), b = self._q(free), self._rs(free), free[-1]
        y = _vecmat(z, q)
        v, tanhs, ladj = [], [], 0.0        # v_m, ..., v_i+1 and their tanh terms
        stack = lambda ts: torch.stack(ts[::-1], -1) if ts else y[:, :0]
        for i in reversed(range(self.m)):   # row i depends on v_i, ..., v_m only
            known = _dot(stack(v), s[..., i, i + 1:]) + b[..., i]
            rest = _dot(stack(tanhs), r[..., i, i + 1:])
            v_i, ladj_i = _solve_line(y[:, i] - rest, r[..., i, i], s[..., i, i], known)
            v.append(v_i)
            tanhs.append(torch.tanh(s[..., i, i] * v_i + known))
            ladj = ladj + ladj_i
        return z + _vecmat(stack(v) - y, q.mT), ladj


class SpectralLinear(nn.Linear):
    """A linear layer with spectral norm at most ``coeff``: its weight is divided by
    ``max(1, sigma / coeff)``, with ``sigma`` the largest singular value estimated by
    power iteration (Miyato et al., 2018), ``n_power`` steps per forward in training
    mode on vectors kept between calls; in eval mode the estimate is frozen, so the
    map is fixed. The vectors start from ``n_init`` iterations on the initial weight,
    so that the first steps do not exceed the cap while the estimate catches up."""

    def __init__(self, in_features, out_features, coeff=0.9, n_power=1, n_init=200):
        super().__init__(in_features, out_features)
        self.coeff, self.n_power = coeff, n_power
        self.register_buffer("u", F.normalize(torch.randn(out_features), dim=0))
        self.register_buffer("v", F.normalize(torch.randn(in_features), dim=0))
        self._power_iterations(n_init)

    @torch.no_grad()
    def _power_iterations(self, n):
        for _ in range(n):
            self.v.copy_(F.normalize(self.weight.T @ self.u, dim=0))
            self.u.copy_(F.normalize(self.weight @ self.v, dim=0))

    def normalized_weight(self):
        """The weight divided by ``max(1, sigma / coeff)``; in training mode the
        estimate of ``sigma`` first takes ``n_power`` more steps."""
        if self.training:
            self._power_iterations(self.n_power)
        sigma = self.u @ self.weight @ self.v
        return self.weight / torch.clamp(sigma / self.coeff, min=1.0)

    def forward(self, x):
        return F.linear(x, self.normalized_weight(), self.bias)


class LipSwish(nn.Module):
    """``x sigmoid(beta x) / 1.1``, ``beta = softplus(.)`` learned (Chen et al., 2019):
    1-Lipschitz for every ``beta``. Its slope peaks just below one at a single point
    and falls away on both sides, so, unlike ELU's or ReLU's, its second derivative
    is not zero on a whole region where the slope is near one."""

    def __init__(self):
        super().__init__()
        self.beta_free = nn.Parameter(torch.tensor(0.5413))   # softplus: beta = 1

    def forward(self, x):
        return x * torch.sigmoid(F.softplus(self.beta_free) * x) / 1.1


def lipschitz_mlp(dim, hidden=(64, 64), coeff=0.9, n_power=1):
    """``g`` for a residual block: spectrally normalised linear layers and LipSwish,
    so ``Lip(g) <= coeff ** (len(hidden) + 1)``."""
    widths = [dim, *hidden, dim]
    layers = []
    for a, b in zip(widths[:-1], widths[1:]):
        layers += [SpectralLinear(a, b, coeff, n_power), LipSwish()]
    return nn.Sequential(*layers[:-1])


class ResidualBlock(Bijector):
    """``z = x + g(x)`` with ``Lip(g) < 1``: i-ResNet (Behrmann et al., 2019) and
    Residual Flows (Chen et al., 2019).

    ``estimator`` gives log det(I + J), ``J`` the Jacobian of ``g``:

    * ``"exact"``: ``J`` from one backward pass per dimension and ``slogdet``; for
      small ``D`` and for tests.
    * ``"truncated"``: the first ``n_terms`` terms of the series, each trace by
      Hutchinson's estimator ``v^T J^k v`` with one Gaussian ``v`` per sample (one
      vector-Jacobian product per term): the i-ResNet estimator, biased.
    * ``"roulette"``: ``n_terms`` terms plus a Geometric(``p``) number more, the term
      ``k`` beyond ``n_terms`` divided by its probability of being reached: Residual
      Flows' unbiased estimator. Its length is drawn on the host's generator.

    The two series are ``stochastic``. With ``neumann=True`` their gradient is the
    Neumann series of ``tr((I + J)^-1 dJ)`` cut at the same length, built from
    vector-Jacobian products without a graph and one with: memory no longer grows
    with the number of terms. ``inverse`` iterates ``x <- z - g(x)`` (a contraction)
    until the largest step is below ``tol``, warning ``NotConverged`` after
    ``max_iter``; its gradient is implicit, ``(I + J)^-1``, solved the same way.
    """

    def __init__(self, g, estimator="exact", n_terms=2, p=0.5, neumann=False,
                 tol=1e-6, max_iter=200):
        super().__init__()
        if estimator not in ("exact", "truncated", "roulette"):
            raise ValueError(f"estimator must be 'exact', 'truncated' or 'roulette', "
                             f"got {estimator!r}")
        self.g, self.estimator, self.n_terms, self.p = g, estimator, n_terms, p
        self.neumann, self.tol, self.max_iter = neumann, tol, max_iter

    @property
    def stochastic(self):
        return self.estimator != "exact"

    def lipschitz_bound(self):
        """The product of the exact spectral norms of ``g``'s linear layers: a bound on
        ``Lip(g)`` when its activations are 1-Lipschitz."""
        bound = 1.0
        with torch.no_grad():
            for layer in self.g.modules():
                if isinstance(layer, SpectralLinear):
                    training = layer.training
                    weight = layer.eval().normalized_weight()   # no power step
                    layer.train(training)
                    bound *= torch.linalg.matrix_norm(weight, 2).item()
        return bound

    def _weights(self):
        """The weight of each term of the series, 1 / P(term k is reached)."""
        if self.estimator == "truncated":
            return [1.0] * self.n_terms
        extra = int(torch.distributions.Geometric(torch.tensor(self.p)).sample())
        return [1.0] * self.n_terms + [(1 - self.p) ** -j for j in range(1, extra + 1)]

    def log_det(self, x, gx, graph):
        """log det(I + dg/dx) per sample, by the block's estimator; ``gx = g(x)`` with
        ``x`` requiring gradients."""
        flat = lambda t: t.flatten(1)
        vjp = lambda w, create: torch.autograd.grad(gx, x, w, retain_graph=True,
                                                    create_graph=create)[0]
        if self.estimator == "exact":
            rows = [flat(vjp(e.view(x.shape[1:]).expand_as(x), graph))
                    for e in torch.eye(x[0].numel(), dtype=x.dtype, device=x.device)]
            eye = torch.eye(len(rows), dtype=x.dtype, device=x.device)
            return torch.linalg.slogdet(eye + torch.stack(rows, 1)).logabsdet
        v = torch.randn_like(x)
        w, value, neumann = v, 0.0, 0.0
        for k, weight in enumerate(self._weights(), 1):
            if self.neumann:
                neumann = neumann + (-1) ** (k + 1) * weight * w.detach()
            w = vjp(w, graph and not self.neumann)     # v^T J^k
            value = value + (-1) ** (k + 1) / k * weight * flat(w * v).sum(-1)
        if not (self.neumann and graph):
            return value
        surrogate = flat(vjp(neumann, True) * v).sum(-1)   # its gradient: the series'
        return value.detach() + surrogate - surrogate.detach()

    def forward(self, x, context=None):
        graph = torch.is_grad_enabled()
        with torch.enable_grad():
            # a view, so that the log-det's own gradients stop at it and never run
            # the hook that an inverse puts on its output
            x_in = x.view_as(x) if x.requires_grad else x.detach().requires_grad_()
            gx = self.g(x_in)
            ladj = self.log_det(x_in, gx, graph)
        z = x + gx
        return (z, ladj) if graph else (z.detach(), ladj.detach())

    def inverse(self, z, context=None):
        training = self.g.training
        self.g.eval()    # the spectral norms' estimates stay put while x is found
        try:
            return self._inverse(z)
        finally:
            self.g.train(training)

    def _inverse(self, z):
        with torch.no_grad():
            x = z
            for _ in range(self.max_iter):
                x, previous = z - self.g(x), x
                if (x - previous).abs().max() < self.tol:
                    break
            else:
                warnings.warn(f"ResidualBlock.inverse: no fixed point within "
                              f"{self.tol:g} after {self.max_iter} iterations",
                              scalar.NotConverged, stacklevel=3)
        if torch.is_grad_enabled():
            x_fixed = x.detach().requires_grad_()
            with torch.enable_grad():
                g_fixed = self.g(x_fixed)
            x = z - g_fixed      # the hook below makes its gradient the implicit one
            if x.requires_grad:
                x.register_hook(lambda grad: self._solve_adjoint(grad, x_fixed,
                                                                 g_fixed))
        return x, -self(x)[1]

    def _solve_adjoint(self, grad, x, gx):
        """``a`` with ``a (I + J) = grad``, by the iteration ``a <- grad - a J``."""
        a = grad
        for _ in range(self.max_iter):
            a, previous = grad - torch.autograd.grad(gx, x, a, retain_graph=True)[0], a
            if (a - previous).abs().max() < self.tol:
                break
        return a


@contextlib.contextmanager
def exact(flow):
    """Inside a ``with`` block, every ``ResidualBlock`` of ``flow`` computes its exact
    log-det (to evaluate a flow trained with a stochastic estimator, in small ``D``);
    the estimators are restored afterwards."""
    blocks = [m for m in flow.modules() if isinstance(m, ResidualBlock)]
    kinds = [block.estimator for block in blocks]
    try:
        for block in blocks:
            block.estimator = "exact"
        yield flow
    finally:
        for block, kind in zip(blocks, kinds):
            block.estimator = kind
