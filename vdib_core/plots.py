"""Small plotting helpers for the book's figures (matplotlib; imported only by the chapters).

Spike arrays follow the package convention, time first: one sequence is [T, N].
"""
from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure



def to_numpy(a: np.ndarray | torch.Tensor) -> np.ndarray:
    """A numpy copy of a tensor (detached, on the CPU) or an array."""
    if isinstance(a, torch.Tensor):
        return a.detach().cpu().numpy()
    return np.asarray(a)


def raster(ax: Axes, spikes: np.ndarray | torch.Tensor, *, color: str = "k", size: float = 4.0,
           title: str | None = None, ylabel: str = "neuron", xlabel: str = "time step $t$",
           order: Sequence[int] | None = None, as_image: bool | None = None) -> Axes:
    """Spike raster of one sequence spikes [T, N] (0/1): neuron n's spike at step t is drawn at (t, n).

    Small populations are drawn as ticks (marker size `size`); large ones (`as_image`, by default
    when N > 60) as a binary image, one pixel row per neuron, so that dense rasters stay readable.
    `order`: optional permutation of the N neurons (row k of the plot shows neuron order[k]).
    """
    s = to_numpy(spikes)
    if s.ndim != 2:
        raise ValueError(f"raster expects one sequence of spikes [T, N], got shape {s.shape}")
    if order is not None:
        s = s[:, np.asarray(order)]
    if as_image if as_image is not None else s.shape[1] > 60:
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


def image_grid(images: np.ndarray | torch.Tensor, *, ncols: int | None = None,
               titles: Sequence[str] | None = None, cmap: str = "gray_r", vmin: float | None = 0.0,
               vmax: float | None = 1.0, size: float = 1.6, suptitle: str | None = None,
               colorbar: bool = False) -> Figure:
    """A grid of images [n, H, W] (or [n, H*W] with square H = W); returns the figure."""
    a = to_numpy(images)
    if a.ndim == 2:
        side = int(round(np.sqrt(a.shape[1])))
        if side * side != a.shape[1]:
            raise ValueError(f"flat images of {a.shape[1]} pixels are not square; pass [n, H, W]")
        a = a.reshape(len(a), side, side)
    if a.ndim != 3:
        raise ValueError(f"image_grid expects images [n, H, W], got shape {a.shape}")
    n = len(a)
    ncols = min(n, ncols or n)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + (0.3 if suptitle else 0)),
                             squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k < n:
            im = ax.imshow(a[k], cmap=cmap, vmin=vmin, vmax=vmax)
            if titles is not None:
                ax.set_title(titles[k], fontsize=9)
            if colorbar:
                fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig
