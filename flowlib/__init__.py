"""flowlib: the normalizing-flow library behind the book.

Every chapter imports it; every model the book trains is built from it.
"""

from . import datasets, exercises, inference, plot, scalar, testing
from .autoregressive import MADE, MAF, Autoregressive, MaskedConv2d, MaskedLinear
from .core import Bijector, Compose, Flow, Inverse
from .coupling import Coupling, channel_mask, checkerboard, half_mask
from .data import binarized_mnist, mnist
from .dequantization import (Dequantized, Variational, bits_per_dim, dequantize,
                             log_bound)
from .datasets import dataset
from .distributions import (Beta, GaussianMixture, StandardLogistic, StandardNormal,
                            StandardUniform)
from .elementwise import Affine, LeakyReLU, MixtureCDF, NormalCDF, Sigmoid
from .glow import ActNorm, Conv1x1, MultiScale, Squeeze
from .notebook import run_times, show
from .linear import LinearLU, Permutation, Reverse
from .metrics import kl_divergence, nll, seconds
from .residual import (LipSwish, Planar, Radial, ResidualBlock, SpectralLinear,
                       Sylvester, lipschitz_mlp)
from .nets import MLP, ConvNet, GatedAttentionNet, WithContext
from .train import budget, capture, device, fit, mode, run_record, seed

__version__ = "0.1.0"

__all__ = [
    "Bijector", "Inverse", "Compose", "Flow",
    "StandardNormal", "StandardUniform", "StandardLogistic", "Beta", "GaussianMixture",
    "Affine", "Sigmoid", "NormalCDF", "LeakyReLU", "MixtureCDF",
    "MaskedLinear", "MADE", "Autoregressive", "MAF", "MaskedConv2d",
    "Permutation", "Reverse", "LinearLU",
    "Coupling", "checkerboard", "channel_mask", "half_mask",
    "MLP", "ConvNet", "GatedAttentionNet", "WithContext",
    "ActNorm", "Conv1x1", "Squeeze", "MultiScale",
    "Planar", "Radial", "Sylvester", "ResidualBlock", "SpectralLinear", "LipSwish",
    "lipschitz_mlp",
    "fit", "capture", "budget", "mode", "device", "seed", "run_record",
    "show", "run_times", "mnist", "binarized_mnist", "dataset",
    "kl_divergence", "nll", "seconds",
    "bits_per_dim", "dequantize", "log_bound", "Dequantized", "Variational",
]
