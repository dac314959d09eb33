"""Plotting helpers for the book's figures (matplotlib; imported only by the chapters).

Spike arrays follow the package convention, time first: one sequence is [T, N].
"""
from __future__ import annotations

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.colors import ListedColormap


def raster(ax: Axes, spikes: np.ndarray | torch.Tensor, *, color: str = "k", size: float = 4.0,
           title: str | None = None, ylabel: str = "neuron", xlabel: str = "time step $t$") -> Axes:
    """Spike raster of one sequence spikes [T, N] (0/1): neuron n's spike at step t is drawn at (t, n).

    Small populations are drawn as ticks (marker size `size`); large ones (N > 60) as a binary image,
    one pixel row per neuron, so that dense rasters stay readable.
    """
    s = spikes.detach().cpu().numpy() if isinstance(spikes, torch.Tensor) else np.asarray(spikes)
    if s.ndim != 2:
        raise ValueError(f"raster expects one sequence of spikes [T, N], got shape {s.shape}")
    if s.shape[1] > 60:
        cmap = ListedColormap(["white", color])
        ax.imshow(s.T > 0, aspect="auto", origin="lower", interpolation="nearest", cmap=cmap, vmin=0, vmax=1,
                  extent=(-0.5, s.shape[0] - 0.5, -0.5, s.shape[1] - 0.5))
    else:
        t, n = np.nonzero(s)
        ax.scatter(t, n, s=size, marker="|", color=color, linewidths=max(0.5, np.sqrt(size) / 3))
    ax.set_xlim(-0.5, s.shape[0] - 0.5)
    ax.set_ylim(-0.5, s.shape[1] - 0.5)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    return ax
