"""The exercise checkers: each accepts a right answer, rejects a wrong one, and says
"not attempted yet" for the starter cell a reader has not filled in."""

import inspect
import math
import re
from pathlib import Path

import pytest
import torch

import flowlib
from flowlib import exercises

CHECKERS = sorted(n for n, f in inspect.getmembers(exercises, inspect.isfunction)
                  if n.startswith("check_"))


def test_every_checker_is_tested_with_a_right_and_a_wrong_answer():
    tests = "".join(p.read_text() for p in Path(__file__).parent.glob("test_*.py"))
    for name in CHECKERS:
        calls = len(re.findall(rf"exercises\.{name}\(", tests))
        wrong = len(re.findall(
            rf"pytest\.raises\(AssertionError[^\n]*\n\s+exercises\.{name}\(", tests))
        assert wrong >= 1, f"{name} is never shown a wrong answer"
        assert calls > wrong, f"{name} is never shown a right answer"


def _starter(y):
    """A starter cell, as the chapters give it."""
    ...  # your code here


def _also_starter(x, f):
    pass


@pytest.mark.parametrize("name", CHECKERS)
def test_an_untouched_starter_is_not_attempted_yet(name, capsys):
    assert getattr(exercises, name)(_starter) is None
    assert capsys.readouterr().out == ("Not attempted yet: fill in _starter and run the "
                                       "cell again.\n")
    getattr(exercises, name)(_also_starter)
    assert "fill in _also_starter" in capsys.readouterr().out


def test_a_value_left_as_dots_is_not_attempted_yet(capsys):
    exercises.check_non_monotone_mass(...)
    assert "replace the ... with your answer" in capsys.readouterr().out


def test_an_answer_that_returns_nothing_is_wrong_not_unattempted():
    def density_of_2x(y):
        torch.where((y >= 0) & (y <= 2), 0.5, 0.0)  # forgot to return it
    with pytest.raises(AssertionError, match="did you forget to return the result"):
        exercises.check_scaled_uniform_density(density_of_2x)
    with pytest.raises(AssertionError, match="did you forget to return the result"):
        exercises.check_best_affine(lambda x: None)


def test_answers_of_the_wrong_kind_get_a_verdict_not_a_crash():
    with pytest.raises(AssertionError, match="should be one number"):
        exercises.check_uniform_moment_error(lambda z: (z.mean(0) - 0.5).abs())
    with pytest.raises(AssertionError, match="should be one number"):
        exercises.check_triangular_log_det(lambda b, x: torch.ones(2))
    with pytest.raises(AssertionError, match="should be numbers"):
        exercises.check_non_monotone_mass("2.91")
    with pytest.raises(AssertionError, match=r"should return \(loc, scale\)"):
        exercises.check_best_affine(lambda x: (x.mean(), x.std(), 0.0))


def test_logit_normal_log_prob(capsys):
    def by_hand(x, loc, scale, logit_term=True):
        z = (torch.logit(x) - loc) / scale
        lp = -0.5 * z**2 - 0.5 * math.log(2 * math.pi) - math.log(scale)
        return lp - torch.log(x) - torch.log1p(-x) if logit_term else lp
    exercises.check_logit_normal_log_prob(by_hand)
    with pytest.raises(AssertionError, match="contribute a log-derivative"):
        exercises.check_logit_normal_log_prob(
            lambda x, loc, scale: by_hand(x, loc, scale, logit_term=False))
    assert "Correct" in capsys.readouterr().out


def test_non_monotone_mass(capsys):
    normal = torch.distributions.Normal(0.0, 1.0)
    exercises.check_non_monotone_mass(1 + 2 * (normal.cdf(torch.tensor(2.0)) - 0.5) * 2)
    with pytest.raises(AssertionError, match="too small") as wrong:
        exercises.check_non_monotone_mass(1.0)  # as if q were a density
    assert "2.9" not in str(wrong.value)       # the verdict does not give the answer away
    with pytest.raises(AssertionError, match="too large"):
        exercises.check_non_monotone_mass(3.5)
    import numpy as np
    exercises.check_non_monotone_mass(np.float32(4 * normal.cdf(torch.tensor(2.0)) - 1))
    assert "Correct" in capsys.readouterr().out


def test_triangular_log_det(capsys):
    def log_det(bijector, x, use_abs=True):
        J = torch.autograd.functional.jacobian(lambda v: bijector(v[None])[0][0], x)
        diagonal = J.diagonal().abs() if use_abs else J.diagonal()
        return diagonal.log().sum()
    exercises.check_triangular_log_det(log_det)
    with pytest.raises(AssertionError, match="triangular"):  # the first entry only
        exercises.check_triangular_log_det(
            lambda b, x: log_det(b, x) - torch.autograd.functional.jacobian(
                lambda v: b(v[None])[0][0], x)[1, 1].abs().log())
    assert "Correct" in capsys.readouterr().out


def test_uniform_moment_error(capsys):
    def moment_error(z, std_only=False):
        std = (z.std(0) - 12 ** -0.5).abs().max()
        return std if std_only else torch.maximum((z.mean(0) - 0.5).abs().max(), std)
    exercises.check_uniform_moment_error(moment_error)
    with pytest.raises(AssertionError, match="latents you return"):
        exercises.check_uniform_moment_error(lambda z: moment_error(z, std_only=True))
    assert "Correct" in capsys.readouterr().out


def test_checkerboard(capsys):
    mask = lambda h, w: (torch.arange(h)[:, None] + torch.arange(w)) % 2 == 1
    exercises.check_checkerboard(mask)
    with pytest.raises(AssertionError, match="top-left"):
        exercises.check_checkerboard(lambda h, w: ~mask(h, w))
    with pytest.raises(AssertionError, match="shape"):
        exercises.check_checkerboard(lambda h, w: mask(h, w).flatten())
    assert "Correct" in capsys.readouterr().out


def test_conv1x1_log_det(capsys):
    exercises.check_conv1x1_log_det(
        lambda weight, h, w: h * w * torch.linalg.slogdet(weight).logabsdet)
    with pytest.raises(AssertionError, match="every one of the h w pixels"):
        exercises.check_conv1x1_log_det(
            lambda weight, h, w: torch.linalg.slogdet(weight).logabsdet)
    assert "Correct" in capsys.readouterr().out


def test_coupling_inverse(capsys):
    def invert(z, mask, net, use_mask=True):
        loc, log_scale = net(z * mask if use_mask else z)
        return torch.where(mask, z, loc + torch.exp(log_scale) * z)
    exercises.check_coupling_inverse(invert)
    with pytest.raises(AssertionError, match="can net see it"):
        exercises.check_coupling_inverse(lambda z, m, n: invert(z, m, n, False))
    assert "Correct" in capsys.readouterr().out


def test_factored_dims(capsys):
    def count(shape, levels, halve_last=False):
        c, h, w = shape
        out = []
        for k in range(levels):
            c, h, w = 4 * c, h // 2, w // 2
            leaving = c // 2 if k < levels - 1 or halve_last else c
            out.append(leaving * h * w)
            c -= leaving
        return out
    exercises.check_factored_dims(count)
    with pytest.raises(AssertionError, match="expected"):
        exercises.check_factored_dims(lambda s, n: count(s, n, True))
    assert "Correct" in capsys.readouterr().out


def test_squeeze(capsys):
    def squeeze(x, order=(0, 1, 3, 5, 2, 4)):
        n, c, h, w = x.shape
        patches = x.view(n, c, h // 2, 2, w // 2, 2).permute(*order)
        return patches.reshape(n, 4 * c, h // 2, w // 2)
    exercises.check_squeeze(squeeze)
    with pytest.raises(AssertionError, match="pixel"):
        exercises.check_squeeze(lambda x: squeeze(x, (0, 3, 5, 1, 2, 4)))
    assert "Correct" in capsys.readouterr().out


def test_bits_per_dim(capsys):
    bits = lambda log_p, dims, levels=256: (-log_p / (dims * math.log(2))
                                            + math.log2(levels))
    exercises.check_bits_per_dim(bits)
    with pytest.raises(AssertionError, match="log2"):   # forgot the 1/256 scaling
        exercises.check_bits_per_dim(lambda lp, d, l=256: -lp / (d * math.log(2)))
    assert "Correct" in capsys.readouterr().out


def test_logit_log_det(capsys):
    def log_det(y, eps, scaled=True):
        s = eps + (1 - 2 * eps) * y
        return ((math.log(1 - 2 * eps) if scaled else 0) - s.log()
                - (1 - s).log()).sum(1)
    exercises.check_logit_log_det(log_det)
    with pytest.raises(AssertionError, match="expected"):  # without the 1 - 2 eps
        exercises.check_logit_log_det(lambda y, e: log_det(y, e, False))
    assert "Correct" in capsys.readouterr().out


def test_jensen_gap(capsys):
    gap = lambda a: math.log(-math.expm1(-a)) - math.log(a) + a / 2
    exercises.check_jensen_gap(gap)
    with pytest.raises(AssertionError, match="expected"):   # the gap's sign flipped
        exercises.check_jensen_gap(lambda a: -gap(a))
    assert "Correct" in capsys.readouterr().out


def test_iw_bound(capsys):
    exercises.check_iw_bound(lambda w: torch.logsumexp(w, 0) - math.log(len(w)))
    with pytest.raises(AssertionError, match="near -1000"):  # underflows to -inf
        exercises.check_iw_bound(lambda w: w.exp().mean(0).log())
    assert "Correct" in capsys.readouterr().out


def test_cell_probability(capsys):
    def mass(mean, std, i, j, levels=16, swap=False):
        normal = torch.distributions.Normal(mean, std)
        low = torch.tensor([j, i] if swap else [i, j], dtype=mean.dtype) / levels
        return (normal.cdf(low + 1 / levels) - normal.cdf(low)).prod()
    exercises.check_cell_probability(mass)
    with pytest.raises(AssertionError, match="cell"):       # i and j swapped
        exercises.check_cell_probability(lambda *a: mass(*a, swap=True))
    assert "Correct" in capsys.readouterr().out


def test_rq_derivative(capsys):
    def derivative(xi, s, d0, d1, squared=True):
        between = xi * (1 - xi)
        denominator = s + (d0 + d1 - 2 * s) * between
        top = s**2 * (d1 * xi**2 + 2 * s * between + d0 * (1 - xi)**2)
        return top / (denominator**2 if squared else denominator)
    exercises.check_rq_derivative(derivative)
    with pytest.raises(AssertionError, match="must equal d0"):  # the square forgotten
        exercises.check_rq_derivative(lambda *a: derivative(*a, squared=False))
    assert "Correct" in capsys.readouterr().out


def test_rq_inverse(capsys):
    def invert_bin(y, x_k, y_k, w, h, d0, d1, stable=True):
        s, dy = h / w, y - y_k
        curve = d0 + d1 - 2 * s
        a, b, c = h * (s - d0) + dy * curve, h * d0 - dy * curve, -s * dy
        root = (b**2 - 4 * a * c).sqrt()
        xi = 2 * c / (-b - root) if stable else (-b - root) / (2 * a)
        return x_k + xi * w
    exercises.check_rq_inverse(invert_bin)
    with pytest.raises(AssertionError, match="which root"):  # the other root
        exercises.check_rq_inverse(lambda *a: invert_bin(*a, stable=False))
    assert "Correct" in capsys.readouterr().out


def test_dsf_derivative(capsys):
    def derivative(x, w, a, b, logit=True):
        s = torch.sigmoid(a * x[:, None] + b)
        c = (w * s).sum(-1)
        slope = (w * a * s * (1 - s)).sum(-1)
        return slope / (c * (1 - c)) if logit else slope
    exercises.check_dsf_derivative(derivative)
    with pytest.raises(AssertionError, match="chain rule"):  # the logit's factor lost
        exercises.check_dsf_derivative(lambda *a: derivative(*a, logit=False))
    assert "Correct" in capsys.readouterr().out


def test_spline_parameters(capsys):
    exercises.check_spline_parameters(lambda k, d: (3 * k - 1) * d)
    with pytest.raises(AssertionError, match="inner knots"):  # K + 1 derivatives
        exercises.check_spline_parameters(lambda k, d: (3 * k + 1) * d)
    assert "Correct" in capsys.readouterr().out


def test_planar_log_det(capsys):
    def planar_log_det(x, w, u, b, absolute=True):
        factor = 1 + (1 - torch.tanh(x @ w + b) ** 2) * (w @ u)
        return factor.abs().log() if absolute else factor.log()
    exercises.check_planar_log_det(planar_log_det)
    with pytest.raises(AssertionError, match="determinant lemma|off by"):  # u . u
        exercises.check_planar_log_det(
            lambda x, w, u, b: torch.log1p((1 - torch.tanh(x @ w + b) ** 2) * (u @ u)))
    assert "Correct" in capsys.readouterr().out


def test_planar_constraint(capsys):
    def constrain(w, u):
        wu = w @ u
        return u + (torch.nn.functional.softplus(wu) - 1 - wu) * w / (w @ w)
    exercises.check_planar_constraint(constrain)
    with pytest.raises(AssertionError, match="orthogonal to w"):  # moved along u
        exercises.check_planar_constraint(
            lambda w, u: u * (torch.nn.functional.softplus(w @ u) - 1) / (w @ u))
    with pytest.raises(AssertionError, match="expected softplus"):  # |w| forgotten
        exercises.check_planar_constraint(
            lambda w, u: u + (torch.nn.functional.softplus(w @ u) - 1 - w @ u) * w)
    assert "Correct" in capsys.readouterr().out


def test_fixed_point(capsys):
    def invert(g, z, tol, max_iter=10_000):
        x = z
        for _ in range(max_iter):
            x, previous = z - g(x), x
            if (x - previous).abs().max() < tol:
                break
        return x
    exercises.check_fixed_point(invert)
    with pytest.raises(AssertionError, match="misses z"):  # too few iterations
        exercises.check_fixed_point(lambda g, z, tol: invert(g, z, tol, max_iter=20))
    assert "Correct" in capsys.readouterr().out


def test_roulette(capsys):
    def roulette(term, q, generator, fixed=None):
        total, k, weight = 0.0, 1, 1.0
        while True:
            total += term(k) / weight
            if (fixed is not None and k == fixed) or (
                    fixed is None and torch.rand((), generator=generator) > q):
                return total
            k, weight = k + 1, weight * q
    exercises.check_roulette(roulette)
    with pytest.raises(AssertionError, match="fixed truncation"):
        exercises.check_roulette(lambda t, q, g: roulette(t, q, g, fixed=3))
    with pytest.raises(AssertionError, match="biased"):  # no reweighting
        exercises.check_roulette(lambda t, q, g: roulette(lambda k: t(k) * q ** (k - 1),
                                                          q, g))
    assert "Correct" in capsys.readouterr().out


def test_log_det_series(capsys):
    def log_det_series(vjp, v, n_terms, sign=-1):
        total, w = 0.0, v
        for k in range(1, n_terms + 1):
            w = vjp(w)
            total = total + sign ** (k + 1) / k * (w * v).sum(-1)
        return total
    exercises.check_log_det_series(log_det_series)
    with pytest.raises(AssertionError, match="off by"):  # every sign positive
        exercises.check_log_det_series(lambda *a: log_det_series(*a, sign=1))
    assert "Correct" in capsys.readouterr().out


def test_linear_log_det(capsys):
    exercises.check_linear_log_det(lambda a, T: T * torch.trace(a))
    with pytest.raises(AssertionError, match="exp\\(T A\\)"):  # one Euler step
        exercises.check_linear_log_det(lambda a, T: torch.linalg.slogdet(
            torch.eye(len(a), dtype=a.dtype) + T * a).logabsdet)
    assert "Correct" in capsys.readouterr().out


def test_euler_augmented(capsys):
    def euler_step(f, t, z, log_p, h, trace, sign=-1):
        return z + h * f(t, z), log_p + sign * h * trace(t, z)
    exercises.check_euler_augmented(euler_step)
    with pytest.raises(AssertionError, match="spreading field"):  # the sign flipped
        exercises.check_euler_augmented(lambda *a: euler_step(*a, sign=1))
    with pytest.raises(AssertionError, match="pair"):
        exercises.check_euler_augmented(lambda f, t, z, log_p, h, trace: z)
    assert "Correct" in capsys.readouterr().out


def test_rk4_step(capsys):
    def rk4_step(f, t, z, h, late=1.0):
        k1 = f(t, z)
        k2 = f(t + h / 2, z + h / 2 * k1)
        k3 = f(t + h / 2, z + h / 2 * k2)
        k4 = f(t + late * h, z + h * k3)
        return z + h * (k1 + 2 * k2 + 2 * k3 + k4) / 6
    exercises.check_rk4_step(rk4_step)
    with pytest.raises(AssertionError, match="off by"):  # k4 at the wrong time
        exercises.check_rk4_step(lambda f, t, z, h: rk4_step(f, t, z, h, late=0.5))
    assert "Correct" in capsys.readouterr().out


def test_hutchinson_variance(capsys):
    def variance(a, kind, symmetric=True):
        s = (a + a.T) / 2 if symmetric else a
        total = s.square().sum()
        return 2 * (total if kind == "gaussian" else total - s.diagonal().square().sum())
    exercises.check_hutchinson_variance(variance)
    with pytest.raises(AssertionError, match="symmetric part"):
        exercises.check_hutchinson_variance(lambda a, k: variance(a, k, False))
    assert "Correct" in capsys.readouterr().out


def test_linear_cnf_density(capsys):
    def log_density(x, a, T, sign=1):
        z = x @ torch.linalg.matrix_exp(T * a).T
        normal = -0.5 * z.square().sum(-1) - len(a) / 2 * math.log(2 * math.pi)
        return normal + sign * T * torch.trace(a)
    exercises.check_linear_cnf_density(log_density)
    with pytest.raises(AssertionError, match="off by"):   # the log-det subtracted
        exercises.check_linear_cnf_density(lambda x, a, T: log_density(x, a, T, -1))
    assert "Correct" in capsys.readouterr().out


def test_gaussian_elbo(capsys):
    log2pi = math.log(2 * math.pi)
    def elbo(x, s, m, v, entropy=True):
        like = -0.5 * (log2pi + math.log(s * s) + ((x - m) ** 2 + v) / s ** 2)
        prior = -0.5 * (log2pi + m * m + v)
        return like + prior + entropy * 0.5 * (log2pi + 1 + math.log(v))
    exercises.check_gaussian_elbo(elbo)
    assert "the bound is tight" in capsys.readouterr().out
    with pytest.raises(AssertionError, match="entropy of q"):
        exercises.check_gaussian_elbo(lambda *a: elbo(*a, entropy=False))


def _iaf(eps, steps, sign=-1):
    z, log_q = eps, (-0.5 * (eps.square() + math.log(2 * math.pi))).sum(-1)
    for step in steps:
        shift, log_scale = step(z)
        z, log_q = shift + log_scale.exp() * z, log_q + sign * log_scale.sum(-1)
    return z, log_q


def test_iaf_log_density(capsys):
    exercises.check_iaf_log_density(_iaf)
    assert "Correct" in capsys.readouterr().out
    with pytest.raises(AssertionError, match="log_q is off"):   # the sign flipped
        exercises.check_iaf_log_density(lambda e, s: _iaf(e, s, sign=1))
    with pytest.raises(AssertionError, match="sample z is wrong"):  # scales from eps
        exercises.check_iaf_log_density(lambda e, s: _iaf(e, s[:1]))


def test_iaf_density_elsewhere(capsys):
    def log_q(z, step, passes=None):
        x = torch.zeros_like(z)
        for _ in range(passes or z.shape[1]):
            shift, log_scale = step(x)
            x = (z - shift) / log_scale.exp()
        shift, log_scale = step(x)
        return (-0.5 * (x.square() + math.log(2 * math.pi))).sum(-1) - log_scale.sum(-1)
    exercises.check_iaf_density_elsewhere(log_q)
    assert "D passes" in capsys.readouterr().out
    with pytest.raises(AssertionError, match="D passes"):   # one pass is not enough
        exercises.check_iaf_density_elsewhere(lambda z, step: log_q(z, step, 1))


def test_missing_mode(capsys):
    def kls(a):
        x = torch.linspace(-a - 12, a + 12, 100_001, dtype=torch.float64)
        dx = (x[1] - x[0]).item()
        q = torch.distributions.Normal(a, 1.0).log_prob(x)
        p = torch.logaddexp(torch.distributions.Normal(-a, 1.0).log_prob(x), q) \
            - math.log(2)
        kl = lambda lp, lr: (lp.exp() * (lp - lr)).sum().item() * dx
        return kl(q, p), kl(p, q)
    exercises.check_missing_mode(kls)
    assert "log 2" in capsys.readouterr().out
    with pytest.raises(AssertionError, match="KL\\(q \\|\\| p\\)"):   # swapped
        exercises.check_missing_mode(lambda a: kls(a)[::-1])


def test_moment_matching(capsys):
    def fit(w, mu, sd, spread=True):
        mean = (w * mu).sum()
        return mean, (w * (spread * sd.square() + mu.square())).sum() - mean ** 2
    exercises.check_moment_matching(fit)
    assert "Correct" in capsys.readouterr().out
    with pytest.raises(AssertionError, match="second moments"):  # spread left out
        exercises.check_moment_matching(lambda *a: fit(*a, spread=False))


def test_time_to_level(capsys):
    import math

    def crossing(curve, level, log=True):
        f = math.log if log else (lambda v: v)
        if curve[0][1] <= level:
            return curve[0][0]
        for (t0, k0), (t1, k1) in zip(curve, curve[1:]):
            if k1 <= 0 and log:
                return t1
            if k1 <= level:
                return t0 + (t1 - t0) * (f(k0) - f(level)) / (f(k0) - f(k1))
        return None
    exercises.check_time_to_level(crossing)
    assert "Correct" in capsys.readouterr().out
    with pytest.raises(AssertionError, match="Interpolate log KL"):   # linear in KL
        exercises.check_time_to_level(lambda c, v: crossing(c, v, log=False))
    with pytest.raises(AssertionError, match="expected"):   # the first grade below
        exercises.check_time_to_level(
            lambda c, v: next((t for t, k in c if k <= v), None))
    with pytest.raises(AssertionError, match="expected"):   # a negative grade's |KL|
        exercises.check_time_to_level(lambda c, v: crossing(c, v) if c[-1][1] > 0
                                      else crossing([(t, abs(k)) for t, k in c], v))
    with pytest.raises(AssertionError, match="at or below zero"):   # its logarithm
        exercises.check_time_to_level(lambda c, v: crossing(
            [(t, k if k > 0 else k + 1e-300) for t, k in c], v) if c[-1][1] > 0 else
            c[0][0] + math.log(c[-1][1]))


def test_break_even(capsys):
    import math

    def break_even(train_a, a, train_b, b):
        if train_a <= train_b:
            return 0
        return math.inf if a >= b else math.ceil((train_a - train_b) / (b - a))
    exercises.check_break_even(break_even)
    assert "Correct" in capsys.readouterr().out
    with pytest.raises(AssertionError, match="smallest whole n"):   # not rounded up
        exercises.check_break_even(lambda ta, a, tb, b: (ta - tb) / (b - a))
    with pytest.raises(AssertionError, match="never catches up"):
        exercises.check_break_even(
            lambda ta, a, tb, b: 0 if ta <= tb else math.ceil((ta - tb) / abs(b - a)))
