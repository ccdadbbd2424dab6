"""Coupling flows: half of the input passes unchanged and sets the transform of the
rest.

A coupling layer splits the coordinates by a fixed 0/1 ``mask``: the masked part
``x_A`` passes through, and every other coordinate goes through a monotone scalar
transform (see ``scalar``) whose parameters a network computes from ``x_A`` alone:

    z_A = x_A,    z_B = tau(x_B; theta(x_A)).

It is an autoregressive flow with two blocks, so its Jacobian is triangular and
``log|det J|`` is the sum of ``tau``'s log-derivatives over ``B``. Unlike a MAF, the
inverse is one pass too: ``x_A = z_A`` is known at once, so ``theta(x_A)`` is, and
each ``x_B`` is a 1-D inversion. The network never has to be inverted, so it may be
anything: an MLP for vectors, a convolutional net for images.

>>> import torch, flowlib
>>> layer = Coupling(checkerboard((1, 4, 4)), flowlib.ConvNet(1, 1 * 2, hidden=8))
>>> x = torch.randn(3, 1, 4, 4)
>>> z, ladj = layer(x)
>>> torch.equal(z[:, :, 0, 1], x[:, :, 0, 1]), ladj.shape   # a masked pixel passes
(True, torch.Size([3]))
"""

import torch

from . import scalar
from .core import Bijector


def checkerboard(shape, parity=0):
    """A 0/1 mask of ``shape`` (``(D,)`` or ``(C, H, W)``) that alternates between
    neighbouring coordinates (pixels, for images); ``parity`` 1 swaps the halves."""
    *_, last = shape
    if len(shape) == 1:
        return (torch.arange(last) + parity) % 2 == 1
    rows, cols = torch.arange(shape[-2])[:, None], torch.arange(last)[None, :]
    return ((rows + cols + parity) % 2 == 1).expand(shape).clone()


def channel_mask(shape, parity=0):
    """A 0/1 mask of ``shape`` ``(C, H, W)`` that passes the first half of the channels
    (``parity`` 1: the second half)."""
    return _first_half(shape, 0, parity)


def half_mask(shape, parity=0):
    """A 0/1 mask of ``shape`` ``(C, H, W)`` that passes the top half of the image
    (``parity`` 1: the bottom half): a poor partition, for comparison."""
    return _first_half(shape, 1, parity)


def _first_half(shape, dim, parity):
    n = shape[dim]
    first = (torch.arange(n) < n // 2) != bool(parity)
    view = [1] * len(shape)
    view[dim] = n
    return first.view(view).expand(shape).clone()


class Coupling(Bijector):
    """``z = x`` where ``mask`` is 1; ``z = tau(x; net(x * mask))`` elsewhere.

    ``mask`` is a boolean tensor of the event shape. ``net`` maps a batch of masked
    inputs to the transform's parameters: for ``(batch, D)`` data it returns
    ``(batch, D * n_params)``, for images ``(batch, C, H, W)`` it returns
    ``(batch, C * n_params, H, W)``. ``transform`` is a scalar transform with
    ``n_params`` parameters per coordinate: ``scalar.affine`` (2) makes RealNVP's
    coupling, ``scalar.additive`` (1) NICE's, whose log-determinant is zero. Inverses
    that are not closed-form are found by bisection within ``bracket``.
    """

    def __init__(self, mask, net, transform=scalar.affine, n_params=2,
                 bracket=(-100.0, 100.0)):
        super().__init__()
        self.register_buffer("mask", torch.as_tensor(mask, dtype=torch.bool))
        self.net, self.transform, self.n_params = net, transform, n_params
        self.bracket = bracket

    def _params(self, x_a, context):
        out = self.net(x_a) if context is None else self.net(x_a, context)
        n, event = x_a.shape[0], self.mask.shape
        if len(event) == 1:
            return out.view(n, *event, self.n_params)
        c, h, w = event  # (n, C * n_params, H, W) -> (n, C, H, W, n_params)
        return out.view(n, self.n_params, c, h, w).movedim(1, -1)

    def forward(self, x, context=None):
        y, ladj = self.transform(x, self._params(x * self.mask, context))
        return torch.where(self.mask, x, y), self._sum(ladj)

    def inverse(self, z, context=None):
        params = self._params(z * self.mask, context)
        if not hasattr(self.transform, "inverse"):  # bisection: give the passed entries
            at_zero = self.transform(torch.zeros_like(z), params)[0]   # a y in range
            z_b = torch.where(self.mask, at_zero, z)
        else:
            z_b = z
        x, ladj = scalar.invert(self.transform, z_b, params, *self.bracket)
        return torch.where(self.mask, z, x), self._sum(ladj)

    def _sum(self, ladj):
        return torch.where(self.mask, 0.0, ladj).flatten(1).sum(1)
