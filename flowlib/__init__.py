"""flowlib: the normalizing-flow library behind the book.

Every chapter imports it; every model the book trains is built from it.
"""

from .core import Bijector, Compose, Flow, Inverse
from .data import mnist
from .distributions import StandardLogistic, StandardNormal, StandardUniform
from .elementwise import Affine, Sigmoid
from .notebook import show
from .train import budget, device, fit, mode, run_record, seed

__version__ = "0.1.0"

__all__ = [
    "Bijector", "Inverse", "Compose", "Flow",
    "StandardNormal", "StandardUniform", "StandardLogistic",
    "Affine", "Sigmoid",
    "fit", "budget", "mode", "device", "seed", "run_record",
    "show", "mnist",
]
