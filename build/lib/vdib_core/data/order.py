"""A toy task where only spike timing carries the answer (book chapter "Spikes and how they are read")."""
from __future__ import annotations

import torch


def spike_order_task(n: int, T: int = 12, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Two input neurons, A and B, each spike exactly once; the label is 0 if A fires first, 1 if B does.

    The first spike falls in steps 0..2 and the second 3..5 steps later, so spike counts are identical in
    both classes and only the order carries the label. Returns X [n, T, 2] (batch-first 0/1) and Y [n].
    """
    if n < 1 or T < 9:
        raise ValueError(f"need n >= 1 and T >= 9 (latest spike at step 7), got n={n}, T={T}")
    g = torch.Generator().manual_seed(seed)
    Y = torch.randint(0, 2, (n,), generator=g)
    early = torch.randint(0, 3, (n,), generator=g)
    late = early + 3 + torch.randint(0, 3, (n,), generator=g)
    X = torch.zeros(n, T, 2)
    rows = torch.arange(n)
    X[rows, torch.where(Y == 0, early, late), 0] = 1
    X[rows, torch.where(Y == 0, late, early), 1] = 1
    return X, Y
