"""Flows for variational inference (chapter 9): unnormalized targets, their exact
normalizers in 2-D, the ELBO and the importance-weighted bound, and a VAE whose
posterior is a flow.

A flow ``q`` fitted to a target known only up to its normalizer, ``p = p~ / Z``,
minimizes ``KL(q || p) = E_q[log q - log p~] + log Z`` from its own samples
(``Flow.reverse_kl``); ``-E_q[log q - log p~]`` is the evidence lower bound (ELBO)
on ``log Z``. In 2-D, ``log Z`` by quadrature turns the loss into the exact KL.

>>> import torch
>>> log_z = log_normalizer(lambda z: -0.5 * z.square().sum(-1), span=8.0)
>>> round(log_z, 6) == round(math.log(2 * math.pi), 6)     # a standard normal's
True
"""

import math

import torch
import torch.nn.functional as F
from torch import nn


def _w1(z):
    return torch.sin(math.pi * z[..., 0] / 2)


def _bump(z, center, width):
    return -0.5 * ((z - center) / width).square()


def _u1(z):
    ring = 0.5 * ((z.norm(dim=-1) - 2) / 0.4).square()
    return ring - torch.logaddexp(_bump(z[..., 0], 2, 0.6), _bump(z[..., 0], -2, 0.6))


def _u2(z):
    return 0.5 * ((z[..., 1] - _w1(z)) / 0.4).square()


def _u3(z):
    w2 = 3 * torch.exp(_bump(z[..., 0], 1, 0.6))
    return -torch.logaddexp(_bump(z[..., 1] - _w1(z), 0, 0.35),
                            _bump(z[..., 1] - _w1(z) + w2, 0, 0.35))


def _u4(z):
    w3 = 3 * torch.sigmoid((z[..., 0] - 1) / 0.3)
    return -torch.logaddexp(_bump(z[..., 1] - _w1(z), 0, 0.4),
                            _bump(z[..., 1] - _w1(z) + w3, 0, 0.35))


ENERGIES = {"U1": _u1, "U2": _u2, "U3": _u3, "U4": _u4}
WALL = 2.0


def energy(name):
    """``log p~(z)`` for one of Rezende and Mohamed's (2015) four 2-D test energies,
    ``log p~ = -U``. In ``U2``-``U4`` every slice ``z_1 = c`` carries about the same
    mass, so their ``exp(-U)`` has infinite mass; a Gaussian taper
    ``N(z_1; 0, WALL^2)`` makes them proper densities, tapered versions of the
    paper's (``U1`` is proper as it is, and kept as published)."""
    if name not in ENERGIES:
        raise ValueError(f"energy must be one of {list(ENERGIES)}, got {name!r}")
    u = ENERGIES[name]
    if name == "U1":
        return lambda z: -u(z)
    return lambda z: -u(z) - 0.5 * (z[..., 0] / WALL).square()


def grid(span, points=801, dtype=torch.float64):
    """A square grid of ``points`` per side from ``-span`` to ``span``: its points
    ``(points^2, 2)`` and the area of the cell centred on each."""
    axis = torch.linspace(-span, span, points, dtype=dtype)
    xx, yy = torch.meshgrid(axis, axis, indexing="xy")
    cell = (axis[1] - axis[0]).item() ** 2
    return torch.stack([xx.flatten(), yy.flatten()], -1), cell


def log_normalizer(log_density, span, points=801):
    """``log Z = log of the integral of exp(log_density)`` over the plane, by the
    midpoint rule on the cells of ``grid(span, points)`` (float64): exact to many
    digits for a smooth density whose mass lies well inside the square."""
    z, cell = grid(span, points)
    with torch.no_grad():
        return (torch.logsumexp(log_density(z), 0) + math.log(cell)).item()


def log_mean_exp(log_w, dim=0):
    """``log(mean(exp(log_w)))`` along ``dim``, without overflow."""
    return torch.logsumexp(log_w, dim) - math.log(log_w.shape[dim])


def iw_bound(log_w):
    """The importance-weighted bound (Burda et al., 2016) from ``k`` log-weights
    ``log p(x, z_i) - log q(z_i | x)`` per data point, shape ``(k, batch)``: a lower
    bound on ``log p(x)`` that tightens as ``k`` grows; ``k = 1`` is the ELBO."""
    if log_w.dim() != 2:
        raise ValueError(f"expected log-weights of shape (k, batch), got "
                         f"{tuple(log_w.shape)}")
    return log_mean_exp(log_w, 0)


class VAE(nn.Module):
    """A variational autoencoder on binary data with a flow posterior (Kingma and
    Welling, 2014; Rezende and Mohamed, 2015).

    ``encoder(x)`` returns ``2 * latent + context`` features: the mean and the log
    standard deviation of ``q_0(z_0 | x)``, a diagonal Gaussian, then a context ``h``
    for the flow. ``flow`` is a bijector in flowlib's direction, from ``z_K`` (the
    posterior sample) to ``z_0``; sampling runs its ``inverse(z_0, h)``, so that an
    IAF (``MAF(..., context=...).inv``) or planar layers (``Compose(...).inv``)
    sample in one pass, and ``log q(z_K | x) = log q_0(z_0 | x) - ladj``. Without a
    flow the posterior is the diagonal Gaussian. ``decoder(z)`` returns the Bernoulli
    logits of ``p(x | z)``; the prior is ``N(0, I)``.
    """

    def __init__(self, encoder, decoder, latent, flow=None):
        super().__init__()
        self.encoder, self.decoder, self.flow = encoder, decoder, flow
        self.latent = latent

    def posterior(self, x, k=1):
        """``k`` samples of ``q(z | x)`` per data point and their log-densities:
        ``z`` of shape ``(k, batch, latent)``, ``log_q`` of shape ``(k, batch)``."""
        out = self.encoder(x)
        d = self.latent
        mean, log_std, h = out[:, :d], out[:, d:2 * d], out[:, 2 * d:]
        eps = torch.randn(k, *mean.shape, dtype=mean.dtype, device=mean.device)
        z = (mean + log_std.exp() * eps).flatten(0, 1)
        log_q = (-0.5 * eps.square() - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)
        if self.flow is not None:
            context = h.expand(k, *h.shape).flatten(0, 1)
            z, ladj = self.flow.inverse(z, context)
            log_q = log_q - ladj.view(k, -1)
        return z.view(k, *mean.shape), log_q

    def log_joint(self, x, z):
        """``log p(x, z) = log p(z) + log p(x | z)`` for ``z`` of shape
        ``(..., batch, latent)``."""
        prior = (-0.5 * z.square() - 0.5 * math.log(2 * math.pi)).sum(-1)
        logits = self.decoder(z.flatten(0, -2)).view(*z.shape[:-1], -1)
        target = x.flatten(1).expand_as(logits)
        return prior - F.binary_cross_entropy_with_logits(logits, target,
                                                          reduction="none").sum(-1)

    def log_weights(self, x, k=1):
        """``log p(x, z) - log q(z | x)`` for ``k`` posterior samples, shape
        ``(k, batch)``."""
        if x.dim() < 2 or not x.is_floating_point():
            raise ValueError(f"expected a float batch of binary data (batch, ...), got "
                             f"{tuple(x.shape)} {x.dtype}")
        z, log_q = self.posterior(x, k)
        return self.log_joint(x, z) - log_q

    def elbo(self, x, k=1):
        """The ELBO per data point, averaged over ``k`` samples: shape ``(batch,)``."""
        return self.log_weights(x, k).mean(0)

    def forward_kl(self, x):
        """The training loss, ``-ELBO`` averaged over the batch (one sample each),
        named as ``fit`` expects of a model."""
        return -self.elbo(x).mean()
