"""Spike encoders for images (book chapter "Spikes and how they are read").

Both return time-first binary tensors [T, B, N] (float32 0/1), ready for the encoding SNN.
"""
from __future__ import annotations

import torch


def _check_intensities(images: torch.Tensor, T: int) -> torch.Tensor:
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"images must be a torch.Tensor, got {type(images).__name__}")
    if not torch.is_floating_point(images):
        raise TypeError(f"images must be a float tensor with values in [0, 1], got dtype {images.dtype}")
    if images.dim() < 1:
        raise ValueError("images must have a batch dimension: expected [B, ...] with values in [0, 1]")
    if not isinstance(T, int) or T < 1:
        raise ValueError(f"T must be a positive int, got {T!r}")
    if images.numel() and (images.min() < 0 or images.max() > 1 or torch.isnan(images).any()):
        raise ValueError(
            f"images must have values in [0, 1], got range [{images.min().item():.3g}, {images.max().item():.3g}]"
        )
    return images.reshape(images.shape[0], -1)  # [B, N]


def rate_encode(images: torch.Tensor, T: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Rate code: every pixel spikes independently at every step with probability = its intensity.

    images [B, ...] in [0, 1] -> spikes [T, B, N] with N = prod(...).
    """
    p = _check_intensities(images, T)  # [B, N]
    return torch.bernoulli(p.unsqueeze(0).expand(T, *p.shape), generator=generator)  # [T, B, N]


def latency_encode(images: torch.Tensor, T: int, threshold: float = 0.01) -> torch.Tensor:
    """Latency (time-to-first-spike) code: one spike per pixel, earlier for brighter pixels.

    Intensity 1 spikes at t = 0, intensity -> threshold spikes at t = T - 1, linearly in between;
    pixels at or below `threshold` never spike. images [B, ...] in [0, 1] -> spikes [T, B, N].
    """
    p = _check_intensities(images, T)  # [B, N]
    if not 0 <= threshold < 1:
        raise ValueError(f"threshold must be in [0, 1), got {threshold}")
    t_spike = torch.round((1 - p) / (1 - threshold) * (T - 1)).long().clamp(0, T - 1)  # [B, N]
    steps = torch.arange(T, device=p.device).view(T, 1, 1)  # [T, 1, 1]
    return ((steps == t_spike.unsqueeze(0)) & (p > threshold).unsqueeze(0)).float()  # [T, B, N]
