"""Checkers for chapter 7's exercises."""

import math

import torch

from ._base import _checker, _number, _one_per_sample, _result, _verdict


def _planar_case(g, dim, n=50):
    x = torch.randn(n, dim, generator=g, dtype=torch.float64)
    w, u = torch.randn(2, dim, generator=g, dtype=torch.float64)
    b = torch.randn((), generator=g, dtype=torch.float64)
    return x, w, u, b


@_checker
def check_planar_log_det(planar_log_det):
    """Chapter 7: ``planar_log_det(x, w, u, b)`` is log|det| of the Jacobian of
    ``z = x + u tanh(w . x + b)`` at each row of ``x``, by the determinant lemma."""
    g = torch.Generator().manual_seed(71)
    for dim in (1, 2, 5):
        x, w, u, b = _planar_case(g, dim)
        if dim == 5:       # a case where w . u < 0, so the factor can fall below one
            u = u - (w @ u + 0.7) * w / w.square().sum()
        got = _result(planar_log_det(x.clone(), w.clone(), u.clone(), b.clone()))
        jac = torch.eye(dim, dtype=x.dtype) + (
            1 - torch.tanh(x @ w + b).square())[:, None, None] * torch.outer(u, w)
        want = torch.linalg.slogdet(jac).logabsdet
        _one_per_sample(got, want)
        err = (got - want).abs().max().item()
        _verdict(err < 1e-9, f"in {dim}-D your log|det| is off by up to {err:.3g}; "
                 f"e.g. {got[0].item():.6f} where the Jacobian's is "
                 f"{want[0].item():.6f} (det(I + a b^T) = 1 + b^T a)")
    print("Correct: log|1 + tanh'(w . x + b) w . u|, one dot product per sample "
          "instead of a D x D determinant.")


@_checker
def check_planar_constraint(constrain):
    """Chapter 7: ``constrain(w, u)`` moves ``u`` along ``w`` so that ``w . u_hat =
    softplus(w . u) - 1 > -1``."""
    g = torch.Generator().manual_seed(72)
    for dim, scale in ((1, 1.0), (2, 3.0), (6, 0.3), (6, 10.0)):
        w, u = scale * torch.randn(2, dim, generator=g, dtype=torch.float64)
        got = _result(constrain(w.clone(), u.clone()), "constrain(w, u)")
        _verdict(got.shape == u.shape, f"constrain(w, u) should have the shape of u, "
                 f"{tuple(u.shape)}, got {tuple(got.shape)}")
        want_dot = torch.nn.functional.softplus(w @ u) - 1
        _verdict(torch.isclose(w @ got, want_dot, rtol=0, atol=1e-9),
                 f"in {dim}-D, w . u_hat = {(w @ got).item():.6f}; expected "
                 f"softplus(w . u) - 1 = {want_dot.item():.6f}")
        moved = got - u
        off_w = moved - (moved @ w) * w / w.square().sum()
        _verdict(off_w.abs().max() < 1e-9, f"in {dim}-D, u_hat - u has a part "
                 f"orthogonal to w (size {off_w.norm().item():.3g}): move u along w "
                 "only")
    print("Correct: only u's component along w changes, so the map keeps its "
          "direction u where it can, and w . u_hat > -1 for every u.")


@_checker
def check_fixed_point(invert):
    """Chapter 7: ``invert(g, z, tol)`` returns ``x`` with ``x + g(x) = z`` for a
    contraction ``g``, iterating until a step moves ``x`` by less than ``tol``."""
    g = torch.Generator().manual_seed(73)
    for lip in (0.3, 0.9, 0.99):
        a = torch.randn(4, 4, generator=g, dtype=torch.float64)
        a = lip * a / torch.linalg.matrix_norm(a, 2)
        c = torch.randn(4, generator=g, dtype=torch.float64)
        field = lambda x, a=a, c=c: torch.sin(x @ a.T + c)    # Lip <= lip
        z = 3 * torch.randn(20, 4, generator=g, dtype=torch.float64)
        x = _result(invert(field, z.clone(), 1e-12), "invert(g, z, 1e-12)")
        _verdict(x.shape == z.shape, f"expected x of shape {tuple(z.shape)}, got "
                 f"{tuple(x.shape)}")
        err = (x + field(x) - z).abs().max().item()
        _verdict(err < 1e-9, f"with Lip(g) = {lip}, x + g(x) misses z by up to "
                 f"{err:.3g}; iterate x <- z - g(x) until it stops moving")
    print("Correct: the iteration x <- z - g(x) contracts by Lip(g) per step, so it "
          "needs about log(tol) / log(Lip) steps.")


@_checker
def check_roulette(roulette):
    """Chapter 7: ``roulette(term, q, generator)`` is one unbiased estimate of
    ``sum_{k >= 1} term(k)``: it draws ``N >= 1`` with ``P(N >= k) = q^(k-1)`` (each
    further term reached with probability ``q``) and returns ``sum_{k <= N} term(k) /
    q^(k-1)``."""
    gen = torch.Generator().manual_seed(74)
    for a, q in ((0.5, 0.8), (-0.6, 0.5)):
        term = lambda k, a=a: (-1) ** (k + 1) * a ** k / k
        want = math.log1p(a)
        draws = torch.tensor([_number(roulette(term, q, gen), "roulette(term, q, gen)")
                              for _ in range(20_000)], dtype=torch.float64)
        _verdict(len(set(draws.tolist())) > 1, "every estimate is the same number: "
                 "a fixed truncation is biased; draw the number of terms at random")
        mean, se = draws.mean().item(), draws.std().item() / len(draws) ** 0.5
        _verdict(abs(mean - want) < 5 * se, f"for log(1 + {a}) = {want:.5f} your "
                 f"estimates average {mean:.5f} ± {se:.5f}: biased. Divide term k by "
                 "the probability of reaching it")
    print("Correct: E[sum_k 1(N >= k) term(k) / P(N >= k)] = sum_k term(k), whatever "
          "the q; q trades the cost (the mean number of terms) against the variance.")


@_checker
def check_log_det_series(log_det_series):
    """Chapter 7: ``log_det_series(vjp, v, n_terms)`` is the Hutchinson estimate of
    ``sum_{k=1}^{n_terms} (-1)^(k+1) tr(J^k) / k``, one per row of ``v``, where
    ``vjp(w)`` returns ``w J`` for a batch of rows ``w``."""
    g = torch.Generator().manual_seed(75)
    for dim, n_terms in ((3, 1), (5, 4), (8, 10)):
        jac = torch.randn(dim, dim, generator=g, dtype=torch.float64)
        jac = 0.7 * jac / torch.linalg.matrix_norm(jac, 2)
        v = torch.randn(6, dim, generator=g, dtype=torch.float64)
        want, w = 0.0, v
        for k in range(1, n_terms + 1):
            w = w @ jac
            want = want + (-1) ** (k + 1) / k * (w * v).sum(-1)
        got = _result(log_det_series(lambda w: w @ jac, v.clone(), n_terms))
        _one_per_sample(got, want)
        err = (got - want).abs().max().item()
        _verdict(err < 1e-9, f"D = {dim}, {n_terms} terms: off by up to {err:.3g}; "
                 "term k is (-1)^(k+1) v^T J^k v / k, with v^T J^k built by k "
                 "vector-Jacobian products")
    print("Correct: one probe, n vector-Jacobian products, no Jacobian ever formed.")
