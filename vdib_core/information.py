"""Directed-information estimators (book chapter "Information bottleneck and directed information",
sections "Mutual information is blind to direction" and "Estimating directed information from binary
sequences").

For binary sequences x, y the directed-information rate (Massey) with memory m is estimated as the
stationary per-step term

    I(x → y)/T ≈ I(x_{t−m..t} ; y_t | y_{t−m..t−1})                                          (§2)
               = H(y_t | y_{t−m..t−1}) − H(y_t | y_{t−m..t−1}, x_{t−m..t})      [bits per step]

over the steps t ≥ m that have a full context. Two estimators share this interface:

- `directed_information`: plug-in (empirical counts of contexts), optional Miller–Madow correction;
  `directed_information_ci` adds a block-bootstrap confidence interval.
- `directed_information_ctw`: a universal estimator from context-tree weighting (CTW), which needs far
  fewer samples when `memory` is generous and the true dependence is short.

Sequences are [T] or [n_sequences, T] here (counts pooled over sequences, never across their
boundaries); spike helpers take the package's time-first [T, B, N] and convert.
"""
from __future__ import annotations

import math
from functools import partial
from typing import NamedTuple

import numpy as np
import torch

MAX_MEMORY = 30  # a context code has 2·memory + 2 bits and must fit in an int64
_DENSE_CODES = 1 << 22  # count with np.bincount up to this many codes, with np.unique above
_MAX_BOOT_CELLS = 1 << 23  # size cap of the [n_blocks, n_codes] count table of the bootstrap


# ---------------------------------------------------------------------------------------------
# input checking and context codes


def _numpy(a) -> np.ndarray:
    return a.detach().cpu().numpy() if torch.is_tensor(a) else np.asarray(a)


def _binary_array(a, name: str) -> np.ndarray:
    """numpy / torch / list of 0/1 values -> int64 array [n_sequences, T]."""
    a = _numpy(a)
    if a.dtype != bool and not (np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating)):
        raise ValueError(f"{name} must hold 0/1 values (bool, int or float), got dtype {a.dtype}")
    if a.ndim not in (1, 2):
        raise ValueError(f"{name} must have shape [T] or [n_sequences, T], got shape {list(a.shape)}")
    if a.size and ((a != 0) & (a != 1)).any():
        raise ValueError(f"{name} must be binary (only 0 and 1), found values {np.unique(a)[:5].tolist()}...")
    return np.atleast_2d(a).astype(np.int64)


def _check(x, y, memory: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Validated x, y [n_sequences, T] and memory."""
    if isinstance(memory, bool) or not isinstance(memory, (int, np.integer)):
        raise ValueError(f"memory must be an integer number of steps, got {memory!r}")
    memory = int(memory)
    if not 0 <= memory <= MAX_MEMORY:
        raise ValueError(f"memory must be in [0, {MAX_MEMORY}], got {memory}")
    x_shape = list(np.shape(x))
    y_shape = list(np.shape(y))
    if x_shape != y_shape:
        raise ValueError(f"x and y must have the same shape, got {x_shape} and {y_shape}")
    xa, ya = _binary_array(x, "x"), _binary_array(y, "y")
    if xa.shape[1] <= memory:
        raise ValueError(f"sequences of length T={xa.shape[1]} are too short for memory={memory}: "
                         f"need T > memory (at least one step with a full context)")
    return xa, ya, memory


def _pack(parts: list[tuple[np.ndarray, int]], memory: int) -> np.ndarray:
    """Pack the bits a[:, t − lag] of each (a, lag) in `parts` (bit k = k-th part) for every step
    t = memory..T−1 of every sequence into one int64 code per step -> [n_sequences · (T − memory)].
    Slicing each row separately keeps every context inside its own sequence."""
    T = parts[0][0].shape[1]
    code = np.zeros((parts[0][0].shape[0], T - memory), dtype=np.int64)  # [n_sequences, T − m]
    for bit, (a, lag) in enumerate(parts):
        code |= a[:, memory - lag:T - lag] << bit
    return code.ravel()


def _plugin_codes(x: np.ndarray, y: np.ndarray, memory: int) -> np.ndarray:
    """Joint code per step: bits 0..m = x_{t−0..t−m}, bits m+1..2m = y_{t−1..t−m}, bit 2m+1 = y_t."""
    parts = [(x, lag) for lag in range(memory + 1)] + [(y, lag) for lag in range(1, memory + 1)] + [(y, 0)]
    return _pack(parts, memory)


def _count(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct codes and how often each occurs (vectorised, no loop over time)."""
    if codes.size and codes.max() < _DENSE_CODES:
        counts = np.bincount(codes)
        values = np.flatnonzero(counts)
        return values, counts[values]
    return np.unique(codes, return_counts=True)


def _group(counts: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Sum counts [..., K] over the codes that share a key -> [..., K_groups]."""
    order = np.argsort(keys, kind="stable")
    k = keys[order]
    starts = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])
    return np.add.reduceat(counts[..., order], starts, axis=-1)


def entropy_bits(counts: np.ndarray, miller_madow: bool) -> np.ndarray:
    """Plug-in entropy (bits) of the empirical distribution in counts [..., K]; Miller–Madow adds
    (K_observed − 1) / (2 N ln 2)."""
    counts = np.asarray(counts, dtype=np.float64)
    n = counts.sum(-1)
    c_log_c = np.where(counts > 0, counts * np.log2(np.where(counts > 0, counts, 1.0)), 0.0)
    h = np.log2(n) - c_log_c.sum(-1) / n
    if miller_madow:
        h = h + ((counts > 0).sum(-1) - 1) / (2 * n * math.log(2))
    return h


def _plugin_rate(values: np.ndarray, counts: np.ndarray, memory: int, miller_madow: bool) -> np.ndarray:
    """I(x_{t−m..t}; y_t | y_{t−m..t−1}) = H(y_t, y_past) − H(y_past) − H(y_t, y_past, x) + H(y_past, x)
    from counts [..., K] of the joint codes `values` [K]."""
    m = memory
    ctx = values & ((1 << (2 * m + 1)) - 1)  # (x window, y past)
    y_and_past = values >> (m + 1)  # (y past, y_t)
    y_past = y_and_past & ((1 << m) - 1)

    def h(keys: np.ndarray) -> np.ndarray:
        return entropy_bits(_group(counts, keys), miller_madow)

    return h(y_and_past) - h(y_past) - entropy_bits(counts, miller_madow) + h(ctx)


def _correction_flag(correction: str | None) -> bool:
    if correction not in (None, "miller_madow"):
        raise ValueError(f"unknown correction {correction!r}; expected None or 'miller_madow'")
    return correction == "miller_madow"


# ---------------------------------------------------------------------------------------------
# plug-in estimator


def directed_information(x, y, memory: int, *, correction: str | None = None) -> float:
    """Plug-in estimate of the directed-information rate I(x → y)/T in bits per step (book chapter "Information
    bottleneck and directed information", section "Estimating directed information from binary sequences"):
    I(x_{t−m..t}; y_t | y_{t−m..t−1}) from the counts of (y past, x past and current, y_t) over all
    steps t ≥ m, pooled over sequences when x, y are [n_sequences, T].

    x, y: binary, [T] or [n_sequences, T], numpy or torch. `correction='miller_madow'` removes the
    first-order bias (the plug-in overestimates by ≈ (#contexts(x, y past) − #contexts(y past)) /
    (2 N ln 2) bits when x and y are independent).

    Note: because x_t is in the condition, an instantaneous dependence (y_t depends on x_t) counts in
    both directions: for y_t = x_t ⊕ n_t both I(x → y) and I(y → x) equal 1 − H_b(p).
    """
    xa, ya, memory = _check(x, y, memory)
    values, counts = _count(_plugin_codes(xa, ya, memory))
    return float(_plugin_rate(values, counts, memory, _correction_flag(correction)))


class DIEstimate(NamedTuple):
    rate: float  # bits per step, the point estimate of `directed_information`
    low: float  # confidence interval (basic block bootstrap)
    high: float
    se: float  # bootstrap standard error
    block: int  # block length used (steps)


def directed_information_ci(x, y, memory: int, *, level: float = 0.95, n_boot: int = 1000,
                            block: int | None = None, correction: str | None = None,
                            seed: int = 0) -> DIEstimate:
    """`directed_information` with a block-bootstrap confidence interval.

    The per-step context codes are cut into non-overlapping blocks of `block` consecutive steps
    (default max(2(m+1), N^{1/3}, N/1000)); blocks are resampled with replacement and the estimate is
    recomputed from the resampled counts. The interval is the basic (reverse-percentile) one,
    [2 Î − q_{(1+level)/2}, 2 Î − q_{(1−level)/2}], which undoes the bootstrap's estimate of the plug-in
    bias instead of doubling it; it may dip below 0 when the rate is 0.
    """
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    if n_boot < 10:
        raise ValueError(f"n_boot must be at least 10, got {n_boot}")
    xa, ya, memory = _check(x, y, memory)
    miller_madow = _correction_flag(correction)
    values, inverse = np.unique(_plugin_codes(xa, ya, memory), return_inverse=True)
    n = inverse.size
    if block is None:
        block = max(2 * (memory + 1), round(n ** (1 / 3)), math.ceil(n / 1000))
    if block < 1:
        raise ValueError(f"block must be a positive number of steps, got {block}")
    n_blocks = min(n // block, _MAX_BOOT_CELLS // values.size)  # capped: the count table stays < 64 MB
    if n_blocks < 10:
        raise ValueError(f"the bootstrap needs at least 10 blocks of block={block} steps; got {n} steps "
                         f"and {values.size} distinct contexts (use a smaller block or more data)")
    block_id = np.minimum(np.arange(n) * n_blocks // n, n_blocks - 1)  # [N], nearly equal blocks
    table = np.bincount(block_id * values.size + inverse, minlength=n_blocks * values.size)
    table = table.reshape(n_blocks, values.size).astype(np.float64)  # [n_blocks, K] counts per block
    rng = np.random.default_rng(seed)
    weights = rng.multinomial(n_blocks, np.full(n_blocks, 1 / n_blocks), size=n_boot)  # [n_boot, n_blocks]
    boot = _plugin_rate(values, weights @ table, memory, miller_madow)  # [n_boot]
    rate = float(_plugin_rate(values, table.sum(0), memory, miller_madow))
    q_low, q_high = np.quantile(boot, [(1 - level) / 2, (1 + level) / 2])
    return DIEstimate(rate, float(2 * rate - q_high), float(2 * rate - q_low), float(boot.std(ddof=1)), n // n_blocks)


# ---------------------------------------------------------------------------------------------
# processes whose directed-information rate is known in closed form (for validating estimators)


def binary_entropy(p):
    """H_b(p) = −p log2 p − (1 − p) log2(1 − p) in bits, elementwise; H_b(0) = H_b(1) = 0."""
    p = np.asarray(p, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = np.nan_to_num(-p * np.log2(p) - (1 - p) * np.log2(1 - p))
    return float(h) if h.ndim == 0 else h


def xor_channel(T: int, lag: int, p: float, rng: np.random.Generator,
                n_sequences: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """x i.i.d. Bernoulli(½), y_t = x_{t−lag} ⊕ n_t with n_t ~ Bernoulli(p): x, y of shape [T]
    (or [n_sequences, T]). Its rate I(x → y)/T is 1 − H_b(p) bits for every memory ≥ lag."""
    shape = (1 if n_sequences is None else n_sequences,)
    x_full = rng.integers(0, 2, shape + (T + lag,))
    y = x_full[:, :T] ^ (rng.random(shape + (T,)) < p)
    x = x_full[:, lag:]
    return (x[0], y[0]) if n_sequences is None else (x, y)


def xor_channel_sd(p: float, n: int) -> float:
    """Standard deviation of the mean pointwise information of the XOR channel over n steps (bits):
    log2 2(1−p) with probability 1−p, log2 2p with probability p."""
    return math.sqrt(p * (1 - p)) * math.log2((1 - p) / p) / math.sqrt(n)


def copy_or_hold(T: int, a: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """y_t = x_{t−1} with probability a, else y_{t−1}: y depends on x and on its own past. x, y [T].
    Its rate (memory ≥ 1) is H(y_t | y_{t−1}) − H(y_t | y_{t−1}, x_{t−1}) = H_b(a/2) − H_b(a)/2 bits."""
    x = rng.integers(0, 2, T + 1)
    update = rng.random(T) < a
    update[0] = True
    last_update = np.maximum.accumulate(np.where(update, np.arange(T), 0))  # [T]
    return x[1:], x[:-1][last_update]


# ---------------------------------------------------------------------------------------------
# context-tree weighting estimator


def _log_kt(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """ln of the Krichevsky–Trofimov probability of a sequence with a zeros and b ones:
    Γ(a+½)Γ(b+½) / (π Γ(a+b+1))."""
    a, b = torch.as_tensor(a, dtype=torch.float64), torch.as_tensor(b, dtype=torch.float64)
    return (torch.lgamma(a + 0.5) + torch.lgamma(b + 0.5) - torch.lgamma(a + b + 1) - math.log(math.pi)).numpy()


def _ctw_log2_prob(context: np.ndarray, symbol: np.ndarray, depth: int) -> float:
    """log2 of the CTW probability of the symbols [N] given their contexts [N] (bit k = the (k+1)-th
    most recent context symbol), for a binary context tree of the given depth with KT leaves:
    P_w(s) = ½ P_KT(s) + ½ P_w(0s) P_w(1s) at inner nodes, P_KT at depth `depth`. P_w depends only on
    the counts at each node, so it is computed bottom-up from counts, one depth at a time; unseen
    nodes have P_w = 1 and drop out."""
    values, counts = _count(context * 2 + symbol)
    nodes, inverse = np.unique(values >> 1, return_inverse=True)
    ones = np.bincount(inverse, weights=counts * (values & 1), minlength=nodes.size)  # [K]
    total = np.bincount(inverse, weights=counts, minlength=nodes.size)  # [K]
    log_w = _log_kt(total - ones, ones)  # [K] leaves
    for d in range(depth - 1, -1, -1):
        nodes, inverse = np.unique(nodes & ((1 << d) - 1), return_inverse=True)  # parents at depth d
        ones = np.bincount(inverse, weights=ones, minlength=nodes.size)
        total = np.bincount(inverse, weights=total, minlength=nodes.size)
        children = np.bincount(inverse, weights=log_w, minlength=nodes.size)  # ln Π P_w(children)
        log_w = np.logaddexp(_log_kt(total - ones, ones), children) - math.log(2)
    return float(log_w[0] / math.log(2))


def directed_information_ctw(x, y, memory: int) -> float:
    """Universal estimate of the directed-information rate I(x → y)/T in bits per step from
    context-tree weighting (Jiao, Permuter, Zhao, Kim & Weissman 2013, their first estimator):

        Î = (1/N) [ log2 Q(y || x) − log2 Q(y) ],

    Q(y || x): CTW over the contexts (x_t, y_{t−1}, x_{t−1}, …, y_{t−m}, x_{t−m}) (most recent first,
    depth 2m+1); Q(y): CTW over (y_{t−1}, …, y_{t−m}); N the steps t ≥ m, pooled over sequences.
    Same interface and conditioning as `directed_information`. CTW mixes all pruned context trees
    with a Bayesian prior, so its error is of order (leaves of the true tree)/2 · log2 N / N bits
    (an underestimate) instead of the plug-in's overestimate (all 2^(2m+1) contexts)/(2 N ln 2): use it
    when `memory` is generous and the true dependence short. It can be slightly negative.
    """
    xa, ya, memory = _check(x, y, memory)
    y_t = _pack([(ya, 0)], memory)  # [N]
    parts = [(xa, 0)]
    for lag in range(1, memory + 1):
        parts += [(ya, lag), (xa, lag)]
    y_past = _pack([(ya, lag) for lag in range(1, memory + 1)], memory) if memory else np.zeros_like(y_t)
    causal = _ctw_log2_prob(_pack(parts, memory), y_t, 2 * memory + 1)
    own = _ctw_log2_prob(y_past, y_t, memory)
    return (causal - own) / y_t.size


# ---------------------------------------------------------------------------------------------
# spike data from the model


class SpikeInformation(NamedTuple):
    per_neuron: np.ndarray  # [N] bits per step, one estimate per neuron (counts pooled over examples)
    pooled: float  # bits per step, counts pooled over examples and neurons (the "average neuron")


def spike_directed_information(x, y, memory: int, *, estimator: str = "plugin",
                               correction: str | None = None) -> SpikeInformation:
    """I(x → y)/T in bits per step between time-first spike data, e.g. an input channel or a binary
    target x [T, B] and readout spikes y [T, B, N] (compression side), or readout spikes x [T, B, N]
    and a binary target y [T, B] (relevance side). A [T, B] argument is paired with every neuron of
    the other; both may be [T, B, N]. Each example is one sequence (counts pooled over the batch).
    `pooled` also pools the neurons, which is meaningful when they are statistically alike.
    `estimator`: 'plugin' (`directed_information`, with `correction`) or 'ctw' (`directed_information_ctw`)."""
    if estimator not in ("plugin", "ctw"):
        raise ValueError(f"unknown estimator {estimator!r}; expected 'plugin' or 'ctw'")
    if estimator == "ctw" and correction is not None:
        raise ValueError("the CTW estimator takes no bias correction")
    xa, ya = _numpy(x), _numpy(y)
    if xa.ndim not in (2, 3) or ya.ndim not in (2, 3) or xa.shape[:2] != ya.shape[:2]:
        raise ValueError(f"x and y must be time-first [T, B] or [T, B, N] with the same T and B, "
                         f"got {list(xa.shape)} and {list(ya.shape)}")
    xa = xa if xa.ndim == 3 else xa[..., None]  # [T, B, N or 1]
    ya = ya if ya.ndim == 3 else ya[..., None]
    if xa.shape[2] != ya.shape[2] and 1 not in (xa.shape[2], ya.shape[2]):
        raise ValueError(f"x and y have different numbers of neurons: {xa.shape[2]} and {ya.shape[2]}")
    T, B, n = xa.shape[0], xa.shape[1], max(xa.shape[2], ya.shape[2])
    xs = np.broadcast_to(xa, (T, B, n)).transpose(2, 1, 0)  # [N, B, T]
    ys = np.broadcast_to(ya, (T, B, n)).transpose(2, 1, 0)
    di = (partial(directed_information_ctw, memory=memory) if estimator == "ctw"
          else partial(directed_information, memory=memory, correction=correction))
    per_neuron = np.array([di(xs[i], ys[i]) for i in range(n)])  # [N]
    return SpikeInformation(per_neuron, di(xs.reshape(-1, T), ys.reshape(-1, T)))
