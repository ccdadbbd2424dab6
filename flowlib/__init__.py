"""flowlib: the normalizing-flow library behind the book.

Every chapter imports it; every model the book trains is built from it.
"""

from . import datasets, exercises, plot, scalar, testing
from .autoregressive import MADE, Autoregressive, MaskedLinear
from .core import Bijector, Compose, Flow, Inverse
from .data import mnist
from .datasets import dataset
from .distributions import Beta, GaussianMixture, StandardLogistic, StandardNormal, StandardUniform
from .elementwise import Affine, LeakyReLU, MixtureCDF, NormalCDF, Sigmoid
from .notebook import show
from .metrics import kl_divergence, nll, seconds
from .train import budget, device, fit, mode, run_record, seed

__version__ = "0.1.0"

__all__ = [
    "Bijector", "Inverse", "Compose", "Flow",
    "StandardNormal", "StandardUniform", "StandardLogistic", "Beta", "GaussianMixture",
    "Affine", "Sigmoid", "NormalCDF", "LeakyReLU", "MixtureCDF",
    "MaskedLinear", "MADE", "Autoregressive",
    "fit", "budget", "mode", "device", "seed", "run_record",
    "show", "mnist", "dataset", "kl_divergence", "nll", "seconds",
]
