"""The VDIB objective and its gradient estimators (book chapter "The VDIB objective and its
gradients").

    L(θ, φ) = E_{z ~ p_θ(·||x)} [ Σ_t −log q_φ(y_t | z_{t−τ_d+1..t}) ] + β E[ Σ_t Σ_i KL(Bern(σ(u_{i,t})) ‖ Bern(r)) ]
"""
from __future__ import annotations

import itertools
import math
from typing import TYPE_CHECKING, NamedTuple

import torch
import torch.nn.functional as F

from .model import ModelOutput, VDIBConfig

if TYPE_CHECKING:
    from .model import HybridModel


def bernoulli_kl(logits: torch.Tensor, r: float) -> torch.Tensor:
    """KL(Bern(σ(u)) ‖ Bern(r)) in nats, elementwise (book chapter "The VDIB objective and its gradients", section "The Bernoulli
    KL, computed stably"):

        p log(p/r) + (1−p) log((1−p)/(1−r)) = p (u − logit r) − softplus(u) − log(1−r),  p = σ(u)

    (with log p = u − softplus(u) and log(1−p) = −softplus(u)); softplus(u) = max(u, 0) + log(1 + exp(−abs(u)))
    never overflows, so it is finite for any logit (one exponential and one logarithm per element), with an
    absolute error of a few rounding units of abs(u), and differentiable in `logits`.
    """
    if not isinstance(logits, torch.Tensor) or not torch.is_floating_point(logits):
        raise TypeError("logits must be a floating-point torch.Tensor")
    if not 0 < r < 1:
        raise ValueError(f"reference rate r must be in (0, 1), got {r}")
    return _BernoulliKL.apply(logits, r)


class _BernoulliKL(torch.autograd.Function):
    """`bernoulli_kl` as one autograd node with its closed-form derivative dKL/du = σ(u) σ(−u) (u − logit r),
    instead of autograd through a dozen element-wise ops."""

    @staticmethod
    def forward(ctx, logits: torch.Tensor, r: float) -> torch.Tensor:
        logit_r = math.log(r / (1 - r))
        p = torch.sigmoid(logits)
        softplus = logits.abs().neg_().exp_().log1p_().add_(logits.clamp(min=0))  # log(1 + e^u), for any u
        kl = (logits - logit_r).mul_(p).sub_(softplus).sub_(math.log1p(-r))  # p (u − logit r) − softplus(u) − log(1−r)
        ctx.save_for_backward(logits, p.mul_(1 - p))  # σ(u) σ(−u)
        ctx.logit_r = logit_r
        return kl

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        logits, pq = ctx.saved_tensors
        return (logits - ctx.logit_r).mul_(pq).mul_(grad), None


def _check_binary(z: torch.Tensor, name: str) -> None:
    if not torch.is_floating_point(z) or ((z != 0) & (z != 1)).any():
        raise ValueError(f"{name} must be a float tensor of 0/1 spikes")


def spike_log_likelihood(z: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """log p(z | u) = z logσ(u) + (1 − z) logσ(−u), elementwise (book chapter "The encoding SNN",
    section "Readout neurons: a stochastic threshold"). Summed over neurons and
    time it is log p_θ(z || x), because readout neurons are independent given the past."""
    _check_binary(z, "z")
    if z.shape != logits.shape:
        raise ValueError(f"z and logits must have the same shape, got {list(z.shape)} and {list(logits.shape)}")
    return -F.binary_cross_entropy_with_logits(logits, z, reduction="none")


def decoder_nll(out: torch.Tensor, y: torch.Tensor, likelihood: str) -> torch.Tensor:
    """−log q_φ(y | window) per decoded step and example: out [S, B, n_out], y [S, B, D] or [S, B]
    (class indices) -> [S, B] in nats. Bernoulli: BCE with logits summed over D (pixels in [0, 1]);
    categorical: cross-entropy of class logits; Gaussian: unit-variance, ½(y − μ)² + ½ log 2π summed over D."""
    if likelihood == "categorical":
        if y.dtype not in (torch.int64, torch.int32) or y.shape != out.shape[:2]:
            raise ValueError(f"categorical targets must be integer class indices of shape {list(out.shape[:2])}, "
                             f"got dtype {y.dtype}, shape {list(y.shape)}")
        if (y < 0).any() or (y >= out.shape[-1]).any():
            raise ValueError(f"class indices must be in [0, {out.shape[-1]})")
        return _CategoricalNLL.apply(out.flatten(0, 1), y.flatten().long()).view(out.shape[:2])
    if y.shape != out.shape:
        raise ValueError(f"targets must have shape {list(out.shape)}, got {list(y.shape)}")
    if likelihood == "bernoulli":
        if (y < 0).any() or (y > 1).any():
            raise ValueError("Bernoulli targets (pixels) must be in [0, 1]")
        return F.binary_cross_entropy_with_logits(out, y, reduction="none").sum(-1)
    if likelihood == "gaussian":
        return (0.5 * (y - out) ** 2 + 0.5 * math.log(2 * math.pi)).sum(-1)
    raise ValueError(f"unknown likelihood {likelihood!r}")


class _CategoricalNLL(torch.autograd.Function):
    """The cross-entropy −log softmax(out)_y per row as one autograd node: out [N, C], y [N] -> [N]. The backward
    reuses the forward's log-probabilities, ∂/∂out = g (softmax(out) − onehot(y)), in two passes over [N, C]
    where `F.cross_entropy` fills a one-hot gradient and runs the log-softmax backward (same values)."""

    @staticmethod
    def forward(ctx, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        log_p = torch.log_softmax(out, -1)  # [N, C]
        ctx.save_for_backward(log_p, y)
        return log_p.gather(-1, y[:, None]).squeeze(-1).neg_()  # [N]

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        log_p, y = ctx.saved_tensors
        g = grad[:, None]  # [N, 1]
        return log_p.exp().mul_(g).scatter_add_(-1, y[:, None], -g), None


def target_prior(y: torch.Tensor, likelihood: str, n_out: int) -> torch.Tensor:
    """The decoder output that predicts the training targets' prior, whatever the input (book chapter "The
    VDIB objective and its gradients", section "Equal footing for time and rate decoding") -> [n_out]:
    Bernoulli: the logit of each output's mean target; categorical: log class frequencies; Gaussian: the
    mean. Frequencies are smoothed by half a count (Krichevsky–Trofimov), so that a pixel that is always 0
    or a class never seen gets a finite logit. y: targets with the outputs last ([..., n_out]) or, for a
    categorical likelihood, class indices of any shape."""
    if likelihood == "categorical":
        counts = torch.bincount(y.flatten().long(), minlength=n_out).double()  # [C]
        if len(counts) != n_out:
            raise ValueError(f"class indices must be in [0, {n_out}), got a maximum of {int(y.max())}")
        return torch.log((counts + 0.5) / (counts.sum() + 0.5 * n_out)).float()
    if y.shape[-1] != n_out:
        raise ValueError(f"targets must have {n_out} outputs in their last dimension, got shape {list(y.shape)}")
    flat = y.reshape(-1, n_out).double()  # [N, n_out]
    if likelihood == "gaussian":
        return flat.mean(0).float()
    if likelihood == "bernoulli":
        p = (flat.sum(0) + 0.5) / (len(flat) + 1.0)  # [n_out], in (0, 1)
        return (torch.log(p) - torch.log1p(-p)).float()
    raise ValueError(f"unknown likelihood {likelihood!r}")


class LossTerms(NamedTuple):
    nll: torch.Tensor  # [B] Σ_t −log q(y_t | window), nats
    kl: torch.Tensor  # [B] Σ_t Σ_i KL(Bern(σ(u)) ‖ Bern(r)), nats
    total: torch.Tensor  # [B] nll + β kl
    nll_t: torch.Tensor  # [T, B] nll by time step (0 where no target)
    kl_t: torch.Tensor  # [T, B] kl by time step


def align_targets(y: torch.Tensor, cfg: VDIBConfig, T: int) -> torch.Tensor:
    """Targets -> one per decoded step [S, B, ...]. Static: y [B, ...] is decoded at t = T. Sequence:
    y is time-first [T, B, ...] like the input, and targets exist for t ≥ τ_d (0-based t ≥ τ_d − 1)."""
    if cfg.target == "static":
        return y.unsqueeze(0)
    if y.shape[0] != T:
        raise ValueError(f"sequence targets must be time-first with T={T} steps like the input, got {list(y.shape)}")
    return y[cfg.tau_d - 1:]


def vdib_loss(out: ModelOutput, y: torch.Tensor, cfg: VDIBConfig) -> LossTerms:
    """The VDIB loss of one draw of z per example (book chapter "The VDIB objective and its gradients", section "The VDIB
    loss"), with its components."""
    T, B, _ = out.logits.shape
    nll_s = decoder_nll(out.out, align_targets(y, cfg, T), cfg.likelihood)  # [S, B]
    nll_t = torch.cat([out.out.new_zeros(T - nll_s.shape[0], B), nll_s])  # [T, B]
    kl_t = bernoulli_kl(out.logits, cfg.r).sum(-1)  # [T, B]
    nll, kl = nll_t.sum(0), kl_t.sum(0)
    return LossTerms(nll, kl, nll + cfg.beta * kl, nll_t, kl_t)


def learning_signal(terms: LossTerms, cfg: VDIBConfig) -> torch.Tensor:
    """Per-step learning signal ℓ_t [T, B] for the score estimator (book chapter "The VDIB objective and its gradients",
    section "The score-function estimator"): the cost that the
    draw of z_t can influence. 'to_go': every later target and every later KL term, Σ_{s≥t} nll_s +
    β Σ_{s>t} KL_s; unbiased for any readout (its self-feedback lets z_t shape later spikes). 'window':
    only the targets whose window contains z_t, Σ_{s=t}^{t+τ_d−1} nll_s; lower variance, unbiased only
    when z_t does not change later firing probabilities (zero feedback weight)."""
    nll_t, kl_t = terms.nll_t.detach(), terms.kl_t.detach()  # [T, B]
    to_go = lambda v: v.flip(0).cumsum(0).flip(0)  # noqa: E731  [T, B]: Σ_{s≥t} v_s
    if cfg.learning_signal == "to_go":
        return to_go(nll_t) + cfg.beta * (to_go(kl_t) - kl_t)
    T, B = nll_t.shape
    padded = torch.cat([to_go(nll_t), nll_t.new_zeros(1, B)])  # [T+1, B]
    end = torch.arange(T, device=nll_t.device).add(cfg.tau_d).clamp(max=T)  # first step after the window
    return padded[:T] - padded[end]  # [T, B]: Σ_{s=t}^{t+τ_d−1} nll_s


def estimator_loss(out: ModelOutput, terms: LossTerms, cfg: VDIBConfig) -> torch.Tensor:
    """A scalar whose gradient is the chosen estimator of ∇L, averaged over the batch (book chapter "The VDIB objective and its gradients",
    section "Gradients through random spikes").

    pathwise
        z was drawn with sample='threshold'; plain autograd of the loss (biased, low variance).
    score
        z was drawn with sample='bernoulli' (no gradient through z);
        ∇ = Σ_t (ℓ_t − b_t) ∇ log p(z_t | past) + β ∇ Σ KL + ∇_φ Σ nll,
        ℓ_t from `learning_signal`, b_t the mean of the other examples' ℓ_t ('loo') or 0 ('none').
    """
    misdrawn = out.z.requires_grad if cfg.estimator == "score" else out.logits.requires_grad and not out.z.requires_grad
    if torch.is_grad_enabled() and misdrawn:  # (a frozen encoder's spikes carry no gradient either way)
        want = "sample='bernoulli'" if cfg.estimator == "score" else "sample='threshold'"
        raise ValueError(f"the {cfg.estimator} estimator needs readout spikes drawn with {want}")
    if cfg.estimator == "pathwise":
        return terms.total.mean()
    B = out.z.shape[1]
    signal = learning_signal(terms, cfg)  # [T, B]
    if cfg.baseline == "loo":
        if B < 2:
            raise ValueError("the leave-one-out baseline needs a batch of at least 2 examples")
        signal = signal - (signal.sum(1, keepdim=True) - signal) / (B - 1)
    log_p = spike_log_likelihood(out.z, out.logits).sum(-1)  # [T, B] log p(z_t | x^t, z^{t-1})
    return ((signal.detach() * log_p).sum(0) + terms.total).mean()


MAX_ENUMERATED_SPIKES = 20  # 2^20 readout patterns at most


def readout_patterns(T: int, n_readout: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Every readout spike pattern of T steps and N_z neurons, as a batch: [T, 2^(T·N_z), N_z]."""
    if not 1 <= T * n_readout <= MAX_ENUMERATED_SPIKES:
        raise ValueError(f"T·N_z = {T * n_readout} spikes to enumerate; expected 1..{MAX_ENUMERATED_SPIKES}")
    bits = torch.tensor(list(itertools.product([0.0, 1.0], repeat=T * n_readout)), dtype=dtype)
    return bits.view(-1, T, n_readout).transpose(0, 1)  # [T, P, N_z]


def exact_expected_loss(model: "HybridModel", x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """E_{z ~ p_θ(·||x)}[L] for one example, computed exactly as Σ_z p_θ(z || x) L(z) over every readout
    pattern (book chapter "The VDIB objective and its gradients"). Differentiable: its autograd gradient
    is the exact ∇L that the estimators approximate. x [T, 1, N_in]; y as for `vdib_loss` with B = 1."""
    T, B, _ = x.shape
    if B != 1:
        raise ValueError(f"exact_expected_loss takes one example, x [T, 1, N_in]; got batch {B}")
    z = readout_patterns(T, model.cfg.n_readout, x.dtype)  # [T, P, N_z]
    P = z.shape[1]
    out = model(x.expand(-1, P, -1), z=z)  # teacher forcing: the logits of every pattern
    p_z = spike_log_likelihood(z, out.logits).sum((0, 2)).exp()  # [P] p_θ(z || x)
    y_p = y.expand(T, P, *y.shape[2:]) if model.cfg.target == "sequence" else y.expand(P, *y.shape[1:])
    return (p_z * vdib_loss(out, y_p, model.cfg).total).sum()
