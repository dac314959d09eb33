"""Directed-information estimators on processes whose rate is known in closed form.

Tolerances come from the sample size N (steps with a full context), never from tuning:
- plug-in bias (first order): (#contexts of (y past, x window) − #contexts of y past) / (2 N ln 2),
  counting only contexts and cells of positive probability;
- for independent sequences, 2 N ln 2 · Î is ≈ χ² with that many degrees of freedom;
- statistical error σ = sd(pointwise information) / √N; we allow 5σ.
- CTW: E[Î] lies in [I − R_xy/N, I + R_y/N], R = the CTW redundancy of the true context tree with
  k leaves, ≤ (2k − 1) + k(½ log2(N/k) + 1) bits (Willems, Shtarkov & Tjalkens 1995).
"""
import math
import time

import numpy as np
import pytest
import torch

from vdib_core import directed_information, information_plane, spike_directed_information
from vdib_core.information import binary_entropy as h_b
from vdib_core.information import copy_or_hold, directed_information_ci, directed_information_ctw, xor_channel
from vdib_core.information import xor_channel_sd as xor_sigma

LN2 = math.log(2)


def plugin_bias(memory: int, n: int) -> float:
    """First-order plug-in bias when every context of (y past, x window) and every y_t has p > 0."""
    return (2 ** (2 * memory + 1) - 2 ** memory) / (2 * n * LN2)


def ctw_redundancy(leaves: int, n: int) -> float:
    return (2 * leaves - 1) + leaves * (0.5 * math.log2(n / leaves) + 1)


def copy_or_hold_sigma(a: float, n: int) -> float:
    """sd of the mean pointwise information log2 p(y_t | y_{t−1}, x_{t−1}) / p(y_t | y_{t−1}):
    −log2(1 − a/2) when x_{t−1} = y_{t−1} (prob ½); else 1 (prob a/2) or log2((1−a)/(1−a/2))."""
    values = np.array([-math.log2(1 - a / 2), 1.0, math.log2((1 - a) / (1 - a / 2))])
    probs = np.array([0.5, a / 2, (1 - a) / 2])
    mean = (probs * values).sum()
    return math.sqrt((probs * (values - mean) ** 2).sum() / n)


# ------------------------------------------------------------------------------- plug-in


@pytest.mark.parametrize("lag,memory", [(0, 2), (1, 2), (2, 2), (3, 4)])
def test_xor_channel_rate_is_one_minus_hb(lag, memory):
    rng = np.random.default_rng(lag * 10 + memory)
    T, p = 100_000, 0.1
    x, y = xor_channel(T, lag, p, rng)
    n = T - memory
    truth, bias, sigma = 1 - h_b(p), plugin_bias(memory, n), xor_sigma(p, n)
    assert abs(directed_information(x, y, memory) - truth - bias) < 5 * sigma
    assert abs(directed_information(x, y, memory, correction="miller_madow") - truth) < 5 * sigma


def test_lag_beyond_memory_is_not_seen():
    rng = np.random.default_rng(1)
    x, y = xor_channel(50_000, 3, 0.1, rng)
    memory, n = 2, 50_000 - 2
    df = 2 ** (2 * memory + 1) - 2 ** memory
    assert abs(2 * n * LN2 * directed_information(x, y, memory) - df) < 5 * math.sqrt(2 * df)


@pytest.mark.parametrize("memory", [0, 1, 3])
def test_independent_sequences_follow_chi_square(memory):
    rng = np.random.default_rng(memory)
    T = 40_000
    x, y = rng.integers(0, 2, T), rng.integers(0, 2, T)
    n, df = T - memory, 2 ** (2 * memory + 1) - 2 ** memory
    scale = 2 * n * LN2
    assert abs(scale * directed_information(x, y, memory) - df) < 5 * math.sqrt(2 * df)
    assert abs(scale * directed_information(x, y, memory, correction="miller_madow")) < 5 * math.sqrt(2 * df)


@pytest.mark.parametrize("lag", [1, 2])
def test_reverse_direction_is_zero_for_a_delayed_channel(lag):
    rng = np.random.default_rng(lag)
    memory, T = 2, 50_000
    x, y = xor_channel(T, lag, 0.1, rng)
    n, df = T - memory, 2 ** (2 * memory + 1) - 2 ** memory
    # x_t is independent of x's past and of y_{t−m..t}: I(y → x) has the null χ² distribution
    assert abs(2 * n * LN2 * directed_information(y, x, memory) - df) < 5 * math.sqrt(2 * df)


def test_instantaneous_dependence_counts_in_both_directions():
    """With x_t in the condition, y_t = x_t ⊕ n_t gives I(x → y) = I(y → x) = 1 − H_b(p) (documented)."""
    rng = np.random.default_rng(7)
    p, memory, T = 0.2, 1, 100_000
    x, y = xor_channel(T, 0, p, rng)
    n = T - memory
    truth, bias, sigma = 1 - h_b(p), plugin_bias(memory, n), xor_sigma(p, n)
    assert abs(directed_information(x, y, memory) - truth - bias) < 5 * sigma
    assert abs(directed_information(y, x, memory) - truth - bias) < 5 * sigma


@pytest.mark.parametrize("memory", [1, 3])
def test_markov_output_depending_on_its_own_past(memory):
    rng = np.random.default_rng(memory)
    a, T = 0.5, 100_000
    x, y = copy_or_hold(T, a, rng)
    n = T - memory
    truth = h_b(a / 2) - h_b(a) / 2
    # positive-probability cells: y_t is determined when x_{t−1} = y_{t−1} (half of the contexts)
    bias = (2 ** (2 * memory) - 2 ** memory) / (2 * n * LN2)
    assert abs(directed_information(x, y, memory) - truth - bias) < 5 * copy_or_hold_sigma(a, n)


def test_estimates_shrink_toward_the_truth():
    p, memory = 0.1, 4
    truth = 1 - h_b(p)
    errors = []
    for T in (2_000, 20_000, 200_000):
        x, y = xor_channel(T, 1, p, np.random.default_rng(T))
        n = T - memory
        estimate = directed_information(x, y, memory)
        assert estimate > truth - 5 * xor_sigma(p, n)  # the plug-in overestimates
        errors.append(abs(estimate - truth))
    assert errors[0] > errors[1] > errors[2]
    n = 200_000 - memory
    assert errors[2] < plugin_bias(memory, n) + 5 * xor_sigma(p, n)


def test_counts_are_pooled_without_straddling_sequences():
    """Sequence i starts with y = the last x of sequence i−1: a context that crossed the boundary would
    see y_t = x_{t−1}; within sequences y is independent of x, so the pooled rate must be ≈ 0."""
    rng = np.random.default_rng(3)
    n_seq, T, memory = 20_000, 3, 1
    x = rng.integers(0, 2, (n_seq, T))
    y = rng.integers(0, 2, (n_seq, T))
    y[1:, 0] = x[:-1, -1]
    n, df = n_seq * (T - memory), 2 ** (2 * memory + 1) - 2 ** memory
    assert abs(2 * n * LN2 * directed_information(x, y, memory) - df) < 5 * math.sqrt(2 * df)
    # concatenating would make y_t = x_{t−1} on every third step: rate 1 − H_b(1/3) ≈ 0.08 bits
    assert directed_information(x.ravel(), y.ravel(), memory) > 0.05


def test_pooled_sequences_match_one_long_sequence_statistically():
    rng = np.random.default_rng(4)
    p, memory = 0.1, 2
    x, y = xor_channel(1_000, 1, p, rng, n_sequences=100)
    n = 100 * (1_000 - memory)
    assert abs(directed_information(x, y, memory) - (1 - h_b(p)) - plugin_bias(memory, n)) < 5 * xor_sigma(p, n)


def test_input_types_agree():
    rng = np.random.default_rng(5)
    x, y = xor_channel(2_000, 1, 0.2, rng, n_sequences=1)
    ref = directed_information(x, y, 2)
    assert directed_information(x[0], y[0], 2) == ref
    assert directed_information(torch.from_numpy(x).float(), torch.from_numpy(y).bool(), 2) == ref
    assert directed_information(x.astype(bool).tolist(), y.astype(np.uint8), 2) == ref
    assert isinstance(ref, float)


@pytest.mark.parametrize("estimator", [directed_information, directed_information_ctw])
def test_bad_input_is_rejected(estimator):
    x = np.zeros(100, dtype=int)
    with pytest.raises(ValueError, match="binary"):
        estimator(x + 2, x, 2)
    with pytest.raises(ValueError, match="binary"):
        estimator(x, np.full(100, 0.5), 2)
    with pytest.raises(ValueError, match="binary"):
        estimator(x, np.full(100, np.nan), 2)
    with pytest.raises(ValueError, match="same shape"):
        estimator(x, x[:99], 2)
    with pytest.raises(ValueError, match="same shape"):
        estimator(x.reshape(2, 50), x.reshape(4, 25), 2)
    with pytest.raises(ValueError, match="memory"):
        estimator(x, x, -1)
    with pytest.raises(ValueError, match="memory"):
        estimator(x, x, 1.5)
    with pytest.raises(ValueError, match="too short"):
        estimator(x[:3], x[:3], 3)
    with pytest.raises(ValueError, match=r"\[T\] or \[n_sequences, T\]"):
        estimator(x.reshape(2, 5, 10), x.reshape(2, 5, 10), 2)
    with pytest.raises(ValueError, match="correction"):
        directed_information(x, x, 2, correction="jackknife")


def test_one_million_steps_memory_4_under_a_second():
    rng = np.random.default_rng(0)
    x, y = xor_channel(1_000_000, 2, 0.1, rng)
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        directed_information(x, y, 4)
        best = min(best, time.perf_counter() - t0)
    assert best < 1.0


# ------------------------------------------------------------------------------- bootstrap


def test_block_bootstrap_interval_covers_the_truth_with_the_right_width():
    rng = np.random.default_rng(11)
    p, memory, T = 0.1, 2, 50_000
    x, y = xor_channel(T, 1, p, rng, n_sequences=1)
    sigma = xor_sigma(p, T - memory)
    est = directed_information_ci(x, y, memory, level=0.99, n_boot=500, seed=0)
    assert est.rate == directed_information(x, y, memory)
    assert est.low < 1 - h_b(p) < est.high
    assert 0.75 * sigma < est.se < 1.33 * sigma  # bootstrap sd of ~1000 blocks: a few % off σ
    with pytest.raises(ValueError, match="level"):
        directed_information_ci(x, y, memory, level=95)
    with pytest.raises(ValueError, match="10 blocks"):
        directed_information_ci(x[:, :100], y[:, :100], memory, block=50)


# ------------------------------------------------------------------------------- CTW


def test_ctw_with_generous_memory_beats_the_plug_in():
    """Lag 1, memory 6: the plug-in has 2^13 contexts for 2·10^4 steps; CTW needs the depth-3 tree
    (x_t, y_{t−1}, x_{t−1}): k = 8 leaves, and a root for y alone."""
    rng = np.random.default_rng(12)
    p, memory, T = 0.1, 6, 20_000
    x, y = xor_channel(T, 1, p, rng)
    n = T - memory
    truth, sigma = 1 - h_b(p), xor_sigma(p, n)
    ctw = directed_information_ctw(x, y, memory)
    assert truth - 5 * sigma - ctw_redundancy(8, n) / n < ctw < truth + 5 * sigma + ctw_redundancy(1, n) / n
    assert directed_information(x, y, memory) - truth > 10 * abs(ctw - truth)


def test_ctw_markov_and_independent():
    rng = np.random.default_rng(13)
    a, memory, T = 0.5, 5, 50_000
    x, y = copy_or_hold(T, a, rng)
    n = T - memory
    truth, sigma = h_b(a / 2) - h_b(a) / 2, copy_or_hold_sigma(a, n)
    ctw = directed_information_ctw(x, y, memory)  # true trees: depth 3 (8 leaves) and depth 1 (2 leaves)
    assert truth - 5 * sigma - ctw_redundancy(8, n) / n < ctw < truth + 5 * sigma + ctw_redundancy(2, n) / n
    z = rng.integers(0, 2, T)
    # both trees are the root: E[Î] within ±R(1)/N; fluctuations are O(1) bits / N
    assert abs(directed_information_ctw(x, z, memory)) < 5 * ctw_redundancy(1, n) / n


# ------------------------------------------------------------------------------- spike helpers


def test_spike_helper_per_neuron_and_pooled():
    rng = np.random.default_rng(14)
    T, B, p, memory = 400, 50, 0.1, 2
    source = rng.integers(0, 2, (T + 2, B))
    noise = rng.random((T, B, 4)) < p
    spikes = np.stack([source[2:] ^ noise[..., 0], source[1:-1] ^ noise[..., 1], rng.integers(0, 2, (T, B)),
                       source[1:-1] ^ noise[..., 3]], axis=-1)  # [T, B, 4]: lags 0, 1, independent, 1
    x = torch.from_numpy(source[2:]).float()  # [T, B]
    z = torch.from_numpy(spikes).float()
    n = B * (T - memory)
    truth, bias, sigma = 1 - h_b(p), plugin_bias(memory, n), xor_sigma(p, n)
    res = spike_directed_information(x, z, memory)
    assert res.per_neuron.shape == (4,)
    assert abs(res.per_neuron[0] - truth - bias) < 5 * sigma
    assert abs(res.per_neuron[1] - truth - bias) < 5 * sigma
    df = 2 ** (2 * memory + 1) - 2 ** memory
    assert abs(2 * n * LN2 * res.per_neuron[2] - df) < 5 * math.sqrt(2 * df)
    # neurons 1 and 3 are the same process: pooling them doubles the steps
    both = spike_directed_information(x, z[..., [1, 3]], memory)
    assert abs(both.pooled - truth - plugin_bias(memory, 2 * n)) < 5 * xor_sigma(p, 2 * n)
    # relevance side: spikes -> a target; neuron 0 sees y_t = its own current spike ⊕ n
    back = spike_directed_information(z[..., :1], x, memory, estimator="ctw")
    assert abs(back.per_neuron[0] - truth) < 5 * sigma + ctw_redundancy(4, n) / n
    with pytest.raises(ValueError, match="time-first"):
        spike_directed_information(x, z[:-1], memory)


# ------------------------------------------------------------------------------- information plane


def tiny_model(likelihood: str, target: str):
    from vdib_core import HybridModel, VDIBConfig

    cfg = VDIBConfig(n_in=6, n_readout=5, n_out=4, tau_d=3, likelihood=likelihood, target=target,
                     decoder="linear", r=0.2, beta=1.0)
    return HybridModel(cfg)


def test_information_plane_categorical_units_and_entropy():
    from vdib_core import vdib_loss

    torch.manual_seed(0)
    model = tiny_model("categorical", "static")
    X = (torch.rand(32, 12, 6) < 0.3).float()  # [B, T, N_in], batch-first like train.fit
    Y = torch.arange(32) % 4  # balanced: H(y) = 2 bits exactly
    plane = information_plane(model, (X, Y), seed=3)
    gen = torch.Generator().manual_seed(3)
    model.eval()
    with torch.no_grad():
        terms = vdib_loss(model(X.transpose(0, 1), sample="bernoulli", generator=gen), Y, model.cfg)
    assert plane.i_xz_upper == pytest.approx(terms.kl.mean().item() / LN2, rel=1e-5)
    assert plane.neg_nll == pytest.approx(-terms.nll.mean().item() / LN2, rel=1e-5)
    assert plane.h_y == pytest.approx(2.0)
    assert plane.i_zy_lower == pytest.approx(plane.h_y + plane.neg_nll)
    assert plane.i_xz_upper >= 0 and plane.neg_nll <= 0 and plane.i_zy_lower <= plane.h_y
    assert "plug-in" in plane.h_y_source and plane.n_examples == 32 and plane.decoded_steps == 1
    batches = [(X[:20], Y[:20]), (X[20:], Y[20:])]
    assert information_plane(model, batches).n_examples == 32


def test_information_plane_kl_bound_in_closed_form():
    """Readout firing at a constant probability q: the bound is T · N_z · KL(Bern(q) ‖ Bern(r)) / ln 2
    bits, and 0 when q = r."""
    model = tiny_model("bernoulli", "static")
    readout = model.encoder.readout
    X, Y = (torch.rand(8, 12, 6) < 0.3).float(), torch.rand(8, 4)
    with torch.no_grad():
        readout.weight.zero_()
        readout.fb_weight.zero_()
        for q in (0.2, 0.5):
            readout.bias.fill_(math.log(q / (1 - q)))
            plane = information_plane(model, (X, Y))
            r = model.cfg.r
            kl = q * math.log(q / r) + (1 - q) * math.log((1 - q) / (1 - r))
            assert plane.i_xz_upper == pytest.approx(12 * 5 * kl / LN2, abs=1e-5)
    assert plane.h_y is None and plane.i_zy_lower is None and "unknown" in plane.h_y_source
    assert plane.neg_nll < 0 and math.isfinite(plane.neg_nll)
    given = information_plane(model, (X, Y), h_y=3.0)
    assert given.i_zy_lower == pytest.approx(3.0 + given.neg_nll)


def test_information_plane_sequence_targets():
    torch.manual_seed(1)
    model = tiny_model("categorical", "sequence")
    X = (torch.rand(16, 12, 6) < 0.3).float()
    Y = torch.randint(0, 4, (16, 12))  # [B, T]
    plane = information_plane(model, (X, Y))
    assert plane.decoded_steps == 12 - 3 + 1
    assert 0 < plane.h_y <= 2 * plane.decoded_steps
    assert all(math.isfinite(v) for v in (plane.i_xz_upper, plane.neg_nll, plane.i_zy_lower))
