"""Elementwise bijectors: each coordinate is mapped on its own, so the Jacobian is
diagonal and log|det J| is a sum of log-derivatives.

>>> import torch, flowlib
>>> z, ladj = flowlib.Sigmoid()(torch.zeros(1, 2))
>>> z, ladj
(tensor([[0.5000, 0.5000]]), tensor([-2.7726]))
"""

import torch
import torch.nn.functional as F
from torch import nn

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
    """``z = 1 / (1 + exp(-x))``, from the real line onto (0, 1). Its inverse,
    ``Sigmoid().inv``, is the logit, which takes data in (0, 1) to the real line."""

    def forward(self, x, context=None):
        ladj = F.logsigmoid(x) + F.logsigmoid(-x)
        return torch.sigmoid(x), ladj.flatten(1).sum(1)

    def inverse(self, z, context=None):
        ladj = -(torch.log(z) + torch.log1p(-z))
        return torch.logit(z), ladj.flatten(1).sum(1)
