"""Drifting blobs: the predictive-coding task of the book chapter "Efficient predictive coding".

Two blobs drift on a ring of 20 input neurons; x_t lights the neuron nearest to each blob (1 or 2
active inputs). The target y_t = x_{t+δ} is one of 210 patterns (20 single + 190 pairs).
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import torch

N_INPUTS = 20
N_CLASSES = N_INPUTS + N_INPUTS * (N_INPUTS - 1) // 2  # 210
GRID = -math.pi + 2 * math.pi * np.arange(N_INPUTS) / N_INPUTS  # [20] neuron positions on the ring

# class of the pattern lighting neurons i <= j (i == j: a single neuron): singles first, then pairs
_PAIR_CLASS = np.full((N_INPUTS, N_INPUTS), -1, dtype=np.int64)  # [20, 20]
_PAIR_CLASS[np.arange(N_INPUTS), np.arange(N_INPUTS)] = np.arange(N_INPUTS)
_I, _J = np.triu_indices(N_INPUTS, k=1)  # [190] pairs in lexicographic order
_PAIR_CLASS[_I, _J] = N_INPUTS + np.arange(len(_I))
_CLASS_NEURONS = np.concatenate([np.stack([np.arange(N_INPUTS)] * 2, 1), np.stack([_I, _J], 1)])  # [210, 2]


def drifting_blobs(T: int, seed: int = 0, batch: int | None = None) -> torch.Tensor:
    """Binary inputs x_t: [T, 20], or [T, batch, 20] independent sequences.

    Per blob: θ_t = θ_{t-1} + v_{t-1}, v_t = 0.9 v_{t-1} - 0.14 η_t, A_t = 0.99 A_{t-1} + 0.01 η_t
    (one η_t ~ N(0, 1) drives both), θ_0 ~ U(-π, π), v_0 = 1, A_0 = 0.5; the blob sits at
    wrap(A_t · N(θ_t, 0.45²)) (the t = 0 sample unwrapped) and lights the grid neuron nearest to
    it in plain abs(grid − position). x_t = OR of the two blobs.
    """
    if not isinstance(T, int) or T < 1:
        raise ValueError(f"T must be a positive int, got {T!r}")
    if batch is not None and (not isinstance(batch, int) or batch < 1):
        raise ValueError(f"batch must be None or a positive int, got {batch!r}")
    B = 1 if batch is None else batch
    rng = np.random.default_rng(seed)
    theta = rng.uniform(-math.pi, math.pi, size=(B, 2))  # [B, 2] one column per blob
    v = np.ones((B, 2))
    A = np.full((B, 2), 0.5)
    position = np.empty((T, B, 2))  # [T, B, 2]
    for t in range(T):
        if t > 0:
            eta = rng.standard_normal((B, 2))
            theta, v, A = theta + v, 0.9 * v - 0.14 * eta, 0.99 * A + 0.01 * eta
        position[t] = A * rng.normal(theta, 0.45)
    position[1:] = (position[1:] + math.pi) % (2 * math.pi) - math.pi  # wrap to [-π, π)
    nearest = np.abs(position[..., None] - GRID).argmin(-1)  # [T, B, 2]
    x = np.zeros((T, B, N_INPUTS), dtype=np.float32)  # [T, B, 20]
    np.put_along_axis(x, nearest, 1.0, axis=-1)
    x = torch.from_numpy(x)
    return x[:, 0] if batch is None else x


def _check_patterns(x: torch.Tensor) -> torch.Tensor:
    x = torch.as_tensor(x)
    if x.dim() < 1 or x.shape[-1] != N_INPUTS:
        raise ValueError(f"patterns must have shape [..., {N_INPUTS}], got {tuple(x.shape)}")
    if not ((x == 0) | (x == 1)).all():
        raise ValueError("patterns must be binary (0/1)")
    active = x.sum(-1)
    if ((active < 1) | (active > 2)).any():
        raise ValueError("every pattern must have 1 or 2 active inputs")
    return x


def pattern_to_class(x: torch.Tensor) -> torch.Tensor:
    """Class index in [0, 210) of binary patterns [..., 20] with 1 or 2 ones: singles 0..19, pairs after."""
    x = _check_patterns(x) > 0  # [..., 20]
    first = x.int().argmax(-1)  # [...] lowest active neuron
    last = N_INPUTS - 1 - x.flip(-1).int().argmax(-1)  # [...] highest active neuron
    return torch.as_tensor(_PAIR_CLASS[first.numpy(), last.numpy()])  # [...] (0-d for one pattern)


def class_to_pattern(c: torch.Tensor) -> torch.Tensor:
    """Binary patterns [..., 20] (float 0/1) of class indices [...] in [0, 210); inverse of pattern_to_class."""
    c = torch.as_tensor(c)
    if c.is_floating_point() or c.is_complex() or c.dtype == torch.bool:
        raise TypeError(f"class indices must be integers, got dtype {c.dtype}")
    if c.numel() and (c.min() < 0 or c.max() >= N_CLASSES):
        raise ValueError(f"class indices must be in [0, {N_CLASSES}), got range [{c.min()}, {c.max()}]")
    neurons = torch.from_numpy(_CLASS_NEURONS)[c]  # [..., 2] (equal for a single)
    x = torch.zeros(*c.shape, N_INPUTS)  # [..., 20]
    return x.scatter_(-1, neurons, 1.0)


class BlobTargets(NamedTuple):
    inputs: torch.Tensor   # [T', ..., 20] x_t for t in times
    targets: torch.Tensor  # [T', ...] class of y_t = x_{t+δ}
    times: range           # the t for which x_{t+δ} exists: max(0, -δ) <= t < T - max(0, δ)


def blob_targets(x: torch.Tensor, delta: int) -> BlobTargets:
    """Align inputs with targets y_t = x_{t+δ} over the valid range of t.

    x [T, ..., 20]; δ > 0 predicts the future, δ < 0 recalls the past, δ = 0 copies. Only the
    T − abs(δ) steps with both x_t and x_{t+δ} inside the sequence are kept (`times`).
    """
    if not isinstance(delta, (int, np.integer)) or isinstance(delta, bool):
        raise TypeError(f"delta must be an int, got {type(delta).__name__}")
    T = x.shape[0]
    if abs(delta) >= T:
        raise ValueError(f"|delta| must be < T = {T} (no t has x_(t+delta) in the sequence), got {delta}")
    times = range(max(0, -delta), T - max(0, delta))
    inputs = x[times.start:times.stop]  # [T', ..., 20]
    targets = pattern_to_class(x[times.start + delta:times.stop + delta])  # [T', ...]
    return BlobTargets(inputs, targets, times)
