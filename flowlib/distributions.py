"""Base distributions: fixed, standard densities in the latent space of a flow.

Each keeps no parameters, only a buffer that carries its device and dtype, so
``flow.to(device)`` moves the base along with the bijector. ``log_prob`` sums
over the event and returns one number per sample.

>>> import torch, flowlib
>>> flowlib.StandardUniform(3).log_prob(torch.full((4, 3), 0.5))
tensor([0., 0., 0., 0.])
"""

import math

import torch
import torch.nn.functional as F
from torch import nn


class Base(nn.Module):
    """A standard density on events of ``event_shape``; subclasses give its math."""

    def __init__(self, *event_shape):
        super().__init__()
        self.event_shape = torch.Size(event_shape)
        self.register_buffer("_anchor", torch.zeros(()))  # follows .to(device, dtype)

    def log_prob(self, z):
        """Log-density of each sample in the batch ``z``: shape ``(batch,)``."""
        return self.log_density(z).flatten(1).sum(1)

    def sample(self, n):
        """``n`` independent samples, shape ``(n, *event_shape)``."""
        u = torch.rand(n, *self.event_shape, device=self._anchor.device,
                       dtype=self._anchor.dtype)
        # rand can return exactly 0, whose logit is -inf: lift it one grid step, as
        # far from 0 as rand's largest value is from 1
        return self.icdf(u.clamp(min=torch.finfo(u.dtype).eps / 2))

    def extra_repr(self):
        return ", ".join(map(str, self.event_shape))


class StandardNormal(Base):
    """N(0, I): the usual base of a flow."""

    def log_density(self, z):
        return -0.5 * (z.square() + math.log(2 * math.pi))

    def sample(self, n):
        return torch.randn(n, *self.event_shape, device=self._anchor.device,
                           dtype=self._anchor.dtype)


class StandardUniform(Base):
    """Uniform on [0, 1]^D: a flow into it is a (learned) CDF."""

    def log_density(self, z):
        inside = (z >= 0) & (z <= 1)
        return torch.where(inside, torch.zeros_like(z), torch.full_like(z, -math.inf))

    def icdf(self, u):
        return u


class StandardLogistic(Base):
    """The logistic density sigma(z)(1 - sigma(z)): heavier tails than a Gaussian."""

    def log_density(self, z):
        return -z - 2 * F.softplus(-z)

    def icdf(self, u):
        return torch.logit(u)


class Beta(Base):
    """Beta(a, b) on [0, 1]^D, a base peaked at the middle for a = b > 1 (chapter 1)."""

    def __init__(self, a, b, *event_shape):
        super().__init__(*event_shape)
        self.register_buffer("a", torch.as_tensor(float(a)))
        self.register_buffer("b", torch.as_tensor(float(b)))

    def log_density(self, z):
        inside = (z >= 0) & (z <= 1)
        log_p = torch.distributions.Beta(self.a, self.b,
                                         validate_args=False).log_prob(z.clamp(0, 1))
        return torch.where(inside, log_p, -math.inf)

    def sample(self, n):
        return torch.distributions.Beta(self.a, self.b).sample((n, *self.event_shape))

    def extra_repr(self):
        return f"a={self.a.item():g}, b={self.b.item():g}, " + super().extra_repr()


class GaussianMixture(nn.Module):
    """A learnable mixture of K diagonal Gaussians on R^D: the classic density model,
    and the baseline that flows are compared with. A sample is one of K stored means
    plus noise.

    ``means`` (K, D) sets the initial means (default: standard normal draws).
    """

    def __init__(self, k, dim, means=None, scale=1.0):
        super().__init__()
        self.logits = nn.Parameter(torch.zeros(k))
        self.means = nn.Parameter(torch.randn(k, dim) if means is None
                                  else means.detach().clone().float())
        self.log_scales = nn.Parameter(torch.full((k, dim), math.log(scale)))

    def log_prob(self, x):
        x = x.flatten(1)
        if x.shape[1] != self.means.shape[1]:
            raise ValueError(f"expected x with {self.means.shape[1]} values per "
                             f"sample, got {tuple(x.shape)}")
        t = (x[:, None, :] - self.means) * torch.exp(-self.log_scales)
        log_component = (-0.5 * t.square() - self.log_scales
                         - 0.5 * math.log(2 * math.pi)).sum(-1)
        return torch.logsumexp(F.log_softmax(self.logits, -1) + log_component, dim=-1)

    def sample(self, n):
        k = torch.multinomial(F.softmax(self.logits, -1), n, replacement=True)
        return (self.means[k]
                + torch.exp(self.log_scales[k]) * torch.randn_like(self.means[k]))

    def forward_kl(self, x):
        """Negative mean log-likelihood, the loss ``fit`` minimizes."""
        return -self.log_prob(x).mean()
