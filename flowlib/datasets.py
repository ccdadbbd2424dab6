"""Data sets whose true density is known, so a model can be measured against the truth.

Every data set has one interface: ``sample(n)`` returns ``(n, D)`` points,
``log_prob(x)`` the exact log-density of each row, and ``entropy()`` its
differential entropy in nats (computed by quadrature where there is no formula).

>>> import flowlib
>>> bimodal = flowlib.dataset("bimodal")
>>> bimodal.sample(4).shape
torch.Size([4, 1])
>>> round(bimodal.entropy(), 4)
1.6704
"""

import functools

import torch
from torch import distributions as D


class Density1d:
    """A 1-D data set from a ``torch.distributions`` distribution; ``span`` bounds its mass."""

    def __init__(self, name, dist, span):
        self.name, self.dist, self.span = name, dist, span

    def sample(self, n):
        return self.dist.sample((n,))[:, None]

    def log_prob(self, x):
        if x.dim() != 2 or x.shape[1] != 1:
            raise ValueError(f"{self.name}: expected x of shape (batch, 1), got {tuple(x.shape)}")
        return self.dist.log_prob(x[:, 0].to(self.dist.mean.dtype)).to(x.dtype)

    @functools.cache
    def entropy(self):
        """-E[log p(x)] by the trapezoid rule on 200 001 points of ``span``, in float64."""
        x = torch.linspace(*self.span, 200_001, dtype=torch.float64)
        log_p = self.dist.log_prob(x.to(self.dist.mean.dtype)).double()
        return -torch.trapezoid(log_p.exp() * log_p, x).item()

    def __repr__(self):
        return f"Density1d({self.name!r})"


def gaussian_mixture(weights, means, stds):
    """A 1-D mixture of Gaussians as a ``torch.distributions`` object."""
    return D.MixtureSameFamily(D.Categorical(torch.tensor(weights)),
                               D.Normal(torch.tensor(means), torch.tensor(stds)))


DATASETS = {
    "bimodal": lambda: Density1d("bimodal", gaussian_mixture([0.4, 0.6], [-2.0, 1.5], [0.5, 0.8]), (-8, 8)),
    "trimodal": lambda: Density1d("trimodal", gaussian_mixture([0.3, 0.5, 0.2], [-3.0, 0.0, 3.0], [0.4, 0.8, 0.3]), (-8, 8)),
    "peaked": lambda: Density1d("peaked", gaussian_mixture([0.25, 0.75], [0.0, 0.5], [0.1, 2.0]), (-14, 15)),
    "skewed": lambda: Density1d("skewed", D.Gumbel(torch.tensor(-1.0), torch.tensor(1.0)), (-6, 30)),
}


def dataset(name):
    """The data set called ``name``; ``flowlib.datasets.DATASETS`` lists them all."""
    if name not in DATASETS:
        raise ValueError(f"unknown data set {name!r}; choose one of {sorted(DATASETS)}")
    return DATASETS[name]()
