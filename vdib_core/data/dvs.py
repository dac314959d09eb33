"""A DVS (event camera) emulator and the moving-digit videos it films.

Each pixel compares its log intensity L = log(I + black_level) with the level it had at its last
event and emits an ON (p = 1) or OFF (p = 0) event each time the difference crosses its own contrast
threshold (fixed per-pixel mismatch), at most one event per refractory period; event times are
interpolated linearly between video frames, and background noise events are added. Vectorised over
pixels and videos: Python loops only over the video frames.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from .events import make_events


@dataclass(frozen=True)
class DVSConfig:
    threshold: float = 0.3          # mean contrast threshold C (log-intensity units)
    threshold_mismatch: float = 0.05  # per-pixel thresholds C · exp(σ N(0, 1)), drawn separately for ON and OFF
    refractory_us: int = 1000       # at most step_us / refractory_us events per pixel and frame
    noise_hz: float = 0.05          # background events per pixel per second (random polarity)
    black_level: float = 0.1        # luminance of a black screen pixel, relative to white = 1
    step_us: int = 5000             # time between video frames
    seed: int = 0                   # the sensor: its threshold-mismatch pattern


def emulate_dvs(video: torch.Tensor, config: DVSConfig = DVSConfig(), seed: int = 0) -> list[np.ndarray]:
    """Events of B videos [S, B, H, W] (intensities in [0, 1], frame k at k · step_us µs).

    Returns B event arrays (tonic's dtype; x, y in video pixels; sorted by t). The reference levels
    start at the first frame, so a static video yields only noise events. `seed` drives the noise.
    """
    if not isinstance(video, torch.Tensor) or video.dim() != 4 or not video.is_floating_point():
        raise ValueError(f"video must be a float tensor [S, B, H, W], got {getattr(video, 'shape', type(video))}")
    if video.numel() and (video.min() < 0 or video.max() > 1):
        raise ValueError("video intensities must be in [0, 1]")
    S, B, H, W = video.shape
    log_i = torch.log(video + config.black_level)  # [S, B, H, W]
    sensor = torch.Generator().manual_seed(config.seed)
    c_on, c_off = config.threshold * torch.exp(config.threshold_mismatch * torch.randn(2, H, W, generator=sensor))
    n_max = max(1, config.step_us // config.refractory_us)
    ref = log_i[0].clone()  # [B, H, W] level at each pixel's last event
    found = []  # per frame: (b, y, x, p, t) of its events
    for k in range(1, S):
        diff = log_i[k] - ref  # [B, H, W]
        c = torch.where(diff > 0, c_on, c_off)  # [B, H, W]
        n_cross = torch.floor(diff.abs() / c)  # [B, H, W] thresholds crossed since the last event
        n = n_cross.clamp(max=n_max)
        # after the refractory cap the pixel resets to the present level (the rest is lost)
        ref = torch.where(n_cross > n_max, log_i[k], ref + torch.sign(diff) * n * c)
        b, y, x = (n > 0).nonzero(as_tuple=True)  # [F] firing pixels
        count = n[b, y, x].long()  # [F] events of each firing pixel
        pixel = torch.repeat_interleave(torch.arange(len(b)), count)  # [E] firing pixel of each event
        j = torch.arange(len(pixel)) - (torch.cumsum(count, 0) - count)[pixel] + 1  # [E] its j-th crossing
        d = diff[b, y, x]  # [F]
        frac = (c[b, y, x] / d.abs())[pixel] * j  # [E] fraction of the frame interval at the crossing
        t = ((k - 1) + frac.clamp(max=1.0)) * config.step_us  # [E] µs
        found.append((b[pixel], y[pixel], x[pixel], (d[pixel] > 0).long(), t.round().long()))
    if found:
        b, y, x, p, t = (torch.cat(v).numpy() for v in zip(*found))
    else:
        b = y = x = p = t = np.zeros(0, np.int64)
    b, y, x, p, t = _add_noise((b, y, x, p, t), B, H, W, (S - 1) * config.step_us, config.noise_hz, seed)
    order = np.lexsort((t, b))
    splits = np.searchsorted(b[order], np.arange(1, B))
    return [make_events(x[i], y[i], t[i], p[i]) for i in np.split(order, splits)]


def _add_noise(events, B, H, W, duration_us, rate_hz, seed):
    """Background activity: Poisson(rate · pixels · duration) events per video, uniform in space and time."""
    rng = np.random.default_rng(seed)
    n = rng.poisson(rate_hz * H * W * duration_us * 1e-6, size=B)  # [B]
    total = int(n.sum())
    noise = (np.repeat(np.arange(B), n), rng.integers(0, H, total), rng.integers(0, W, total),
             rng.integers(0, 2, total), rng.integers(0, max(duration_us, 1), total))
    return tuple(np.concatenate([e, z]) for e, z in zip(events, noise))


def moving_digit_video(images: torch.Tensor, duration_us: int = 2_000_000, step_us: int = 5000,
                       speed: float = 8.0, radius: float = 2.0, margin: int = 3,
                       seed: int = 0) -> torch.Tensor:
    """Digits [B, h, w] in [0, 1] on a black screen, each moving on a circle at `speed` px/s.

    Radius, start angle and direction are random per digit (radius · U(0.75, 1.25)); the digit is
    resampled bilinearly at its sub-pixel position. Returns [S, B, h + 2 margin, w + 2 margin] with
    S = duration / step + 1 frames; the digit is centred in the frame when its offset is 0.
    """
    if images.dim() != 3:
        raise ValueError(f"images must be [B, h, w], got {tuple(images.shape)}")
    if margin < math.ceil(1.25 * radius):
        raise ValueError(f"margin {margin} px is too small for a path of radius up to {1.25 * radius:.2f} px")
    B, h, w = images.shape
    S = duration_us // step_us + 1
    rng = np.random.default_rng(seed)
    r = radius * rng.uniform(0.75, 1.25, B)  # [B]
    phase0 = rng.uniform(0, 2 * math.pi, B)  # [B]
    direction = rng.choice([-1.0, 1.0], B)  # [B]
    t = np.arange(S) * step_us * 1e-6  # [S] seconds
    phase = phase0 + direction * speed / r * t[:, None]  # [S, B] constant speed along the circle
    dx, dy = r * np.cos(phase), r * np.sin(phase)  # [S, B] offset of the digit in px
    H, W = h + 2 * margin, w + 2 * margin
    # separable bilinear resampling: frame = Ry · image · Rxᵀ with tent weights max(0, 1 - |distance|)
    ry = _tent(torch.arange(H) - margin, torch.from_numpy(dy), h)  # [S, B, H, h]
    rx = _tent(torch.arange(W) - margin, torch.from_numpy(dx), w)  # [S, B, W, w]
    frames = ry @ images.float() @ rx.transpose(-1, -2)  # [S, B, H, W]
    return frames.clamp(0, 1)


def _tent(positions: torch.Tensor, offset: torch.Tensor, size: int) -> torch.Tensor:
    """Bilinear weights [S, B, P, size] of image pixels 0..size-1 for frame positions shifted by offset [S, B]."""
    source = positions.view(1, 1, -1, 1) - offset.float().unsqueeze(-1).unsqueeze(-1)  # [S, B, P, 1]
    return (1 - (source - torch.arange(size).view(1, 1, 1, size)).abs()).clamp(min=0)  # [S, B, P, size]
