"""Bijectors and flows: the contract every model in the book follows.

A bijector's ``forward`` maps data ``x`` to the base space ``z`` (the normalizing
direction, so that a density costs one pass) and returns ``(z, ladj)``, where
``ladj`` is log|det dz/dx| summed over the event, one number per sample.
``inverse`` maps ``z`` back to ``x`` (sampling) and returns the log|det| of the
map it applied, so ``ladj(inverse) = -ladj(forward)`` at matching points.

Inputs are batches: the first dimension indexes samples, the rest is the event.

>>> import torch, flowlib
>>> flow = flowlib.Flow(flowlib.Affine(2), flowlib.StandardNormal(2))
>>> flow.log_prob(torch.zeros(5, 2)).shape
torch.Size([5])
"""

import torch
from torch import nn


class Bijector(nn.Module):
    """An invertible map with a tractable log|det J|, from data to base."""

    def forward(self, x, context=None):
        """Map data to base: return ``(z, ladj)`` with ``ladj`` of shape
        ``(batch,)``."""
        raise NotImplementedError

    def inverse(self, z, context=None):
        """Map base to data: return ``(x, ladj)``, the log|det| of this inverse map."""
        raise NotImplementedError

    @property
    def inv(self):
        """The same bijector with its directions swapped (parameters shared)."""
        return Inverse(self)


class Inverse(Bijector):
    """Swap the directions of a bijector: ``Inverse(b).forward`` is ``b.inverse``.

    An inverse autoregressive flow, for example, is a masked autoregressive flow
    turned around.
    """

    def __init__(self, bijector):
        super().__init__()
        self.bijector = bijector

    def forward(self, x, context=None):
        return self.bijector.inverse(x, context)

    def inverse(self, z, context=None):
        return self.bijector(z, context)

    @property
    def inv(self):
        return self.bijector


class Compose(Bijector):
    """Apply bijectors one after another (data to base) and add their log-dets."""

    def __init__(self, *bijectors):
        super().__init__()
        self.bijectors = nn.ModuleList(bijectors)

    def forward(self, x, context=None):
        total = 0.0
        for b in self.bijectors:
            x, ladj = b(x, context)
            total = total + ladj
        return x, total

    def inverse(self, z, context=None):
        total = 0.0
        for b in reversed(self.bijectors):
            z, ladj = b.inverse(z, context)
            total = total + ladj
        return z, total


class Flow(nn.Module):
    """A density on data: a bijector to a base distribution.

    ``log p(x) = log p_base(f(x)) + log|det df/dx|``; sampling runs ``f^{-1}`` on
    base samples. ``forward_kl`` is the maximum-likelihood loss on data;
    ``reverse_kl`` fits the flow to an unnormalized log-density by sampling it.
    """

    def __init__(self, bijector, base):
        super().__init__()
        self.bijector = bijector
        self.base = base

    def _check(self, x):
        event = tuple(self.base.event_shape)
        if not torch.is_tensor(x) or not x.is_floating_point():
            raise ValueError(f"expected a floating-point tensor of shape "
                             f"(batch, {_shape(event)}), "
                             f"got {type(x).__name__} {getattr(x, 'dtype', '')}")
        if tuple(x.shape[1:]) != event or x.dim() != len(event) + 1:
            raise ValueError(f"expected x of shape (batch, {_shape(event)}), "
                             f"got {tuple(x.shape)}")

    def log_prob(self, x, context=None):
        """Log-density of each sample in the batch ``x``: shape ``(batch,)``."""
        self._check(x)
        z, ladj = self.bijector(x, context)
        return self.base.log_prob(z) + ladj

    def sample(self, n, context=None):
        """Draw ``n`` samples (differentiable; wrap in ``torch.no_grad()`` to just
        look)."""
        return self.bijector.inverse(self.base.sample(n), context)[0]

    def sample_and_log_prob(self, n, context=None):
        """Draw ``n`` samples and their log-densities in a single inverse pass."""
        z = self.base.sample(n)
        x, ladj = self.bijector.inverse(z, context)
        return x, self.base.log_prob(z) - ladj

    def forward_kl(self, x, context=None):
        """Negative mean log-likelihood of data: KL(data || model) up to a constant."""
        return -self.log_prob(x, context).mean()

    def reverse_kl(self, log_target, n, context=None):
        """Monte-Carlo KL(model || target) up to the target's unknown log-normalizer.

        ``log_target(x)`` is an unnormalized log-density returning shape ``(batch,)``.
        """
        x, log_q = self.sample_and_log_prob(n, context)
        return (log_q - log_target(x)).mean()


def _shape(event):
    return ", ".join(map(str, event))
