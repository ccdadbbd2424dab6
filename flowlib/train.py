"""Training: ``fit``, the running modes, and the run record of a chapter.

The book is CPU-first: every output on its website comes from a full run on a 2-core
CPU, and each chapter opens with how long its full and quick runs took there. The same
code runs on a GPU (Colab, a workstation), only faster.

A chapter asks for its budget in one place, ``steps = budget(full=..., quick=...)``:
the full budget is what the book's stored outputs were made with, the quick one (at most
three minutes a chapter on two cores) keeps CI and impatient readers fast on the same
code path. Two environment variables choose:

- ``FLOWLIB_MODE`` (``full`` or ``quick``); without it, full exactly when training runs
  on a GPU.
- ``FLOWLIB_DEVICE`` (``cpu`` or ``cuda``); without it, the GPU when there is one.

>>> import torch, flowlib
>>> flow = flowlib.Flow(flowlib.Affine(1), flowlib.StandardNormal(1))
>>> history = flowlib.fit(flow, 3 + 2 * torch.randn(1000, 1), steps=300, lr=0.05,
...                       progress=False)
>>> round(flow.bijector.loc.item()), round(flow.bijector.log_scale.exp().item())
(3, 2)
"""

import math
import os
import platform
import random
import time
import warnings

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

_START = time.perf_counter()
MODES = ("full", "quick")
DEVICES = ("cpu", "cuda")
COMPILE_MIN_STEPS = 2000


def _setting(name, choices):
    chosen = os.environ.get(name, "").strip().lower()
    if chosen and chosen not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {chosen!r}")
    return chosen


def mode():
    """``"full"`` or ``"quick"``: ``FLOWLIB_MODE`` if set, else full exactly when
    ``device()`` is a GPU."""
    return _setting("FLOWLIB_MODE", MODES) or (
        "full" if device().type == "cuda" else "quick")


def budget(*, full, quick):
    """The value for the current mode: ``steps = budget(full=20_000, quick=500)``."""
    return full if mode() == "full" else quick


def device():
    """The device to train on: ``FLOWLIB_DEVICE`` if set, else the GPU when there is
    one, else the CPU. Chapters move every model and tensor with it, never by name."""
    chosen = _setting("FLOWLIB_DEVICE", DEVICES)
    if chosen == "cuda" and not torch.cuda.is_available():
        raise ValueError("FLOWLIB_DEVICE=cuda, but PyTorch sees no GPU here; unset it, "
                         "or set FLOWLIB_DEVICE=cpu")
    return torch.device(chosen or ("cuda" if torch.cuda.is_available() else "cpu"))


def seed(n=0):
    """Seed Python, NumPy and PyTorch (all devices) so that a run repeats."""
    random.seed(n)
    np.random.seed(n)
    torch.manual_seed(n)


def run_record():
    """What produced a notebook's outputs: mode, device, processor and its cores,
    versions, and the wall time since flowlib was imported."""
    dev = device()
    from . import __version__
    return {
        "mode": mode(),
        "device": torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu",
        "processor": _processor(),
        "cores": _cores(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "flowlib": __version__,
        "wall_time_s": round(time.perf_counter() - _START, 1),
    }


def fit(model, data=None, *, steps, loss=None, batch_size=256, lr=1e-3,
        schedule="cosine", clip=10.0, evaluate=None, eval_every=None, log_every=None,
        progress=True, compile=None, seconds=None):
    """Train ``model`` with Adam for ``steps`` steps and return the history.

    ``data`` is a tensor (or a tuple of tensors of equal length, such as
    ``(x, context)``) from which each step draws a random minibatch;
    ``loss(model, batch)`` defaults to ``model.forward_kl(*batch)``, the negative
    log-likelihood. Without data (variational inference), ``loss(model, None)``
    must make its own samples, e.g. ``lambda m, _: m.reverse_kl(log_target, 512)``.

    The learning rate follows ``schedule`` ("cosine" decay to 1% or "constant");
    gradients are clipped to norm ``clip``. With ``seconds``, training stops after
    that much wall time (or ``steps``, whichever comes first) and the cosine follows
    the time instead of the steps: two models then train for equal time, whatever
    their step times. ``evaluate(model)`` runs without
    gradients every ``eval_every`` steps and at the end; its value (a number or a
    dict) is recorded. ``eval_every`` may also be a collection of steps, such as a
    log-spaced schedule; step 0 there means before training. The loop reads the loss
    back to the host only every ``log_every`` steps, and stops with
    ``FloatingPointError`` naming the first step whose loss was not finite.

    ``compile=True`` hands the loss, its backward pass included, to ``torch.compile``,
    which fuses the many small operations of a flow into a few kernels. Compiling
    costs tens of seconds once, and pays where launching kernels is the bottleneck:
    the default, ``None``, compiles on a GPU for runs of at least ``COMPILE_MIN_STEPS``
    steps, and never on the CPU, where these models are bound by arithmetic and
    compiling saved too little to repay itself (``benchmarks/compare.py`` measures it).
    Each compiled run starts from a fresh compile cache (``torch.compiler.reset``).
    If compiling fails (a compiler missing, an unsupported operation), ``fit`` warns
    once, repeats that step eagerly and goes on without compiling, in this run and
    every later one of the session.

    ``progress`` shows a live bar (``tqdm.auto``); with ``FLOWLIB_PROGRESS=text``, as in
    the book's stored runs, it prints one finished text bar instead, which a static page
    shows without any JavaScript.

    Returns
    ``{"step": [...], "loss": [...], "eval": [(step, value), ...], "seconds": t}``,
    where each loss is the mean over the ``log_every`` steps before ``step``.
    """
    if steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps}")
    if seconds is not None and not seconds > 0:
        raise ValueError(f"seconds must be positive, got {seconds}")
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("model has no trainable parameters")
    dev = params[0].device
    tensors = _check_data(data, dev)
    if loss is None:
        if tensors is None:
            raise ValueError("fit needs data, or a loss(model, None) that draws its "
                             "own samples")
        loss = lambda m, batch: m.forward_kl(*batch)
    if schedule not in ("cosine", "constant"):
        raise ValueError(f"schedule must be 'cosine' or 'constant', got {schedule!r}")
    log_every = log_every or max(1, min(100, steps // 50))
    if isinstance(eval_every, int) or eval_every is None:
        eval_at = set(range(eval_every or steps, steps + 1, eval_every or steps))
    else:
        eval_at = {int(s) for s in eval_every}
        outside = sorted(s for s in eval_at if not 0 <= s <= steps)
        if outside:
            raise ValueError(f"eval_every's steps must lie in 0..{steps}, got "
                             f"{len(outside)} outside, from {outside[0]} to "
                             f"{outside[-1]}")
    eval_at.add(steps)

    if compile is None:
        compile = dev.type == "cuda" and steps >= COMPILE_MIN_STEPS
    objective = loss
    if compile and not _compile_failed:
        try:
            torch.compiler.reset()  # a fresh cache per run: PyTorch stops compiling
            objective = torch.compile(loss)  # a function after 8 models
        except Exception as error:
            _compile_broke("torch.compile", error)
    opt = torch.optim.Adam(params, lr=lr, fused=_fusable(params))

    def progress_at(s):  # the fraction of the run done; the clock starts at step 1
        done = s / steps
        if seconds is not None and s:
            done = max(done, (time.perf_counter() - start) / seconds)
        return min(done, 1.0)
    decay = ((lambda s: 0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * progress_at(s))))
             if schedule == "cosine" else (lambda s: 1.0))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, decay)

    def gradients(batch, objective):
        opt.zero_grad(set_to_none=True)
        value = objective(model, batch)
        value.backward()
        return value.detach()

    def update():
        nn.utils.clip_grad_norm_(params, clip)
        opt.step()
        sched.step()

    history = {"step": [], "loss": [], "eval": [], "seconds": 0.0}

    def record_eval(i):
        model.eval()
        with torch.no_grad():
            history["eval"].append((i, evaluate(model)))
        model.train()

    running = torch.zeros((), device=dev)
    first_bad = torch.full((), -1, device=dev, dtype=torch.long)
    start, since = time.perf_counter(), 0
    model.train()
    if evaluate is not None and 0 in eval_at:
        record_eval(0)
    text = _setting("FLOWLIB_PROGRESS", ("text",)) == "text"
    with tqdm(total=None if seconds else steps, disable=not progress or text,
              leave=True) as bar:
        for i in range(1, steps + 1):
            batch = None
            if tensors is not None:
                idx = torch.randint(len(tensors[0]), (batch_size,), device=dev)
                batch = tuple(t[idx] for t in tensors)
            if objective is loss:
                value = gradients(batch, loss)
            else:
                try:
                    value = gradients(batch, objective)
                except Exception as error:
                    # the compiler's failure must not end the run
                    _compile_broke(f"the compiled step {i}", error)
                    objective = None
                if objective is None:  # repeat the step eagerly, outside the except
                    objective = loss
                    value = gradients(batch, loss)
            update()
            running += value
            first_bad = torch.where((first_bad < 0) & ~torch.isfinite(value), i,
                                    first_bad)
            since += 1
            last = i == steps or (seconds is not None
                                  and time.perf_counter() - start >= seconds)
            if i % log_every == 0 or last:
                if first_bad.item() >= 0:  # one host sync per log interval
                    raise FloatingPointError(
                        f"the loss was not finite (nan or inf) at step "
                        f"{first_bad.item()} of {steps}; the run was stopped there. "
                        "Try a lower learning rate (lr), a tighter gradient clip, or "
                        "check that the data and the model's inputs are finite.")
                history["step"].append(i)
                history["loss"].append(running.item() / since)
                bar.set_postfix(loss=f"{history['loss'][-1]:.4f}")
                bar.update(since)
                running.zero_()
                since = 0
            if evaluate is not None and (i in eval_at or last):
                record_eval(i)
            if last:
                break
    model.eval()
    history["seconds"] = time.perf_counter() - start
    if progress and text:
        done = history["step"][-1]
        print(tqdm.format_meter(done, done, history["seconds"], ncols=80,
                                postfix=f"loss={history['loss'][-1]:.4f}"))
    return history


def capture(fn, *args):
    """``fn`` recorded once as a CUDA graph and replayed: for repeated inference calls.

    Sampling a MAF runs D passes per layer, thousands of small kernels whose launches,
    not their arithmetic, set the time on a GPU. ``fast = capture(fn, *args)`` runs
    ``fn(*args)`` and, if its result lives on a GPU, records every kernel it launches;
    ``fast(*new_args)`` copies new inputs (of the same shapes) into the recording,
    replays it with one launch and returns copies of the result. Random numbers drawn
    inside are fresh at every replay. ``fn`` returns a tensor or a tuple of tensors and
    must not read tensors back to the host (bisection does). Everything runs without
    gradients; where there is nothing to record (the CPU), ``fast`` simply calls ``fn``,
    and if recording fails it warns once and does the same.

    >>> double = capture(lambda x: 2 * x, torch.ones(2))
    >>> double(torch.tensor([1.0, 3.0]))
    tensor([2., 6.])
    """
    plain = torch.no_grad()(fn)
    out = plain(*args)
    if not _on_gpu(out):
        return plain
    static = [a.clone() for a in args]
    try:
        side = torch.cuda.Stream()  # warm up off the main stream, as capture expects
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            plain(*static)
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            out = plain(*static)
    except Exception as error:  # a failed capture costs speed, never the result
        _fall_back("capturing a CUDA graph", error, "the function runs eagerly instead")
        return plain

    def replay(*new):
        if [a.shape for a in new] != [a.shape for a in static]:
            raise ValueError(f"captured for inputs of shapes "
                             f"{[tuple(a.shape) for a in static]}, "
                             f"got {[tuple(a.shape) for a in new]}")
        for s, a in zip(static, new):
            s.copy_(a)
        graph.replay()
        return out.clone() if torch.is_tensor(out) else tuple(t.clone() for t in out)
    return replay


def _cores():
    """The CPUs this process may use: its affinity, capped by a container's quota."""
    cores = (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
             else os.cpu_count())
    try:
        with open("/sys/fs/cgroup/cpu.max") as limit:
            quota, period = limit.read().split()
        if quota != "max":
            cores = min(cores, math.ceil(int(quota) / int(period)))
    except (OSError, ValueError):
        pass
    return cores


def _processor():
    """The CPU's model name, as the operating system reports it."""
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _as_tuple(out):
    return (out,) if torch.is_tensor(out) else tuple(out)


_compile_failed = False  # set by the first failure: later runs do not compile again


def _compile_broke(what, error):
    global _compile_failed
    _compile_failed = True
    _fall_back(what, error, "training goes on without compiling, and flowlib will not "
               "compile again in this session")


def _fall_back(what, error, instead):
    """One clear warning when a GPU speed-up fails and flowlib runs eagerly instead."""
    first_line = (str(error).strip().splitlines() or [""])[0][:200]
    warnings.warn(f"{what} failed ({type(error).__name__}: {first_line}); {instead}",
                  RuntimeWarning, stacklevel=3)


def _on_gpu(out):
    return any(t.is_cuda for t in _as_tuple(out))


def _fusable(params):
    """Adam's fused kernel (one update for all parameters) takes floating-point
    parameters that share one CPU or CUDA device."""
    devices = {p.device for p in params}
    return (len(devices) == 1 and next(iter(devices)).type in ("cpu", "cuda")
            and all(p.is_floating_point() for p in params))


def _check_data(data, dev):
    """Validate training data once, up front, and move it to the model's device."""
    if data is None:
        return None
    tensors = tuple(data) if isinstance(data, (tuple, list)) else (data,)
    for k, t in enumerate(tensors):
        if not torch.is_tensor(t):
            raise ValueError(f"data[{k}] must be a tensor, got {type(t).__name__}")
        if t.dim() == 0 or len(t) != len(tensors[0]):
            raise ValueError(f"data tensors must share their first (sample) dimension, "
                             f"got shapes {[tuple(s.shape) for s in tensors]}")
        if t.is_floating_point():
            bad = (~torch.isfinite(t).flatten(1).all(1) if t.dim() > 1
                   else ~torch.isfinite(t))
            if bad.any():
                rows = bad.nonzero().flatten()[:5].tolist()
                raise ValueError(f"data[{k}] holds NaN or infinite values "
                                 f"({int(bad.sum())} samples, first at rows {rows}); "
                                 "clean or drop them before training")
    if len(tensors[0]) == 0:
        raise ValueError("data is empty")
    return tuple(t.to(dev) for t in tensors)
