"""flowlib.zoo: every flow of the book builds, scores and samples; the race trains on
the clock and refuses what it cannot train on."""

import math

import pytest
import torch

import flowlib
from flowlib import zoo


@pytest.mark.parametrize("name", list(zoo.FLOWS))
def test_every_2d_flow_scores_samples_and_learns(name):
    torch.manual_seed(0)
    entry = zoo.FLOWS[name]
    assert entry.inverse.split(",")[0] in ("closed form", "sequential", "iterative",
                                           "ODE solve")
    truth = flowlib.dataset("moons")
    race = zoo.Race(entry.build(), truth.sample(5_000), lr=entry.lr, batch=entry.batch,
                    seconds=1.0)
    x = truth.sample(500)

    def median_kl_term():   # the median: an early MAF may send a rare point far off
        with zoo.evaluating(race.model) as flow:
            return (truth.log_prob(x) - flow.log_prob(x)).median().item()
    before = median_kl_term()
    race.grade(truth.log_prob, x)
    race.run(1.0)
    race.grade(truth.log_prob, x)
    assert median_kl_term() < before and len(race.curve) == 2
    assert race.trained >= 1.0 and race.steps > 0
    with zoo.evaluating(race.model) as flow:
        assert torch.isfinite(flow.log_prob(x)).all()
        assert flow.sample(7).shape == (7, 2)


@pytest.mark.parametrize("name", list(zoo.IMAGE_FLOWS))
def test_every_image_flow_scores_integer_digits(name):
    torch.manual_seed(0)
    model = zoo.IMAGE_FLOWS[name](False)
    x = torch.randint(0, 256, (2, 1, 28, 28)).float()
    bound = model.log_prob(x)
    assert bound.shape == (2,) and torch.isfinite(bound).all()
    zoo.bf16(model, True)
    assert all(m.bf16 for m in model.modules() if hasattr(m, "bf16"))


def test_race_refuses_bad_data_and_stops_on_a_non_finite_loss():
    flow = zoo.FLOWS["MAF-10 (ch. 3)"].build()
    with pytest.raises(ValueError, match="finite float tensor"):
        zoo.Race(flow, torch.tensor([[0.0, math.nan]]), lr=1e-3, batch=1, seconds=1)
    with pytest.raises(ValueError, match="finite float tensor"):
        zoo.Race(flow, torch.zeros(4, 2, dtype=torch.long), lr=1e-3, batch=1, seconds=1)
    race = zoo.Race(flow, torch.randn(100, 2), lr=1e-3, batch=8, seconds=1,
                    loss=lambda batch: flow.log_prob(batch).mean() * math.nan)
    with pytest.raises(FloatingPointError, match="not finite"):
        race.run(0.05)
    assert all(torch.allclose(p, x, equal_nan=True)    # NaN too, by now
               for p, x in zip(race.params, race.opt.x))
    assert not flow.training     # even after the error: the average, in eval mode


def test_time_to_reads_the_first_grade_at_or_below_a_level():
    curve = [(0.0, 0, 1.0), (1.0, 10, 0.2), (2.0, 20, 0.05), (3.0, 30, 0.08)]
    assert zoo.time_to(curve, 0.2) == 1.0
    assert zoo.time_to(curve, 0.06) == 2.0
    assert zoo.time_to(curve, 0.01) is None


def test_schedule_free_adam_averages_its_way_to_a_minimum():
    torch.manual_seed(0)
    w = torch.nn.Parameter(torch.zeros(3))
    target = torch.tensor([1.0, -2.0, 0.5])
    opt = zoo.ScheduleFreeAdam([w])
    for _ in range(2_000):       # noisy gradients of |w - target|^2 / 2
        w.grad = w.detach() - target + 0.5 * torch.randn(3)
        opt.step(0.05)
    y = w.detach().clone()       # the model holds y between steps ...
    assert torch.allclose(y, torch.lerp(opt.z[0], opt.x[0], 0.9))
    opt.use("x")                 # ... and the average on request, which is closer
    assert torch.equal(w.detach(), opt.x[0])
    error = (w.detach() - target).norm()
    assert error < 0.1 and (opt.z[0] - target).norm() > 3 * error


def test_race_schedules():
    flow = zoo.FLOWS["MAF-10 (ch. 3)"].build()
    with pytest.raises(ValueError, match="'free' or 'cosine' and warmup"):
        zoo.Race(flow, torch.randn(100, 2), lr=1e-3, batch=8, seconds=1,
                 schedule="linear")
    for schedule in ("free", "cosine"):
        race = zoo.Race(flow, torch.randn(100, 2), lr=1e-3, batch=8, seconds=1,
                        schedule=schedule)
        race.run(0.05)
        assert race.steps > 0 and not flow.training
    # between slices, with or without a step, the model holds the average
    for seconds in (0.05, 0.0):
        race = zoo.Race(flow, torch.randn(100, 2), lr=1e-3, batch=8, seconds=1)
        race.run(seconds)
        assert all(torch.equal(p, x) for p, x in zip(race.params, race.opt.x))
    with pytest.raises(ValueError, match="'x' \\(the average\\) or 'y'"):
        race.opt.use("z")
