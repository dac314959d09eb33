"""Experiment `mnist`: naturalizing MNIST digits (book chapter "Naturalizing MNIST"; Skatchkovsky, Simeone &
Jang 2021, §4.2).

A digit is rate-encoded over T steps (pixel intensity = spike probability per step; or, with
`--encoding latency`, one spike per pixel, earlier for brighter pixels), read by
784 -> 600 hidden LIF -> 256 stochastic readout neurons, and a decoder reconstructs the image from the
last τ_d readout samples (Bernoulli likelihood over pixels). The reconstructions are judged by an
independent LeNet trained on clean digits (`evaluator.py`). Training digits: `n_train` of the training
split, test digits: `n_test` of the test split, both the first ones of a fixed shuffle (the same digits
for every seed; the seed sets initialisation, order and spike draws). The last `n_val` of the training
digits are held out for validation (early stopping, tuning); the test digits are never used for a choice.
"""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F

from ..data import latency_encode, load_mnist, rate_encode
from ..model import HybridModel, VDIBConfig
from ..train import evaluate
from ..objective import vdib_loss
from .evaluator import Evaluator, load_evaluator
from .registry import Data, Experiment, Param, common_params, model_fields, register

N_PIXELS, N_SHOWN = 784, 16


@lru_cache(maxsize=1)
def evaluator() -> Evaluator:
    """The LeNet judge, loaded once per process (trained and saved first if absent)."""
    return load_evaluator()


class MNIST(Experiment):
    name = "mnist"
    description = "rate-encoded MNIST digits -> 600 hidden LIF -> 256 readout -> reconstructed image"
    params = (
        Param("n_train", 8000, int, "training digits (a fixed subset of the training split), validation included",
              minimum=2),
        Param("n_val", 1000, int, "of those, held out for validation (the last ones)", minimum=1),
        Param("n_test", 2000, int, "test digits (a fixed subset of the test split)", minimum=1),
        Param("steps", 30, int, "time steps of the input code (T)", minimum=1),
        Param("encoding", "rate", str, "input code: rate (spike probability = intensity) or latency (one spike, "
              "earlier for brighter pixels)", choices=("rate", "latency")),
        Param("n_hidden", 600, int, "hidden LIF neurons", minimum=1),
        Param("n_readout", 256, int, "stochastic readout neurons", minimum=1),
    ) + common_params(decoder="mlp", decoding="time", decoder_hidden=1024, beta=1e-3, r=0.3, tau_d=30,
                      lr_encoder=1e-4, lr_decoder=1e-3, epochs=1)
    threads = 1  # two one-thread trials side by side do ~1.8x the work of one two-thread trial on 2 cores
    quick = {"n_train": 512, "n_val": 64, "n_test": 200, "epochs": 1}

    def data(self, p: dict) -> Data:
        if p["tau_d"] > p["steps"]:
            raise ValueError(f"tau_d={p['tau_d']} is longer than the rate code (steps={p['steps']})")
        if p["n_val"] >= p["n_train"]:
            raise ValueError(f"n_val={p['n_val']} leaves no training digits of n_train={p['n_train']}")
        train = load_mnist("train", verbose=False, n=p["n_train"])  # a fixed subset: the same for every seed
        test = load_mnist("test", verbose=False, n=p["n_test"])
        X_all = train.images.reshape(-1, N_PIXELS)  # [N, 784]
        X_train, X_val = X_all[:-p["n_val"]], X_all[-p["n_val"]:]  # the last n_val: validation
        X_test = test.images.reshape(-1, N_PIXELS)
        steps = p["steps"]
        encode = ((lambda X, gen: rate_encode(X, steps, gen)) if p["encoding"] == "rate" else
                  (lambda X, gen: latency_encode(X, steps)))
        ev = evaluator()
        info = {"source": train.source, "n_source": train.n_source, "evaluator_sha256": ev.sha256,
                "evaluator_clean_accuracy": ev.clean_accuracy}
        test_split = (X_test, test.labels)  # images and labels: only this module reads it
        return Data((X_train, X_train), test_split, (X_val, X_val), encode, info)

    def model_config(self, p: dict) -> VDIBConfig:
        return VDIBConfig(n_in=N_PIXELS, n_hidden=(p["n_hidden"],), n_readout=p["n_readout"], n_out=N_PIXELS,
                          tau_d=p["tau_d"], likelihood="bernoulli", target="static", **model_fields(p))

    @torch.no_grad()
    def evaluate(self, model: HybridModel, data: Data, p: dict) -> dict[str, float]:
        """One readout draw per test digit: evaluator accuracy on the reconstructions σ(decoder output),
        BCE per image (nats), MSE per pixel, KL per image, firing rates, and the VDIB bounds in bits."""
        recon, sums = self._reconstruct(model, data, p)
        n = len(recon)
        val = evaluate(model, data.val, input_fn=data.input_fn, seed=1000 + p["seed"])  # BCE per validation digit
        return {"evaluator_accuracy": evaluator().accuracy(recon, data.test[1]), **{k: v / n for k, v in sums.items()},
                "i_xz_upper_bits": sums["kl"] / n / math.log(2), "neg_nll_bits": -sums["bce"] / n / math.log(2),
                "val_bce": val["metric"]}

    def _reconstruct(self, model: HybridModel, data: Data, p: dict, batch_size: int = 250):
        device = next(model.parameters()).device
        gen = torch.Generator(device=device).manual_seed(1000 + p["seed"])
        X = data.test[0]
        recon, sums = [], {"bce": 0.0, "mse": 0.0, "kl": 0.0, "readout_rate": 0.0, "hidden_rate": 0.0}
        for i in range(0, len(X), batch_size):
            y = X[i:i + batch_size].to(device)  # [B, 784]
            out = model(data.input_fn(y, gen), sample="bernoulli", generator=gen)
            logits = out.out[0]  # [B, 784]
            r = torch.sigmoid(logits)
            sums["bce"] += F.binary_cross_entropy_with_logits(logits, y, reduction="sum").item()
            sums["mse"] += ((r - y) ** 2).mean(-1).sum().item()
            sums["kl"] += vdib_loss(out, y, model.cfg).kl.sum().item()
            sums["readout_rate"] += out.z.mean().item() * len(y)
            sums["hidden_rate"] += out.hidden[0].mean().item() * len(y)
            recon.append(r.cpu())
        return torch.cat(recon), sums

    def references(self, data: Data, p: dict) -> dict[str, float]:
        """The evaluator on the clean test digits (the ceiling); BCE of predicting the mean training image."""
        X_test, X_train = data.test[0], data.train[0]
        mean = X_train.mean(0).clamp(1e-4, 1 - 1e-4).expand_as(X_test)
        return {"clean_accuracy": evaluator().accuracy(X_test, data.test[1]),
                "mean_image_bce": F.binary_cross_entropy(mean, X_test, reduction="sum").item() / len(X_test)}

    @torch.no_grad()
    def arrays(self, model: HybridModel, data: Data, p: dict) -> dict[str, np.ndarray]:
        """The first 16 test digits, their reconstructions (one readout draw, 8-bit) and the evaluator's
        verdicts, and the input and readout rasters and firing probabilities of the first digit."""
        device = next(model.parameters()).device
        y = data.test[0][:N_SHOWN].to(device)  # [16, 784]
        gen = torch.Generator(device=device).manual_seed(2000 + p["seed"])
        x = data.input_fn(y, gen)  # [T, 16, 784]
        out = model(x, sample="bernoulli", generator=gen)
        recon = torch.sigmoid(out.out[0]).cpu()  # [16, 784]
        to8 = lambda a: (a.reshape(-1, 28, 28) * 255).round().numpy().astype(np.uint8)  # noqa: E731
        return {"images": to8(y.cpu()), "reconstructions": to8(recon),
                "labels": data.test[1][:N_SHOWN].numpy().astype(np.uint8),
                "predicted": evaluator().predict(recon).numpy().astype(np.uint8),
                "input": x[:, 0].cpu().numpy().astype(np.uint8),  # [T, 784]
                "readout": out.z[:, 0].cpu().numpy().astype(np.uint8),  # [T, 256]
                "readout_prob": torch.sigmoid(out.logits[:, 0]).cpu().numpy().astype(np.float16)}


register(MNIST())
