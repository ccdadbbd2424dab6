"""How good and how fast is a model? Quality in nats against the truth where it is
known; speed in seconds per call, measured the same way on a CPU and a GPU.

>>> import torch, flowlib
>>> truth = flowlib.dataset("bimodal")
>>> kl_divergence(truth, truth, truth.sample(1000))
0.0
"""

import itertools
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
