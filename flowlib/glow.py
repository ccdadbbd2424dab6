"""The pieces of image flows (RealNVP, Glow): ActNorm, the invertible 1x1 convolution,
squeezing, and the multi-scale structure that factors latents out as it goes.

Images are ``(batch, C, H, W)``. Every bijector here keeps that shape, and
``MultiScale`` too: it returns a tensor of the input's shape that holds, in order,
the latents factored out at each scale and those of the last one.

>>> import torch, flowlib
>>> x = torch.arange(16.0).view(1, 1, 4, 4)
>>> Squeeze()(x)[0].shape                      # each 2x2 patch becomes 4 channels
torch.Size([1, 4, 2, 2])
"""

import torch
import torch.nn.functional as F
from torch import nn

from .core import Bijector
from .linear import LinearLU


class ActNorm(Bijector):
    """``z = (x - loc) * exp(-log_scale)`` with one ``loc`` and ``log_scale`` per
    channel (Glow's activation normalization), for images or, with ``ActNorm(D)``,
    vectors.

    The first batch it sees sets them so that its output has zero mean and unit
    variance per channel (a data-dependent initialization); ``initialized`` is a buffer,
    so a saved model keeps its initialization.
    """

    def __init__(self, channels, image=True):
        super().__init__()
        shape = (channels, 1, 1) if image else (channels,)
        self.loc = nn.Parameter(torch.zeros(shape))
        self.log_scale = nn.Parameter(torch.zeros(shape))
        self.register_buffer("initialized", torch.tensor(False))
        self._ready = False  # a Python copy of the buffer: no host sync per call

    @torch.no_grad()
    def _initialize(self, x):
        dims = [0] + list(range(2, x.dim()))
        self.loc.copy_(x.mean(dims).view_as(self.loc))
        self.log_scale.copy_(x.std(dims).clamp_min(1e-6).log().view_as(self.log_scale))
        self.initialized.fill_(True)

    def _ladj(self, x):
        return self.log_scale.sum() * (x[0].numel() // self.log_scale.numel())

    def forward(self, x, context=None):
        if not self._ready:
            if not self.initialized:
                self._initialize(x)
            self._ready = True
        z = (x - self.loc) * torch.exp(-self.log_scale)
        return z, (-self._ladj(x)).expand(x.shape[0])

    def inverse(self, z, context=None):
        return (self.loc + torch.exp(self.log_scale) * z,
                self._ladj(z).expand(z.shape[0]))

    def _load_from_state_dict(self, *args, **kwargs):
        super()._load_from_state_dict(*args, **kwargs)
        self._ready = False


class Conv1x1(LinearLU):
    """Glow's invertible 1x1 convolution: each pixel's vector of ``channels`` values is
    multiplied by the same ``W = P L (U + diag s)`` (see ``LinearLU``), so
    ``log|det J| = H W log|det W| = H W sum(log|s|)``, without a determinant."""

    def forward(self, x, context=None):
        z = F.conv2d(x, self.weight()[:, :, None, None], self.bias)
        return z, (x.shape[2] * x.shape[3] * self.log_diag.sum()).expand(x.shape[0])

    def inverse(self, z, context=None):
        n, c, h, w = z.shape
        flat = z.movedim(1, -1).reshape(-1, c)            # one row per pixel
        x, _ = super().inverse(flat)
        x = x.view(n, h, w, c).movedim(-1, 1)
        return x, (-h * w * self.log_diag.sum()).expand(n)


class Squeeze(Bijector):
    """``(C, H, W)`` to ``(4C, H/2, W/2)``: every 2x2 patch becomes four channels,
    trading space for channels so that couplings on channels mix neighbouring pixels."""

    def forward(self, x, context=None):
        n, c, h, w = x.shape
        if h % 2 or w % 2:
            raise ValueError(f"Squeeze needs an even height and width, got {h}x{w}")
        z = x.view(n, c, h // 2, 2, w // 2, 2).permute(0, 1, 3, 5, 2, 4)
        return z.reshape(n, 4 * c, h // 2, w // 2), x.new_zeros(n)

    def inverse(self, z, context=None):
        n, c, h, w = z.shape
        if c % 4:
            raise ValueError(f"Squeeze.inverse needs a multiple of 4 channels, got {c}")
        x = z.view(n, c // 4, 2, 2, h, w).permute(0, 1, 4, 2, 5, 3)
        return x.reshape(n, c // 4, 2 * h, 2 * w), z.new_zeros(n)


class MultiScale(Bijector):
    """RealNVP's multi-scale flow on images of ``shape`` ``(C, H, W)``.

    Scale ``k`` squeezes its input and applies ``levels[k]`` (a bijector on the
    squeezed shape); then, except at the last scale, half of its channels leave the
    flow: they are latents already, and only the other half goes on to the next scale,
    at a quarter of the pixels. Later scales thus cost less and model coarser
    structure. The output has the input's shape and holds the factored-out latents of
    each scale, then the last scale's, flattened in that order.
    """

    def __init__(self, shape, levels):
        super().__init__()
        c, h, w = shape
        self.shape, self.levels, self.squeeze = (tuple(shape), nn.ModuleList(levels),
                                                 Squeeze())
        self.shapes = []                                  # each scale's squeezed shape
        for k in range(len(levels)):
            c, h, w = 4 * c, h // 2, w // 2
            self.shapes.append((c, h, w))
            c = c - c // 2 if k < len(levels) - 1 else c

    def forward(self, x, context=None):
        parts, total, h = [], 0.0, x
        for k, level in enumerate(self.levels):
            h, _ = self.squeeze(h)
            h, ladj = level(h, context)
            total = total + ladj
            if k < len(self.levels) - 1:
                out = h.shape[1] // 2
                parts.append(h[:, :out].flatten(1))
                h = h[:, out:]
        parts.append(h.flatten(1))
        return torch.cat(parts, 1).view_as(x), total

    def split(self, z):
        """The latents of each scale, as images: ``z`` (a ``forward`` output) cut into
        the channels factored out at each scale, then the last scale's."""
        flat, start, parts = z.flatten(1), 0, []
        for k, (c, h, w) in enumerate(self.shapes):
            out = c // 2 if k < len(self.shapes) - 1 else c
            parts.append(flat[:, start:start + out * h * w].view(-1, out, h, w))
            start += out * h * w
        return parts

    def merge(self, parts):
        """The inverse of ``split``: one tensor of the input's shape."""
        return torch.cat([p.flatten(1) for p in parts], 1).view(-1, *self.shape)

    def inverse(self, z, context=None):
        outs, total = self.split(z), 0.0
        x = outs[-1]
        for k in reversed(range(len(self.levels))):
            if k < len(self.levels) - 1:
                x = torch.cat([outs[k], x], 1)
            x, ladj = self.levels[k].inverse(x, context)
            total = total + ladj
            x, _ = self.squeeze.inverse(x)
        return x, total
