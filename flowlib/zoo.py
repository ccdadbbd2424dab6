"""The flows of the book side by side, and a race against the clock.

``FLOWS`` names one 2-D flow of each family as its chapter builds it, with the
learning rate and batch it trains with there (RealNVP's is chapter 8's) and how it is
inverted; ``IMAGE_FLOWS`` the MNIST flows of chapters 4-6, ``IMAGE_INVERSES`` how they
sample. ``Race`` trains any model for slices of wall time and records KL(truth ||
model) after each, so that models can take turns (round-robin) and a busy machine
spreads its slowdown over all of them; by default with ``ScheduleFreeAdam``, so that
every grade is a model one could stop with. ``time_to`` reads the curve.

>>> flow = FLOWS["MAF-10 (ch. 3)"].build()
>>> sum(p.numel() for p in flow.parameters()) > 0
True
"""

import contextlib
import math
import time
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from . import residual, scalar
from .autoregressive import MAF, Autoregressive
from .core import Compose, Flow
from .coupling import Coupling, channel_mask, checkerboard
from .dequantization import Dequantized, Variational
from .distributions import StandardLogistic, StandardNormal, StandardUniform
from .elementwise import Sigmoid
from .glow import ActNorm, Conv1x1, MultiScale, Squeeze
from .linear import Reverse
from .nets import MLP, ConvNet, GatedAttentionNet


# when a race grades its models, as fractions of the budget: before training, then
# at evenly spaced log-times, each 2^(1/3) times the one before, from 1/64 to 1
MARKS = (0.0, *(2 ** (-k / 3) for k in range(18, -1, -1)))


@dataclass
class Entry:
    """A flow of the book: its builder, its chapter's training, its inverse."""
    build: Callable[[], Flow]
    lr: float
    batch: int
    inverse: str     # how sampling undoes the density direction: "closed form";
    # "sequential" (one pass per coordinate; "bisection" if each needs a search);
    # "iterative" (a fixed point or root per layer); "ODE solve" (like density)


def _autoregressive(transform, n_params, layers, hidden=(64, 64)):
    parts = []
    for i in range(layers):
        parts += [Reverse(2)] if i else []
        parts.append(Autoregressive(2, transform, n_params, hidden=hidden))
    return Flow(Compose(*parts), StandardNormal(2))


def _stack(layer, n):
    return Flow(Compose(*[layer(i) for i in range(n)]), StandardNormal(2))


def _residual_flow():
    return _stack(lambda i: Compose(ActNorm(2, image=False), residual.ResidualBlock(
        residual.lipschitz_mlp(2, (32, 32), 0.97, n_power=5), estimator="roulette",
        n_terms=2, p=0.5, neumann=True)), 16)


def _ffjord():
    from .continuous import CNF, TimeMLP   # torchdiffeq is the "ode" extra
    return Flow(CNF(TimeMLP(2, (64, 64)), rtol=1e-3, atol=1e-3), StandardNormal(2))


# name: the builder, its chapter's learning rate and batch, and its inverse
FLOWS = {
    "mixture AR (ch. 2)": Entry(     # K = 20 components, as in exercise 2.5
        lambda: Flow(Autoregressive(2, n_params=3 * 20), StandardUniform(2)),
        5e-3, 512, "sequential, bisection"),
    "MAF-10 (ch. 3)": Entry(
        lambda: Flow(MAF(2, 10), StandardNormal(2)), 2e-3, 512, "sequential"),
    "RealNVP-8 (ch. 4)": Entry(      # trained as chapter 8 trains it
        lambda: _stack(lambda k: Coupling(checkerboard((2,), k % 2),
                                          MLP(2, 4, (64, 64))), 8),
        5e-3, 512, "closed form"),
    "spline AR (ch. 6)": Entry(
        lambda: _autoregressive(scalar.rational_quadratic_spline, 3 * 32 - 1, 5),
        5e-3, 512, "sequential"),
    "Flow++ AR (ch. 6)": Entry(
        lambda: _autoregressive(scalar.logistic_mixture_affine, 3 * 4 + 2, 4),
        5e-3, 512, "sequential, bisection"),
    "DSF-NAF (ch. 6)": Entry(
        lambda: _autoregressive(scalar.dsf, 3 * 4, 4),
        5e-3, 512, "sequential, bisection"),
    "planar-32 (ch. 7)": Entry(
        lambda: _stack(lambda i: residual.Planar(2), 32), 5e-3, 512, "iterative"),
    "Sylvester-32 (ch. 7)": Entry(
        lambda: _stack(lambda i: residual.Sylvester(2), 32), 5e-3, 512, "iterative"),
    "Residual Flow (ch. 7)": Entry(_residual_flow, 5e-3, 512, "iterative"),
    "FFJORD (ch. 8)": Entry(_ffjord, 1e-2, 256, "ODE solve"),
}


def _contracting_mixture(x, params):
    """Flow++'s transformer ending in chapter 4's contracting affine map (chapter 6)."""
    y, log_slope = scalar.dsf(x, params[..., :-2])
    z, log_slope_affine = scalar.contracting_affine(y, params[..., -2:])
    return z, log_slope + log_slope_affine


def _glow(net, transform=scalar.contracting_affine, n_params=2, K=4):
    """Chapters 4-6's MNIST flow: a logit, then two scales of K steps of ActNorm, a 1x1
    convolution from a random rotation and a coupling whose conditioner is
    ``net(channels, shape, n_params)``."""
    def step(shape):
        c = shape[0]
        coupling = Coupling(channel_mask(shape, 1), net(c, shape, n_params),
                            transform, n_params)
        return Compose(ActNorm(c), Conv1x1(c, torch.linalg.qr(torch.randn(c, c))[0]),
                       coupling)
    levels = [Compose(*(step(shape) for _ in range(K)))
              for shape in ((4, 14, 14), (8, 7, 7))]
    return Flow(Compose(Sigmoid(0.05).inv, MultiScale((1, 28, 28), levels)),
                StandardNormal(1, 28, 28))


class _SqueezedContext(nn.Module):
    """Chapter 5's noise conditioner: it sees x squeezed as its (4, 14, 14) input."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, u, context):
        return self.net(torch.cat([u, F.pixel_unshuffle(context, 2)], 1))


def _learned_noise(bf16, layers=4, hidden=32):
    """Chapter 5's q(u | x): logit, squeeze, couplings that see x, logistic base."""
    shape = (4, 14, 14)
    couplings = [Coupling(channel_mask(shape, k % 2), _SqueezedContext(
        ConvNet(8, 8, hidden, 1, bf16=bf16))) for k in range(layers)]
    return Variational(Flow(Compose(Sigmoid().inv, Squeeze(), *couplings,
                                    Squeeze().inv), StandardLogistic(1, 28, 28)))


def _conv(bf16):
    return lambda c, shape, n: ConvNet(c, c * n, 64, 1, bf16=bf16)


def _gated(bf16, attention=False):
    return lambda c, shape, n: GatedAttentionNet(c, c * n, 64, 1, attention=attention,
                                                 size=shape[1:], bf16=bf16)


# MNIST: each builder takes bf16 (conditioners in bfloat16) and returns a model of
# integer images whose log_prob is the dequantization bound; batch 16, lr 3e-3
IMAGE_FLOWS = {
    "Glow, affine (ch. 4)": lambda bf16: Dequantized(_glow(_conv(bf16))),
    "Glow, learned noise (ch. 5)": lambda bf16: Dequantized(_glow(_conv(bf16)),
                                                            _learned_noise(bf16)),
    "Glow, spline (ch. 6)": lambda bf16: Dequantized(_glow(
        _gated(bf16), scalar.rational_quadratic_spline, 3 * 8 - 1)),
    "Glow, Flow++ with attention (ch. 6)": lambda bf16: Dequantized(_glow(
        _gated(bf16, True), _contracting_mixture, 3 * 4 + 2)),
}
# how each samples: every coupling runs its network once, and Flow++'s mixture is
# then inverted by bisection
IMAGE_INVERSES = {name: "closed form" for name in IMAGE_FLOWS} | {
    "Glow, Flow++ with attention (ch. 6)": "bisection"}


def bf16(model, on):
    """Compute ``model``'s convolutional conditioners in bfloat16 (on) or float32."""
    for module in model.modules():
        if isinstance(module, (ConvNet, GatedAttentionNet)):
            module.bf16 = on


@contextlib.contextmanager
def evaluating(model, tol=1e-5):
    """Score ``model`` as the closing chapter does: exact log-dets for residual
    blocks, a continuous flow solved at ``tol``; without gradients."""
    cnfs = [m for m in model.modules() if hasattr(m, "settings")]
    with torch.no_grad(), residual.exact(model), contextlib.ExitStack() as stack:
        for cnf in cnfs:
            stack.enter_context(cnf.settings(rtol=tol, atol=tol))
        yield model


class ScheduleFreeAdam:
    """Adam without a learning-rate schedule (Defazio et al., 2024), on ``params``.

    Adam's iterate ``z`` steps along gradients taken at ``y = (1 - beta) z + beta x``,
    where ``x`` is the average of the ``z``s, the t-th weighted by ``t**power`` times
    the squared learning rate (with ``power`` 2 rather than 0, the average forgets
    the first steps sooner, which pays in races of a few thousand steps). The
    average ``x`` is the model to use at any moment, so no decay has to be fitted to
    a stopping time. ``step(lr)`` takes a step with the gradients in ``.grad`` and
    leaves y in ``params``; ``use("x")`` or ``use("y")`` puts one of the two there.
    The optimizer owns the weights: a change made to ``params`` from outside is
    overwritten at the next step or ``use``. The second moment's bias is corrected
    in Adam's way (the paper's averaging weights also carry that correction).
    """

    def __init__(self, params, beta=0.9, beta2=0.999, eps=1e-8, power=2.0):
        self.params = list(params)
        self.weights = [p.detach() for p in self.params]    # the model's own tensors
        self.z = [w.clone() for w in self.weights]
        self.x = [w.clone() for w in self.weights]
        self.v = [torch.zeros_like(w) for w in self.weights]
        self.beta, self.beta2, self.eps, self.power = beta, beta2, eps, power
        self.t, self.total = 0, 0.0

    def step(self, lr):
        grads = [torch.zeros_like(p) if p.grad is None else p.grad for p in self.params]
        self.t += 1
        torch._foreach_mul_(self.v, self.beta2)
        torch._foreach_addcmul_(self.v, grads, grads, 1 - self.beta2)
        scale = torch._foreach_sqrt(self.v)        # Adam's, with v's bias corrected
        torch._foreach_div_(scale, math.sqrt(1 - self.beta2 ** self.t))
        torch._foreach_add_(scale, self.eps)
        torch._foreach_addcdiv_(self.z, grads, scale, value=-lr)
        weight = self.t ** self.power * lr * lr
        self.total += weight
        torch._foreach_lerp_(self.x, self.z, weight / self.total)
        self.use("y")

    def use(self, which):
        if which not in ("x", "y"):
            raise ValueError(f"use 'x' (the average) or 'y', got {which!r}")
        torch._foreach_copy_(self.weights, self.x if which == "x" else self.z)
        if which == "y":
            torch._foreach_lerp_(self.weights, self.x, self.beta)


class Race:
    """Train ``model`` by maximum likelihood on ``data`` in slices of wall time.

    ``log_prob(x)`` defaults to the model's own, the loss of a batch to
    ``-log_prob(batch).mean()``; ``seconds`` is the whole budget. ``schedule`` is
    "free" (``ScheduleFreeAdam``, the learning rate warmed up over the first
    ``warmup`` steps, then constant; between slices the model holds the average, so
    that each grade is the model one would have had by stopping there) or "cosine"
    (Adam with a decay to 1% that follows the clock over the whole budget, so only
    the last grade is the end of a schedule). A first batch of ``data`` goes through
    the model at once, so that layers which initialize from the data (ActNorm) see
    training data. ``run(s)`` trains until s more seconds of training have passed,
    reading the loss back once at the end (a non-finite loss stops the race with a
    ``FloatingPointError``). ``grade`` adds a point ``(seconds, steps, KL)`` to
    ``curve``, its own time left out.
    """

    def __init__(self, model, data, *, lr, batch, seconds, log_prob=None, loss=None,
                 clip=10.0, schedule="free", warmup=100):
        if not (data.is_floating_point() and torch.isfinite(data).all()):
            raise ValueError(f"data must be a finite float tensor, got {data.dtype} "
                             "or values that are not finite")
        if schedule not in ("free", "cosine") or warmup < 1:
            raise ValueError(f"schedule must be 'free' or 'cosine' and warmup at least "
                             f"1 step, got {schedule!r} and {warmup}")
        self.model, self.data, self.batch, self.budget = model, data, batch, seconds
        self.log_prob = log_prob or model.log_prob
        self.loss = loss or (lambda batch: -self.log_prob(batch).mean())
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.lr, self.clip, self.schedule, self.warmup = lr, clip, schedule, warmup
        self.trained, self.steps, self.curve = 0.0, 0, []
        with torch.no_grad():    # data-dependent initializations (ActNorm) see a batch
            self.log_prob(data[:batch])   # of training data, not the first grade's
        self.opt = (ScheduleFreeAdam(self.params) if schedule == "free"
                    else torch.optim.Adam(self.params, lr=lr))

    def _rate(self):
        if self.schedule == "free":
            return self.lr * min(1.0, (self.steps + 1) / self.warmup)
        cosine = 0.5 * (1 + math.cos(math.pi * self.trained / self.budget))
        return self.lr * (0.01 + 0.99 * cosine)

    def run(self, seconds):
        self.model.train()
        free = self.schedule == "free"
        if free:
            self.opt.use("y")
        total = torch.zeros((), device=self.data.device)
        start, stop, first = time.perf_counter(), self.trained + seconds, self.steps
        try:
            while self.trained < stop and self.trained < self.budget:
                idx = torch.randint(len(self.data), (self.batch,),
                                    device=self.data.device)
                loss = self.loss(self.data[idx])
                for p in self.params:
                    p.grad = None
                loss.backward()
                nn.utils.clip_grad_norm_(self.params, self.clip)
                if free:
                    self.opt.step(self._rate())
                else:
                    self.opt.param_groups[0]["lr"] = self._rate()
                    self.opt.step()
                total += loss.detach()
                self.steps += 1
                self.trained = stop - seconds + time.perf_counter() - start
            if self.steps > first:   # the one sync: queued work ends on the clock
                finite = bool(torch.isfinite(total))
                self.trained = stop - seconds + time.perf_counter() - start
                if not finite:
                    raise FloatingPointError(f"the loss was not finite by step "
                                             f"{self.steps}; try a lower learning rate")
        finally:                     # whatever happened, the model holds the average
            if free:
                self.opt.use("x")
            self.model.eval()

    def grade(self, truth_log_prob, x):
        """KL(truth || model) on x, drawn from the truth, scored where x is and the
        model where its data are; recorded on the curve."""
        with evaluating(self.model):
            model = self.log_prob(x.to(self.data.device)).to(x.device)
            kl = (truth_log_prob(x) - model).mean().item()
        self.curve.append((self.trained, self.steps, kl))
        return kl


def time_to(curve, level):
    """The first training seconds on ``curve`` at which the KL was at most ``level``
    (None if never)."""
    return next((t for t, _, kl in curve if kl <= level), None)
