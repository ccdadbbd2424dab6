"""Checkers for chapter 9's exercises."""

import math

import torch

from ._base import _checker, _number, _one_per_sample, _result, _verdict

LOG_2PI = math.log(2 * math.pi)


def _normal(x, mean, var):
    return -0.5 * (LOG_2PI + math.log(var) + (x - mean) ** 2 / var)


@_checker
def check_gaussian_elbo(elbo):
    """Chapter 9: ``elbo(x, s, m, v)`` is the ELBO of ``q(z) = N(m, v)`` for the model
    ``z ~ N(0, 1)``, ``x | z ~ N(z, s^2)``, in closed form."""
    cases = ((0.0, 1.0, 0.0, 1.0), (1.5, 0.5, 0.3, 0.2), (-2.0, 2.0, -1.0, 3.0))
    for x, s, m, v in cases:
        got = _number(elbo(x, s, m, v), f"elbo({x}, {s}, {m}, {v})")
        want = (-0.5 * (LOG_2PI + math.log(s * s) + ((x - m) ** 2 + v) / s ** 2)
                - 0.5 * (LOG_2PI + m * m + v) + 0.5 * (LOG_2PI + 1 + math.log(v)))
        _verdict(abs(got - want) < 1e-9, f"at x = {x}, s = {s}, m = {m}, v = {v}: got "
                 f"{got:.6f}, expected {want:.6f}. Add E_q[log p(x|z)], "
                 "E_q[log p(z)] and the entropy of q, using "
                 "E_q[(x - z)^2] = (x - m)^2 + v")
    x, s = 1.2, 0.7
    m, v = x / (1 + s * s), s * s / (1 + s * s)
    got = _number(elbo(x, s, m, v), "elbo at the posterior")
    exact = _normal(x, 0, 1 + s * s)
    print("Correct. At the exact posterior, N(x/(1+s^2), s^2/(1+s^2)), the ELBO is "
          f"{got:.4f} = log p(x) = log N(x; 0, 1 + s^2) = {exact:.4f}: the bound is "
          "tight.")


def _steps(g, dim, n):
    """``n`` affine autoregressive steps ``z -> (shift(z), log_scale(z))`` in which
    output ``i`` depends on ``z_<i`` only (strictly lower-triangular weights)."""
    out = []
    for _ in range(n):
        a, b = (torch.randn(dim, dim, generator=g, dtype=torch.float64).tril(-1) * 0.5
                for _ in range(2))
        c, d = (0.3 * torch.randn(dim, generator=g, dtype=torch.float64)
                for _ in range(2))
        out.append(lambda z, a=a, b=b, c=c, d=d: (z @ a.T + c, torch.tanh(z @ b.T + d)))
    return out


def _base(x):
    return (-0.5 * (x.square() + LOG_2PI)).sum(-1)


@_checker
def check_iaf_log_density(sample):
    """Chapter 9: ``sample(eps, steps)`` runs the IAF steps
    ``z <- shift + exp(log_scale) * z`` from ``z = eps ~ N(0, I)`` and returns
    ``(z, log_q)``, the sample and its log-density."""
    g = torch.Generator().manual_seed(92)
    for dim, n in ((1, 1), (3, 2), (5, 3)):
        steps = _steps(g, dim, n)
        eps = torch.randn(6, dim, generator=g, dtype=torch.float64)
        out = sample(eps.clone(), steps)
        _verdict(isinstance(out, tuple) and len(out) == 2, "return a pair (z, log_q)")
        z, log_q = (_result(o) for o in out)
        want_z, want = eps, _base(eps)
        for step in steps:
            shift, log_scale = step(want_z)
            want_z, want = shift + log_scale.exp() * want_z, want - log_scale.sum(-1)
        _verdict(z.shape == eps.shape and torch.allclose(z, want_z, atol=1e-10),
                 f"in {dim}-D with {n} steps the sample z is wrong: each step maps z "
                 "to shift(z) + exp(log_scale(z)) * z, both computed from the z "
                 "before")
        _one_per_sample(log_q, want)
        err = (log_q - want).abs().max().item()
        _verdict(err < 1e-10, f"in {dim}-D with {n} steps log_q is off by {err:.3g}: "
                 "start from log N(eps; 0, I) and subtract every step's sum of "
                 "log-scales (the Jacobian of a step is triangular)")
    print("Correct: each step's Jacobian is triangular with diagonal exp(log_scale), "
          "so the density of the sample costs nothing beyond the pass that drew it.")


@_checker
def check_iaf_density_elsewhere(log_q):
    """Chapter 9: ``log_q(z, step)`` is the log-density of a point ``z`` under the
    one-step IAF ``z = shift(x) + exp(log_scale(x)) * x``, ``x ~ N(0, I)``."""
    g = torch.Generator().manual_seed(93)
    for dim in (1, 3, 6):
        step = _steps(g, dim, 1)[0]
        x = torch.randn(5, dim, generator=g, dtype=torch.float64)
        shift, log_scale = step(x)
        z = shift + log_scale.exp() * x
        got = _result(log_q(z.clone(), step), "log_q(z, step)")
        want = _base(x) - log_scale.sum(-1)
        _one_per_sample(got, want)
        err = (got - want).abs().max().item()
        _verdict(err < 1e-9, f"in {dim}-D log_q is off by {err:.3g}. Recover x one "
                 "coordinate at a time, x_i = (z_i - shift_i) / exp(log_scale_i) with "
                 "shift and log_scale computed from the x found so far, D passes; then "
                 "log N(x; 0, I) - sum(log_scale(x))")
    print("Correct: scoring a point the IAF did not draw takes D passes, one per "
          "coordinate: the MAF's sampling cost, met on the IAF's density.")


def _mixture_kls(a):
    """``KL(q || p)`` and ``KL(p || q)`` for ``p = N(-a, 1)/2 + N(a, 1)/2`` and
    ``q = N(a, 1)``, by quadrature (float64)."""
    x = torch.linspace(-a - 12, a + 12, 200_001, dtype=torch.float64)
    dx = (x[1] - x[0]).item()
    log_q = -0.5 * ((x - a).square() + LOG_2PI)
    log_p = torch.logaddexp(-0.5 * (x + a).square(), -0.5 * (x - a).square()) \
        - 0.5 * LOG_2PI - math.log(2)
    kl = lambda lp, lr: (lp.exp() * (lp - lr)).sum().item() * dx
    return kl(log_q, log_p), kl(log_p, log_q)


@_checker
def check_missing_mode(kls):
    """Chapter 9: ``kls(a)`` returns ``(KL(q || p), KL(p || q))`` for the mixture
    ``p = N(-a, 1)/2 + N(a, 1)/2`` and the Gaussian ``q = N(a, 1)`` on one mode."""
    for a in (0.5, 2.0, 5.0):
        out = kls(a)
        _verdict(isinstance(out, tuple) and len(out) == 2,
                 "return a pair (KL(q || p), KL(p || q))")
        got = [_number(o, "each KL") for o in out]
        want = _mixture_kls(a)
        for name, g_, w in zip(("KL(q || p)", "KL(p || q)"), got, want):
            _verdict(abs(g_ - w) < 1e-4 * (1 + w), f"at a = {a}: {name} = {g_:.5f}, "
                     f"expected {w:.5f}. Integrate on a fine grid that covers both "
                     "modes, e.g. a Riemann sum over [-a - 12, a + 12]")
    print(f"Correct. At a = 5, KL(q || p) = {want[0]:.4f}, next to log 2 = "
          f"{math.log(2):.4f}: q loses only the factor 1/2 of the mode it sits on, "
          f"while KL(p || q) = {want[1]:.2f} charges it for every point of the mode it "
          "misses.")


@_checker
def check_moment_matching(fit):
    """Chapter 9: ``fit(weights, means, stds)`` returns ``(mean, variance)`` of the
    Gaussian ``q`` that minimizes ``KL(p || q)`` for the 1-D Gaussian mixture ``p``."""
    for weights, means, stds in (([1.0], [0.5], [2.0]), ([0.5, 0.5], [-3.0, 3.0],
                                                          [1.0, 1.0]),
                                 ([0.2, 0.5, 0.3], [-1.0, 0.0, 4.0], [0.5, 1.0, 2.0])):
        w, mu, sd = (torch.tensor(v, dtype=torch.float64)
                     for v in (weights, means, stds))
        out = fit(w.clone(), mu.clone(), sd.clone())
        _verdict(isinstance(out, tuple) and len(out) == 2,
                 "return a pair (mean, variance)")
        mean, var = (_number(o, "the mean and the variance") for o in out)
        want_mean = (w * mu).sum().item()
        want_var = (w * (sd.square() + mu.square())).sum().item() - want_mean ** 2
        _verdict(abs(mean - want_mean) < 1e-9 and abs(var - want_var) < 1e-9,
                 f"for weights {weights}, means {means}, stds {stds}: got ({mean:.4f}, "
                 f"{var:.4f}), expected ({want_mean:.4f}, {want_var:.4f}). The "
                 "variance of a mixture is the mean of the second moments minus the "
                 "squared mean")
    print("Correct: KL(p || q) over Gaussians q is minimized by matching p's mean and "
          "variance, which for two far modes puts q's peak where p has no mass.")
