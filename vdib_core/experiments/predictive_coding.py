"""Experiment `predictive-coding`: efficient predictive coding of drifting blobs (book chapter "Efficient
predictive coding"; Skatchkovsky, Simeone & Jang 2021, §4.1).

20 ring inputs -> 10 stochastic readout neurons (no hidden layer) -> a decoder reading the last τ_d
readout samples predicts y_t = x_{t+δ}, one of 210 patterns. Trained on `n_train` independent sequences
of `t_train` steps, with early stopping on `n_val` fresh validation sequences; the primary test metric
(`accuracy`) averages `n_test` fresh test sequences drawn like the training ones (one readout draw
each), and the paper's single long sequence (`t_test` steps, read `n_draws` times) is a secondary metric
(`accuracy_long_sequence`). Data seeds: long test sequence 0, test set 10^6, validation set 10^6 + 1,
training 2 + seed, so training never sees a test or validation sequence.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
from torch import nn

from ..data.blobs import N_CLASSES, N_INPUTS, blob_targets, drifting_blobs, pattern_to_class
from ..model import HybridModel, VDIBConfig
from ..neurons import Readout
from ..train import TrainConfig, evaluate, fit
from .analysis import information_plane
from .registry import Data, Experiment, Param, common_params, model_fields, register

LONG_TEST_SEED, TRAIN_SEED_OFFSET, TEST_SET_SEED, VAL_SET_SEED = 0, 2, 10**6, 10**6 + 1
REFERENCE_SEED, REFERENCE_LR = 0, 1e-2  # the input-window reference: one model per setting, not per seed


def blob_split(T: int, delta: int, seed: int, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """n sequences of inputs x [n, T, 20] and targets class(x_{t+δ}) [n, T] (batch-first)."""
    x = drifting_blobs(T + abs(delta), seed=seed, batch=n)  # [T+|δ|, n, 20]
    aligned = blob_targets(x, delta)  # inputs [T, n, 20], targets [T, n]
    return aligned.inputs.transpose(0, 1).contiguous(), aligned.targets.transpose(0, 1).contiguous()


class InputAsReadout(nn.Module):
    """Stands in for the SNN in the input-window reference: the 'readout' is the input itself, so the
    decoder reads x_{t−τ_d+1..t} directly (logits ±20: a deterministic code; no parameters)."""

    def forward(self, x: torch.Tensor, sample: str = "bernoulli", z=None, generator=None):
        return Readout(x, (2 * x - 1) * 20.0), []


@lru_cache(maxsize=64)
def input_window_accuracy(delta: int, decoder: str, decoder_hidden: int, tau_d: int, n_train: int, t_train: int,
                          n_val: int, n_test: int, epochs: int, patience: int, batch_size: int,
                          device: str | None) -> float:
    """Test-set accuracy of the same decoder family (time decoding, standardised inputs, output at the
    prior) trained with `fit`, the same passes and early stopping, on the input window x_{t−τ_d+1..t}
    itself: what the task allows without an SNN in between. One model per setting (seed REFERENCE_SEED,
    decoder lr REFERENCE_LR), so all seeds of a setting share it."""
    torch.manual_seed(REFERENCE_SEED)
    cfg = VDIBConfig(n_in=N_INPUTS, n_readout=N_INPUTS, n_out=N_CLASSES, tau_d=tau_d, likelihood="categorical",
                     target="sequence", decoder=decoder, decoder_hidden=decoder_hidden, decoding="time",
                     beta=0.0, estimator="score", baseline="none", decoder_input="standardise")
    model = HybridModel(cfg)
    model.encoder = InputAsReadout()
    train = blob_split(t_train, delta, TRAIN_SEED_OFFSET + REFERENCE_SEED, n_train)
    val = blob_split(t_train, delta, VAL_SET_SEED, n_val)
    fit(model, train, TrainConfig(epochs=epochs, batch_size=batch_size, lr_encoder=0.0, lr_decoder=REFERENCE_LR,
                                  seed=REFERENCE_SEED, device=device, progress=False, output_prior=True,
                                  patience=patience or None), val=val if patience else None)
    return evaluate(model, blob_split(t_train, delta, TEST_SET_SEED, n_test), seed=REFERENCE_SEED)["metric"]


class PredictiveCoding(Experiment):
    name = "predictive-coding"
    description = "drifting blobs on a ring of 20 inputs; predict x_(t+delta) (210 classes) from the readout"
    params = (
        Param("delta", 0, int, "target offset: y_t = x_(t+delta)", minimum=-20, maximum=20),
        Param("n_train", 2000, int, "training sequences", minimum=2),
        Param("t_train", 100, int, "steps per training, validation and test sequence", minimum=2),
        Param("n_val", 256, int, "validation sequences (early stopping, tuning)", minimum=1),
        Param("n_test", 1000, int, "test sequences (the primary metric)", minimum=1),
        Param("t_test", 1000, int, "steps of the paper's single long test sequence (a secondary metric)", minimum=2),
        Param("n_draws", 16, int, "readout draws of the long test sequence averaged in its metric", minimum=1),
        Param("n_readout", 10, int, "stochastic readout neurons", minimum=1),
    ) + common_params(decoder="linear", beta=1e-3, r=0.2, tau_d=5, lr_encoder=1e-2, lr_decoder=1e-2,
                      epochs=60, patience=5, decoder_hidden=256)
    threads = 1  # a tiny model: one thread is several times faster than two on 2 cores, and two sweeps can share them
    quick = {"n_train": 256, "t_train": 50, "n_val": 32, "n_test": 64, "t_test": 300, "n_draws": 2, "epochs": 6,
             "patience": 2}

    def data(self, p: dict) -> Data:
        T, d = p["t_train"], p["delta"]
        if p["tau_d"] > min(T, p["t_test"]):
            raise ValueError(f"tau_d={p['tau_d']} is longer than the sequences (t_train={T}, t_test={p['t_test']})")
        train = blob_split(T, d, TRAIN_SEED_OFFSET + p["seed"], p["n_train"])
        val = blob_split(T, d, VAL_SET_SEED, p["n_val"])
        test = blob_split(T, d, TEST_SET_SEED, p["n_test"])
        x_long, y_long = blob_split(p["t_test"], d, LONG_TEST_SEED, 1)
        long_test = (x_long.expand(p["n_draws"], -1, -1), y_long.expand(p["n_draws"], -1))
        info = {"train_seed": TRAIN_SEED_OFFSET + p["seed"], "val_seed": VAL_SET_SEED, "test_seed": TEST_SET_SEED,
                "long_test_seed": LONG_TEST_SEED}
        return Data(train, test, val, None, info, extra={"long_sequence": long_test})

    def model_config(self, p: dict) -> VDIBConfig:
        return VDIBConfig(n_in=N_INPUTS, n_readout=p["n_readout"], n_out=N_CLASSES, tau_d=p["tau_d"],
                          likelihood="categorical", target="sequence", **model_fields(p))

    def evaluate(self, model: HybridModel, data: Data, p: dict) -> dict[str, float]:
        seed = 1000 + p["seed"]
        sampled = evaluate(model, data.test, sample="bernoulli", seed=seed)
        deterministic = evaluate(model, data.test, sample="deterministic", seed=seed)
        val = evaluate(model, data.val, sample="bernoulli", seed=seed)
        long = evaluate(model, data.extra["long_sequence"], sample="bernoulli", seed=seed)
        plane = information_plane(model, data.test, seed=seed)
        T, S = data.test[0].shape[1], plane.decoded_steps
        return {"accuracy": sampled["metric"], "accuracy_deterministic": deterministic["metric"],
                "val_accuracy": val["metric"], "accuracy_long_sequence": long["metric"],
                "readout_rate": sampled["readout_rate"], "nll_per_step": sampled["nll"] / S,
                "kl_per_step": sampled["kl"] / T, "i_xz_upper_bits_per_step": plane.i_xz_upper / T,
                "i_zy_lower_bits_per_step": plane.i_zy_lower / S}

    def references(self, data: Data, p: dict) -> dict[str, float]:
        decoded = slice(p["tau_d"] - 1, None)  # the steps with a full decoding window

        def persistence(x: torch.Tensor, y: torch.Tensor) -> float:  # x [N, T, 20], y [N, T]
            return (pattern_to_class(x) == y)[:, decoded].double().mean().item()

        window = input_window_accuracy(p["delta"], p["decoder"], p["decoder_hidden"], p["tau_d"], p["n_train"],
                                       p["t_train"], p["n_val"], p["n_test"], p["epochs"], p["patience"],
                                       p["batch_size"], p["device"])
        x_long, y_long = data.extra["long_sequence"]
        return {"chance": 1 / N_CLASSES, "persistence": persistence(*data.test),
                "persistence_long_sequence": persistence(x_long[:1], y_long[:1]), "input_window": window}

    @torch.no_grad()
    def arrays(self, model: HybridModel, data: Data, p: dict) -> dict[str, np.ndarray]:
        """The first 200 steps of the long test sequence: input, one readout draw and its firing probabilities;
        and the predicted and true classes over that whole sequence (that draw)."""
        x_long, y_long = data.extra["long_sequence"]
        x = x_long[:1].transpose(0, 1).to(next(model.parameters()).device)  # [T, 1, 20]
        gen = torch.Generator(device=x.device).manual_seed(2000 + p["seed"])
        out = model(x, sample="bernoulli", generator=gen)
        keep = min(200, x.shape[0])
        return {"input": x[:keep, 0].cpu().numpy().astype(np.uint8),
                "readout": out.z[:keep, 0].cpu().numpy().astype(np.uint8),
                "readout_prob": torch.sigmoid(out.logits[:keep, 0]).cpu().numpy().astype(np.float16),
                "predicted": out.out[:, 0].argmax(-1).cpu().numpy().astype(np.int16),
                "target": y_long[0, p["tau_d"] - 1:].numpy().astype(np.int16)}


register(PredictiveCoding())
