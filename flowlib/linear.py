"""Linear bijectors ``z = W x + b``, and the cost of their determinants.

A permutation has ``|det W| = 1`` and mixes nothing: it reorders coordinates between
autoregressive or coupling layers, so that each layer conditions on different ones.
A dense ``W`` can rotate and shear, but ``log|det W|`` of a general matrix costs
O(D^3); storing ``W = L U`` (unit lower times upper triangular) makes it the sum
of the log-diagonal of ``U``, O(D), with inverses by two triangular solves.

>>> import torch, flowlib
>>> flowlib.Reverse(3)(torch.tensor([[1.0, 2.0, 3.0]]))
(tensor([[3., 2., 1.]]), tensor([0.]))
"""

import torch
from torch import nn

from .core import Bijector


class Permutation(Bijector):
    """``z = x[:, order]``: reorder the coordinates of ``(batch, features)`` data."""

    def __init__(self, order):
        super().__init__()
        order = torch.as_tensor(order)
        if sorted(order.tolist()) != list(range(len(order))):
            raise ValueError(f"order must be a permutation of 0..{len(order) - 1}, got {order.tolist()}")
        self.register_buffer("order", order)
        self.register_buffer("undo", torch.argsort(order))

    def forward(self, x, context=None):
        return x[:, self.order], x.new_zeros(x.shape[0])

    def inverse(self, z, context=None):
        return z[:, self.undo], z.new_zeros(z.shape[0])


class Reverse(Permutation):
    """``z = x`` with its ``features`` coordinates in reverse order."""

    def __init__(self, features):
        super().__init__(torch.arange(features - 1, -1, -1))

    def forward(self, x, context=None):
        return x.flip(1), x.new_zeros(x.shape[0])   # a flip is cheaper than a gather, backward too

    def inverse(self, z, context=None):
        return self.forward(z)


class LinearLU(Bijector):
    """``z = W x + b`` with ``W = L U``: ``L`` unit lower triangular, ``U`` upper
    triangular with a positive diagonal ``exp(log_diag)``. Starts as the identity.

    With a standard-normal base, the flow is the Gaussian N(-W^{-1} b, (W^T W)^{-1}).
    """

    def __init__(self, features):
        super().__init__()
        self.lower = nn.Parameter(torch.zeros(features, features))
        self.upper = nn.Parameter(torch.zeros(features, features))
        self.log_diag = nn.Parameter(torch.zeros(features))
        self.bias = nn.Parameter(torch.zeros(features))

    def factors(self):
        """``(L, U)`` as dense matrices."""
        eye = torch.eye(len(self.bias), dtype=self.bias.dtype, device=self.bias.device)
        return self.lower.tril(-1) + eye, self.upper.triu(1) + torch.diag(self.log_diag.exp())

    def forward(self, x, context=None):
        L, U = self.factors()
        return x @ U.T @ L.T + self.bias, self.log_diag.sum().expand(x.shape[0])

    def inverse(self, z, context=None):
        L, U = self.factors()
        y = torch.linalg.solve_triangular(L, (z - self.bias).T, upper=False, unitriangular=True)
        x = torch.linalg.solve_triangular(U, y, upper=True).T
        return x, -self.log_diag.sum().expand(z.shape[0])
