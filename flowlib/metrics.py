"""How good and how fast is a model? Quality in nats against the truth where it is
known; speed in seconds per call, measured the same way on a CPU and a GPU.

>>> import torch, flowlib
>>> truth = flowlib.dataset("bimodal")
>>> kl_divergence(truth, truth, truth.sample(1000))
0.0
"""

import itertools
import math
import time

import torch


def _log_prob(model, x):
    """``model.log_prob(x)`` (or ``model(x)`` for a plain function) on the model's
    device, back on x's."""
    device = x.device
    if isinstance(model, torch.nn.Module):
        # parameters or buffers say where the model lives
        device = next(itertools.chain(model.parameters(), model.buffers()), x).device
    return getattr(model, "log_prob", model)(x.to(device)).to(x.device)


@torch.no_grad()
def kl_divergence(truth, model, x):
    """KL(truth || model) = E_truth[log p(x) - log q(x)], averaged over ``x`` drawn from
    the truth.

    ``model`` is anything with a ``log_prob`` (a ``Flow``, a data set) or a log-density
    function. This paired estimate equals the test NLL minus the entropy of the truth,
    and has a far smaller Monte-Carlo error than either term alone when the model is
    good.
    """
    return (truth.log_prob(x) - _log_prob(model, x)).mean().item()


@torch.no_grad()
def nll(model, x):
    """Negative mean log-likelihood of ``x`` under ``model`` (as in ``kl_divergence``),
    in nats."""
    return -_log_prob(model, x).mean().item()


@torch.no_grad()
def bits_per_dim(model, x, levels=256, per_sample=False, samples=1):
    """An upper bound on the bits per dimension of discrete data under a continuous
    model.

    ``x`` holds integers in ``0..levels-1``; the model is a density on ``[0, 1)^D``,
    evaluated at the dequantized ``y = (x + u) / levels`` with ``u ~ U[0, 1)^D``. As
    ``P(x) >= levels^-D exp(E_u log p(y))``, the bound is
    ``E[-log p(y)] / (D ln 2) + log2(levels)``; a uniform model gives ``log2(levels)``.
    With ``samples`` M > 1 it is importance-weighted: ``log P(x)`` is bounded by the log
    of the mean of ``levels^-D p(y_m)`` over M draws, which tightens as M grows and
    reaches ``log P(x)`` in the limit. ``per_sample=True`` returns each sample's term,
    a tensor whose mean is that bound.
    """
    log_p = torch.stack([_log_prob(model, dequantize(x, levels))
                         for _ in range(samples)])
    log_p = torch.logsumexp(log_p, 0) - math.log(samples)
    bits = -log_p / (x[0].numel() * math.log(2)) + math.log2(levels)
    return bits if per_sample else bits.mean().item()


def dequantize(x, levels=256):
    """Uniform dequantization: integers ``x`` in ``0..levels-1`` (such as uint8 pixels)
    become ``y = (x + u) / levels`` in [0, 1), with fresh noise ``u ~ U[0, 1)`` per
    value at every call. Fitting a density to ``y`` maximizes the bound of
    ``bits_per_dim``.
    """
    x = x if x.is_floating_point() else x.float()
    if not ((x >= 0) & (x < levels) & (x == x.round())).all():
        raise ValueError(f"expected integer values in 0..{levels - 1}, "
                         "e.g. uint8 pixels")
    return (x + torch.rand_like(x)) / levels


def seconds(fn, repeat=3):
    """Wall-clock seconds per call of ``fn()``, after one warm-up call; waits for the
    GPU."""
    def sync():
        if torch.cuda.is_available():
            torch.cuda.synchronize()
    fn()
    sync()
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    sync()
    return (time.perf_counter() - start) / repeat
