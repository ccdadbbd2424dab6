"""Linear bijectors ``z = W x + b``, and the cost of their determinants.

A permutation has ``|det W| = 1`` and mixes nothing: it reorders coordinates between
autoregressive or coupling layers, so that each layer conditions on different ones.
A dense ``W`` can rotate and shear, but ``log|det W|`` of a general matrix costs
O(D^3); storing ``W = P L U`` (a permutation, unit lower and upper triangular) makes
it the sum of the log-diagonal of ``U``, O(D), with inverses by two triangular solves.

>>> import torch, flowlib
>>> flowlib.Reverse(3)(torch.tensor([[1.0, 2.0, 3.0]]))
(tensor([[3., 2., 1.]]), tensor([0.]))
"""

import torch
from torch import nn

from .core import Bijector


class Permutation(Bijector):
    """``z = x[:, order]``: reorder the coordinates of ``(batch, features)`` data, or
    the channels of ``(batch, C, H, W)`` images."""

    def __init__(self, order):
        super().__init__()
        order = torch.as_tensor(order)
        if sorted(order.tolist()) != list(range(len(order))):
            raise ValueError(f"order must be a permutation of 0..{len(order) - 1}, "
                             f"got {order.tolist()}")
        self.register_buffer("order", order)
        self.register_buffer("undo", torch.argsort(order))

    def forward(self, x, context=None):
        return x[:, self.order], x.new_zeros(x.shape[0])

    def inverse(self, z, context=None):
        return z[:, self.undo], z.new_zeros(z.shape[0])


class Reverse(Permutation):
    """``z = x`` with its ``features`` coordinates (or image channels) in reverse
    order."""

    def __init__(self, features):
        super().__init__(torch.arange(features - 1, -1, -1))

    def forward(self, x, context=None):
        # a flip is cheaper than a gather, backward too
        return x.flip(1), x.new_zeros(x.shape[0])

    def inverse(self, z, context=None):
        return self.forward(z)


class LinearLU(Bijector):
    """``z = W x + b`` with Glow's ``W = P L (U + diag(s))``: ``P`` a fixed permutation,
    ``L`` unit lower triangular, ``U`` strictly upper triangular, and the diagonal
    ``s = sign * exp(log_diag)`` with fixed signs. ``log|det W|`` is ``log_diag.sum()``.

    Without ``P`` (and the signs) only matrices whose leading minors are all positive
    could be reached. ``weight`` is the starting ``W`` (default: the identity), factored
    once by LU with partial pivoting, which fixes ``P`` and the signs; Glow starts from
    a random rotation. With a standard-normal base the flow is the Gaussian
    N(-W^{-1} b, (W^T W)^{-1}).

    >>> import torch
    >>> w = torch.tensor([[0.0, 1.0], [2.0, 0.0]])   # a leading minor is 0: needs P
    >>> torch.allclose(LinearLU(2, w).weight(), w)
    True
    """

    def __init__(self, features, weight=None):
        super().__init__()
        weight = (torch.eye(features) if weight is None
                  else torch.as_tensor(weight).float())
        if weight.shape != (features, features):
            raise ValueError(f"weight must be ({features}, {features}), "
                             f"got {tuple(weight.shape)}")
        P, L, U = torch.linalg.lu(weight)
        diag = U.diagonal()
        if not (diag != 0).all():
            raise ValueError("weight must be invertible")
        self.register_buffer("perm", P)
        self.register_buffer("sign", diag.sign())
        self.lower = nn.Parameter(L.tril(-1))
        self.upper = nn.Parameter(U.triu(1))
        self.log_diag = nn.Parameter(diag.abs().log())
        self.bias = nn.Parameter(torch.zeros(features))

    def factors(self):
        """``(P, L, U)`` as dense matrices, ``W = P L U``."""
        eye = torch.eye(len(self.bias), dtype=self.bias.dtype, device=self.bias.device)
        diag = torch.diag(self.sign * self.log_diag.exp())
        return self.perm, self.lower.tril(-1) + eye, self.upper.triu(1) + diag

    def weight(self):
        """``W = P L U``."""
        P, L, U = self.factors()
        return P @ L @ U

    def forward(self, x, context=None):
        return x @ self.weight().T + self.bias, self.log_diag.sum().expand(x.shape[0])

    def inverse(self, z, context=None):
        P, L, U = self.factors()
        y = torch.linalg.solve_triangular(L, P.T @ (z - self.bias).T, upper=False,
                                          unitriangular=True)
        x = torch.linalg.solve_triangular(U, y, upper=True).T
        return x, -self.log_diag.sum().expand(z.shape[0])
