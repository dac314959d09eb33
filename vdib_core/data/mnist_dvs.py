"""MNIST-DVS: the real recordings, and an emulated version built from the MNIST chain.

MNIST-DVS (Serrano-Gotarredona & Linares-Barranco 2015) films MNIST digits moving on a screen with
a 128x128 DVS. The paper's preprocessing, applied to real and emulated recordings alike: scale-4
recordings, x flipped to 127 - x, pixels 48..73 of x and y kept (26x26), both polarities, the first
2 s, binary bins of dt µs -> spike tensors [T, 2, 26, 26]; train = recordings 1-900 of each digit,
test = 901-1000. `events(i)` gives the preprocessed events for tonic transforms.
"""
from __future__ import annotations

import hashlib
import json
import math
import re
import time
from dataclasses import asdict
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from tqdm.auto import tqdm

from .dvs import DVSConfig, emulate_dvs, moving_digit_video
from .events import batch_events_to_frames, events_to_frames, make_events, read_aedat
from .mnist_chain import data_dir, load_mnist

SENSOR_SIZE = (128, 128, 2)  # DVS128: (W, H, P), tonic's convention
CROP = (48, 73)  # kept pixels (inclusive) of x (after the flip) and y
CROPPED_SIZE = (CROP[1] - CROP[0] + 1, CROP[1] - CROP[0] + 1, 2)  # (26, 26, 2)
DURATION_US = 2_000_000
N_TRAIN_RECORDINGS = 900  # per digit; recordings 901-1000 are the test set
_RECORDING = re.compile(r"_(\d+)\.aedat$")


def preprocess_mnist_dvs(events: np.ndarray, duration_us: int = DURATION_US) -> np.ndarray:
    """The paper's preprocessing of one raw recording: x -> 127 - x, crop 48..73 on both axes
    (shifted to 0..25), t relative to the first event, keep t < duration_us."""
    x = 127 - events["x"].astype(np.int64)
    y = events["y"].astype(np.int64)
    t = events["t"] - (events["t"][0] if len(events) else 0)
    keep = (x >= CROP[0]) & (x <= CROP[1]) & (y >= CROP[0]) & (y <= CROP[1]) & (t < duration_us)
    return make_events(x[keep] - CROP[0], y[keep] - CROP[0], t[keep], events["p"][keep])


class _PreprocessedMNISTDVS(torch.utils.data.Dataset):
    """Shared by the real and emulated datasets: item i -> (spikes [T, 2, 26, 26], label)."""

    sensor_size = CROPPED_SIZE  # for tonic transforms on events(i)
    title = "MNIST-DVS"

    def __init__(self, dt: float, transform: Callable | None, n_per_class: int | None = None):
        if not dt > 0:
            raise ValueError(f"dt must be > 0 µs, got {dt!r}")
        if n_per_class is not None and (not isinstance(n_per_class, int) or n_per_class < 1):
            raise ValueError(f"n_per_class must be None or a positive int, got {n_per_class!r}")
        self.dt, self.transform = dt, transform
        self.T = math.ceil(DURATION_US / dt)
        self.labels = torch.zeros(0, dtype=torch.long)  # [N], set by subclasses

    def raw_events(self, i: int) -> np.ndarray:
        raise NotImplementedError

    def events(self, i: int) -> np.ndarray:
        """Preprocessed events of recording i (x, y in 0..25, t in µs from its first event)."""
        return preprocess_mnist_dvs(self.raw_events(i))

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        events = self.events(i)
        if self.transform is not None:
            return self.transform(events), int(self.labels[i])
        return events_to_frames(events, self.sensor_size, self.dt, self.T), int(self.labels[i])  # [T, 2, 26, 26]

    def to_tensors(self, indices=None) -> tuple[torch.Tensor, torch.Tensor]:
        """Spike tensors of many recordings at once: ([T, B, 2, 26, 26], labels [B])."""
        indices = range(len(self)) if indices is None else indices
        frames = batch_events_to_frames([self.events(i) for i in indices], self.sensor_size, self.dt,
                                        self.T)  # [T, B, 2, 26, 26]
        return frames, self.labels[list(indices)]


class MNISTDVS(_PreprocessedMNISTDVS):
    """The real MNIST-DVS recordings, scale 4 (for users who have them).

    Expected layout (the unzipped grabbed_data{d}.zip archives of
    http://www2.imse-cnm.csic.es/caviar/MNISTDVS.html): ``root/grabbed_data{d}/scale4/*_{NNNN}.aedat``
    for d = 0..9, NNNN the recording number 1..1000 (e.g. mnist_0_scale04_0001.aedat). `n_per_class`
    keeps the first recordings of each digit.
    """

    title = "MNIST-DVS (real recordings, scale 4)"

    def __init__(self, root: str | Path, train: bool = True, dt: float = 25_000,
                 transform: Callable | None = None, n_per_class: int | None = None):
        super().__init__(dt, transform, n_per_class)
        self.root, self.train = Path(root), train
        layout = ("expected root/grabbed_data{d}/scale4/*_{NNNN}.aedat for digits d = 0..9 and recordings "
                  "NNNN = 1..1000, i.e. the unzipped grabbed_data{d}.zip archives of MNIST-DVS from "
                  "http://www2.imse-cnm.csic.es/caviar/MNISTDVS.html (or use EmulatedMNISTDVS)")
        if not self.root.is_dir():
            raise FileNotFoundError(f"MNIST-DVS root {self.root} is not a directory; {layout}")
        self.files: list[Path] = []
        labels = []
        for digit in range(10):
            for path in sorted((self.root / f"grabbed_data{digit}" / "scale4").glob("*.aedat")):
                match = _RECORDING.search(path.name)
                if match is None:
                    raise ValueError(f"{path}: cannot read the recording number; {layout}")
                if (int(match.group(1)) <= N_TRAIN_RECORDINGS) == train:
                    self.files.append(path)
                    labels.append(digit)
        if not self.files:
            raise FileNotFoundError(f"no {'train' if train else 'test'} recordings under {self.root}; {layout}")
        keep = _first_per_class(torch.tensor(labels), n_per_class).tolist()  # the first recordings of each digit
        self.files, self.labels = [self.files[i] for i in keep], torch.tensor(labels)[keep]

    def raw_events(self, i: int) -> np.ndarray:
        return read_aedat(self.files[i])

    def __repr__(self) -> str:
        return (f"MNISTDVS(real recordings, {'train' if self.train else 'test'}, {len(self)} recordings "
                f"from {self.root}, dt={self.dt:g} µs, T={self.T})")


class EmulatedMNISTDVS(_PreprocessedMNISTDVS):
    """MNIST-DVS **emulated** from the MNIST chain's digits with the DVS emulator (`dvs.py`).

    Each digit (28x28 px, the scale-4 size on the sensor) moves on a slow circle (`speed` px/s)
    centred on the crop, filmed for 2 s and written in the real sensor's geometry (raw x = 127 - x),
    so the real preprocessing applies. train/test = the MNIST chain's train/test split;
    `n_per_class` keeps the first digits of each class. Built once, cached under the data dir.
    """

    title = "MNIST-DVS (emulated from MNIST digits)"
    BATCH = 64  # digits emulated together

    def __init__(self, train: bool = True, dt: float = 25_000, transform: Callable | None = None,
                 n_per_class: int | None = None, config: DVSConfig = DVSConfig(), speed: float = 6.0,
                 verbose: bool = True):
        super().__init__(dt, transform, n_per_class)
        self.train, self.config, self.speed = train, config, speed
        mnist = load_mnist("train" if train else "test", verbose=False)
        keep = _first_per_class(mnist.labels, n_per_class)  # [N]
        key = json.dumps({"format": 1, "source": mnist.source.split(" (")[0], "n_source": mnist.n_source,
                          "train": train, "n_per_class": n_per_class, "config": asdict(config), "speed": speed})
        self.cache = data_dir() / "mnist-dvs-emulated" / f"{hashlib.sha256(key.encode()).hexdigest()[:16]}.npz"
        if not self.cache.exists():
            self._build(mnist.images[keep], mnist.labels[keep], key, verbose)
        start = time.perf_counter()
        with np.load(self.cache) as f:
            self._x, self._y, self._t, self._p = f["x"], f["y"], f["t"], f["p"]  # [E] all recordings
            self._offsets, self.labels = f["offsets"], torch.from_numpy(f["labels"].astype(np.int64))  # [N + 1], [N]
        self.load_s = time.perf_counter() - start

    def _build(self, images: torch.Tensor, labels: torch.Tensor, key: str, verbose: bool) -> None:
        chunks = []
        shift = CROP[0] + (CROP[1] - CROP[0]) / 2  # the crop's centre, where an unmoved digit sits
        for first in tqdm(range(0, len(labels), self.BATCH), desc="emulating MNIST-DVS", disable=not verbose):
            batch = images[first:first + self.BATCH]  # [b, 28, 28]
            seed = first if self.train else 10**6 + first  # train and test digits move differently
            video = moving_digit_video(batch, DURATION_US, self.config.step_us, self.speed, seed=seed)  # [S, b, H, W]
            origin = round(shift - (video.shape[-1] - 1) / 2)  # frame pixel 0 on the (flipped) sensor
            for events in emulate_dvs(video, self.config, seed=seed):
                chunks.append((127 - (events["x"] + origin), events["y"] + origin, events["t"], events["p"]))
        counts = [len(c[0]) for c in chunks]
        self.cache.parent.mkdir(parents=True, exist_ok=True)
        partial = self.cache.with_suffix(".partial.npz")
        np.savez(partial, x=np.concatenate([c[0] for c in chunks]).astype(np.uint8),
                 y=np.concatenate([c[1] for c in chunks]).astype(np.uint8),
                 t=np.concatenate([c[2] for c in chunks]).astype(np.uint32),
                 p=np.concatenate([c[3] for c in chunks]), offsets=np.concatenate([[0], np.cumsum(counts)]),
                 labels=labels.numpy().astype(np.uint8), key=key)
        partial.replace(self.cache)

    def raw_events(self, i: int) -> np.ndarray:
        s = slice(self._offsets[i], self._offsets[i + 1])
        return make_events(self._x[s], self._y[s], self._t[s], self._p[s])

    def __repr__(self) -> str:
        return (f"EmulatedMNISTDVS(emulated, {'train' if self.train else 'test'}, {len(self)} recordings, "
                f"dt={self.dt:g} µs, T={self.T}, cache={self.cache})")


def _first_per_class(labels: torch.Tensor, n: int | None) -> torch.Tensor:
    """Indices of the first n digits of every class (all if n is None), in their original order."""
    if n is None:
        return torch.arange(len(labels))
    rank = torch.zeros_like(labels)
    for c in range(10):
        is_c = labels == c
        rank[is_c] = torch.arange(int(is_c.sum()))
    return torch.nonzero(rank < n).flatten()
