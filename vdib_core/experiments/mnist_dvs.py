"""Experiment `mnist-dvs`: naturalizing MNIST-DVS (book chapter "Naturalizing MNIST-DVS"; Skatchkovsky,
Simeone & Jang 2021, §4.3).

An event-camera recording of a moving digit ([T, 2, 26, 26] binary spikes after the paper's preprocessing,
flattened to 1,352 inputs) is read by 1,352 -> 800 hidden LIF -> 256 stochastic readout neurons, and a
decoder reconstructs a *natural* image of the same digit from the last τ_d readout samples (Bernoulli
likelihood over pixels): one fixed clean MNIST image per class (`class_images`). Data: MNIST-DVS emulated
from MNIST digits (`EmulatedMNISTDVS`, the default) or the real recordings (`--data real --root DIR`).
The reconstructions are judged by the MNIST evaluator; the readout codes by their class separability
(k-NN, `knn_separability`), read both as whole spike trains and as spike counts.
"""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F

from ..data import EmulatedMNISTDVS, MNISTDVS, load_mnist
from ..data.mnist_dvs import DURATION_US
from ..model import HybridModel, VDIBConfig
from ..train import evaluate
from ..objective import vdib_loss
from .analysis import embed_2d, knn_separability
from .mnist import evaluator
from .registry import ConfigError, Data, Experiment, Param, common_params, model_fields, register

N_INPUTS, N_PIXELS = 2 * 26 * 26, 784
EVAL_BATCH = 100


@lru_cache(maxsize=1)
def class_images() -> tuple[torch.Tensor, list[int]]:
    """The target of each digit class: the training image of that class closest (L2) to the class's mean
    image in `load_mnist("train")` -> (images [10, 28, 28] in [0, 1], their indices in that split)."""
    mnist = load_mnist("train", verbose=False)
    X = mnist.images.reshape(len(mnist.images), -1).double()  # [N, 784]
    chosen = []
    for c in range(10):
        idx = torch.nonzero(mnist.labels == c).flatten()  # [N_c]
        dist = ((X[idx] - X[idx].mean(0)) ** 2).sum(-1)  # [N_c]
        chosen.append(int(idx[int(dist.argmin())]))
    return mnist.images[chosen].clone(), chosen


def _check_root(p: dict) -> None:
    if p["data"] == "real" and not p["root"]:
        raise ConfigError("--data real needs --root DIR, the folder holding grabbed_data0 ... grabbed_data9")


def recordings(p: dict, train: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """The first `train_per_digit` / `test_per_digit` recordings of every digit, binned at dt ->
    (spikes [N, T, 1352] as uint8, batch-first; labels [N])."""
    _check_root(p)
    n = p["train_per_digit" if train else "test_per_digit"]
    ds = (EmulatedMNISTDVS(train=train, dt=p["dt"], n_per_class=n, verbose=False) if p["data"] == "emulated" else
          MNISTDVS(p["root"], train=train, dt=p["dt"], n_per_class=n))
    chunks, labels = [], []
    for i in range(0, len(ds), 250):  # bounded memory: float frames of 250 recordings at a time
        frames, y = ds.to_tensors(range(i, min(i + 250, len(ds))))  # [T, b, 2, 26, 26], [b]
        chunks.append(frames.reshape(ds.T, len(y), N_INPUTS).transpose(0, 1).to(torch.uint8))  # [b, T, 1352]
        labels.append(y)
    return torch.cat(chunks), torch.cat(labels)


def held_out(labels: torch.Tensor, per_class: int) -> torch.Tensor:
    """The validation split: the last `per_class` examples of every class, in the stored order -> [N] bool.
    Deterministic (no randomness), so every seed and variant validates on the same recordings."""
    val = torch.zeros(len(labels), dtype=torch.bool)
    for c in labels.unique():
        val[(labels == c).nonzero().flatten()[-per_class:]] = True
    return val


def _as_spikes(X: torch.Tensor, gen: torch.Generator | None = None) -> torch.Tensor:
    """Stored recordings [B, T, 1352] (uint8) -> input spikes [T, B, 1352] (float); no randomness."""
    return X.transpose(0, 1).float()


class MNISTDVSExperiment(Experiment):
    name = "mnist-dvs"
    description = "MNIST-DVS event recordings -> 800 hidden LIF -> 256 readout -> a clean image of the digit"
    params = (
        Param("data", "emulated", str, "emulated: MNIST-DVS emulated from MNIST digits; real: the recordings "
              "under --root", choices=("emulated", "real")),
        Param("root", None, str, "folder of the real recordings (grabbed_data0..9/scale4/*.aedat)"),
        Param("dt", 25_000.0, float, "bin width in µs (T = 2 s / dt steps)", minimum=1000.0, maximum=DURATION_US),
        Param("train_per_digit", 300, int, "training recordings per digit, validation included", minimum=2),
        Param("val_per_digit", 30, int, "of those, held out for validation (the last ones of each digit)", minimum=1),
        Param("test_per_digit", 100, int, "test recordings per digit", minimum=2),
        Param("n_hidden", 800, int, "hidden LIF neurons", minimum=1),
        Param("n_readout", 256, int, "stochastic readout neurons", minimum=1),
    ) + tuple(
        Param("tau_d", 0, int, "decoding window (steps); 0: the whole recording (tau_d = T)", minimum=0)
        if q.name == "tau_d" else q
        for q in common_params(decoder="mlp", decoding="time", decoder_hidden=1024, beta=1e-3, r=0.3,
                               init="calibrated", lr_encoder=1e-4, lr_decoder=1e-3, epochs=3))
    threads = 1  # two one-thread trials side by side do more work than one two-thread trial on 2 cores
    quick = {"train_per_digit": 10, "val_per_digit": 2, "test_per_digit": 10, "epochs": 1}

    @staticmethod
    def steps(p: dict) -> int:
        return math.ceil(DURATION_US / p["dt"])

    def tau_d(self, p: dict) -> int:
        T = self.steps(p)
        if p["tau_d"] > T:
            raise ValueError(f"tau_d={p['tau_d']} is longer than the recordings (T = {T} steps at dt={p['dt']:g} µs)")
        return p["tau_d"] or T

    def data(self, p: dict) -> Data:
        self.tau_d(p)
        if p["val_per_digit"] >= p["train_per_digit"]:
            raise ValueError(f"val_per_digit={p['val_per_digit']} leaves no training recordings of "
                             f"train_per_digit={p['train_per_digit']}")
        X_all, y_all = recordings(p, train=True)
        val = held_out(y_all, p["val_per_digit"])  # [N] bool: the last val_per_digit recordings of each digit
        X_train, y_train, X_val, y_val = X_all[~val], y_all[~val], X_all[val], y_all[val]
        X_test, y_test = recordings(p, train=False)
        images, chosen = class_images()
        targets = images.reshape(10, N_PIXELS)  # [10, 784]
        ev = evaluator()
        info = {"recordings": "emulated from MNIST digits" if p["data"] == "emulated" else f"real, from {p['root']}",
                "n_train": len(y_train), "n_val": len(y_val), "n_test": len(y_test), "T": X_train.shape[1],
                "class_image_indices": chosen, "class_image_source": load_mnist("train", verbose=False).source,
                "evaluator_sha256": ev.sha256, "evaluator_clean_accuracy": ev.clean_accuracy}
        return Data((X_train, targets[y_train]), (X_test, y_test), (X_val, targets[y_val]), _as_spikes, info)

    def model_config(self, p: dict) -> VDIBConfig:
        return VDIBConfig(n_in=N_INPUTS, n_hidden=(p["n_hidden"],), n_readout=p["n_readout"], n_out=N_PIXELS,
                          tau_d=self.tau_d(p), likelihood="bernoulli", target="static", **model_fields(p))

    @torch.no_grad()
    def _test_pass(self, model: HybridModel, data: Data, p: dict) -> dict:
        """One readout draw per test recording (seeded): reconstructions [N, 784], readout windows
        [N, τ_d, N_z] (bool) and summed loss terms. `evaluate` computes it afresh and leaves it for the
        `arrays` call that follows it on the same model and data (which takes it), as `run_trial` does."""
        device = next(model.parameters()).device
        gen = torch.Generator(device=device).manual_seed(1000 + p["seed"])
        X, labels = data.test
        targets = class_images()[0].reshape(10, N_PIXELS)[labels]  # [N, 784]
        tau = model.cfg.tau_d
        recon, windows, sums = [], [], {"bce": 0.0, "kl": 0.0, "readout_rate": 0.0, "hidden_rate": 0.0}
        for i in range(0, len(X), EVAL_BATCH):
            x = _as_spikes(X[i:i + EVAL_BATCH]).to(device)  # [T, B, 1352]
            y = targets[i:i + EVAL_BATCH].to(device)  # [B, 784]
            out = model(x, sample="bernoulli", generator=gen)
            logits = out.out[0]  # [B, 784]
            sums["bce"] += F.binary_cross_entropy_with_logits(logits, y, reduction="sum").item()
            sums["kl"] += vdib_loss(out, y, model.cfg).kl.sum().item()
            sums["readout_rate"] += out.z.mean().item() * x.shape[1]
            sums["hidden_rate"] += out.hidden[0].mean().item() * x.shape[1]
            recon.append(torch.sigmoid(logits).cpu())
            windows.append(out.z[-tau:].transpose(0, 1).bool().cpu())  # [B, τ_d, N_z]
        return {"recon": torch.cat(recon), "windows": torch.cat(windows), "sums": sums}

    def evaluate(self, model: HybridModel, data: Data, p: dict) -> dict[str, float]:
        """Evaluator accuracy on the reconstructions, BCE per image (nats) against the class image, KL per
        recording, firing rates, and the k-NN separability of the readout codes read as whole spike trains
        over the decoding window (`knn_time`) and as spike counts (`knn_rate`)."""
        test = self._test_pass(model, data, p)
        self._last_pass = (model, data, test)  # for `arrays`, right after
        labels, n = data.test[1], len(data.test[1])
        sums = {k: v / n for k, v in test["sums"].items()}
        return {"evaluator_accuracy": evaluator().accuracy(test["recon"], labels), **sums,
                "knn_time": knn_separability(test["windows"], labels, seed=p["seed"]),
                "knn_rate": knn_separability(test["windows"].sum(1), labels, seed=p["seed"]),
                "i_xz_upper_bits": sums["kl"] / math.log(2),
                "val_bce": evaluate(model, data.val, input_fn=data.input_fn, seed=1000 + p["seed"])["metric"]}

    def references(self, data: Data, p: dict) -> dict[str, float]:
        """k-NN separability of the input event counts; the evaluator on the class images themselves (the
        ceiling of perfect reconstructions); BCE of always predicting the mean target image."""
        X, labels = data.test
        images = class_images()[0].reshape(10, N_PIXELS)
        targets, train_targets = images[labels], data.train[1]
        mean = train_targets.mean(0).clamp(1e-4, 1 - 1e-4).expand_as(targets)
        return {"knn_input": knn_separability(X.sum(1), labels, seed=p["seed"]),
                "ceiling_accuracy": evaluator().accuracy(targets, labels),
                "mean_image_bce": F.binary_cross_entropy(mean, targets, reduction="sum").item() / len(labels)}

    @torch.no_grad()
    def arrays(self, model: HybridModel, data: Data, p: dict) -> dict[str, np.ndarray]:
        """The class images; for the first test recording of each digit its time-summed input frames (ON,
        OFF), reconstruction and the evaluator's verdict; the readout raster and firing probabilities of
        the first one; and for every test recording its label, readout spike counts and 2-D t-SNE
        embeddings of its readout read as a spike train (`tsne_time`) and as counts (`tsne_rate`)."""
        last, self._last_pass = getattr(self, "_last_pass", None), None
        test = last[2] if last is not None and last[0] is model and last[1] is data else self._test_pass(model, data, p)
        X, labels = data.test
        shown = [int(torch.nonzero(labels == c)[0]) for c in range(10) if (labels == c).any()]
        device = next(model.parameters()).device
        gen = torch.Generator(device=device).manual_seed(2000 + p["seed"])
        out = model(_as_spikes(X[shown[:1]]).to(device), sample="bernoulli", generator=gen)
        to8 = lambda a: (a.reshape(-1, 28, 28) * 255).round().numpy().astype(np.uint8)  # noqa: E731
        counts = test["windows"].sum(1)  # [N, N_z]
        return {"class_images": to8(class_images()[0]),
                "input_frames": X[shown].sum(1).reshape(len(shown), 2, 26, 26).numpy().astype(np.uint16),
                "reconstructions": to8(test["recon"][shown]),
                "labels": labels[shown].numpy().astype(np.uint8),
                "predicted": evaluator().predict(test["recon"][shown]).numpy().astype(np.uint8),
                "readout": out.z[:, 0].cpu().numpy().astype(np.uint8),  # [T, N_z]
                "readout_prob": torch.sigmoid(out.logits[:, 0]).cpu().numpy().astype(np.float16),
                "test_labels": labels.numpy().astype(np.uint8),
                "readout_counts": counts.numpy().astype(np.uint16),
                "tsne_time": embed_2d(test["windows"], seed=p["seed"]).numpy().astype(np.float16),
                "tsne_rate": embed_2d(counts, seed=p["seed"]).numpy().astype(np.float16)}


register(MNISTDVSExperiment())
