"""Running a trial: a configuration in, one result out (`run_trial`), built from its experiment's data,
model and evaluation, trained with `vdib_core.fit` (early stopping on the validation split when the
experiment has one). `run` also writes the result file.
"""
from __future__ import annotations

import copy
import datetime
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..model import Decoder, HybridModel
from ..train import TrainConfig, fit, input_spikes, pick_device
from .registry import Data, Experiment, get_experiment
from .results import _history, provenance, write_result

def run_trial(name: str, params: dict, *, progress: bool = True) -> tuple[dict, dict[str, np.ndarray]]:
    """One trial: configuration in, (result dict, arrays) out. Trains with `fit`, no loop of its own."""
    exp = get_experiment(name)
    p = exp.configure(params.get("quick", False), **{k: v for k, v in params.items() if k != "quick"})
    threads = torch.get_num_threads()
    torch.set_num_threads(exp.threads or threads)  # fixed per experiment: sums in the same order on every machine
    try:
        return _run_trial(exp, p, progress)
    finally:
        torch.set_num_threads(threads)


def _run_trial(exp: Experiment, p: dict, progress: bool) -> tuple[dict, dict[str, np.ndarray]]:
    name = exp.name
    t0 = time.perf_counter()
    torch.manual_seed(p["seed"])
    data = exp.data(p)
    model = HybridModel(exp.model_config(p))
    frozen = p["encoder"] == "frozen"
    if frozen and p["refit"]:
        raise ValueError("--refit 1 trains a fresh decoder on the trained encoder; a frozen encoder's trial "
                         "already is that (the untrained-encoder control)")
    if frozen:
        model.encoder.requires_grad_(False)  # the control: a random SNN; no backward pass through it
    early = p["patience"] > 0
    if early and data.val is None:
        raise ValueError(f"{name} has no validation split for early stopping; use --patience 0")
    tc = TrainConfig(epochs=p["epochs"], batch_size=p["batch_size"], lr_encoder=0.0 if frozen else p["lr_encoder"],
                     lr_decoder=p["lr_decoder"], seed=p["seed"], device=p["device"], progress=progress,
                     patience=p["patience"] if early else None, output_prior=bool(p["output_prior"]))
    device = pick_device(p["device"])
    init = initialise(model, data, p)
    history = fit(model, data.train, tc, val=data.val if early else None, input_fn=data.input_fn)
    model.eval()
    metrics = {k: float(v) for k, v in exp.evaluate(model, data, p).items()}
    if p["refit"]:
        refit = with_fresh_decoder(model, p["seed"])
        passes = fit(refit, data.train, replace(tc, lr_encoder=0.0), val=data.val if early else None,
                     input_fn=data.input_fn)
        refit.eval()
        metrics.update({f"refit_{k}": float(v) for k, v in exp.evaluate(refit, data, p).items()},
                       refit_passes=float(len(passes)))
    result = {
        "experiment": name,
        "params": p,
        "metrics": metrics,
        "references": {k: float(v) for k, v in exp.references(data, p).items()},
        "history": _history(history),
        "provenance": {**provenance(), "device": str(device), "threads": torch.get_num_threads(), "wall_s": None,
                       "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                       "model_config": model.cfg.to_dict(), "train_config": asdict(tc), "init": init, "data": data.info,
                       "arrays": None},
    }
    arrays = exp.arrays(model, data, p)
    result["provenance"]["wall_s"] = round(time.perf_counter() - t0, 2)
    return result, arrays


def with_fresh_decoder(model: HybridModel, seed: int) -> HybridModel:
    """`--refit 1`: the trained encoder, frozen, under a freshly drawn decoder, to be trained as the
    untrained-encoder control's decoder is. What this decoder reaches measures what the trained code holds
    (book chapter "Naturalizing MNIST-DVS", the rate arm's anomaly), apart from what its own decoder learnt."""
    fresh = copy.deepcopy(model)
    with torch.random.fork_rng():  # the trial's own random stream is left as it was
        torch.manual_seed(seed)
        fresh.decoder = Decoder(model.cfg)
    fresh.encoder.requires_grad_(False)  # as the control's: no backward pass through the SNN
    return fresh


CALIBRATION_BATCH = 256  # training examples the hidden layers are calibrated (or measured) on


@torch.no_grad()
def initialise(model: HybridModel, data: Data, p: dict) -> list[dict[str, float]]:
    """`--init calibrated`: scale each hidden layer so that it fires at `init_rate` on the first
    CALIBRATION_BATCH training examples (`SNNEncoder.calibrate`); `--init gain` leaves the weights as drawn.
    Either way -> per hidden layer {gain, rate_before, rate_after} on that batch (for the result file).
    Draws input spikes from its own generator: the training run's random streams are untouched."""
    if not model.encoder.hidden:
        return []
    x = input_spikes(data.train[0][:CALIBRATION_BATCH], data.input_fn, torch.Generator().manual_seed(p["seed"]))
    return model.encoder.calibrate(x, p["init_rate"] if p["init"] == "calibrated" else None)  # x [T, B, N_in]


def run(name: str, out: str | Path | None = None, *, quick: bool = False, progress: bool = True,
        **overrides: Any) -> dict:
    """Run one trial of experiment `name` with `overrides` of its defaults; write its result file to `out`
    (if given) and return the result dict."""
    params = get_experiment(name).configure(quick, **overrides)
    result, arrays = run_trial(name, params, progress=progress)
    if out is not None:
        write_result(out, result, arrays)
    return result


def summary_line(result: dict) -> str:
    """The first metrics of a result and its wall time, on one line."""
    main = ", ".join(f"{k}={v:.4g}" for k, v in list(result["metrics"].items())[:3])
    return f"{main}  ({result['provenance']['wall_s']:.0f} s)"
