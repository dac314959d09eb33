"""The hybrid model: encoding SNN -> readout spikes z -> decoding ANN (book chapters "Spikes and how they
are read" and "The encoding SNN"). Time decoding reads the last τ_d readout samples as they are; rate decoding reads
their firing rates (spike counts / τ_d) over the same window.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import NamedTuple

import torch
from torch import nn

from .neurons import LIFLayer, Readout, StochasticReadout, Surrogate

DECODERS = ("linear", "mlp", "cnn")
DECODINGS = ("time", "rate")
LIKELIHOODS = ("bernoulli", "categorical", "gaussian")
TARGETS = ("static", "sequence")
ESTIMATORS = ("score", "pathwise")
BASELINES = ("loo", "none")
LEARNING_SIGNALS = ("to_go", "window")


@dataclass
class VDIBConfig:
    """Everything that defines a hybrid model and its VDIB objective.

    Objective (book chapter "The VDIB objective and its gradients"): minimise E[Σ_t −log q(y_t | z_{t−τ_d+1..t})] + β E[Σ_t Σ_i KL(Bern(σ(u)) ‖ Bern(r))].
    `target='static'`: one target, decoded at t = T; `'sequence'`: a target at every t ≥ τ_d.
    `estimator`: 'score' (the paper's learning signal × ∇log p, with `baseline` and `learning_signal`)
    or 'pathwise' (stochastic threshold + surrogate). See objective.py.
    """

    n_in: int
    n_readout: int
    n_out: int  # decoder outputs: pixels / signal dims, or number of classes
    tau_d: int
    n_hidden: tuple[int, ...] = ()
    likelihood: str = "bernoulli"
    target: str = "static"
    decoder: str = "mlp"
    decoding: str = "time"
    decoder_hidden: int = 1024
    cnn_channels: tuple[int, int] = (16, 32)
    beta: float = 1.0
    r: float = 0.2
    estimator: str = "pathwise"
    baseline: str = "loo"
    learning_signal: str = "to_go"
    surrogate: str = "fast_sigmoid"
    slope: float = 5.0
    threshold: float = 1.0
    syn_decay: float = 0.85
    mem_decay: float = 0.9
    refr_decay: float = 0.65
    init_gain: float = 5.0
    n_basis: int = 8
    memory: int = 10
    fb_decay: float = 0.5

    def __post_init__(self):
        if isinstance(self.n_hidden, int):  # n_hidden=600: one hidden layer of 600 neurons
            self.n_hidden = (self.n_hidden,)
        self.n_hidden = tuple(int(n) for n in self.n_hidden)
        self.cnn_channels = tuple(int(c) for c in self.cnn_channels)
        for name, value, allowed in [("decoder", self.decoder, DECODERS), ("decoding", self.decoding, DECODINGS),
                                     ("likelihood", self.likelihood, LIKELIHOODS), ("target", self.target, TARGETS),
                                     ("estimator", self.estimator, ESTIMATORS), ("baseline", self.baseline, BASELINES),
                                     ("learning_signal", self.learning_signal, LEARNING_SIGNALS)]:
            if value not in allowed:
                raise ValueError(f"unknown {name} {value!r}; expected one of {allowed}")
        for name in ("n_in", "n_readout", "n_out", "tau_d", "decoder_hidden", "n_basis", "memory"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if any(n < 1 for n in self.n_hidden):
            raise ValueError(f"hidden layer sizes must be >= 1, got {self.n_hidden}")
        if not 0 < self.r < 1:
            raise ValueError(f"target rate r must be in (0, 1), got {self.r}")
        if not self.beta >= 0:
            raise ValueError(f"beta must be >= 0, got {self.beta}")
        if self.likelihood == "categorical" and self.n_out < 2:
            raise ValueError("a categorical likelihood needs n_out >= 2 classes")
        Surrogate(self.surrogate, self.slope)  # validates the name and slope

    def to_dict(self) -> dict:
        return asdict(self)


class SNNEncoder(nn.Module):
    """Input spikes x [T, B, N_in] -> hidden LIF layers (possibly none) -> stochastic readout."""

    def __init__(self, cfg: VDIBConfig):
        super().__init__()
        sur = Surrogate(cfg.surrogate, cfg.slope)
        sizes = (cfg.n_in,) + cfg.n_hidden
        self.hidden = nn.ModuleList(
            LIFLayer(a, b, threshold=cfg.threshold, syn_decay=cfg.syn_decay, mem_decay=cfg.mem_decay,
                     refr_decay=cfg.refr_decay, init_gain=cfg.init_gain, surrogate=sur)
            for a, b in zip(sizes[:-1], sizes[1:]))
        self.readout = StochasticReadout(sizes[-1], cfg.n_readout, n_basis=cfg.n_basis, memory=cfg.memory,
                                         fb_decay=cfg.fb_decay, init_rate=cfg.r, surrogate=sur)

    @torch.no_grad()
    def calibrate(self, x: torch.Tensor, rate: float | None) -> list[dict[str, float]]:
        """Data-dependent initialisation: scale each hidden layer's weights, first to last, so that it fires
        at `rate` on the input batch x [T, B, N_in] (`LIFLayer.calibrate`, book chapter "Naturalizing
        MNIST-DVS"); rate None only measures. -> per layer {gain, rate_before, rate_after}."""
        report = []
        h = x  # [T, B, N_in]
        for layer in self.hidden:
            before = layer(h)[0]  # [T, B, N_h]
            gain = 1.0 if rate is None else layer.calibrate(h, rate)
            after = before if rate is None else layer(h)[0]  # the calibrated layer's spikes feed the next one
            report.append({"gain": gain, "rate_before": before.mean().item(), "rate_after": after.mean().item()})
            h = after
        return report

    def forward(self, x: torch.Tensor, sample: str = "bernoulli", z: torch.Tensor | None = None,
                generator: torch.Generator | None = None) -> tuple[Readout, list[torch.Tensor]]:
        hidden = []
        h = x  # [T, B, N_in]
        for layer in self.hidden:
            h, _ = layer(h)  # [T, B, N_h]
            hidden.append(h)
        return self.readout(h, sample=sample, z=z, generator=generator), hidden


def readout_windows(z: torch.Tensor, tau_d: int, target: str) -> torch.Tensor:
    """Causal decoding windows of the readout: z [T, B, N_z] -> [S, B, τ_d, N_z], where window s ends
    at t = T−1 (static: S = 1) or at t = τ_d−1+s for s = 0..T−τ_d (sequence: S = T−τ_d+1)."""
    T = z.shape[0]
    if tau_d > T:
        raise ValueError(f"decoding window tau_d={tau_d} is longer than the sequence (T={T})")
    if target == "static":
        return z[T - tau_d:].transpose(0, 1).unsqueeze(0)  # [1, B, τ_d, N_z]
    return z.unfold(0, tau_d, 1).permute(0, 1, 3, 2)  # [S, B, τ_d, N_z]


class InputCentering(nn.Module):
    """Subtracts a running mean of the decoder's inputs (started at the first training batch's mean).
    Keeps ReLU decoders alive on 0/1 spike windows (measured: on raw windows about half the units died within a few steps)."""

    def __init__(self, shape: tuple[int, ...], momentum: float = 0.01):
        super().__init__()
        self.momentum = momentum
        self.register_buffer("mean", torch.zeros(shape))
        self.register_buffer("started", torch.zeros((), dtype=torch.bool))

    def forward(self, v: torch.Tensor) -> torch.Tensor:
        if self.training:
            with torch.no_grad():
                batch_mean = v.mean(0)
                if not bool(self.started):
                    self.mean.copy_(batch_mean)
                    self.started.fill_(True)
                else:
                    self.mean.lerp_(batch_mean, self.momentum)
        return v - self.mean


class Decoder(nn.Module):
    """Decoding ANN q_φ(y | window): linear, MLP (one hidden layer) or CNN (two conv layers + one fully
    connected layer; the convolutions slide over the readout-neuron axis, time steps are channels).
    Input: windows [S, B, τ_d, N_z]; output: [S, B, n_out] (logits, class logits or Gaussian means)."""

    def __init__(self, cfg: VDIBConfig):
        super().__init__()
        self.kind, self.decoding = cfg.decoder, cfg.decoding
        steps = cfg.tau_d if cfg.decoding == "time" else 1
        n_z = cfg.n_readout
        self.centre = InputCentering((steps, n_z))
        if cfg.decoder == "linear":
            self.net = nn.Sequential(nn.Flatten(), nn.Linear(steps * n_z, cfg.n_out))
        elif cfg.decoder == "mlp":
            self.net = nn.Sequential(nn.Flatten(), nn.Linear(steps * n_z, cfg.decoder_hidden), nn.ReLU(),
                                     nn.Linear(cfg.decoder_hidden, cfg.n_out))
        else:
            c1, c2 = cfg.cnn_channels
            self.net = nn.Sequential(nn.Conv1d(steps, c1, 3, padding=1), nn.ReLU(),
                                     nn.Conv1d(c1, c2, 3, padding=1), nn.ReLU(),
                                     nn.Flatten(), nn.Linear(c2 * n_z, cfg.n_out))

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        S, B, tau, n_z = windows.shape
        v = windows.reshape(S * B, tau, n_z)  # [S*B, τ_d, N_z]
        if self.decoding == "rate":
            v = v.mean(1, keepdim=True)  # [S*B, 1, N_z]: spike counts / τ_d
        return self.net(self.centre(v)).view(S, B, -1)  # [S, B, n_out]


class ModelOutput(NamedTuple):
    z: torch.Tensor  # [T, B, N_z] readout spikes
    logits: torch.Tensor  # [T, B, N_z] readout potentials u (firing probability σ(u))
    hidden: list  # hidden spikes, one [T, B, N_h] per hidden layer
    out: torch.Tensor  # [S, B, n_out] decoder outputs (S = 1 static, T − τ_d + 1 sequence)


class HybridModel(nn.Module):
    """Encoding SNN + decoding ANN (book chapter "Information bottleneck and directed information"):
    x [T, B, N_in] -> ModelOutput."""

    def __init__(self, cfg: VDIBConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder = SNNEncoder(cfg)
        self.decoder = Decoder(cfg)

    def forward(self, x: torch.Tensor, sample: str = "bernoulli", z: torch.Tensor | None = None,
                generator: torch.Generator | None = None) -> ModelOutput:
        """`sample`: 'bernoulli' (score estimator), 'threshold' (pathwise) or 'deterministic' (evaluation)."""
        if x.dim() != 3 or x.shape[-1] != self.cfg.n_in:
            raise ValueError(f"input must be spikes of shape [T, B, {self.cfg.n_in}] (time-first), got {list(x.shape)}")
        if not torch.is_floating_point(x) or ((x != 0) & (x != 1)).any():
            raise ValueError("input must be a float tensor of 0/1 spikes (encode images with rate_encode first)")
        if self.cfg.tau_d > x.shape[0]:
            raise ValueError(f"decoding window tau_d={self.cfg.tau_d} is longer than the input (T={x.shape[0]})")
        dtype = next(self.parameters()).dtype  # 0/1 spikes are exact in any float dtype: cast, e.g. float64 -> float32
        x = x.to(dtype)
        z = z.to(dtype) if isinstance(z, torch.Tensor) else z
        readout, hidden = self.encoder(x, sample=sample, z=z, generator=generator)
        out = self.decoder(readout_windows(readout.z, self.cfg.tau_d, self.cfg.target))
        return ModelOutput(readout.z, readout.logits, hidden, out)

    def encoder_parameters(self) -> list[nn.Parameter]:
        return list(self.encoder.parameters())

    def decoder_parameters(self) -> list[nn.Parameter]:
        return list(self.decoder.parameters())
