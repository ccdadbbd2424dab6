"""Data sets. ``mnist()`` finds the MNIST digits on disk or downloads them once.

Where the file is looked for, in order: the folder named by ``FLOWLIB_DATA``,
then the user cache (``FLOWLIB_CACHE``, else ``~/.cache/flowlib``), where it is
downloaded when missing. The arrays are verified against a checksum of their
contents, so any faithful copy of ``mnist.npz`` is accepted, however it was
compressed.
"""

import hashlib
import os
import urllib.request
import zipfile
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

MNIST_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
# the SHA-256 of the four arrays' bytes, in MNIST_KEYS order
MNIST_SHA256 = "06b0d1f124c4e5fa796686ade41a9b778edacc8622f2195a352ef479ad44fc16"
MNIST_KEYS = ("x_train", "y_train", "x_test", "y_test")


class MNIST(NamedTuple):
    """The 70 000 MNIST digits as uint8 tensors: images ``(N, 28, 28)`` in 0..255 and
    labels ``(N,)``."""
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor


def cache_dir():
    """Where downloads are kept: ``FLOWLIB_CACHE``, else ``~/.cache/flowlib``."""
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "flowlib"
    return Path(os.environ.get("FLOWLIB_CACHE", default))


def mnist(url=MNIST_URL):
    """Load MNIST (LeCun et al., 1998) from ``FLOWLIB_DATA`` or the cache; download it
    if it is in neither."""
    local = os.environ.get("FLOWLIB_DATA")
    if local and (Path(local) / "mnist.npz").exists():
        return MNIST(*_load_verified(Path(local) / "mnist.npz"))
    path = cache_dir() / "mnist.npz"
    if path.exists():
        try:
            return MNIST(*_load_verified(path))
        except ValueError:
            path.unlink()  # a broken download: fetch it again
    return MNIST(*_download(url, path, local))


def binarized_mnist(seed=0):
    """MNIST as binary images for VAEs: each pixel is 1 with probability its
    intensity / 255, drawn once with ``seed`` (a static binarization, in the spirit
    of Salakhutdinov and Murray, 2008; not their file). Returns float tensors
    ``(x_train, x_test)`` of shapes ``(60000, 784)`` and ``(10000, 784)`` in {0, 1}."""
    digits = mnist()
    g = torch.Generator().manual_seed(seed)
    draw = lambda x: torch.bernoulli(x.flatten(1).float() / 255, generator=g)
    return draw(digits.x_train), draw(digits.x_test)


def _load_verified(path):
    try:
        with np.load(path) as f:
            arrays = [f[k] for k in MNIST_KEYS]
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as e:
        raise ValueError(f"{path} is not a readable mnist.npz with arrays {MNIST_KEYS} "
                         f"({e}); delete it and load again") from e
    digest = hashlib.sha256()
    for a in arrays:
        digest.update(np.ascontiguousarray(a).tobytes())
    if digest.hexdigest() != MNIST_SHA256:
        raise ValueError(f"{path} does not hold the MNIST arrays "
                         f"(checksum {digest.hexdigest()[:12]}… "
                         f"instead of {MNIST_SHA256[:12]}…); "
                         "delete it and load again")
    return [torch.from_numpy(a) for a in arrays]


def _download(url, path, local):
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_suffix(".part")
    try:
        with (urllib.request.urlopen(url, timeout=60) as response,
              open(part, "wb") as out):
            while chunk := response.read(1 << 20):
                out.write(chunk)
    except OSError as e:
        part.unlink(missing_ok=True)
        where = (f"FLOWLIB_DATA={local} holds no mnist.npz" if local
                 else "FLOWLIB_DATA is not set")
        raise RuntimeError(f"MNIST is not on this machine ({where}; {path} is "
                           f"missing) and the download from {url} failed: {e}. Set "
                           "FLOWLIB_DATA to a folder that holds mnist.npz, or connect "
                           "to the internet.") from e
    try:
        arrays = _load_verified(part)
    except ValueError:
        part.unlink()
        raise
    part.replace(path)
    return arrays
