"""Training throughput of the MNIST configuration, against the machine's matmul rate and two references.

    python benchmarks/throughput.py          # a table
    python benchmarks/throughput.py --json   # one JSON object

Model: 784 -> 600 LIF -> 256 stochastic readouts, T = 30, τ_d = 30, MLP decoder 7680 -> 3840 -> 784,
batch 64, score-function estimator, Adam. One training step = forward, loss, backward, optimiser step.
Implementations, timed interleaved (A B C D A B C D ...) on the same random batch, medians reported:
  vdib_core  - the package (all-T matmuls, element-wise loop over time only);
  snntorch   - snnTorch `Synaptic` neurons in the usual per-time-step loop over the batch, the same
               GLM readout and decoder written per time step, the same loss, estimator and optimiser;
  naive      - batch 1, loops over examples and time steps, one update per example: the structure of
               the paper's original code (same maths as vdib_core, checked below);
  matmul     - a 2048 x 2048 fp32 matmul: the roofline.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import torch

import vdib_core as vc
from vdib_core.data import rate_encode
from vdib_core.neurons import psp_kernel

T, B, N_IN, N_H, N_Z, HIDDEN_DEC = 30, 64, 784, 600, 256, 3840


def mnist_config() -> vc.VDIBConfig:
    return vc.VDIBConfig(n_in=N_IN, n_hidden=(N_H,), n_readout=N_Z, n_out=N_IN, tau_d=T, decoder="mlp",
                         decoder_hidden=HIDDEN_DEC, likelihood="bernoulli", estimator="score", beta=1e-3, r=0.3)


def flops_per_sample(cfg: vc.VDIBConfig, steps: int) -> tuple[float, float]:
    """Dense-layer FLOPs (2 per multiply-add) of one training sample: (forward, backward). Backward counts
    weight gradients for every layer and input gradients for every layer except the first (its input is
    data) and the decoder's first (the score estimator draws z without a gradient path)."""
    hidden = 2 * steps * cfg.n_in * cfg.n_hidden[0]
    readout = 2 * steps * cfg.n_basis * cfg.n_hidden[0] * cfg.n_readout
    dec1 = 2 * cfg.tau_d * cfg.n_readout * cfg.decoder_hidden
    dec2 = 2 * cfg.decoder_hidden * cfg.n_out
    forward = hidden + readout + dec1 + dec2
    backward = forward + (readout + dec2)
    return float(forward), float(backward)


def train_step(model: vc.HybridModel, opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor) -> None:
    out = model(x, sample="bernoulli")
    loss = vc.estimator_loss(out, vc.vdib_loss(out, y, model.cfg), model.cfg)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


class SnnTorchStyle(torch.nn.Module):
    """The usual snnTorch loop: per time step a Linear layer and a `Synaptic` neuron over the batch, and
    the GLM readout computed per step from a window of the last M hidden spikes. Same decoder and loss."""

    def __init__(self, cfg: vc.VDIBConfig, ref: vc.HybridModel):
        super().__init__()
        import snntorch as snn
        from snntorch import surrogate

        self.cfg = cfg
        self.fc = torch.nn.Linear(cfg.n_in, cfg.n_hidden[0])
        self.lif = snn.Synaptic(alpha=cfg.syn_decay, beta=cfg.mem_decay, threshold=cfg.threshold,
                                spike_grad=surrogate.fast_sigmoid(slope=cfg.slope), reset_mechanism="subtract")
        ro = ref.encoder.readout
        self.basis = ro.basis  # [M, K]
        self.w_ro = torch.nn.Parameter(ro.weight.detach().clone())  # [N_z, K*N_h]
        self.fb = torch.nn.Parameter(ro.fb_weight.detach().clone())
        self.b_ro = torch.nn.Parameter(ro.bias.detach().clone())
        self.decoder = vc.Decoder(cfg)

    def forward(self, x: torch.Tensor) -> vc.model.ModelOutput:
        M, K = self.basis.shape
        syn, mem = self.lif.init_synaptic()
        hist = [torch.zeros(x.shape[1], self.cfg.n_hidden[0])] * M
        trace = torch.zeros(x.shape[1], self.cfg.n_readout)
        zs, us, hs = [], [], []
        for t in range(x.shape[0]):
            spk, syn, mem = self.lif(self.fc(x[t]), syn, mem)  # [B, N_h]
            hist = hist[1:] + [spk]
            window = torch.stack(hist[::-1])  # [M, B, N_h], lag 0 first
            filtered = torch.einsum("mk,mbn->bkn", self.basis, window).reshape(x.shape[1], -1)  # [B, K*N_h]
            if t > 0:
                trace = self.cfg.fb_decay * trace + zs[-1]
            u = filtered @ self.w_ro.t() + self.fb * trace + self.b_ro  # [B, N_z]
            zs.append(torch.bernoulli(torch.sigmoid(u.detach())))
            us.append(u)
            hs.append(spk)
        z = torch.stack(zs)
        out = self.decoder(vc.model.readout_windows(z, self.cfg.tau_d, self.cfg.target))
        return vc.model.ModelOutput(z, torch.stack(us), [torch.stack(hs)], out)


def snntorch_step(model: SnnTorchStyle, opt, x, y) -> None:
    out = model(x)
    loss = vc.estimator_loss(out, vc.vdib_loss(out, y, model.cfg), model.cfg)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


def naive_forward(model: vc.HybridModel, x1: torch.Tensor, z_given: torch.Tensor | None = None):
    """One example [T, N_in], one time step at a time, with the weights of `model` (paper-code structure):
    explicit traces, matrix-vector products, a history window for the readout bases."""
    lif, ro = model.encoder.hidden[0], model.encoder.readout
    kappa = psp_kernel(x1.shape[0], lif.syn_decay, lif.mem_decay)
    M, K = ro.basis.shape
    x_hist, h_hist, zs, us = [], [], [], []
    refr = torch.zeros(lif.n_out)
    s = torch.zeros(lif.n_out)
    trace = torch.zeros(ro.n_out)
    for t in range(x1.shape[0]):
        x_hist.append(x1[t])
        filt_x = sum(kappa[k] * x_hist[t - k] for k in range(t + 1))  # (κ * x)_t  [N_in]
        refr = lif.refr_decay * refr + s
        u_h = lif.weight @ filt_x + lif.bias - lif.threshold * refr
        s = lif.surrogate(u_h - lif.threshold)
        h_hist.append(s)
        filt_h = torch.stack([sum(ro.basis[m, k] * h_hist[t - m] for m in range(min(M, t + 1))) for k in range(K)])
        if t > 0:
            trace = ro.fb_decay * trace + zs[t - 1]
            if t > ro.memory:
                trace = trace - ro.fb_decay ** ro.memory * zs[t - 1 - ro.memory]
        u = ro.weight @ filt_h.reshape(-1) + ro.fb_weight * trace + ro.bias  # [N_z]
        zs.append(z_given[t] if z_given is not None else torch.bernoulli(torch.sigmoid(u.detach())))
        us.append(u)
    z = torch.stack(zs).unsqueeze(1)  # [T, 1, N_z]
    out = model.decoder(vc.model.readout_windows(z, model.cfg.tau_d, model.cfg.target))
    return vc.model.ModelOutput(z, torch.stack(us).unsqueeze(1), [torch.stack(h_hist).unsqueeze(1)], out)


def naive_steps(model: vc.HybridModel, opt, x: torch.Tensor, y: torch.Tensor, n: int) -> None:
    """n examples, one update each (batch 1). The loss uses no baseline (a batch of 1 has no other examples)."""
    for i in range(n):
        out = naive_forward(model, x[:, i])
        terms = vc.vdib_loss(out, y[i:i + 1], model.cfg)
        log_p = vc.spike_log_likelihood(out.z, out.logits).sum()
        loss = terms.total.detach().sum() * log_p + terms.total.sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()


def matmul_gflops(n: int = 2048) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    t0 = time.perf_counter()
    a @ b
    return 2 * n**3 / (time.perf_counter() - t0) / 1e9


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--rounds", type=int, default=15, help="interleaved rounds")
    ap.add_argument("--naive-examples", type=int, default=2, help="naive examples per round")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cfg = mnist_config()
    model = vc.HybridModel(cfg)
    naive_model = vc.HybridModel(cfg)
    naive_model.load_state_dict(model.state_dict())
    snn_model = SnnTorchStyle(cfg, model)
    images = torch.rand(B, N_IN) ** 3  # a random batch with MNIST-like sparsity
    x = rate_encode(images, T)  # [T, B, N_in]

    # the naive loop computes the same maths as the package: same logits and outputs given the same spikes
    with torch.no_grad():
        model.eval(), naive_model.eval()
        fast = model(x[:, :1], sample="deterministic")
        slow = naive_forward(naive_model, x[:, 0], z_given=fast.z[:, 0])
        model.train(), naive_model.train()
    torch.testing.assert_close(slow.logits, fast.logits, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(slow.out, fast.out, rtol=1e-4, atol=1e-4)

    opts = [vc.train._adam(m.parameters(), 1e-4) for m in (model, snn_model, naive_model)]
    for _ in range(2):  # warm-up
        train_step(model, opts[0], x, images)
        snntorch_step(snn_model, opts[1], x, images)
    naive_steps(naive_model, opts[2], x, images, 1)
    t_ours, t_snn, t_naive, rates = [], [], [], []
    for _ in range(args.rounds):
        t_ours.append(timed(lambda: train_step(model, opts[0], x, images)) / B)
        t_snn.append(timed(lambda: snntorch_step(snn_model, opts[1], x, images)) / B)
        t_naive.append(timed(lambda: naive_steps(naive_model, opts[2], x, images, args.naive_examples))
                       / args.naive_examples)
        rates.append(matmul_gflops())
    fwd, bwd = flops_per_sample(cfg, T)
    med = statistics.median
    sps = 1 / med(t_ours)
    result = {
        "samples_per_s": sps,
        "gflops_per_s": sps * (fwd + bwd) / 1e9,
        "roofline_gflops_per_s": med(rates),
        "naive_samples_per_s": 1 / med(t_naive),
        "snntorch_samples_per_s": 1 / med(t_snn),
        "gflop_per_sample": (fwd + bwd) / 1e9, "gflop_forward": fwd / 1e9, "gflop_backward": bwd / 1e9,
        # ratios of the measurements made side by side in the same round, then their median across rounds:
        # robust to the machine's drift (on a shared 2-core VM the absolute rates vary by ±20 % run to run)
        "fraction_of_roofline": med((fwd + bwd) / 1e9 / t / r for t, r in zip(t_ours, rates)),
        "speedup_vs_naive": med(n / t for t, n in zip(t_ours, t_naive)),
        "speedup_vs_snntorch": med(s / t for t, s in zip(t_ours, t_snn)),
        "rounds": args.rounds, "batch": B, "threads": torch.get_num_threads(), "torch": torch.__version__,
    }
    if args.json:
        print(json.dumps(result))
    else:
        for k, v in result.items():
            print(f"{k:>24}: {v:.4g}" if isinstance(v, float) else f"{k:>24}: {v}")
    return result


if __name__ == "__main__":
    sys.exit(main() and 0)
