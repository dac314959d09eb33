"""Checkers for the book's exercises (every chapter ends with a section "Exercises").

Each checker takes the reader's answer, compares it with a value it computes itself (a closed form, an
exact enumeration or a run of the package), prints ``correct: ...`` or what is off, and returns True or
False. The stub of an exercise and its solution call the same checker. The checkers never raise on a
wrong answer, so a reader can try again; they raise ``TypeError``/``ValueError`` only on an answer of
the wrong kind (a missing function, a wrong shape).
"""
from __future__ import annotations

import math
from typing import Callable, Mapping, Sequence

import numpy as np
import torch

__all__ = [
    "report", "check_count_twins", "check_rate_code_steps", "check_order_decoder", "psp_ramp",
    "check_psp_ramp", "first_spike_step", "check_first_spike", "z_channel_rate", "check_z_channel_rate",
    "plugin_bias", "check_plugin_bias", "estimator_means", "check_estimator_means", "optimal_baseline",
    "check_optimal_baseline", "persistence_accuracy", "check_persistence", "collapse_beta", "check_collapse_beta",
    "check_bin_count", "check_prediction",
]


def report(ok: bool, right: str, wrong: str) -> bool:
    """Print ``correct: <right>`` when ok, else ``not yet: <wrong>``; return ok."""
    print(f"correct: {right}" if ok else f"not yet: {wrong}")
    return bool(ok)


def _binary(a, name: str) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(a), dtype=torch.float64)
    if t.dim() != 2:
        raise ValueError(f"{name} must be a spike train [T, N] (time first), got shape {list(t.shape)}")
    if ((t != 0) & (t != 1)).any():
        raise ValueError(f"{name} must hold only 0 and 1")
    return t


# ---- chapter "Spikes and how they are read" ----------------------------------------------------------


def check_count_twins(x_a, x_b) -> bool:
    """Two spike trains [T, N] that a count decoder cannot tell apart (the same count for every neuron)
    but a first-to-spike decoder can (the neuron that fires first differs)."""
    a, b = _binary(x_a, "x_a"), _binary(x_b, "x_b")
    if a.shape != b.shape:
        return report(False, "", f"the two trains have different shapes {list(a.shape)} and {list(b.shape)}")
    if not (a.sum(0) > 0).all() or not (b.sum(0) > 0).all():
        return report(False, "", "every neuron must spike at least once, so that each has a first spike")
    same_counts = torch.equal(a.sum(0), b.sum(0))
    first_a, first_b = int(a.argmax(0).argmin()), int(b.argmax(0).argmin())  # neuron with the earliest first spike
    if not same_counts:
        return report(False, "", f"the counts differ: {a.sum(0).int().tolist()} vs {b.sum(0).int().tolist()}")
    return report(first_a != first_b,
                  f"counts {a.sum(0).int().tolist()} in both; first to spike: neuron {first_a} vs neuron {first_b}",
                  f"the same neuron ({first_a}) fires first in both trains: first-to-spike cannot tell them apart either")


def check_rate_code_steps(T: int, p: torch.Tensor, target: float = 0.05) -> bool:
    """T must be the fewest steps for which the predicted RMSE of a rate code read by counting,
    sqrt(mean_n p_n (1 − p_n) / T), is at most `target`, for intensities p."""
    p = torch.as_tensor(p, dtype=torch.float64).flatten()
    want = math.ceil((p * (1 - p)).mean().item() / target**2)
    return report(int(T) == want, f"T = {want} steps give a predicted RMSE of at most {target}",
                  f"T = {T}; the fewest steps with sqrt(mean p(1 − p) / T) <= {target} is a different number "
                  f"({'smaller' if T > want else 'larger'})")


def check_order_decoder(decode: Callable[[torch.Tensor], torch.Tensor], n: int = 1000, seed: int = 123) -> bool:
    """`decode(X)` maps input spikes X [n, T, 2] of `vdib_core.data.spike_order_task` to labels [n]; it must be
    right on every example of a fresh set."""
    from .data import spike_order_task

    X, Y = spike_order_task(n, seed=seed)
    pred = torch.as_tensor(decode(X)).long().flatten()
    if pred.shape != Y.shape:
        raise ValueError(f"decode must return one label per example, shape {list(Y.shape)}, got {list(pred.shape)}")
    acc = (pred == Y).double().mean().item()
    return report(acc == 1.0, f"{n} of {n} examples decoded from spike times",
                  f"accuracy {acc:.3f} on {n} fresh examples (chance 0.5); the order of the two spikes is the label")


# ---- chapter "The encoding SNN" ------------------------------------------------------------------------


def psp_ramp(t: int, T: int, a_s: float = 0.85, a_m: float = 0.9) -> float:
    """Σ_{k=0}^{t} κ(k) for the unit-sum kernel of `vdib_core.neurons.psp_kernel` over T lags, in closed form:
    the potential at step t of a neuron whose one input (weight 1) spikes at every step."""
    def S(n: int) -> float:  # Σ_{k=0}^{n} (a_m^(k+1) − a_s^(k+1)) / (a_m − a_s)
        return (a_m * (1 - a_m ** (n + 1)) / (1 - a_m) - a_s * (1 - a_s ** (n + 1)) / (1 - a_s)) / (a_m - a_s)
    return S(t) / S(T - 1)


def check_psp_ramp(ramp: Callable[[int, int, float, float], float]) -> bool:
    """`ramp(t, T, a_s, a_m)` must give the potential of `LIFLayer` at step t (threshold out of reach, one input
    spiking at every step with weight 1) for several t, T and decays."""
    from .neurons import LIFLayer

    worst, where = 0.0, None
    for T, a_s, a_m in ((30, 0.85, 0.9), (60, 0.5, 0.95), (10, 0.3, 0.6)):
        layer = LIFLayer(1, 1, threshold=1e9, syn_decay=a_s, mem_decay=a_m)
        with torch.no_grad():
            layer.weight.fill_(1.0)
            _, U = layer(torch.ones(T, 1, 1))
        for t in (0, 1, T // 3, T - 1):
            err = abs(float(ramp(t, T, a_s, a_m)) - U[t, 0, 0].item())
            if err > worst:
                worst, where = err, (t, T, a_s, a_m)
    return report(worst < 1e-4, "the closed form matches the layer's potential at every step and setting tried",
                  f"off by {worst:.4g} at (t, T, a_s, a_m) = {where}")


def first_spike_step(w: float, T: int = 30, a_s: float = 0.85, a_m: float = 0.9, threshold: float = 1.0) -> int | None:
    """First step at which a `LIFLayer` neuron fires when its one input spikes at every step with weight w:
    before its first spike the potential is w · Σ_{k<=t} κ(k) (`psp_ramp`), so the smallest t with
    w · psp_ramp(t) > ϑ; None if it never fires within T steps (w <= ϑ, since the ramp ends at 1)."""
    for t in range(T):
        if w * psp_ramp(t, T, a_s, a_m) > threshold:
            return t
    return None


def _measured_first_spike(w: float, T: int) -> int | None:
    from .neurons import LIFLayer

    layer = LIFLayer(1, 1)
    with torch.no_grad():
        layer.weight.fill_(w)
        S, _ = layer(torch.ones(T, 1, 1))
    fired = S[:, 0, 0].nonzero()
    return int(fired[0, 0]) if len(fired) else None


def check_first_spike(first: Callable[[float, int], int | None], weights: Sequence[float] = (0.9, 0.99, 1.05, 1.5, 3.0, 20.0),
                      T: int = 30) -> bool:
    """`first(w, T)` must predict the step of the first spike of a `LIFLayer` neuron (default decays, ϑ = 1) whose
    one input spikes at every step with weight w (None: it never fires), as measured on the layer."""
    bad = []
    for w in weights:
        got, want = first(w, T), _measured_first_spike(w, T)
        if got != want:
            bad.append(f"w = {w}: predicted {got}, the layer fires first at {want}")
    return report(not bad, f"first spikes for w in {list(weights)}: "
                  + ", ".join(str(_measured_first_spike(w, T)) for w in weights), "; ".join(bad))


# ---- chapter "Information bottleneck and directed information" ----------------------------------------


def z_channel_rate(a: float) -> float:
    """Directed-information rate (bits per step) of y_t = x_{t−1} AND b_t, x and b i.i.d. Bernoulli(1/2) and
    Bernoulli(a): y is i.i.d. Bernoulli(a/2), so the rate is H_b(a/2) − H_b(a)/2."""
    from .information import binary_entropy

    return float(binary_entropy(a / 2) - binary_entropy(a) / 2)


def check_z_channel_rate(rate: Callable[[float], float]) -> bool:
    """`rate(a)` must be the closed-form directed-information rate of the Z-channel for every a tried."""
    bad = [f"a = {a}: {float(rate(a)):.4f} instead of {z_channel_rate(a):.4f}" for a in (0.1, 0.3, 0.5, 0.9, 1.0)
           if abs(float(rate(a)) - z_channel_rate(a)) > 1e-6]
    return report(not bad, "the closed form matches at a = 0.1, 0.3, 0.5, 0.9 and 1", "; ".join(bad))


def plugin_bias(memory: int, n_steps: int) -> float:
    """First-order bias (bits per step) of the plug-in directed-information estimate on independent sequences:
    (2^(2m+1) − 2^m) / (2 N ln 2)."""
    return (2 ** (2 * memory + 1) - 2**memory) / (2 * n_steps * math.log(2))


def check_plugin_bias(bias: Callable[[int, int], float]) -> bool:
    """`bias(m, N)` must be the first-order bias of the plug-in estimator for independent sequences."""
    bad = [f"m = {m}, N = {N}: {float(bias(m, N)):.5f} instead of {plugin_bias(m, N):.5f}"
           for m, N in ((0, 1000), (1, 2000), (2, 10_000), (4, 100_000))
           if abs(float(bias(m, N)) - plugin_bias(m, N)) > 1e-3 * plugin_bias(m, N)]
    return report(not bad, "the first-order bias formula matches for every (m, N) tried", "; ".join(bad))


# ---- chapter "The VDIB objective and its gradients" ---------------------------------------------------


def estimator_means(u: float = 0.5, c: float = 0.8, shape: str = "fast_sigmoid", slope: float = 5.0,
                    n_grid: int = 200_000) -> dict[str, float]:
    """One readout neuron z ~ Bern(σ(u)) and a cost f(z) = (z − c)²: the exact dE[f]/du, the mean of the
    score-function estimator f(z) ∂log p(z)/∂u (exact, over z ∈ {0, 1}) and the mean of the pathwise
    estimator f'(z) g(u − ε), z = Θ(u − ε), ε logistic (midpoint quadrature over the quantiles of ε)."""
    from .neurons import Surrogate

    s = 1 / (1 + math.exp(-u))
    f = lambda z: (z - c) ** 2  # noqa: E731
    exact = s * (1 - s) * (f(1) - f(0))
    score = s * f(1) * (1 - s) + (1 - s) * f(0) * (-s)  # Σ_z p(z) f(z) (z − σ(u))
    xi = (torch.arange(n_grid, dtype=torch.float64) + 0.5) / n_grid
    eps = torch.log(xi) - torch.log1p(-xi)  # quantiles of the logistic law
    z = (u - eps > 0).double()
    pathwise = (2 * (z - c) * Surrogate(shape, slope).grad(u - eps)).mean().item()
    return {"exact": exact, "score": score, "pathwise": pathwise}


def check_estimator_means(means: Mapping[str, float], u: float = 0.5, c: float = 0.8) -> bool:
    """`means` must hold the exact gradient and the means of the two estimators ('exact', 'score',
    'pathwise') for u and c, each within 1e-3 of `estimator_means(u, c)`."""
    want = estimator_means(u, c)
    missing = [k for k in want if k not in means]
    if missing:
        raise ValueError(f"the answer needs the keys {list(want)}; missing {missing}")
    bad = [f"{k}: {float(means[k]):.5f} instead of {v:.5f}" for k, v in want.items() if abs(float(means[k]) - v) > 1e-3]
    bias = want["pathwise"] / want["exact"] - 1
    return report(not bad, f"score mean = exact gradient {want['exact']:.5f}; the pathwise mean is off by {bias:+.1%}",
                  "; ".join(bad))


def optimal_baseline(u: float, f0: float, f1: float) -> float:
    """The baseline b that minimises the variance of the score estimator (f(z) − b)(z − σ(u)) of one
    Bernoulli(σ(u)) neuron: b* = (1 − σ(u)) f(1) + σ(u) f(0), which makes the estimator constant."""
    s = 1 / (1 + math.exp(-u))
    return (1 - s) * f1 + s * f0


def check_optimal_baseline(baseline: Callable[[float, float, float], float]) -> bool:
    """`baseline(u, f0, f1)` must be the variance-minimising baseline for every (u, f0, f1) tried."""
    bad = []
    for u, f0, f1 in ((0.0, 0.64, 0.04), (1.5, 2.0, -1.0), (-2.0, 0.0, 3.0)):
        got, want = float(baseline(u, f0, f1)), optimal_baseline(u, f0, f1)
        if abs(got - want) > 1e-6:
            s = 1 / (1 + math.exp(-u))
            var = lambda b: s * ((f1 - b) * (1 - s)) ** 2 + (1 - s) * ((f0 - b) * s) ** 2 - (s * (1 - s) * (f1 - f0)) ** 2  # noqa: E731
            bad.append(f"(u, f0, f1) = {(u, f0, f1)}: b = {got:.4f} leaves variance {var(got):.4g}; "
                       f"the best b gives {var(want):.2g}")
    return report(not bad, "your baseline makes the one-neuron score estimator exact (zero variance)", "; ".join(bad))


# ---- chapter "Efficient predictive coding" ------------------------------------------------------------


def persistence_accuracy(delta: int, n: int = 200, T: int = 100, seed: int = 0) -> float:
    """Accuracy of predicting y_t = x_{t+δ} by x_t ("the input persists") on n drifting-blob sequences."""
    from .data import blob_targets, drifting_blobs, pattern_to_class

    aligned = blob_targets(drifting_blobs(T + abs(delta), seed=seed, batch=n), delta)
    return (pattern_to_class(aligned.inputs) == aligned.targets).double().mean().item()


def check_persistence(accuracy: Mapping[int, float], n: int = 200, T: int = 100, seed: int = 0) -> bool:
    """`accuracy[δ]` must be the persistence accuracy at each δ given (n sequences of T steps, seed), within 0.002."""
    bad = [f"δ = {d}: {float(a):.4f} instead of {persistence_accuracy(d, n, T, seed):.4f}" for d, a in accuracy.items()
           if abs(float(a) - persistence_accuracy(d, n, T, seed)) > 2e-3]
    return report(not bad, "persistence accuracies: " + ", ".join(f"δ = {d}: {100 * float(a):.1f} %"
                                                                     for d, a in accuracy.items()), "; ".join(bad))


# ---- chapter "Playground" --------------------------------------------------------------------------------


def collapse_beta(kl_per_neuron_step: Mapping[float, float], tol: float = 0.01) -> float | None:
    """The smallest β whose KL per readout neuron and step is below `tol` nats (the readout fires like
    independent Bernoulli(r) spikes whatever the input), or None."""
    below = [b for b, kl in kl_per_neuron_step.items() if kl < tol]
    return min(below) if below else None


def check_collapse_beta(answer: float | None, kl_per_neuron_step: Mapping[float, float], tol: float = 0.01) -> bool:
    """`answer` must be the smallest β of the sweep whose KL per neuron and step is below `tol`."""
    want = collapse_beta(kl_per_neuron_step, tol)
    return report(answer == want, f"the code collapses to rate r from β = {want:g} on in this sweep" if want is not None
                  else "no β of this sweep collapses the code", f"answer {answer}; the KL values say {want}")


# ---- chapter "Naturalizing MNIST-DVS" ----------------------------------------------------------------


def check_bin_count(dt_us: float, T: int, duration_us: int = 2_000_000) -> bool:
    """T must be the number of bins of width dt_us that cover a recording of `duration_us` (the last one partial)."""
    want = math.ceil(duration_us / dt_us)
    return report(int(T) == want, f"{duration_us / 1e6:g} s in bins of {dt_us / 1000:g} ms: T = {want}",
                  f"T = {T}, but {duration_us / 1e6:g} s in bins of {dt_us / 1000:g} ms need {want}")


# ---- predicted first, then measured (chapters 5 to 8) ------------------------------------------------


def check_prediction(prediction, measured: Mapping, *, lower_is_better: bool = False, what: str = "value") -> bool:
    """Compare a prediction made before a run with what the run measured: `prediction` names the key of
    `measured` expected to have the highest `what` (the lowest with `lower_is_better`)."""
    if prediction not in measured:
        raise ValueError(f"the prediction must be one of {list(measured)}, got {prediction!r}")
    best = (min if lower_is_better else max)(measured, key=lambda k: measured[k])
    table = ", ".join(f"{k}: {v:.4g}" for k, v in measured.items())
    word = "lowest" if lower_is_better else "highest"
    return report(prediction == best, f"as predicted, {best!r} has the {word} {what} ({table})",
                  f"you predicted {prediction!r}, the {word} {what} is {best!r} ({table}); why?")
