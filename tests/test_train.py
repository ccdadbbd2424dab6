import contextlib
import math

import pytest
import torch

import flowlib
from flowlib import Affine, Flow, StandardNormal


def test_fit_recovers_a_gaussian_and_reports_history():
    flowlib.seed(0)
    data = torch.tensor([3.0, -1.0]) + torch.tensor([2.0, 0.5]) * torch.randn(4000, 2)
    flow = Flow(Affine(2), StandardNormal(2))
    calls = []
    history = flowlib.fit(flow, data, steps=400, lr=0.05, log_every=20, eval_every=100, progress=False,
                          evaluate=lambda m: calls.append(torch.is_grad_enabled()) or -m.log_prob(data).mean().item())
    torch.testing.assert_close(flow.bijector.loc, torch.tensor([3.0, -1.0]), atol=0.1, rtol=0)
    torch.testing.assert_close(flow.bijector.log_scale.exp(), torch.tensor([2.0, 0.5]), atol=0.1, rtol=0)
    assert history["step"] == list(range(20, 401, 20)) and len(history["loss"]) == 20
    assert [s for s, _ in history["eval"]] == [100, 200, 300, 400] and calls == [False] * 4
    true_entropy = sum(0.5 * math.log(2 * math.pi * math.e * s ** 2) for s in (2.0, 0.5))
    assert history["eval"][-1][1] == pytest.approx(true_entropy, abs=0.05)
    assert history["loss"][-1] < history["loss"][0] and history["seconds"] > 0


def test_fit_evaluates_on_a_schedule_of_steps_from_step_0():
    flow = Flow(Affine(1), StandardNormal(1))
    data = 3 + torch.randn(500, 1)
    loc = lambda m: m.bijector.loc.item()
    history = flowlib.fit(flow, data, steps=50, lr=0.1, evaluate=loc,
                          eval_every=[0, 1, 4, 16], progress=False)
    assert [s for s, _ in history["eval"]] == [0, 1, 4, 16, 50]
    assert history["eval"][0][1] == 0.0 and history["eval"][-1][1] > 1  # before, after
    with pytest.raises(ValueError, match="0..50, got 2 outside, from 60 to 10000"):
        flowlib.fit(flow, data, steps=50, evaluate=loc, eval_every=[0, 60, 10**4],
                    progress=False)


def test_fit_for_a_wall_time_stops_then_and_anneals_by_time(monkeypatch):
    """With ``seconds`` the run ends after that much time (a slow loss makes each step
    take at least 20 ms, so 0.2 s cannot hold the 1 000 steps allowed) and the cosine
    follows the clock: the last step ran at a hundredth of the learning rate."""
    import time
    flow = Flow(Affine(1), StandardNormal(1))
    rates = []
    real_adam = torch.optim.Adam

    def adam(*args, **kwargs):   # keep the optimizer to read its learning rate
        opt = real_adam(*args, **kwargs)
        adam.opt = opt
        return opt

    monkeypatch.setattr(torch.optim, "Adam", adam)

    def slow(model, batch):
        time.sleep(0.02)
        return model.forward_kl(*batch)

    history = flowlib.fit(flow, torch.randn(100, 1), steps=1_000, seconds=0.2,
                          loss=slow, lr=0.1, progress=False, log_every=1,
                          evaluate=lambda m: rates.append(1))
    last = history["step"][-1]
    assert 1 <= last <= 10 and history["seconds"] >= 0.2
    assert [s for s, _ in history["eval"]] == [last]     # evaluated once, at the end
    assert adam.opt.param_groups[0]["lr"] == pytest.approx(0.1 * 0.01)
    with pytest.raises(ValueError, match="seconds must be positive"):
        flowlib.fit(flow, torch.randn(10, 1), steps=5, seconds=0)


def test_fit_with_a_custom_loss_and_no_data():
    """Reverse KL: fit N(loc, scale) to an unnormalized N(1, 2^2) target by sampling the flow."""
    flowlib.seed(0)
    flow = Flow(Affine(1), StandardNormal(1))
    log_target = lambda x: -0.5 * ((x[:, 0] - 1.0) / 2.0) ** 2 + 123.0  # normalizer unknown to the flow
    flowlib.fit(flow, loss=lambda m, _: m.reverse_kl(log_target, 256), steps=500, lr=0.05, progress=False)
    assert flow.bijector.loc.item() == pytest.approx(1.0, abs=0.1)
    assert flow.bijector.log_scale.exp().item() == pytest.approx(2.0, abs=0.1)


def test_fit_passes_tuples_as_data_and_context():
    seen = []

    class Conditional(Flow):
        def forward_kl(self, x, context):
            seen.append(context.shape)
            return super().forward_kl(x)

    flow = Conditional(Affine(2), StandardNormal(2))
    flowlib.fit(flow, (torch.randn(50, 2), torch.randn(50, 7)), steps=3, batch_size=16, progress=False)
    assert seen == [torch.Size([16, 7])] * 3


def test_fit_rejects_nan_data_clearly():
    data = torch.randn(100, 2)
    data[17, 1] = float("nan")
    with pytest.raises(ValueError, match=r"NaN or infinite values \(1 samples, first at rows \[17\]\)"):
        flowlib.fit(Flow(Affine(2), StandardNormal(2)), data, steps=10, progress=False)


@pytest.mark.parametrize("data, message", [
    ((torch.randn(10, 2), torch.randn(9, 2)), "share their first"),
    ([[1.0, 2.0]], "must be a tensor"),
    (torch.randn(0, 2), "empty"),
])
def test_fit_rejects_malformed_data(data, message):
    with pytest.raises(ValueError, match=message):
        flowlib.fit(Flow(Affine(2), StandardNormal(2)), data, steps=1, progress=False)


def test_fit_stops_on_a_non_finite_loss_and_names_the_step():
    calls = []

    def loss(model, batch):
        calls.append(None)
        value = model.forward_kl(*batch)
        return value * float("nan") if len(calls) == 37 else value

    with pytest.raises(FloatingPointError, match="not finite .* at step 37 of 100"):
        flowlib.fit(Flow(Affine(2), StandardNormal(2)), torch.randn(100, 2), loss=loss, steps=100,
                    log_every=10, progress=False)
    assert len(calls) == 40  # it stops at the first check after the bad step


def test_fit_needs_data_or_a_loss():
    with pytest.raises(ValueError, match="needs data"):
        flowlib.fit(Flow(Affine(2), StandardNormal(2)), steps=5, progress=False)


def test_modes(monkeypatch):
    monkeypatch.setenv("FLOWLIB_MODE", "full")
    assert flowlib.mode() == "full" and flowlib.budget(full=10, quick=1) == 10
    monkeypatch.setenv("FLOWLIB_MODE", "quick")
    assert flowlib.mode() == "quick" and flowlib.budget(full=10, quick=1) == 1
    monkeypatch.delenv("FLOWLIB_MODE")
    monkeypatch.delenv("FLOWLIB_DEVICE", raising=False)
    assert flowlib.mode() == ("full" if torch.cuda.is_available() else "quick")
    monkeypatch.setenv("FLOWLIB_DEVICE", "cpu")  # a GPU machine told to use its CPU
    assert flowlib.mode() == "quick"
    monkeypatch.setenv("FLOWLIB_MODE", "fast")
    with pytest.raises(ValueError, match="FLOWLIB_MODE must be one of"):
        flowlib.mode()


def test_device_follows_flowlib_device(monkeypatch):
    monkeypatch.delenv("FLOWLIB_DEVICE", raising=False)
    assert flowlib.device().type == ("cuda" if torch.cuda.is_available() else "cpu")
    monkeypatch.setenv("FLOWLIB_DEVICE", " CPU ")
    assert flowlib.device() == torch.device("cpu")
    monkeypatch.setenv("FLOWLIB_DEVICE", "tpu")
    with pytest.raises(ValueError, match=r"FLOWLIB_DEVICE must be one of \('cpu', 'cuda'\)"):
        flowlib.device()
    if not torch.cuda.is_available():
        monkeypatch.setenv("FLOWLIB_DEVICE", "cuda")
        with pytest.raises(ValueError, match="sees no GPU"):
            flowlib.device()


def test_run_record_and_seed():
    record = flowlib.run_record()
    assert set(record) == {"mode", "device", "processor", "cores", "torch", "python",
                           "flowlib", "wall_time_s"}
    assert record["torch"] == torch.__version__ and record["wall_time_s"] >= 0
    assert record["processor"] and record["cores"] >= 1
    flowlib.seed(3)
    a = torch.rand(3)
    flowlib.seed(3)
    assert torch.equal(a, torch.rand(3))


def test_compiled_fit_matches_eager(monkeypatch):
    """compile=True runs the same training through torch.compile: equal losses within
    float32 rounding at first, and within noise after 200 steps of Adam."""
    compiled = []
    real_compile = torch.compile
    monkeypatch.setattr(torch, "compile", lambda fn: compiled.append(fn) or real_compile(fn))
    runs = {}
    for compile in (None, True):  # None is eager on the CPU
        flowlib.seed(0)
        flow = Flow(flowlib.MAF(2, 2, (16,)), StandardNormal(2))
        runs[compile] = flowlib.fit(flow, flowlib.dataset("moons").sample(2000), steps=200, lr=3e-3,
                                    log_every=20, progress=False, compile=compile)["loss"]
    assert len(compiled) == 1
    eager, fused = runs[None], runs[True]
    assert fused[0] == pytest.approx(eager[0], rel=1e-4)
    assert fused[-1] == pytest.approx(eager[-1], abs=0.02) and fused[-1] < fused[0] - 0.3


def test_capture_on_the_cpu_calls_the_function_without_gradients():
    flow = Flow(flowlib.MAF(3, 2, (8,)), StandardNormal(3))
    x = torch.randn(5, 3)
    log_prob = flowlib.capture(flow.log_prob, x)
    torch.testing.assert_close(log_prob(x), flow.log_prob(x).detach())
    assert not log_prob(x).requires_grad


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA graphs need a GPU")
def test_capture_replays_a_maf_on_the_gpu():
    flowlib.seed(0)
    flow = flowlib.testing.randomize(Flow(flowlib.MAF(8, 3, (32,)), StandardNormal(8)), 0.1).cuda()
    sample = flowlib.capture(lambda: flow.sample_and_log_prob(1000))
    (x1, lp1), (x2, lp2) = sample(), sample()
    assert not torch.equal(x1, x2)  # fresh noise at every replay
    with torch.no_grad():
        torch.testing.assert_close(lp1, flow.log_prob(x1), atol=1e-3, rtol=1e-4)
        torch.testing.assert_close(lp2, flow.log_prob(x2), atol=1e-3, rtol=1e-4)
    x = torch.randn(64, 8, device="cuda")
    log_prob = flowlib.capture(flow.log_prob, x)
    y = torch.randn(64, 8, device="cuda")
    with torch.no_grad():
        torch.testing.assert_close(log_prob(y), flow.log_prob(y))
    with pytest.raises(ValueError, match="captured for inputs of shapes"):
        log_prob(torch.randn(3, 8, device="cuda"))


def test_every_compiled_run_compiles_its_own_model(monkeypatch):
    """PyTorch stops compiling a function after 8 variants and runs the rest eagerly;
    fit starts each compiled run with a fresh cache, so a chapter's ninth model compiles too.
    (Traced only, without generating kernels, to keep the test fast.)"""
    real_compile = torch.compile
    monkeypatch.setattr(torch, "compile", lambda fn: real_compile(fn, backend="eager"))
    graphs = torch._dynamo.utils.counters["stats"]
    for layers in range(1, 10):
        before = graphs["unique_graphs"]
        flow = Flow(flowlib.Compose(*(Affine(2) for _ in range(layers))), StandardNormal(2))
        flowlib.fit(flow, torch.randn(64, 2), steps=1, batch_size=8, progress=False, compile=True)
        assert graphs["unique_graphs"] > before, f"the run with {layers} layers was not compiled"


def _moons_run(compile):
    flowlib.seed(0)
    flow = Flow(flowlib.MAF(2, 2, (16,)), StandardNormal(2))
    data = flowlib.dataset("moons").sample(2000)
    return flowlib.fit(flow, data, steps=60, lr=3e-3, log_every=20, progress=False,
                       compile=compile)["loss"], flow


def test_a_failing_compile_falls_back_to_eager_with_one_warning(monkeypatch):
    """As on a GPU whose compiler breaks when the step runs: the run completes with the
    eager results, warns once, and later runs of the session do not compile again."""
    monkeypatch.setattr(flowlib.train, "_compile_failed", False)
    calls = []

    def broken_compile(fn):
        def compiled(*args):
            calls.append(1)
            raise RuntimeError("no C compiler found\nmore detail")
        return compiled
    eager, eager_flow = _moons_run(compile=False)
    monkeypatch.setattr(torch, "compile", broken_compile)
    with pytest.warns(RuntimeWarning, match="the compiled step 1 failed .RuntimeError: "
                      "no C compiler found.; training goes on") as caught:
        fallen, fallen_flow = _moons_run(compile=True)
    assert len([w for w in caught if issubclass(w.category, RuntimeWarning)]) == 1
    assert fallen == eager and calls == [1]
    for a, b in zip(eager_flow.parameters(), fallen_flow.parameters()):
        assert torch.equal(a, b)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again, _ = _moons_run(compile=True)   # no second attempt, no second warning
    assert again == eager and calls == [1]


def test_compile_that_raises_at_once_falls_back_too(monkeypatch):
    """torch.compile itself raises on some Python builds (3.15+, free-threaded)."""
    monkeypatch.setattr(flowlib.train, "_compile_failed", False)

    def unsupported(fn):
        raise RuntimeError("torch.compile is not supported on this Python")
    monkeypatch.setattr(torch, "compile", unsupported)
    eager, _ = _moons_run(compile=False)
    with pytest.warns(RuntimeWarning, match="torch.compile failed .RuntimeError"):
        fallen, _ = _moons_run(compile=True)
    assert fallen == eager


def test_an_error_of_the_loss_itself_still_reaches_the_reader(monkeypatch):
    """A compiled step cannot tell a compiler's failure from a bug in the loss: it warns
    and retries eagerly, and the bug is then raised as itself."""
    monkeypatch.setattr(flowlib.train, "_compile_failed", False)
    monkeypatch.setattr(torch, "compile", lambda fn: lambda *args: fn(*args))
    flow = Flow(Affine(2), StandardNormal(2))

    def wrong(model, batch):
        raise KeyError("a bug in the loss")
    with pytest.warns(RuntimeWarning), pytest.raises(KeyError, match="a bug in the loss") as info:
        flowlib.fit(flow, torch.randn(64, 2), loss=wrong, steps=3, progress=False,
                    compile=True)
    assert info.value.__context__ is None   # not "during handling of another exception"


def test_a_failing_capture_falls_back_to_eager_with_one_warning(monkeypatch):
    """Pretend the result lives on a GPU and that recording the graph fails, as a broken
    CUDA setup would: capture warns once and hands back the plain function."""
    class Stream:
        def wait_stream(self, other):
            pass

    class BrokenGraph:
        def __init__(self):
            raise RuntimeError("CUDA graph capture failed")
    monkeypatch.setattr(flowlib.train, "_on_gpu", lambda out: True)
    monkeypatch.setattr(torch.cuda, "Stream", Stream)
    monkeypatch.setattr(torch.cuda, "current_stream", lambda: Stream())
    monkeypatch.setattr(torch.cuda, "stream", lambda s: contextlib.nullcontext())
    monkeypatch.setattr(torch.cuda, "CUDAGraph", BrokenGraph)
    flow = Flow(flowlib.MAF(3, 2, (8,)), StandardNormal(3))
    x = torch.randn(5, 3)
    with pytest.warns(RuntimeWarning, match="capturing a CUDA graph failed "
                      ".RuntimeError: CUDA graph capture failed") as caught:
        log_prob = flowlib.capture(flow.log_prob, x)
    assert len(caught) == 1
    y = torch.randn(5, 3)
    torch.testing.assert_close(log_prob(y), flow.log_prob(y).detach())
    assert not log_prob(y).requires_grad


def test_text_progress_prints_one_finished_bar(monkeypatch, capsys):
    monkeypatch.setenv("FLOWLIB_PROGRESS", "text")
    flow = Flow(Affine(1), StandardNormal(1))
    flowlib.fit(flow, torch.randn(100, 1), steps=30, batch_size=10)
    out, err = capsys.readouterr()
    assert out.count("\n") == 1 and "100%" in out and "30/30" in out and "loss=" in out
    assert "\r" not in out + err
