"""Data sets whose true density is known, so a model can be measured against the
truth.

Every data set has one interface: ``sample(n)`` returns ``(n, D)`` points (fresh,
independent draws, so a train and a test set never share points), ``log_prob(x)``
the exact log-density of each row, and ``entropy()`` its differential entropy in
nats, computed by quadrature on a grid over ``span`` (the box that holds the mass).

>>> import flowlib
>>> bimodal = flowlib.dataset("bimodal")
>>> bimodal.sample(4).shape
torch.Size([4, 1])
>>> round(bimodal.entropy(), 4)
1.6704
>>> # log 8: uniform on 8 unit squares
>>> round(flowlib.dataset("checkerboard").entropy(), 2)
2.08
"""

import functools
import math

import torch
from torch import distributions as D


class Density:
    """A data set with a known density on R^dim; subclasses give ``sample`` and
    ``_log_prob``."""

    dim = 1
    # per axis, for the entropy (converged to 5 digits)
    grid_points = {1: 200_001, 2: 251}

    def __init__(self, name, span):
        self.name, self.span = name, span

    def log_prob(self, x):
        """Exact log-density of each row of ``x`` (shape ``(batch, dim)``)."""
        if x.dim() != 2 or x.shape[1] != self.dim:
            raise ValueError(f"{self.name}: expected x of shape (batch, {self.dim}), "
                             f"got {tuple(x.shape)}")
        return (torch.cat([self._log_prob(chunk) for chunk in x.split(4096)]) if len(x)
                else x[:, 0])

    @functools.cache
    def entropy(self):
        """-E[log p(x)] by the trapezoid rule on a regular grid over ``span``, in
        float64."""
        axis = torch.linspace(*self.span, self.grid_points[self.dim],
                              dtype=torch.float64)
        points = torch.cartesian_prod(*[axis] * self.dim).view(-1, self.dim)
        log_p = self.log_prob(points).double()
        integrand = torch.where(torch.isfinite(log_p), -log_p.exp() * log_p,
                                0.0).view([len(axis)] * self.dim)
        for _ in range(self.dim):
            integrand = torch.trapezoid(integrand, axis, dim=0)
        return integrand.item()

    def __repr__(self):
        return f"{type(self).__name__}({self.name!r})"


class Density1d(Density):
    """A 1-D data set from a ``torch.distributions`` distribution; ``span`` bounds its
    mass."""

    def __init__(self, name, dist, span):
        super().__init__(name, span)
        self.dist = dist

    def sample(self, n):
        return self.dist.sample((n,))[:, None]

    def _log_prob(self, x):
        return self.dist.log_prob(x[:, 0].to(self.dist.mean.dtype)).to(x.dtype)


class Curves(Density):
    """Points spread uniformly along curves, blurred by isotropic Gaussian noise of std
    ``sigma``.

    Each curve maps ``t`` in [0, 1] to points of the plane at constant speed (a point is
    a curve that does not move) and has a weight. The density is the mixture over curves
    of the noise averaged along the curve; the average is taken over ``nodes`` evenly
    spaced values of t, far closer together than ``sigma``, so it is exact to many
    digits.
    """

    dim = 2

    def __init__(self, name, curves, weights, sigma, span, nodes=600):
        super().__init__(name, span)
        self.curves, self.sigma = curves, sigma
        self.weights = torch.tensor(weights, dtype=torch.float64) / sum(weights)
        t = (torch.arange(nodes, dtype=torch.float64) + 0.5) / nodes
        points, log_w = [], []
        for w, curve in zip(self.weights, curves):
            p = curve(t)
            p = p[:1] if (p == p[0]).all() else p  # a point needs one node
            points.append(p)
            log_w.append(torch.full((len(p),), (w / len(p)).log().item(),
                                    dtype=torch.float64))
        self.points, self.log_w = torch.cat(points), torch.cat(log_w)

    def sample(self, n):
        which = torch.multinomial(self.weights, n, replacement=True)
        t = torch.rand(n, dtype=torch.float64)
        on_curve = torch.stack([curve(t)
                                for curve in self.curves])[which, torch.arange(n)]
        return (on_curve + self.sigma * torch.randn(n, 2, dtype=torch.float64)).float()

    def _log_prob(self, x):
        log_noise = -0.5 * torch.cdist(x.double(), self.points).square() / self.sigma**2
        log_p = (torch.logsumexp(self.log_w + log_noise, 1)
                 - math.log(2 * math.pi * self.sigma**2))
        return log_p.to(x.dtype)


class Checkerboard(Density):
    """Uniform on the dark squares of a ``k`` by ``k`` board of unit squares centred at
    0: a density with sharp edges, log p = -log(number of dark squares) on them."""

    dim = 2

    def __init__(self, name, k=4):
        super().__init__(name, (-k / 2 - 0.5, k / 2 + 0.5))
        self.k = k
        self.dark = [(i, j) for i in range(k) for j in range(k) if (i + j) % 2 == 0]

    def sample(self, n):
        low = torch.tensor(self.dark)[torch.randint(len(self.dark), (n,))] - self.k / 2
        # low + u can round up onto the next square's edge: keep each point inside
        return torch.minimum(low + torch.rand(n, 2), torch.nextafter(low + 1, low))

    def _log_prob(self, x):
        cell = torch.floor(x.double() + self.k / 2)  # exact for float32 x
        inside = ((cell >= 0) & (cell < self.k)).all(1) & ((cell.sum(1) % 2) == 0)
        return torch.where(inside, -math.log(len(self.dark)), -math.inf).to(x.dtype)


def gaussian_mixture(weights, means, stds):
    """A 1-D mixture of Gaussians as a ``torch.distributions`` object."""
    return D.MixtureSameFamily(D.Categorical(torch.tensor(weights)),
                               D.Normal(torch.tensor(means), torch.tensor(stds)))


def arc(center, radius, start, end):
    """A circular arc from angle ``start`` to ``end`` (in turns, 1 = full circle), as a
    curve."""
    cx, cy = center
    def curve(t):
        angle = 2 * math.pi * (start + (end - start) * t)
        return torch.stack([cx + radius * torch.cos(angle),
                            cy + radius * torch.sin(angle)], -1)
    return curve


def point(x, y):
    """A curve that stays at one point: with the noise, an isotropic Gaussian blob."""
    return lambda t: torch.tensor([x, y], dtype=t.dtype).expand(len(t), 2)


DATASETS = {
    "bimodal": lambda: Density1d("bimodal", gaussian_mixture([0.4, 0.6], [-2.0, 1.5],
                                                             [0.5, 0.8]), (-8, 8)),
    "trimodal": lambda: Density1d("trimodal", gaussian_mixture([0.3, 0.5, 0.2],
                                                               [-3.0, 0.0, 3.0],
                                                               [0.4, 0.8, 0.3]),
                                  (-8, 8)),
    "peaked": lambda: Density1d("peaked", gaussian_mixture([0.25, 0.75], [0.0, 0.5],
                                                           [0.1, 2.0]), (-14, 15)),
    "skewed": lambda: Density1d("skewed", D.Gumbel(torch.tensor(-1.0),
                                                   torch.tensor(1.0)), (-6, 30)),
    "laplace": lambda: Density1d("laplace", D.Laplace(torch.tensor(0.0),
                                                      torch.tensor(1.0)), (-30, 30)),
    "heavy": lambda: Density1d("heavy", D.StudentT(torch.tensor(3.0)), (-600, 600)),
    # 2-D
    "moons": lambda: Curves("moons", [arc((-0.5, -0.25), 1.0, 0.0, 0.5),
                                      arc((0.5, 0.25), 1.0, 0.5, 1.0)],
                            [1.0, 1.0], 0.1, (-2.5, 2.5)),
    "face": lambda: Curves("face", [arc((0.0, 0.0), 2.0, 0.0, 1.0),
                                    arc((0.0, 0.0), 1.2, 0.6, 0.9),
                                    point(-0.7, 0.7), point(0.7, 0.7)],
                           [0.5, 0.26, 0.12, 0.12], 0.12, (-3.0, 3.0)),
    "8gaussians": lambda: Curves("8gaussians", [point(2 * math.cos(a * math.pi / 4),
                                                      2 * math.sin(a * math.pi / 4))
                                                for a in range(8)],
                                 [1.0] * 8, 0.2, (-3.5, 3.5)),
    "rings": lambda: Curves("rings", [arc((0.0, 0.0), r, 0.0, 1.0)
                                      for r in (0.75, 1.5, 2.25)],
                            [1.0, 2.0, 3.0], 0.08, (-3.0, 3.0)),
    "checkerboard": lambda: Checkerboard("checkerboard"),
    "grid": lambda: Curves("grid", [point(x, y) for x in range(-2, 3)
                                    for y in range(-2, 3)],
                           [1.0] * 25, 0.1, (-3.0, 3.0)),
}


def dataset(name):
    """The data set called ``name``; ``flowlib.datasets.DATASETS`` lists them all."""
    if name not in DATASETS:
        raise ValueError(f"unknown data set {name!r}; choose one of {sorted(DATASETS)}")
    return DATASETS[name]()
