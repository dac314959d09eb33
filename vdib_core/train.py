"""One training loop and one evaluation for hybrid VDIB models (used from book chapter "Spikes and how they
are read" on).

Data are batch-first tensors `(X, Y)` at the boundary; `input_fn(X_batch, generator)` turns a batch into
time-first input spikes [T, B, N_in] (e.g. rate-encoded images). Without it, X must already be spikes
[N, T, N_in]. Sequence targets Y [N, T, ...] are made time-first here too.
"""
from __future__ import annotations

import copy
import math
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import torch
from tqdm.auto import tqdm

from . import __version__
from .model import HybridModel, VDIBConfig
from .objective import align_targets, decoder_nll, estimator_loss, target_prior, vdib_loss

InputFn = Callable[[torch.Tensor, torch.Generator], torch.Tensor]


def interactive() -> bool:
    """Whether progress bars are worth drawing: a terminal on stderr, or a Jupyter kernel (widget bars).
    Elsewhere (output redirected to a file or a pipe) a bar would write one carriage-return frame per
    step into the log; callers print one line per pass (or per trial) instead."""
    if "ipykernel" in sys.modules:
        return True
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced or closed stderr
        return False


@dataclass
class TrainConfig:
    epochs: int = 10
    batch_size: int = 64
    lr_encoder: float = 1e-4  # 1e-3 killed decoder units in MNIST runs, 1e-4 did not
    lr_decoder: float = 1e-3
    seed: int = 0
    device: str | None = None  # None: CUDA when available, else CPU
    progress: bool = True
    eval_batch_size: int = 256
    patience: int | None = None  # with `val`: stop after this many passes without a better validation metric
    output_prior: bool = False  # start the decoder's output at the training targets' prior (Decoder.init_prior)

    def __post_init__(self):
        if self.epochs < 0 or self.batch_size < 1:
            raise ValueError(f"need epochs >= 0 and batch_size >= 1, got {self.epochs}, {self.batch_size}")
        if self.patience is not None and self.patience < 1:
            raise ValueError(f"patience must be >= 1 (or None: no early stopping), got {self.patience}")
        if not (self.lr_encoder >= 0 and self.lr_decoder > 0):
            raise ValueError("learning rates must be >= 0 (encoder) and > 0 (decoder)")


def pick_device(device: str | None = None) -> torch.device:
    """The requested device, else CUDA when available, else CPU."""
    return torch.device(device) if device else torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _check_data(data: tuple[torch.Tensor, torch.Tensor], name: str) -> tuple[torch.Tensor, torch.Tensor]:
    if not (isinstance(data, (tuple, list)) and len(data) == 2 and all(isinstance(d, torch.Tensor) for d in data)):
        raise TypeError(f"{name} must be a tuple (X, Y) of batch-first tensors")
    X, Y = data
    if len(X) != len(Y) or len(X) == 0:
        raise ValueError(f"{name}: X and Y must hold the same, non-zero number of examples, got {len(X)}, {len(Y)}")
    return X, Y


def input_spikes(X: torch.Tensor, input_fn: InputFn | None, gen: torch.Generator) -> torch.Tensor:
    """A batch-first batch X -> time-first float input spikes [T, B, N_in]: `input_fn(X, gen)`, or X itself
    (already spikes [B, T, N_in]) when there is none."""
    return (input_fn(X, gen) if input_fn is not None else X.transpose(0, 1)).float()  # [T, B, N_in]


def _batch(model: HybridModel, X: torch.Tensor, Y: torch.Tensor, input_fn: InputFn | None,
           gen: torch.Generator, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Batch-first (X, Y) -> time-first input spikes [T, B, N_in] and aligned targets."""
    X, Y = X.to(device), Y.to(device)
    y = Y.transpose(0, 1) if model.cfg.target == "sequence" else Y  # [T, B, ...] or [B, ...]
    if model.cfg.likelihood != "categorical":
        y = y.float()
    return input_spikes(X, input_fn, gen), y


def task_metric(model: HybridModel, out, y: torch.Tensor) -> torch.Tensor:
    """Per-example task metric: accuracy over decoded steps (categorical), −log q per decoded step
    (Bernoulli: BCE in nats per image) or squared error (Gaussian). [B]"""
    cfg = model.cfg
    y_s = align_targets(y, cfg, out.z.shape[0])  # [S, B, ...]
    if cfg.likelihood == "categorical":
        return (out.out.argmax(-1) == y_s).float().mean(0)
    if cfg.likelihood == "gaussian":
        return ((out.out - y_s) ** 2).sum(-1).mean(0)
    return decoder_nll(out.out, y_s, "bernoulli").mean(0)


def higher_is_better(cfg: VDIBConfig) -> bool:
    """Whether the task metric of `task_metric` improves upwards (accuracy) or downwards (BCE, squared error)."""
    return cfg.likelihood == "categorical"


def best_epoch(history: list[dict], higher: bool) -> int | None:
    """The pass (1-based `epoch`) with the best `val_metric` in a `fit` history (the first of ties), or None
    without validation records: the pass whose weights `fit` keeps when it stops early."""
    scored = [(h["val_metric"], h["epoch"]) for h in history if "val_metric" in h]
    if not scored:
        return None
    best = max(scored, key=lambda s: (s[0], -s[1])) if higher else min(scored, key=lambda s: (s[0], s[1]))
    return best[1]


def _stats(model: HybridModel, out, terms, metric: torch.Tensor) -> dict[str, float]:
    s = {"loss": terms.total.mean().item(), "nll": terms.nll.mean().item(), "kl": terms.kl.mean().item(),
         "metric": metric.mean().item(), "readout_rate": out.z.mean().item()}
    for i, h in enumerate(out.hidden):
        s[f"hidden_rate_{i}"] = h.mean().item()
    return s


@torch.no_grad()
def evaluate(model: HybridModel, data: tuple[torch.Tensor, torch.Tensor], *, input_fn: InputFn | None = None,
             batch_size: int = 256, sample: str = "bernoulli", seed: int = 0) -> dict[str, float]:
    """Mean loss components, task metric and firing rates over a dataset (one z draw per example)."""
    X, Y = _check_data(data, "data")
    device = next(model.parameters()).device
    gen = torch.Generator(device=device).manual_seed(seed)
    was_training = model.training
    model.eval()
    sums: dict[str, float] = {}
    for i in range(0, len(X), batch_size):
        x, y = _batch(model, X[i:i + batch_size], Y[i:i + batch_size], input_fn, gen, device)
        out = model(x, sample=sample, generator=gen)
        terms = vdib_loss(out, y, model.cfg)
        if not torch.isfinite(terms.total).all():  # as in `fit`: never report loss=nan silently
            bad = int((~torch.isfinite(terms.total)).nonzero()[0, 0]) + i
            raise FloatingPointError(f"non-finite loss for example {bad} (NaN or infinite target or input?)")
        for k, v in _stats(model, out, terms, task_metric(model, out, y)).items():
            sums[k] = sums.get(k, 0.0) + v * x.shape[1]
    model.train(was_training)
    return {k: v / len(X) for k, v in sums.items()}


def _adam(params: list, lr: float) -> torch.optim.Adam | None:
    if not params or lr == 0:
        return None
    try:
        return torch.optim.Adam(params, lr=lr, fused=True)  # ≈ 6× faster than the default on CPU
    except (RuntimeError, TypeError):
        return torch.optim.Adam(params, lr=lr)


def save_checkpoint(path: str | Path, model: HybridModel, *, train_cfg: TrainConfig | None = None, epoch: int = 0,
                    history: list | None = None, optimizers: dict | None = None, best_model: dict | None = None) -> None:
    """Weights + model config + training config + package version (+ optimiser state, history and the
    weights of the best validation pass)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"version": __version__, "model_cfg": model.cfg.to_dict(), "model": model.state_dict(),
                "train_cfg": asdict(train_cfg) if train_cfg else None, "epoch": epoch, "history": history or [],
                "optimizers": {k: o.state_dict() for k, o in (optimizers or {}).items() if o is not None},
                "best_model": best_model},
               path.with_suffix(".tmp"))
    path.with_suffix(".tmp").replace(path)  # atomic: a crash never leaves half a checkpoint


class CheckpointError(ValueError):
    """A file that is not a readable vdib_core checkpoint (corrupt, truncated, empty or foreign)."""


def _read_checkpoint(path: str | Path, map_location: str | torch.device) -> dict:
    path = Path(path)
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=False)
    except FileNotFoundError:
        raise
    except Exception as e:  # UnpicklingError, EOFError, OSError (Errno 22), RuntimeError (bad zip), ...
        size = path.stat().st_size if path.exists() else 0
        raise CheckpointError(f"{path} is not a readable vdib_core checkpoint ({size} bytes; corrupt, truncated "
                              f"or empty?): {type(e).__name__}: {e}") from e
    if not isinstance(ckpt, dict) or "model_cfg" not in ckpt:
        raise CheckpointError(f"{path} is not a readable vdib_core checkpoint (no model configuration in it)")
    return ckpt


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> tuple[HybridModel, dict]:
    """-> (model with the saved weights, the checkpoint dict)."""
    ckpt = _read_checkpoint(path, map_location)
    model = HybridModel(VDIBConfig(**ckpt["model_cfg"]))
    model.load_state_dict(ckpt["model"])
    return model.to(map_location), ckpt


def fit(model: HybridModel, train: tuple[torch.Tensor, torch.Tensor], cfg: TrainConfig = TrainConfig(), *,
        val: tuple[torch.Tensor, torch.Tensor] | None = None, input_fn: InputFn | None = None,
        checkpoint: str | Path | None = None, resume: bool = False) -> list[dict]:
    """Train with minibatches and Adam (separate encoder / decoder learning rates) using the estimator
    named in `model.cfg`; returns the per-epoch history (loss components, firing rates, task metric,
    and the same on `val`). Each epoch's shuffling and spike draws come from (seed, epoch), so a resumed
    run reproduces an uninterrupted one. With `checkpoint`, saves after every epoch; a non-finite loss
    or gradient saves the last good weights there and raises FloatingPointError naming the step.

    Early stopping (`cfg.patience` with `val`): after each pass the model is evaluated on `val`; training
    stops once `patience` passes have not improved on the best validation metric (`best_epoch`), and the
    model is left with the weights of that best pass. `cfg.output_prior` first sets the decoder's output
    to the prior of the training targets (`Decoder.init_prior`)."""
    X, Y = _check_data(train, "train")
    if cfg.patience is not None and val is None:
        raise ValueError("early stopping (patience) needs validation data: pass val=(X_val, Y_val)")
    device = pick_device(cfg.device)
    model.to(device).train()
    if cfg.output_prior and not (resume and checkpoint and Path(checkpoint).exists()):
        model.decoder.init_prior(target_prior(Y, model.cfg.likelihood, model.cfg.n_out))
    sample = "bernoulli" if model.cfg.estimator == "score" else "threshold"
    opts = {"encoder": _adam(model.encoder_parameters(), cfg.lr_encoder),
            "decoder": _adam(model.decoder_parameters(), cfg.lr_decoder)}
    history: list[dict] = []
    start = 0
    best_state = None  # weights of the best validation pass so far (early stopping)
    if resume and checkpoint and Path(checkpoint).exists():
        ckpt = _read_checkpoint(checkpoint, device)
        model.load_state_dict(ckpt["model"])
        for k, o in opts.items():
            if o is not None and k in ckpt["optimizers"]:
                o.load_state_dict(ckpt["optimizers"][k])
        history, start, best_state = ckpt["history"], ckpt["epoch"], ckpt.get("best_model")
    higher = higher_is_better(model.cfg)
    for epoch in range(start, cfg.epochs):
        best = best_epoch(history, higher)
        if cfg.patience is not None and best is not None and len(history) - best >= cfg.patience:
            break  # resumed after the stopping point
        gen = torch.Generator(device=device).manual_seed(cfg.seed * 100_003 + epoch)
        order = torch.randperm(len(X), generator=torch.Generator().manual_seed(cfg.seed * 100_003 + epoch))
        sums: dict[str, float] = {}
        t0 = time.perf_counter()
        bar = tqdm(range(0, len(X), cfg.batch_size), desc=f"epoch {epoch + 1}/{cfg.epochs}",
                   disable=not (cfg.progress and interactive()), leave=False)
        for step, i in enumerate(bar):
            idx = order[i:i + cfg.batch_size]
            x, y = _batch(model, X[idx], Y[idx], input_fn, gen, device)
            out = model(x, sample=sample, generator=gen)
            terms = vdib_loss(out, y, model.cfg)
            loss = estimator_loss(out, terms, model.cfg)
            for o in opts.values():
                if o is not None:
                    o.zero_grad(set_to_none=True)
            bad = not math.isfinite(terms.total.mean().item())
            if not bad:
                loss.backward()
                grads = [p.grad for p in model.parameters() if p.grad is not None]
                bad = not all(torch.isfinite(g).all() for g in grads)
            if bad:
                if checkpoint:
                    save_checkpoint(checkpoint, model, train_cfg=cfg, epoch=epoch, history=history, optimizers=opts)
                raise FloatingPointError(f"non-finite loss or gradient at epoch {epoch + 1}, step {step + 1}"
                                         + (f"; last good weights saved to {checkpoint}" if checkpoint else ""))
            for o in opts.values():
                if o is not None:
                    o.step()
            stats = _stats(model, out, terms, task_metric(model, out, y).detach())
            for k, v in stats.items():
                sums[k] = sums.get(k, 0.0) + v * len(idx)
            bar.set_postfix(loss=f"{stats['loss']:.3g}", rate=f"{stats['readout_rate']:.2f}")
        record = {"epoch": epoch + 1, "time_s": time.perf_counter() - t0, **{k: v / len(X) for k, v in sums.items()}}
        if val is not None:
            record.update({f"val_{k}": v for k, v in evaluate(model, val, input_fn=input_fn, sample=sample,
                                                              batch_size=cfg.eval_batch_size, seed=cfg.seed).items()})
        history.append(record)
        if cfg.patience is not None and best_epoch(history, higher) == epoch + 1:
            best_state = copy.deepcopy(model.state_dict())
        if cfg.progress and not interactive():  # a log file: one line per pass instead of a bar's frames
            print(f"epoch {epoch + 1}/{cfg.epochs}: loss {record.get('loss', float('nan')):.4g}, "
                  f"{record['time_s']:.1f} s", file=sys.stderr, flush=True)
        if checkpoint:
            save_checkpoint(checkpoint, model, train_cfg=cfg, epoch=epoch + 1, history=history, optimizers=opts,
                            best_model=best_state)
        if cfg.patience is not None and len(history) - best_epoch(history, higher) >= cfg.patience:
            break
    if cfg.patience is not None and best_state is not None:
        model.load_state_dict(best_state)  # the reported model is the best-on-validation one
    return history
