"""Neurons of the encoding SNN (book chapter "The encoding SNN").

- `Surrogate`: the Heaviside spike function Θ(x) with a named surrogate derivative.
- `LIFLayer`: deterministic leaky integrate-and-fire / spike-response hidden neurons.
- `StochasticReadout`: GLM readout neurons with a stochastic threshold (Bernoulli spikes).

All sequences are time-first: [T, B, N]. Linear filters that do not depend on the layer's own
spikes are applied to all T steps at once: as a [T, T] (Toeplitz) matmul, built once per length T, or,
for the readout's bases of finite memory M on a narrow input, as a banded filter of M matmuls (`_BandedFilter`).
Only the recurrence through a neuron's own spikes loops over time: element-wise, on preallocated
[T, B, N] buffers, inside one autograd node (`_LIFRecursion`, `_ThresholdReadout`) whose backward
loops back over time, or without gradient (`_readout_recursion`) when the spikes carry none. On the
CPU these loops, forward and backward, run numpy ufuncs on views of those buffers (`_loop_ops`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, NamedTuple

import numpy as np
import torch
from torch import nn

SURROGATE_SHAPES = ("boxcar", "fast_sigmoid", "sigmoid", "arctan")


@dataclass(frozen=True)
class Surrogate:
    """Spike function S = Θ(x) whose backward pass uses a surrogate derivative dS/dx ≈ g(x).

    Shapes (x = U − ϑ, s = slope)::

      boxcar:       g = s/2 · 1[abs(x) < 1/s]         (area 1)
      fast_sigmoid: g = 1 / (1 + s·abs(x))²           (peak 1, snnTorch's convention)
      sigmoid:      g = s · σ(s x) · σ(−s x)           (area 1, peak s/4)
      arctan:       g = (s/2) / (1 + (π s x / 2)²)     (area 1, peak s/2)
    """

    shape: str = "fast_sigmoid"
    slope: float = 5.0

    def __post_init__(self):
        if self.shape not in SURROGATE_SHAPES:
            raise ValueError(f"unknown surrogate shape {self.shape!r}; expected one of {SURROGATE_SHAPES}")
        if not self.slope > 0:
            raise ValueError(f"surrogate slope must be > 0, got {self.slope}")

    def grad(self, x: torch.Tensor) -> torch.Tensor:
        """The surrogate derivative g(x), elementwise, as a new tensor (computed in place in one buffer)."""
        s = self.slope
        if self.shape == "boxcar":
            return (x.abs() < 1 / s).to(x.dtype).mul_(s / 2)
        if self.shape == "fast_sigmoid":
            return x.abs().mul_(s).add_(1).square_().reciprocal_()
        if self.shape == "sigmoid":
            sig = torch.sigmoid(x * s)
            return sig.mul(s).mul_(1 - sig)
        return x.mul(math.pi * s / 2).square_().add_(1).reciprocal_().mul_(s / 2)  # arctan

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Θ(x) = 1[x > 0] forward, g(x) backward."""
        return _SpikeFn.apply(x, self)


class _SpikeFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, surrogate: Surrogate) -> torch.Tensor:
        ctx.save_for_backward(x)
        ctx.surrogate = surrogate
        return (x > 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):
        (x,) = ctx.saved_tensors
        return grad_out * ctx.surrogate.grad(x), None


class _LoopOps(NamedTuple):
    """The element-wise operations of the loops over time, each writing into `out` and returning it."""
    view: Callable  # tensor -> the array the ops act on, sharing the tensor's memory
    scalar: Callable  # (value, like) -> the value as the ops take it fastest (numpy: a 0-d array of like's dtype)
    muladd: Callable  # (a, b, c, out): out = a·b + c; b a scalar or an array; `out` may be a or b, never c
    gt: Callable  # (a, b, out): out = 1.0 where a > b, else 0.0 (a float `out`)


def _numpy_muladd(a, b, c, out):
    return np.add(np.multiply(a, b, out=out), c, out=out)


def _torch_muladd(a: torch.Tensor, b: torch.Tensor | float, c: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    if isinstance(b, torch.Tensor):
        return torch.addcmul(c, a, b, out=out)
    return torch.add(c, a, alpha=b, out=out)


_NUMPY_OPS = _LoopOps(lambda x: x.detach().numpy(), lambda value, like: np.asarray(value, like.dtype), _numpy_muladd,
                      np.greater)
_TORCH_OPS = _LoopOps(lambda x: x, lambda value, like: value, _torch_muladd, torch.gt)


def _loop_ops(x: torch.Tensor) -> _LoopOps:
    """numpy for float32/float64 on the CPU: per step a ufunc call costs a fraction of a torch op's dispatch on
    tensors this small (a multiply-add is two ufuncs, two roundings); torch on other devices and dtypes, where
    the multiply-add is one fused op. Both compute the same recursions (tests/test_fast_recurrences.py)."""
    return _NUMPY_OPS if x.device.type == "cpu" and x.dtype in (torch.float32, torch.float64) else _TORCH_OPS


def causal_filter_matrix(kernel: torch.Tensor, T: int) -> torch.Tensor:
    """Toeplitz matrix A [T, T] with A[t, s] = kernel[t − s] for 0 ≤ t − s < len(kernel), else 0,
    so that (A @ x)[t] = Σ_k kernel[k] x[t − k] is the causal convolution (kernel * x)_t."""
    lags = torch.arange(T).view(T, 1) - torch.arange(T).view(1, T)  # [T, T]
    valid = (lags >= 0) & (lags < kernel.shape[0])
    return torch.where(valid, kernel[lags.clamp(0, kernel.shape[0] - 1)], torch.zeros((), dtype=kernel.dtype))


class _BandedFilter(torch.autograd.Function):
    """A causal filter of finite memory M over time as one autograd node: x [T, B, C], F [M, C, D], b [D] ->
    y [T, B, D] with

        y_t = b + Σ_{m=0}^{M−1} x_{t−m} F_m   (x_s = 0 for s < 0),

    one matmul per lag over all (t, b) at once, accumulated in place: M·T·B·C·D multiply-adds, where the
    dense [T, T] Toeplitz filter of the same band costs T·T·B·C·D. The products run transposed, samples
    along the rows, yᵀ[:, t·B + b] (BLAS is several times faster on these short, wide products than on
    tall, narrow ones). The backward is the transposed filter, ∂L/∂x_s = Σ_m ∂L/∂y_{s+m} F_mᵀ, with
    ∂L/∂F_m = Σ_s x_sᵀ ∂L/∂y_{s+m} and ∂L/∂b = Σ_t ∂L/∂y_t."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, F: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        T, B, C = x.shape
        xT = x.reshape(T * B, C).t().contiguous()  # [C, T*B]
        yT = F[0].t() @ xT  # [D, T*B]: lag 0
        for m in range(1, min(F.shape[0], T)):  # lags ≥ T reach before the start: zero
            yT[:, m * B:].addmm_(F[m].t(), xT[:, :(T - m) * B])
        ctx.save_for_backward(xT, F)
        ctx.steps = T
        return torch.add(yT.t().view(T, B, -1), bias, out=x.new_empty(T, B, F.shape[2]))  # [T, B, D]

    @staticmethod
    def backward(ctx, grad_y: torch.Tensor):
        xT, F = ctx.saved_tensors
        (C, TB), T, (M, _, D) = xT.shape, ctx.steps, F.shape
        B, lags = TB // T, min(M, T)
        gyT = grad_y.reshape(TB, D).t().contiguous()  # [D, T*B]
        grad_x = grad_F = None
        if ctx.needs_input_grad[0]:
            gxT = F[0] @ gyT  # [C, T*B]
            for m in range(1, lags):
                gxT[:, :(T - m) * B].addmm_(F[m], gyT[:, m * B:])
            grad_x = gxT.t().view(T, B, C)
        if ctx.needs_input_grad[1]:
            gFT = F.new_zeros(M, D, C)  # [M, D, C]: ∂L/∂F_mᵀ
            for m in range(lags):
                torch.mm(gyT[:, m * B:], xT[:, :(T - m) * B].t(), out=gFT[m])
            grad_F = gFT.transpose(1, 2)
        return grad_x, grad_F, gyT.sum(1) if ctx.needs_input_grad[2] else None


def _cached(cache: dict, key: tuple, build: Callable[[], torch.Tensor]) -> torch.Tensor:
    """cache[key], built on first use; keeps the 4 most recent keys (a model sees a few lengths T). Built as a
    normal tensor even under torch.inference_mode, so that a later training step can save it for backward."""
    if key not in cache:
        while len(cache) >= 4:
            cache.pop(next(iter(cache)))
        with torch.inference_mode(False):
            cache[key] = build()
    return cache[key]


def psp_kernel(T: int, syn_decay: float = 0.85, mem_decay: float = 0.9) -> torch.Tensor:
    """Synaptic-membrane kernel κ [T]: a difference of exponentials, normalised to unit sum so that
    a rate-p input train filters to ≈ p (book chapter "The encoding SNN")."""
    k = torch.arange(T, dtype=torch.float64)
    if abs(syn_decay - mem_decay) < 1e-9:
        kappa = (k + 1) * mem_decay**k
    else:
        kappa = (mem_decay ** (k + 1) - syn_decay ** (k + 1)) / (mem_decay - syn_decay)
    return (kappa / kappa.sum()).float()


def raised_cosine_basis(n_basis: int = 8, memory: int = 10) -> torch.Tensor:
    """K raised-cosine ("Pillow") bases over lags 0..M−1, log-stretched time (Pillow et al. 2008).

    Returns [M, K]: column k is a_k(lag); lag 0 is included. Each column has unit sum.
    """
    if not 1 <= n_basis <= memory:
        raise ValueError(f"need 1 <= n_basis <= memory, got n_basis={n_basis}, memory={memory}")
    lags = torch.arange(memory, dtype=torch.float64)
    stretched = torch.log(lags + 1.0)  # log-stretched time, 0 at lag 0
    if n_basis == 1:
        return torch.ones(memory, 1) / memory
    centres = torch.linspace(0, float(stretched[-1]), n_basis)
    width = centres[1] - centres[0]
    phase = ((stretched.view(-1, 1) - centres.view(1, -1)) * math.pi / (2 * width)).clamp(-math.pi, math.pi)
    basis = 0.5 * (1 + torch.cos(phase))  # [M, K]
    return (basis / basis.sum(0, keepdim=True)).float()


def _check_spikes(x: torch.Tensor, n: int, name: str) -> None:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor [T, B, {n}], got {type(x).__name__}")
    if x.dim() != 3 or x.shape[-1] != n:
        raise ValueError(f"{name} must have shape [T, B, {n}] (time-first), got {list(x.shape)}")
    if not torch.is_floating_point(x):
        raise TypeError(f"{name} must be a float tensor of 0/1 spikes, got dtype {x.dtype}")


class _LIFRecursion(torch.autograd.Function):
    """The LIF refractory recursion as one autograd node: drive D [T, B, N] -> (S, U) [T, B, N] with

        R_t = refr_decay R_{t−1} + S_{t−1},   U_t = D_t − ϑ R_t,   S_t = Θ(U_t − ϑ)

    (R = Σ_k refr_decay^(k−1) S_{t−k}). The backward runs the adjoint recursion backwards in time,
    ∂L/∂R_t = (refr_decay − ϑ g_t) ∂L/∂R_{t+1} − ϑ (∂L/∂U_t + g_t ∂L/∂S_t) with g_t = Θ'(U_t − ϑ) the
    surrogate derivative: the same gradients as autograd through a per-step loop, with one multiply-add
    per step."""

    @staticmethod
    def forward(ctx, drive: torch.Tensor, threshold: float, refr_decay: float, surrogate: Surrogate):
        s, u = torch.empty_like(drive), torch.empty_like(drive)  # [T, B, N]
        ops = _loop_ops(drive)
        ss, us, ds = (list(ops.view(a)) for a in (s, u, drive))  # per-step views, made once
        refr = ops.view(torch.zeros_like(drive[0]))  # [B, N]: R_t
        decay, neg_thr, thr = (ops.scalar(c, refr) for c in (refr_decay, -threshold, threshold))
        for t in range(len(ds)):
            if t > 0:
                ops.muladd(refr, decay, ss[t - 1], out=refr)
            ops.muladd(refr, neg_thr, ds[t], out=us[t])
            ops.gt(us[t], thr, out=ss[t])  # Θ(U_t − ϑ)
        ctx.save_for_backward(u)
        ctx.constants = threshold, refr_decay, surrogate
        return s, u

    @staticmethod
    def backward(ctx, grad_s: torch.Tensor, grad_u: torch.Tensor):
        (u,) = ctx.saved_tensors
        threshold, refr_decay, surrogate = ctx.constants
        g = surrogate.grad(u - threshold)  # [T, B, N]: dS_t/dU_t
        coef = torch.mul(g, -threshold).add_(refr_decay)  # [T, B, N]: refr_decay − ϑ g_t
        inp = torch.addcmul(grad_u, g, grad_s).mul_(-threshold)  # [T, B, N]: −ϑ (∂L/∂U_t + g_t ∂L/∂S_t)
        r_next = torch.empty_like(u)  # [T, B, N]: ∂L/∂R_{t+1} at t
        r_next[-1] = 0  # the loop writes every earlier step
        ops = _loop_ops(u)
        rs, inps, coefs = (list(ops.view(a)) for a in (r_next, inp, coef))  # per-step views, made once
        for t in range(len(rs) - 1, 0, -1):
            ops.muladd(coefs[t], rs[t], inps[t], out=rs[t - 1])
        return torch.addcmul(grad_u, g, r_next.add_(grad_s)), None, None, None  # ∂L/∂D_t = ∂L/∂U_t (total)


class LIFLayer(nn.Module):
    """Deterministic LIF / SRM hidden neurons (book chapter "The encoding SNN"):

        U_t = W (κ * x)_t + b + (ρ * S)_t ,   S_t = Θ(U_t − ϑ)

    κ: unit-sum difference of exponentials (decays `syn_decay`, `mem_decay`); ρ(k) = −ϑ·refr_decay^(k−1)
    for k ≥ 1 (each spike lowers the potential by ϑ, decaying). Θ's derivative is `surrogate.grad`.
    W x_t for all t is one matmul and κ is one [T, T] matmul; only ρ * S loops over time (`_LIFRecursion`).
    """

    def __init__(self, n_in: int, n_out: int, *, threshold: float = 1.0, syn_decay: float = 0.85,
                 mem_decay: float = 0.9, refr_decay: float = 0.65, init_gain: float = 5.0,
                 surrogate: Surrogate = Surrogate()):
        super().__init__()
        self.n_in, self.n_out = n_in, n_out
        self.threshold, self.syn_decay, self.mem_decay, self.refr_decay = threshold, syn_decay, mem_decay, refr_decay
        self.surrogate = surrogate
        self.weight = nn.Parameter(torch.randn(n_out, n_in) * (init_gain / math.sqrt(n_in)))  # [N_out, N_in]
        self.bias = nn.Parameter(torch.zeros(n_out))  # [N_out]
        self._filters: dict = {}  # (T, device, dtype, decays) -> the κ matrix [T, T]

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x [T, B, N_in] spikes -> (S [T, B, N_out] spikes, U [T, B, N_out] membrane potentials)."""
        _check_spikes(x, self.n_in, "LIFLayer input")
        drive = self._synaptic(x) + self.bias  # [T, B, N_out]: W(κ*x)_t + b
        return _LIFRecursion.apply(drive, self.threshold, self.refr_decay, self.surrogate)

    def _synaptic(self, x: torch.Tensor) -> torch.Tensor:
        """W(κ*x)_t for all t: x [T, B, N_in] -> [T, B, N_out]."""
        T, B, _ = x.shape
        current = x.reshape(T * B, -1) @ self.weight.t()  # [T*B, N_out]: W x_t for every t at once
        A = _cached(self._filters, (T, x.device, x.dtype, self.syn_decay, self.mem_decay),
                    lambda: causal_filter_matrix(psp_kernel(T, self.syn_decay, self.mem_decay), T).to(x))  # [T, T]
        return (A @ current.view(T, -1)).view(T, B, -1)  # [T, B, N_out]

    @torch.no_grad()
    def calibrate(self, x: torch.Tensor, rate: float, iters: int = 40) -> float:
        """Data-dependent initialisation (book chapter "Naturalizing MNIST-DVS"): rescale W by one gain g
        so that the layer's mean firing rate on the batch x [T, B, N_in] is `rate`; -> g.

        The drive is linear in W, D(g) = g·W(κ*x)_t + b, so it is computed once and g is found by
        bisection on log g (the rate grows with g). Raises ValueError when no g in [1e-4, 1e4] reaches
        the rate, e.g. for an input without spikes."""
        if not 0 < rate < 1:
            raise ValueError(f"target firing rate must be in (0, 1), got {rate!r}")
        _check_spikes(x, self.n_in, "calibration input")
        syn = self._synaptic(x)  # [T, B, N_out]

        def rate_at(log_g: float) -> float:
            spikes, _ = _LIFRecursion.apply(math.exp(log_g) * syn + self.bias, self.threshold, self.refr_decay,
                                            self.surrogate)
            return spikes.mean().item()

        lo, hi = math.log(1e-4), math.log(1e4)
        if rate_at(lo) > rate:
            raise ValueError(f"cannot calibrate a {self.n_in} -> {self.n_out} LIF layer to firing rate {rate:g}: it fires "
                             f"at {rate_at(lo):.3g} even with 10^-4 times its weights (a large bias?)")
        if rate_at(hi) < rate:
            raise ValueError(f"cannot calibrate a {self.n_in} -> {self.n_out} LIF layer to firing rate {rate:g}: "
                             f"even 10^4 times its weights fire at {rate_at(hi):.3g} on this input "
                             f"({x.mean().item():.3g} of its input bins are spikes)")
        for _ in range(iters):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if rate_at(mid) < rate else (lo, mid)
        gain = math.exp((lo + hi) / 2)
        self.weight.mul_(gain)
        return gain


class Readout(NamedTuple):
    z: torch.Tensor  # [T, B, N_z] readout spikes (0/1)
    logits: torch.Tensor  # [T, B, N_z] u_t, firing probability σ(u_t)


SAMPLE_MODES = ("bernoulli", "threshold", "deterministic")


class StochasticReadout(nn.Module):
    """Stochastic readout neurons: a GLM / SRM with stochastic threshold (book chapter "The encoding SNN"):

        u_{i,t} = Σ_j Σ_k w_{ijk} (a_k * h_j)_t + v_i (c * z_i)_{t−1} + γ_i ,   z_{i,t} ~ Bern(σ(u_{i,t}))

    a_k: K raised-cosine bases over the last M hidden samples (lag 0 included). c: one feedback basis
    over the neuron's own last M spikes; our choice is a truncated exponential c(m) = fb_decay^(m−1),
    m = 1..M, which makes the feedback an O(1) recursion. Readout neurons do not feed each other.
    Sampling loops over time without gradient (`_readout_recursion`) and then forms u for all t at once;
    only the pathwise 'threshold' mode, whose spikes carry gradient, loops in one autograd node.

    The bias starts at logit(init_rate), so an untrained readout fires near that rate.
    Sampling modes: 'bernoulli' (no gradient through z; for the score-function estimator),
    'threshold' (z = Θ(u − ε), ε ~ Logistic(0, 1), surrogate derivative: the pathwise estimator),
    'deterministic' (z = Θ(u), for evaluation). Passing `z` evaluates the logits of given spikes
    (teacher forcing), e.g. to compute log p(z || x) of recorded spike trains.
    """

    def __init__(self, n_in: int, n_out: int, *, n_basis: int = 8, memory: int = 10, fb_decay: float = 0.5,
                 init_rate: float = 0.5, surrogate: Surrogate = Surrogate(), init_gain: float = 1.0):
        super().__init__()
        self.n_in, self.n_out, self.n_basis, self.memory, self.fb_decay = n_in, n_out, n_basis, memory, fb_decay
        self.surrogate = surrogate
        self.register_buffer("basis", raised_cosine_basis(n_basis, memory))  # [M, K]
        self.weight = nn.Parameter(init_gain * torch.randn(n_out, n_basis * n_in) / math.sqrt(n_in))  # [N_z, K*N_h]: w_ijk at [i, k*N_h + j]
        self.fb_weight = nn.Parameter(torch.zeros(n_out))  # v [N_z]
        self.bias = nn.Parameter(torch.full((n_out,), math.log(init_rate / (1 - init_rate))))  # γ [N_z]: σ(γ) = init_rate
        self._filters: dict = {}  # (T, device, dtype, ...) -> the basis matrix [T, K*T] or the feedback matrix [T, T]

    def feedforward(self, h: torch.Tensor) -> torch.Tensor:
        """Σ_jk w_ijk (a_k * h_j)_t + γ_i for all t: h [T, B, N_h] -> [T, B, N_z].

        The filters are linear, so the bases and the weights can be applied in either order. Per sample and
        step, folding the bases into the weights, F_m = Σ_k a_k(m) W_kᵀ [N_h, N_z], and filtering with the
        band of M lags, u_t = Σ_{m<M} h_{t−m} F_m (`_BandedFilter`), costs N_h·N_z·M multiply-adds; applying
        the weights first, P_k = W_k h (one matmul for all t and k), then the dense filter over time,
        u_t = Σ_k Σ_s A_k[t, s] P_{k,s} (one [T, K·T] matmul), costs N_z·K·(N_h + T). The cheaper one runs:
        the band for narrow inputs (predictive coding), the dense filter for wide hidden layers (MNIST)."""
        T, B, N = h.shape
        K, Z, M = self.n_basis, self.n_out, self.memory
        if N * M <= K * (N + T):
            F = torch.einsum("mk,zkn->mnz", self.basis, self.weight.view(Z, K, N))  # [M, N_h, N_z]
            return _BandedFilter.apply(h, F, self.bias)  # [T, B, N_z]
        P = h.reshape(T * B, N) @ self.weight.view(Z, K, N).transpose(0, 1).reshape(K * Z, N).t()  # [T*B, K*Z]
        P = P.view(T, B, K, Z).permute(2, 0, 1, 3).reshape(K * T, B * Z)  # [K*T, B*Z]
        A = _cached(self._filters, (T, h.device, h.dtype, self.basis._version), lambda: torch.cat(
            [causal_filter_matrix(self.basis[:, k], T) for k in range(K)], dim=1).to(h))  # [T, K*T]
        return (A @ P).view(T, B, Z) + self.bias  # [T, B, N_z]

    def forward(self, h: torch.Tensor, sample: str = "bernoulli", z: torch.Tensor | None = None,
                generator: torch.Generator | None = None) -> Readout:
        """h [T, B, N_h] (hidden spikes or input spikes) -> Readout(z [T, B, N_z], logits [T, B, N_z])."""
        _check_spikes(h, self.n_in, "StochasticReadout input")
        if sample not in SAMPLE_MODES:
            raise ValueError(f"unknown sample mode {sample!r}; expected one of {SAMPLE_MODES}")
        if z is not None:
            _check_spikes(z, self.n_out, "given readout spikes z")
            if z.shape[:2] != h.shape[:2]:
                raise ValueError(f"given z has [T, B] = {list(z.shape[:2])}, input has {list(h.shape[:2])}")
        ff = self.feedforward(h)  # [T, B, N_z]
        if z is not None:  # teacher forcing: the feedback is a linear filter of the given spikes
            return Readout(z, ff + self.fb_weight * self.feedback(z))
        noise = None  # deterministic: z = Θ(u)
        if sample != "deterministic":  # all the noise at once: one RNG call, not T
            uni = torch.rand(ff.shape, generator=generator, device=ff.device, dtype=ff.dtype)  # [T, B, N_z]
            noise = uni.div_(1 - uni).log_()  # logistic ε_t = log(U / (1 − U)): P(ε < u) = σ(u)
        if sample == "threshold":  # Θ(u − ε) with surrogate derivative: gradient through the spikes
            return Readout(*_ThresholdReadout.apply(ff, self.fb_weight, noise, self.fb_decay, self.memory,
                                                    self.surrogate))
        with torch.no_grad():  # Θ(u − ε) ~ Bern(σ(u)) or Θ(u): no gradient through z
            z, _, trace = _readout_recursion(ff, self.fb_weight, noise, self.fb_decay, self.memory)
        return Readout(z, ff + self.fb_weight * trace)  # u [T, B, N_z], differentiable in ff and v

    def feedback(self, z: torch.Tensor) -> torch.Tensor:
        """The feedback trace (c * z)_{t−1} = Σ_{m=1..M} fb_decay^(m−1) z_{t−m} for all t as one [T, T]
        matmul: z [T, B, N_z] -> [T, B, N_z]."""
        T = z.shape[0]

        def build() -> torch.Tensor:
            c = torch.cat([torch.zeros(1, dtype=torch.float64),
                           self.fb_decay ** torch.arange(self.memory, dtype=torch.float64)])  # [M+1]: c(0) = 0
            return causal_filter_matrix(c, T).to(z)  # [T, T]

        A = _cached(self._filters, (T, z.device, z.dtype, "feedback", self.fb_decay, self.memory), build)
        return (A @ z.reshape(T, -1)).view(z.shape)


def _readout_recursion(ff: torch.Tensor, fb_weight: torch.Tensor, noise: torch.Tensor | None, fb_decay: float,
                       memory: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The readout's spike recursion, without gradient: ff [T, B, N_z], ε [T, B, N_z] or None -> (z, u, trace)

        trace_t = fb_decay trace_{t−1} + z_{t−1} − fb_decay^M z_{t−1−M},  u_t = ff_t + v trace_t,  z_t = Θ(u_t − ε_t)

    each [T, B, N_z]; trace_t = (c * z)_{t−1}, and ε = 0 when noise is None (deterministic)."""
    z, u, trace = torch.empty_like(ff), torch.empty_like(ff), torch.empty_like(ff)  # [T, B, N_z]
    trace[0] = 0  # the loop writes every later step
    ops = _loop_ops(ff)
    zs, us, traces, ffs = (list(ops.view(a)) for a in (z, u, trace, ff))  # per-step views, made once
    scratch = ops.view(torch.empty_like(ff[0]))  # [B, N_z]
    eps = [ops.scalar(0, scratch)] * len(zs) if noise is None else list(ops.view(noise))
    v = ops.view(fb_weight.detach().expand_as(ff[0]).contiguous())  # [B, N_z]: v, broadcast once
    decay, neg_decay_M = ops.scalar(fb_decay, scratch), ops.scalar(-fb_decay ** memory, scratch)
    for t in range(len(zs)):
        if t > 0:
            entering = zs[t - 1]  # [B, N_z]: z_{t−1}, minus fb_decay^M z_{t−1−M}, which leaves the kernel
            if t > memory:
                entering = ops.muladd(zs[t - 1 - memory], neg_decay_M, zs[t - 1], out=scratch)
            ops.muladd(traces[t - 1], decay, entering, out=traces[t])
        ops.muladd(traces[t], v, ffs[t], out=us[t])
        ops.gt(us[t], eps[t], out=zs[t])
    return z, u, trace


class _ThresholdReadout(torch.autograd.Function):
    """The pathwise readout z_t = Θ(u_t − ε_t), u_t = ff_t + v trace_t (`_readout_recursion`), as one
    autograd node: (ff [T, B, N_z], v [N_z], ε [T, B, N_z]) -> (z, u). Its backward runs the adjoint
    recursion backwards in time: with g_t = Θ'(u_t − ε_t) the surrogate derivative and G_t = ∂L/∂u_t,

        G_t = c_t + g_t v e_t,   c_t = ∂L/∂u_t|direct + g_t ∂L/∂z_t|direct,
        e_t = Σ_{m=1..M} fb_decay^(m−1) G_{t+m},

    e_t = fb_decay e_{t+1} + G_{t+1} − fb_decay^M G_{t+1+M}: the same gradients as autograd through a
    per-step loop. ∂L/∂ff_t = G_t and ∂L/∂v = Σ_t G_t trace_t."""

    @staticmethod
    def forward(ctx, ff: torch.Tensor, fb_weight: torch.Tensor, noise: torch.Tensor, fb_decay: float,
                memory: int, surrogate: Surrogate):
        z, u, trace = _readout_recursion(ff, fb_weight, noise, fb_decay, memory)
        ctx.save_for_backward(u, noise, trace, fb_weight)
        ctx.constants = fb_decay, memory, surrogate
        return z, u

    @staticmethod
    def backward(ctx, grad_z: torch.Tensor, grad_u: torch.Tensor):
        u, noise, trace, v = ctx.saved_tensors
        fb_decay, memory, surrogate = ctx.constants
        g = surrogate.grad(u - noise)  # [T, B, N_z]: dz_t/du_t
        c = torch.addcmul(grad_u, g, grad_z)  # [T, B, N_z]: G_t without the feedback path
        gv = g.mul_(v)  # [T, B, N_z]: g_t v (in place: g is not needed after)
        grad_ff = torch.empty_like(u)  # [T, B, N_z]: G_t
        grad_ff[-1] = c[-1]  # e_{T−1} = 0; the loop writes every earlier step
        state = torch.zeros((2,) + u.shape[1:], dtype=u.dtype, device=u.device)  # [2, B, N_z]
        ops = _loop_ops(u)
        Gs, cs, gvs = (list(ops.view(a)) for a in (grad_ff, c, gv))  # per-step views, made once
        e, scratch = ops.view(state)  # [B, N_z]: e_t and G_{t+1} − fb_decay^M G_{t+1+M}
        decay, neg_decay_M = ops.scalar(fb_decay, e), ops.scalar(-fb_decay ** memory, e)
        T = len(Gs)
        for t in range(T - 2, -1, -1):
            entering = Gs[t + 1]
            if t + 1 + memory < T:
                entering = ops.muladd(Gs[t + 1 + memory], neg_decay_M, Gs[t + 1], out=scratch)
            ops.muladd(e, decay, entering, out=e)
            ops.muladd(gvs[t], e, cs[t], out=Gs[t])
        return grad_ff, (grad_ff * trace).sum((0, 1)), None, None, None, None
