import functools
import http.server
import os
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

import flowlib
from flowlib import data

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def real_file():
    """The real mnist.npz: from FLOWLIB_DATA (CI sets it) or the shared folder beside the repo."""
    for folder in (os.environ.get("FLOWLIB_DATA"), ROOT.parent / "shared" / "data"):
        if folder and (Path(folder) / "mnist.npz").exists():
            return Path(folder) / "mnist.npz"
    pytest.skip("no mnist.npz: set FLOWLIB_DATA to the folder that holds it")


@pytest.fixture
def clean_env(tmp_path, monkeypatch):
    monkeypatch.delenv("FLOWLIB_DATA", raising=False)
    monkeypatch.setenv("FLOWLIB_CACHE", str(tmp_path / "cache"))
    return tmp_path


@pytest.fixture
def server(tmp_path):
    """A local HTTP server over tmp_path/www; yields its base URL."""
    www = tmp_path / "www"
    www.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(www))
    handler.log_message = lambda *args: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield www, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_loads_the_local_file(real_file, clean_env, monkeypatch):
    monkeypatch.setenv("FLOWLIB_DATA", str(real_file.parent))
    d = flowlib.mnist(url="http://127.0.0.1:9/unreachable")  # must not be needed
    assert d.x_train.shape == (60000, 28, 28) and d.x_test.shape == (10000, 28, 28)
    assert d.x_train.dtype == torch.uint8 and d.y_test.dtype == torch.uint8
    assert d.x_train.max() == 255 and set(d.y_train.unique().tolist()) == set(range(10))
    assert not (clean_env / "cache").exists()


def test_downloads_into_the_cache_once(real_file, clean_env, server):
    www, url = server
    shutil.copy(real_file, www / "mnist.npz")
    d = flowlib.mnist(url=f"{url}/mnist.npz")
    cached = clean_env / "cache" / "mnist.npz"
    assert cached.exists() and d.y_test.shape == (10000,)
    (www / "mnist.npz").unlink()  # a second load reads the cache
    assert torch.equal(flowlib.mnist(url=f"{url}/mnist.npz").x_test, d.x_test)


def _tampered(real_file, path):
    with np.load(real_file) as f:
        arrays = {k: f[k].copy() for k in data.MNIST_KEYS}
    arrays["x_test"][0, 0, 0] ^= 1
    np.savez(path, **arrays)


def test_rejects_a_corrupt_local_file(real_file, clean_env, monkeypatch):
    folder = clean_env / "local"
    folder.mkdir()
    monkeypatch.setenv("FLOWLIB_DATA", str(folder))
    (folder / "mnist.npz").write_bytes(b"not a zip file")
    with pytest.raises(ValueError, match="not a readable mnist.npz"):
        flowlib.mnist()
    _tampered(real_file, folder / "mnist.npz")
    with pytest.raises(ValueError, match="does not hold the MNIST arrays"):
        flowlib.mnist()


def test_rejects_a_corrupt_download_and_keeps_nothing(real_file, clean_env, server):
    www, url = server
    _tampered(real_file, www / "mnist.npz")
    with pytest.raises(ValueError, match="does not hold the MNIST arrays"):
        flowlib.mnist(url=f"{url}/mnist.npz")
    assert list((clean_env / "cache").iterdir()) == []


def test_replaces_a_broken_cache_file(real_file, clean_env, server):
    www, url = server
    shutil.copy(real_file, www / "mnist.npz")
    (clean_env / "cache").mkdir()
    (clean_env / "cache" / "mnist.npz").write_bytes(b"truncated")
    assert flowlib.mnist(url=f"{url}/mnist.npz").x_train.shape == (60000, 28, 28)


def test_offline_without_a_file_names_flowlib_data(clean_env, server):
    _, url = server
    with pytest.raises(RuntimeError, match="FLOWLIB_DATA is not set.*Set FLOWLIB_DATA"):
        flowlib.mnist(url=f"{url}/missing.npz")
    assert list((clean_env / "cache").iterdir()) == []
