"""Neurons of the encoding SNN (book chapter "The encoding SNN"; method.md §4).

- `Surrogate`: the Heaviside spike function Θ(x) with a named surrogate derivative.
- `LIFLayer`: deterministic leaky integrate-and-fire / spike-response hidden neurons.
- `StochasticReadout`: GLM readout neurons with a stochastic threshold (Bernoulli spikes).

All sequences are time-first: [T, B, N]. Linear filters that do not depend on the layer's own
spikes are applied to all T steps at once as a [T, T] (Toeplitz) matmul; only the recurrence
through a neuron's own spikes is a Python loop over time, and it is element-wise.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

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
        """The surrogate derivative g(x), elementwise."""
        s = self.slope
        if self.shape == "boxcar":
            return (x.abs() < 1 / s).to(x.dtype) * (s / 2)
        if self.shape == "fast_sigmoid":
            return 1 / (1 + s * x.abs()) ** 2
        if self.shape == "sigmoid":
            sig = torch.sigmoid(s * x)
            return s * sig * (1 - sig)
        return (s / 2) / (1 + (math.pi * s * x / 2) ** 2)  # arctan

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


def causal_filter_matrix(kernel: torch.Tensor, T: int) -> torch.Tensor:
    """Toeplitz matrix A [T, T] with A[t, s] = kernel[t − s] for 0 ≤ t − s < len(kernel), else 0,
    so that (A @ x)[t] = Σ_k kernel[k] x[t − k] is the causal convolution (kernel * x)_t."""
    lags = torch.arange(T).view(T, 1) - torch.arange(T).view(1, T)  # [T, T]
    valid = (lags >= 0) & (lags < kernel.shape[0])
    return torch.where(valid, kernel[lags.clamp(0, kernel.shape[0] - 1)], torch.zeros((), dtype=kernel.dtype))


def psp_kernel(T: int, syn_decay: float = 0.85, mem_decay: float = 0.9) -> torch.Tensor:
    """Synaptic-membrane kernel κ [T]: a difference of exponentials, normalised to unit sum so that
    a rate-p input train filters to ≈ p (method.md §4)."""
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


class LIFLayer(nn.Module):
    """Deterministic LIF / SRM hidden neurons (method.md §4):

        U_t = W (κ * x)_t + b + (ρ * S)_t ,   S_t = Θ(U_t − ϑ)

    κ: unit-sum difference of exponentials (decays `syn_decay`, `mem_decay`); ρ(k) = −ϑ·refr_decay^(k−1)
    for k ≥ 1 (each spike lowers the potential by ϑ, decaying). Θ's derivative is `surrogate.grad`.
    W x_t for all t is one matmul and κ is one [T, T] matmul; only ρ * S is looped over time.
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

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x [T, B, N_in] spikes -> (S [T, B, N_out] spikes, U [T, B, N_out] membrane potentials)."""
        _check_spikes(x, self.n_in, "LIFLayer input")
        T, B, _ = x.shape
        current = x.reshape(T * B, -1) @ self.weight.t()  # [T*B, N_out]: W x_t for every t at once
        A = causal_filter_matrix(psp_kernel(T, self.syn_decay, self.mem_decay), T).to(x)  # [T, T]
        drive = (A @ current.view(T, -1)).view(T, B, -1) + self.bias  # [T, B, N_out]: W(κ*x)_t + b
        refr = torch.zeros_like(drive[0])  # [B, N_out]: Σ_k refr_decay^(k-1) S_{t-k}
        s = torch.zeros_like(drive[0])
        spikes, potentials = [], []
        for drive_t in drive.unbind(0):  # unbind, not drive[t]: one backward op instead of T full-size ones
            refr = self.refr_decay * refr + s
            u = drive_t - self.threshold * refr  # [B, N_out]
            s = self.surrogate(u - self.threshold)
            spikes.append(s)
            potentials.append(u)
        return torch.stack(spikes), torch.stack(potentials)


class Readout(NamedTuple):
    z: torch.Tensor  # [T, B, N_z] readout spikes (0/1)
    logits: torch.Tensor  # [T, B, N_z] u_t, firing probability σ(u_t)


SAMPLE_MODES = ("bernoulli", "threshold", "deterministic")


class StochasticReadout(nn.Module):
    """Stochastic readout neurons: a GLM / SRM with stochastic threshold (method.md §4):

        u_{i,t} = Σ_j Σ_k w_{ijk} (a_k * h_j)_t + v_i (c * z_i)_{t−1} + γ_i ,   z_{i,t} ~ Bern(σ(u_{i,t}))

    a_k: K raised-cosine bases over the last M hidden samples (lag 0 included). c: one feedback basis
    over the neuron's own last M spikes; our choice is a truncated exponential c(m) = fb_decay^(m−1),
    m = 1..M, which makes the feedback an O(1) recursion. Readout neurons do not feed each other.

    The bias starts at logit(init_rate), so an untrained readout fires near that rate.
    Sampling modes: 'bernoulli' (no gradient through z; for the score-function estimator),
    'threshold' (z = Θ(u − ε), ε ~ Logistic(0, 1), surrogate derivative: the pathwise estimator),
    'deterministic' (z = Θ(u), for evaluation). Passing `z` evaluates the logits of given spikes
    (teacher forcing), e.g. to compute log p(z || x) of recorded spike trains.
    """

    def __init__(self, n_in: int, n_out: int, *, n_basis: int = 8, memory: int = 10, fb_decay: float = 0.5,
                 init_rate: float = 0.5, surrogate: Surrogate = Surrogate()):
        super().__init__()
        self.n_in, self.n_out, self.n_basis, self.memory, self.fb_decay = n_in, n_out, n_basis, memory, fb_decay
        self.surrogate = surrogate
        self.register_buffer("basis", raised_cosine_basis(n_basis, memory))  # [M, K]
        self.weight = nn.Parameter(torch.randn(n_out, n_basis * n_in) / math.sqrt(n_in))  # [N_z, K*N_h]: w_ijk at [i, k*N_h + j]
        self.fb_weight = nn.Parameter(torch.zeros(n_out))  # v [N_z]
        self.bias = nn.Parameter(torch.full((n_out,), math.log(init_rate / (1 - init_rate))))  # γ [N_z]: σ(γ) = init_rate

    def feedforward(self, h: torch.Tensor) -> torch.Tensor:
        """Σ_jk w_ijk (a_k * h_j)_t + γ_i for all t: h [T, B, N_h] -> [T, B, N_z].

        The filters are linear, so we apply the weights first, P_k = W_k h (one matmul for all t and k),
        then filter over time, u_t = Σ_k Σ_s A_k[t, s] P_{k,s} (one [T, K·T] matmul): fewer FLOPs and
        copies than filtering the wider hidden layer first."""
        T, B, N = h.shape
        K, Z = self.n_basis, self.n_out
        P = h.reshape(T * B, N) @ self.weight.view(Z, K, N).transpose(0, 1).reshape(K * Z, N).t()  # [T*B, K*Z]
        P = P.view(T, B, K, Z).permute(2, 0, 1, 3).reshape(K * T, B * Z)  # [K*T, B*Z]
        A = torch.cat([causal_filter_matrix(self.basis[:, k], T) for k in range(K)], dim=1).to(h)  # [T, K*T]
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
        decay_M = self.fb_decay ** self.memory
        trace = torch.zeros_like(ff[0])  # [B, N_z]: (c * z)_{t-1} = Σ_{m=1..M} fb_decay^(m-1) z_{t-m}
        if z is None and sample != "deterministic":  # all the noise at once: one RNG call, not T
            uni = torch.rand(ff.shape, generator=generator, device=ff.device, dtype=ff.dtype)  # [T, B, N_z]
            noise = torch.log(uni) - torch.log1p(-uni)  # logistic ε_t: P(ε < u) = σ(u)
        zs, us = [], []
        for t, ff_t in enumerate(ff.unbind(0)):
            if t > 0:
                trace = self.fb_decay * trace + zs[t - 1]
                if t > self.memory:
                    trace = trace - decay_M * zs[t - 1 - self.memory]  # truncate the kernel at M
            u = ff_t + self.fb_weight * trace  # [B, N_z]
            if z is not None:
                z_t = z[t]
            elif sample == "bernoulli":
                z_t = (u.detach() > noise[t]).to(u.dtype)  # Θ(u − ε) ~ Bern(σ(u)), no gradient
            elif sample == "threshold":
                z_t = self.surrogate(u - noise[t])  # Θ(u − ε), surrogate derivative
            else:
                z_t = (u.detach() > 0).to(u.dtype)
            zs.append(z_t)
            us.append(u)
        return Readout(torch.stack(zs), torch.stack(us))
