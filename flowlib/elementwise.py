"""Elementwise bijectors: each coordinate is mapped on its own, so the Jacobian is
diagonal and log|det J| is a sum of log-derivatives.

>>> import torch, flowlib
>>> z, ladj = flowlib.Sigmoid()(torch.zeros(1, 2))
>>> z, ladj
(tensor([[0.5000, 0.5000]]), tensor([-2.7726]))
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

from . import scalar
from .core import Bijector


class Affine(Bijector):
    """``x = loc + exp(log_scale) * z``, so ``forward`` is ``z = (x - loc) / scale``.

    With a standard-normal base this flow is exactly N(loc, scale^2) per coordinate.
    It starts as the identity (loc 0, scale 1).
    """

    def __init__(self, *event_shape):
        super().__init__()
        self.loc = nn.Parameter(torch.zeros(event_shape))
        self.log_scale = nn.Parameter(torch.zeros(event_shape))

    def forward(self, x, context=None):
        z = (x - self.loc) * torch.exp(-self.log_scale)
        return z, (-self.log_scale.sum()).expand(x.shape[0])

    def inverse(self, z, context=None):
        x = self.loc + torch.exp(self.log_scale) * z
        return x, self.log_scale.sum().expand(z.shape[0])


class Sigmoid(Bijector):
    """``z = (sigmoid(x) - eps) / (1 - 2 eps)``: the logistic sigmoid onto (0, 1),
    stretched by ``eps`` so that its range also covers the edges of [0, 1].

    Its inverse, ``Sigmoid(eps).inv``, is the logit that takes data in [0, 1] to the
    real line: it squeezes the data into [eps, 1 - eps] first, so pixels at exactly 0
    or 1 stay finite (RealNVP used eps = 0.05). With ``eps = 0`` it is the plain logit.
    """

    def __init__(self, eps=0.0):
        super().__init__()
        if not 0 <= eps < 0.5:
            raise ValueError(f"Sigmoid needs 0 <= eps < 0.5, got {eps}")
        self.eps = eps

    def forward(self, x, context=None):
        ladj = F.logsigmoid(x) + F.logsigmoid(-x) - math.log1p(-2 * self.eps)
        return ((torch.sigmoid(x) - self.eps) / (1 - 2 * self.eps),
                ladj.flatten(1).sum(1))

    def inverse(self, z, context=None):
        u = self.eps + (1 - 2 * self.eps) * z
        ladj = math.log1p(-2 * self.eps) - torch.log(u) - torch.log1p(-u)
        return torch.logit(u), ladj.flatten(1).sum(1)


class NormalCDF(Bijector):
    """``z = Phi(x)``, the standard normal CDF, onto (0, 1); ``NormalCDF().inv`` is the
    probit, which turns a uniform variable into a standard normal one."""

    def forward(self, x, context=None):
        ladj = -0.5 * x.square() - 0.5 * math.log(2 * math.pi)
        return torch.special.ndtr(x), ladj.flatten(1).sum(1)

    def inverse(self, z, context=None):
        x = torch.special.ndtri(z)
        return x, (0.5 * x.square() + 0.5 * math.log(2 * math.pi)).flatten(1).sum(1)


class LeakyReLU(Bijector):
    """``z = x`` for ``x > 0`` and ``slope * x`` otherwise: invertible for any
    ``slope > 0``, unlike the plain ReLU, which sends the whole negative half-line to
    0."""

    def __init__(self, slope=0.1):
        super().__init__()
        if not slope > 0:
            raise ValueError(f"LeakyReLU needs slope > 0 to be invertible, got {slope}")
        self.slope = slope

    def forward(self, x, context=None):
        ladj = (x <= 0).to(x.dtype) * math.log(self.slope)
        return torch.where(x > 0, x, self.slope * x), ladj.flatten(1).sum(1)

    def inverse(self, z, context=None):
        ladj = (z <= 0).to(z.dtype) * -math.log(self.slope)
        return torch.where(z > 0, z, z / self.slope), ladj.flatten(1).sum(1)


class MixtureCDF(Bijector):
    """Each coordinate through the CDF of its own learned K-component mixture, onto
    (0, 1).

    ``component`` is ``"gaussian"`` or ``"logistic"``; the parameters (logits, means,
    log-scales) are free, one set per coordinate of the event. The inverse has no
    closed form and is found by bisection to ``tol`` (see ``scalar.bisect``).
    """

    def __init__(self, *event_shape, k=5, component="gaussian", tol=None,
                 max_iter=100):
        super().__init__()
        transforms = {"gaussian": scalar.gaussian_mixture_cdf,
                      "logistic": scalar.logistic_mixture_cdf}
        if component not in transforms:
            raise ValueError(f"component must be one of {sorted(transforms)}, "
                             f"got {component!r}")
        self.transform, self.tol, self.max_iter = transforms[component], tol, max_iter
        self.params = nn.Parameter(scalar.mixture_params(k).expand(*event_shape,
                                                                   3 * k).clone())

    def forward(self, x, context=None):
        z, ladj = self.transform(x, self.params)
        return z, ladj.flatten(1).sum(1)

    def inverse(self, z, context=None):
        if not ((z > 0) & (z < 1)).all():
            raise ValueError("MixtureCDF.inverse: z must lie in (0, 1), the range of a "
                             "CDF")
        _, loc, log_scale = self.params.detach().chunk(3, dim=-1)
        # beyond every component's tail
        reach = 40 * scalar.soft_clamp(log_scale).exp().amax(-1)
        x, ladj = scalar.invert(self.transform, z, self.params, loc.amin(-1) - reach,
                                loc.amax(-1) + reach, self.tol, self.max_iter)
        return x, ladj.flatten(1).sum(1)
