"""Autoregressive flows: ``z_i = tau(x_i; theta_i(x_<i))``.

Each coordinate goes through a monotone scalar transform ``tau`` (see ``scalar``),
whose parameters ``theta_i`` a network computes from the coordinates before it.
One masked network, MADE, computes all of them in a single pass, so the density
costs one pass; the inverse must go coordinate by coordinate, D passes.

>>> import torch, flowlib
>>> made = flowlib.MADE(3, 2, hidden=(8,))
>>> made(torch.randn(5, 3)).shape                     # (batch, coordinates, parameters)
torch.Size([5, 3, 2])
>>> # rows: 2 outputs per coordinate; columns: hidden units of degree 1, 2, 1, 2
>>> made.out.mask.int()[:, :4]
tensor([[0, 0, 0, 0],
        [0, 0, 0, 0],
        [1, 0, 1, 0],
        [1, 0, 1, 0],
        [1, 1, 1, 1],
        [1, 1, 1, 1]], dtype=torch.int32)
"""

import torch
from torch import nn

from . import scalar
from .core import Bijector, Compose
from .linear import Reverse


class MaskedLinear(nn.Linear):
    """A linear layer whose weight is multiplied by a fixed 0/1 ``mask`` (out, in)."""

    def __init__(self, mask):
        super().__init__(mask.shape[1], mask.shape[0])
        self.register_buffer("mask", mask.float())

    def forward(self, x):
        return nn.functional.linear(x, self.weight * self.mask, self.bias)


class MADE(nn.Module):
    """Masked autoencoder for distribution estimation (Germain et al., 2015).

    Returns ``(batch, features, n_params)``: the parameters of coordinate ``order[k]``
    depend only on coordinates ``order[:k]``. Hidden unit ``j`` gets a degree
    ``d_j`` in 1..D-1 and sees the inputs whose position in the order is at most
    ``d_j``; the outputs of position ``k`` see the hidden units of degree below ``k``.
    With ``zero_last`` the last layer starts at zero weights, so every coordinate
    starts exactly at ``init``; otherwise it keeps PyTorch's random initialization
    (its bias shifted by ``init``). With ``context`` features, a context vector
    (an encoder's summary of x in a VAE) enters through unmasked linear maps, into
    the first hidden layer and straight into the outputs (starting at zero), so that
    the parameters of every coordinate depend on it, the first one's included.
    """

    def __init__(self, features, n_params, hidden=(64, 64), order=None, init=None,
                 zero_last=True, context=0):
        super().__init__()
        if context and not hidden:
            raise ValueError("a MADE with a context needs a hidden layer to add it to")
        order = torch.arange(features) if order is None else torch.as_tensor(order)
        if sorted(order.tolist()) != list(range(features)):
            raise ValueError(f"order must be a permutation of 0..{features - 1}, "
                             f"got {order.tolist()}")
        self.features, self.n_params = features, n_params
        self.register_buffer("order", order)
        position = torch.empty(features, dtype=torch.long)
        position[order] = torch.arange(1, features + 1)     # 1..D along the order
        degrees = [position]
        for width in hidden:
            degrees.append(torch.arange(width) % max(1, features - 1) + 1)
        layers = []
        for d_in, d_out in zip(degrees[:-1], degrees[1:]):
            layers += [MaskedLinear(d_out[:, None] >= d_in[None, :]), nn.ReLU()]
        # each output keeps its coordinate's position
        d_last = position.repeat_interleave(n_params)
        self.out = MaskedLinear(d_last[:, None] > degrees[-1][None, :])
        self.net = nn.Sequential(*layers, self.out)
        if zero_last:
            nn.init.zeros_(self.out.weight)
            nn.init.zeros_(self.out.bias)
        if init is not None:
            with torch.no_grad():
                self.out.bias.add_(init.repeat(features))
        self.context = self.context_out = None
        if context:
            self.context = nn.Linear(context, hidden[0], bias=False)
            self.context_out = nn.Linear(context, features * n_params, bias=False)
            nn.init.zeros_(self.context_out.weight)

    def forward(self, x, context=None):
        h = self.net[0](x)
        if self.context is not None:   # a MADE built without one ignores a context
            if context is None or context.shape != (len(x), self.context.in_features):
                raise ValueError(f"this MADE needs a context of shape ({len(x)}, "
                                 f"{self.context.in_features}), got "
                                 f"{None if context is None else tuple(context.shape)}")
            context = context.to(x.dtype)
            out = self.net[1:](h + self.context(context)) + self.context_out(context)
        else:
            out = self.net[1:](h)
        return out.view(-1, self.features, self.n_params)


class Autoregressive(Bijector):
    """An autoregressive flow layer on ``(batch, features)`` data with a pluggable
    scalar transform.

    ``transform(x, params) -> (y, ladj)`` is a monotone scalar transform with
    ``n_params`` parameters per coordinate: ``scalar.affine`` with 2 makes a MAF
    layer; ``scalar.gaussian_mixture_cdf`` with ``3K`` a mixture-CDF layer. ``init``
    is the parameter vector every coordinate starts from. ``forward`` (data to base)
    takes one pass. ``inverse`` takes D passes: pass k solves the k-th coordinate of
    the order, whose parameters depend only on coordinates solved before it (closed
    form, or bisection within ``bracket``). ``zero_last`` starts the MADE's last
    layer at zero, so the layer starts exactly at ``init`` (see ``MADE``). With
    ``context`` features the parameters also depend on a context (see ``MADE``).
    """

    def __init__(self, features, transform=scalar.gaussian_mixture_cdf, n_params=15,
                 init=None, hidden=(64, 64), order=None, bracket=(-100.0, 100.0),
                 zero_last=True, context=0):
        super().__init__()
        if init is None and transform in (scalar.gaussian_mixture_cdf,
                                          scalar.logistic_mixture_cdf):
            init = scalar.mixture_params(n_params // 3)
        self.transform, self.bracket = transform, bracket
        self.made = MADE(features, n_params, hidden, order, init, zero_last, context)

    def forward(self, x, context=None):
        z, ladj = self.transform(x, self.made(x, context))
        return z, ladj.sum(1)

    def inverse(self, z, context=None):
        x, ladj = torch.zeros_like(z), torch.zeros_like(z)
        position = torch.empty_like(self.made.order)
        position[self.made.order] = torch.arange(len(position), device=z.device)
        bisected = not hasattr(self.transform, "inverse")
        for k in range(z.shape[1]):  # x_i needs x_<i: one pass per coordinate
            params = self.made(x, context)
            now = position == k      # the coordinate whose inputs are all known
            if bisected:             # elsewhere, a target that is surely in range
                at_zero = self.transform(torch.zeros_like(z), params)[0]
                target = torch.where(now, z, at_zero)
            else:
                target = z
            solved, ladj_k = scalar.invert(self.transform, target, params,
                                           *self.bracket)
            x, ladj = torch.where(now, solved, x), torch.where(now, ladj_k, ladj)
        return x, ladj.sum(1)


def MAF(features, layers=5, hidden=(64, 64), zero_last=False, context=0):
    """A masked autoregressive flow (Papamakarios et al., 2017): ``layers`` affine
    autoregressive layers with the order reversed between them. Density in one pass
    per layer, sampling in D. ``MAF(...).inv`` is an inverse autoregressive flow
    (Kingma et al., 2016): sampling in one pass, density in D. With ``context``
    features every layer's MADE also sees a context (an amortized posterior's).

    The MADEs' last layers start random: on chapter 3's 2-D data sets that trained
    better than the exact identity start (``zero_last=True``), and on its 8x8 digits
    within the spread of three seeds (``benchmarks/identity_start.py``).

    >>> import torch
    >>> maf = MAF(4, layers=2, hidden=(16,))
    >>> [type(b).__name__ for b in maf.bijectors]
    ['Autoregressive', 'Reverse', 'Autoregressive']
    >>> x = torch.randn(3, 4)
    >>> torch.allclose(maf.inv(x)[0], maf.inverse(x)[0])
    True
    """
    stack = []
    for i in range(layers):
        stack += [Reverse(features)] if i else []
        stack.append(Autoregressive(features, scalar.affine, 2, hidden=hidden,
                                    zero_last=zero_last, context=context))
    return Compose(*stack)


class MaskedConv2d(nn.Conv2d):
    """PixelCNN's masked convolution (van den Oord et al., 2016) for one-channel images.

    Output pixel (i, j) sees only the input pixels before it in raster order (the rows
    above, and the pixels to its left in its row). Type ``"A"`` (the first layer) hides
    the centre pixel itself, type ``"B"`` (every later layer) lets it through, so a
    stack of one A and any number of B layers stays autoregressive.
    """

    def __init__(self, in_channels, out_channels, kernel_size, mask_type="B"):
        if mask_type not in ("A", "B") or kernel_size % 2 == 0:
            raise ValueError(f"need mask_type 'A' or 'B' and an odd kernel_size, "
                             f"got {mask_type!r}, {kernel_size}")
        super().__init__(in_channels, out_channels, kernel_size,
                         padding=kernel_size // 2)
        c = kernel_size // 2
        mask = torch.zeros(kernel_size, kernel_size)
        mask[:c] = 1                           # the rows above
        mask[c, :c + (mask_type == "B")] = 1   # the pixels to the left (centre for B)
        self.register_buffer("mask", mask)

    def forward(self, x):
        return self._conv_forward(x, self.weight * self.mask, self.bias)
