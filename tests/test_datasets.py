import math

import pytest
import torch

import flowlib
from flowlib.datasets import DATASETS
from flowlib import exercises


ONE_D = ["bimodal", "trimodal", "peaked", "skewed", "laplace", "heavy"]
TWO_D = ["moons", "face", "8gaussians", "rings", "checkerboard", "grid"]


def test_the_registry_holds_exactly_the_tested_sets():
    assert sorted(DATASETS) == sorted(ONE_D + TWO_D)


@pytest.mark.parametrize("name", ONE_D)
def test_densities_integrate_to_one_and_match_their_samples(name):
    d = flowlib.dataset(name)
    x = torch.linspace(*d.span, 200_001, dtype=torch.float64)[:, None]
    assert torch.trapezoid(d.log_prob(x).exp(), x[:, 0]).item() == pytest.approx(1.0, abs=1e-6)
    torch.manual_seed(0)
    samples = d.sample(400_000)
    assert samples.shape == (400_000, 1)
    assert samples.min() > d.span[0] and samples.max() < d.span[1]
    # the samples follow the density: their mean log-density is minus the entropy
    assert -d.log_prob(samples).mean().item() == pytest.approx(d.entropy(), abs=0.01)
    # and their histogram matches it
    counts = torch.histc(samples[:, 0].double(), bins=40, min=d.span[0], max=d.span[1])
    edges = torch.linspace(*d.span, 41, dtype=torch.float64)
    fine = torch.linspace(0, 1, 101, dtype=torch.float64)
    mass = torch.stack([torch.trapezoid(d.log_prob((a + (b - a) * fine)[:, None]).exp(), a + (b - a) * fine)
                        for a, b in zip(edges[:-1], edges[1:])])
    assert (counts / len(samples) - mass).abs().max() < 0.005


def test_entropy_matches_a_closed_form():
    assert flowlib.dataset("skewed").entropy() == pytest.approx(0.5772156649 + 1, abs=1e-5)  # Gumbel(β=1)
    assert flowlib.dataset("laplace").entropy() == pytest.approx(1 + math.log(2), abs=1e-5)
    student = torch.distributions.StudentT(torch.tensor(3.0)).entropy().item()
    assert flowlib.dataset("heavy").entropy() == pytest.approx(student, abs=1e-4)
    sigma = 0.7  # a one-component "mixture" is a Gaussian
    d = flowlib.datasets.Density1d("g", flowlib.datasets.gaussian_mixture([1.0], [0.3], [sigma]), (-8, 8))
    assert d.entropy() == pytest.approx(0.5 * math.log(2 * math.pi * math.e * sigma**2), abs=1e-6)


def test_bad_names_and_shapes_are_rejected():
    with pytest.raises(ValueError, match="unknown data set 'spiral'"):
        flowlib.dataset("spiral")
    with pytest.raises(ValueError, match=r"expected x of shape \(batch, 1\)"):
        flowlib.dataset("bimodal").log_prob(torch.zeros(3))


def test_kl_divergence_of_a_shifted_gaussian():
    truth = flowlib.datasets.Density1d("g", flowlib.datasets.gaussian_mixture([1.0], [0.0], [1.0]), (-8, 8))
    shifted = lambda x: torch.distributions.Normal(0.5, 1.0).log_prob(x[:, 0])
    torch.manual_seed(0)
    assert flowlib.kl_divergence(truth, shifted, truth.sample(200_000)) == pytest.approx(0.125, abs=0.005)


def test_checkers_accept_right_and_reject_wrong_answers(capsys):
    exercises.check_scaled_uniform_density(lambda y: torch.where((y >= 0) & (y <= 2), 0.5, 0.0))
    with pytest.raises(AssertionError, match="height must halve"):
        exercises.check_scaled_uniform_density(lambda y: torch.where((y >= 0) & (y <= 2), 1.0, 0.0))

    exercises.check_flow_log_likelihood(lambda x, f, df, base: base(f(x)) + torch.log(df(x).abs()))
    with pytest.raises(AssertionError, match=r"\|f'\(x\)\|"):
        exercises.check_flow_log_likelihood(lambda x, f, df, base: base(f(x)) + torch.log(df(x)))
    with pytest.raises(AssertionError):
        exercises.check_flow_log_likelihood(lambda x, f, df, base: base(f(x)))

    from flowlib import scalar
    right = lambda y, p: scalar.bisect(lambda x: scalar.gaussian_mixture_cdf(x, p)[0], y, -100.0, 100.0)
    exercises.check_bisection(right)
    with pytest.raises(AssertionError, match="off by"):
        exercises.check_bisection(lambda y, p: right(y, p) + 1e-3)

    exercises.check_best_affine(lambda x: (x.mean(), x.std(correction=0)))
    with pytest.raises(AssertionError, match="highest at"):
        exercises.check_best_affine(lambda x: (x.mean(), x.std()))  # the unbiased std
    assert capsys.readouterr().out.count("Correct") == 4


@pytest.mark.parametrize("name", TWO_D)
def test_2d_densities_integrate_to_one_and_match_their_samples(name):
    d = flowlib.dataset(name)
    axis = torch.linspace(*d.span, 301, dtype=torch.float64)
    cells = torch.cartesian_prod(axis, axis)
    p = d.log_prob(cells).exp().view(301, 301)
    mass = torch.trapezoid(torch.trapezoid(p, axis, dim=0), axis, dim=0).item()
    assert mass == pytest.approx(1.0, abs=0.01 if name == "checkerboard" else 1e-4)  # edges cost the trapezoid rule
    torch.manual_seed(0)
    x = d.sample(50_000)
    assert x.shape == (50_000, 2) and x.dtype == torch.float32
    assert ((x > d.span[0]) & (x < d.span[1])).all()
    assert -d.log_prob(x).mean().item() == pytest.approx(d.entropy(), abs=0.02)
    # a coarse 2-D histogram of the samples matches the mass of each cell under the density
    edges = torch.linspace(*d.span, 9)
    counts = torch.histogramdd(x.double(), bins=[edges.double()] * 2).hist / len(x)
    fine = torch.linspace(*d.span, 161, dtype=torch.float64)
    dens = d.log_prob(torch.cartesian_prod(fine, fine)).exp().view(160 + 1, 161)
    per_cell = dens[:-1, :-1].unfold(0, 20, 20).unfold(1, 20, 20).sum((-1, -2)) * (fine[1] - fine[0]) ** 2
    assert (counts - per_cell).abs().max() < 0.02


def test_train_and_test_sets_are_independent_draws():
    d = flowlib.dataset("face")
    train, test = d.sample(20_000), d.sample(20_000)
    shared = (test[:2000, None, :] == train[None, :, :]).all(-1).any()
    assert not shared  # no test point is a training point


def test_checkerboard_is_exact():
    d = flowlib.dataset("checkerboard")
    assert d.entropy() == pytest.approx(math.log(8), abs=1e-3)
    lp = d.log_prob(torch.tensor([[-1.5, -1.5], [-0.5, -1.5], [0.5, 0.5], [3.0, 0.0]]))
    assert lp[0].item() == pytest.approx(-math.log(8)) and lp[2].item() == pytest.approx(-math.log(8))
    assert torch.isinf(lp[[1, 3]]).all()


def test_checkerboard_samples_never_round_onto_a_light_square():
    # in float32, 1 + u rounds to 2 for u within 2**-24 of 1: such a sample sits on
    # the edge of a light square, and a KL estimate over it is -inf
    d = flowlib.dataset("checkerboard")
    torch.manual_seed(0)
    rand = torch.rand
    try:
        torch.rand = lambda *shape: torch.full(shape, 1 - 2.0**-24)
        x = d.sample(1_000)
    finally:
        torch.rand = rand
    assert torch.isfinite(d.log_prob(x)).all()


def test_chapter_2_checkers():
    from flowlib import scalar
    exercises.check_ar2d_log_density(lambda x, f1, f2: f1(x[:, 0])[1] + f2(x[:, 1], x[:, 0])[1])
    with pytest.raises(AssertionError, match="sum of its diagonal"):
        exercises.check_ar2d_log_density(lambda x, f1, f2: f1(x[:, 0])[1])
    right = lambda z, i1, i2: torch.stack([i1(z[:, 0]), i2(z[:, 1], i1(z[:, 0]))], 1)
    exercises.check_ar2d_sampling(right)
    with pytest.raises(AssertionError, match="does not give z back"):  # x2 inverted as if x1 were 0
        exercises.check_ar2d_sampling(lambda z, i1, i2: torch.stack([i1(z[:, 0]), i2(z[:, 1], 0 * z[:, 0])], 1))


def test_metrics_accept_models_functions_and_data_sets():
    truth = flowlib.dataset("bimodal")
    x = truth.sample(2000)
    flow = flowlib.Flow(flowlib.Affine(1), flowlib.StandardNormal(1))
    by_model = flowlib.kl_divergence(truth, flow, x)
    assert by_model == pytest.approx(flowlib.kl_divergence(truth, flow.log_prob, x))
    assert by_model == pytest.approx(flowlib.nll(flow, x) - flowlib.nll(truth, x), abs=1e-5)
    assert flowlib.kl_divergence(truth, truth, x) == 0.0
    calls = []
    assert flowlib.seconds(lambda: calls.append(1), repeat=4) >= 0 and len(calls) == 5  # one warm-up


def test_bits_per_dim_of_known_models():
    x = torch.randint(0, 16, (500, 8), dtype=torch.uint8)
    uniform = flowlib.Flow(flowlib.Compose(), flowlib.StandardUniform(8))
    assert flowlib.bits_per_dim(uniform, x, levels=16) == pytest.approx(4.0)
    # a density twice as high on half of the cube saves exactly one bit per dimension
    half = lambda y: torch.where(y < 0.5, math.log(2.0), -math.inf).sum(1)
    assert flowlib.bits_per_dim(half, torch.randint(0, 8, (500, 8)), levels=16) == pytest.approx(3.0)
    # per sample: the half-cube model spends 3 bits on each sample, the mean is the bound above
    each = flowlib.bits_per_dim(half, x // 2, levels=16, per_sample=True)
    assert each.shape == (500,) and torch.allclose(each, torch.tensor(3.0))
    assert each.mean().item() == pytest.approx(flowlib.bits_per_dim(half, x // 2, levels=16))
    with pytest.raises(ValueError, match="integer values in 0..15"):
        flowlib.bits_per_dim(uniform, x.float() + 0.5, levels=16)


def test_importance_weighted_bits_per_dim_tighten_to_the_exact_discrete_value():
    # a normal density on [0, 1): the exact probability of a level is the normal's mass
    # on its bin, so the bound's gap is known; it shrinks as M grows and stays >= 0
    normal = torch.distributions.Normal(torch.tensor(0.5, dtype=torch.float64), 0.15)
    model = lambda y: normal.log_prob(y).sum(-1)
    torch.manual_seed(0)
    k = torch.arange(4, 12, dtype=torch.float64)
    exact = -torch.log2(normal.cdf((k + 1) / 16) - normal.cdf(k / 16))
    x = k.repeat(4000)[:, None]
    gap = {m: (flowlib.bits_per_dim(model, x, 16, per_sample=True, samples=m)
               .view(4000, 8).mean(0) - exact) for m in (1, 4, 64)}
    assert gap[1].sum() > 2 * gap[4].sum() > 4 * gap[64].sum()
    assert gap[1].max() > 0.02 and gap[64].abs().max() < 2e-3


def test_dequantize_fills_each_bin_uniformly():
    torch.manual_seed(0)
    x = torch.randint(0, 4, (20_000, 3), dtype=torch.uint8)
    y = flowlib.dequantize(x, levels=4)
    assert y.dtype == torch.float32 and torch.equal((y * 4).floor().to(torch.uint8), x)
    offsets = y * 4 - x                                     # uniform on [0, 1)
    assert abs(offsets.mean().item() - 0.5) < 0.01 and abs(offsets.var().item() - 1 / 12) < 0.005
    assert not torch.equal(y, flowlib.dequantize(x, levels=4))   # fresh noise per call
    with pytest.raises(ValueError, match="integer values in 0..3"):
        flowlib.dequantize(x + 4, levels=4)


def test_chapter3_checkers_accept_right_and_reject_wrong_answers():
    def covariance(A, log_scale, transpose_wrong=False):
        B = torch.linalg.inv(torch.eye(len(log_scale), dtype=A.dtype) - A) * log_scale.exp()
        return B.T @ B if transpose_wrong else B @ B.T
    exercises.check_gaussian_ar_covariance(covariance)
    with pytest.raises(AssertionError, match="hint"):
        exercises.check_gaussian_ar_covariance(lambda A, s: covariance(A, s, transpose_wrong=True))

    exercises.check_made_masks(lambda i, h: (h[:, None] >= i[None], i[:, None] > h[None]))
    with pytest.raises(AssertionError, match="hidden mask"):
        exercises.check_made_masks(lambda i, h: (h[:, None] > i[None], i[:, None] > h[None]))
    with pytest.raises(AssertionError, match="output mask"):
        exercises.check_made_masks(lambda i, h: (h[:, None] >= i[None], i[:, None] >= h[None]))

    def mask(k, kind, centre_for_a=False):
        m = torch.zeros(k, k)
        m[:k // 2] = 1
        m[k // 2, :k // 2 + (kind == "B" or centre_for_a)] = 1
        return m
    exercises.check_pixelcnn_mask(mask)
    with pytest.raises(AssertionError, match="type A"):
        exercises.check_pixelcnn_mask(lambda k, kind: mask(k, kind, centre_for_a=True))

    def sample(z, conditioner, parallel=False):
        x = torch.zeros_like(z)
        for i in range(1 if parallel else z.shape[1]):
            mu, alpha = conditioner(x)
            x = torch.where(torch.arange(z.shape[1]) == i, mu + alpha.exp() * z, x) if not parallel else mu + alpha.exp() * z
        return x
    exercises.check_maf_sampling(sample)
    with pytest.raises(AssertionError, match="does not give z back"):
        exercises.check_maf_sampling(lambda z, c: sample(z, c, parallel=True))
