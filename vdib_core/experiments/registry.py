"""The registry of named experiments: what a trial's parameters are (`Param`, `common_params`), what an
experiment provides (`Experiment`: data, model configuration, evaluation; `Data`), and the registry itself
(`register`, `get_experiment`). Running trials is `trials.py`; result files are `results.py`.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch

from ..model import DECODER_INPUTS, DECODERS, DECODINGS, ESTIMATORS, HybridModel, VDIBConfig
from ..train import InputFn

INITS = ("gain", "calibrated")


class ConfigError(ValueError):
    """A configuration that cannot be run: unknown experiment or parameter, malformed or disallowed value."""


@dataclass(frozen=True)
class Param:
    """One parameter of a trial: its default, its type, and its allowed values (choices or a range)."""

    name: str
    default: Any
    kind: type  # int, float, str
    help: str = ""
    choices: tuple | None = None
    minimum: float | None = None
    maximum: float | None = None
    validate: Callable[[Any], None] | None = None  # raises ConfigError for a value it rejects

    def parse(self, text: str) -> Any:
        """The value of `--name text` on the command line."""
        try:
            value = self.kind(text) if self.kind is not int else int(text, 10)
        except ValueError:
            raise ConfigError(f"--{self.flag} expects {self.kind.__name__}, got {text!r}") from None
        return self.check(value)

    def check(self, value: Any) -> Any:
        if self.kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if self.kind is str and value is None and self.default is None:
            return None
        if not isinstance(value, self.kind) or isinstance(value, bool):
            raise ConfigError(f"{self.name} must be {self.kind.__name__}, got {value!r}")
        if self.choices is not None and value not in self.choices:
            raise ConfigError(f"{self.name} must be one of {', '.join(map(str, self.choices))}; got {value!r}")
        if self.kind is float and not math.isfinite(value):
            raise ConfigError(f"{self.name} must be finite, got {value!r}")
        if (self.minimum is not None and value < self.minimum) or (self.maximum is not None and value > self.maximum):
            raise ConfigError(f"{self.name} must be in {self.allowed()}, got {value!r}")
        if self.validate is not None and value is not None:
            self.validate(value)
        return value

    @property
    def flag(self) -> str:
        return self.name.replace("_", "-")

    def allowed(self) -> str:
        if self.choices is not None:
            return "|".join(map(str, self.choices))
        if self.kind is str:
            return "str"
        lo = "-inf" if self.minimum is None else f"{self.minimum:g}"
        hi = "inf" if self.maximum is None else f"{self.maximum:g}"
        return f"{self.kind.__name__} in [{lo}, {hi}]"


def _check_device(name: str) -> None:
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"device must be cpu, cuda or cuda:N, got {name!r}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {name!r} requested but CUDA is not available here")


def common_params(**defaults: Any) -> tuple[Param, ...]:
    """The model / training parameters every experiment takes; `defaults` overrides their defaults."""
    d = dict(decoder="linear", decoding="time", decoder_hidden=256, beta=1e-3, r=0.2, tau_d=5,
             estimator="pathwise", encoder="trained", init="gain", init_gain=5.0, init_rate=0.08, seed=0, epochs=10,
             batch_size=64, lr_encoder=1e-3, lr_decoder=1e-3, patience=0, output_prior=1, decoder_input="standardise",
             readout_init_gain=1.0, refit=0, device=None)
    unknown = set(defaults) - set(d)
    if unknown:
        raise ConfigError(f"unknown common parameters {sorted(unknown)}")
    d.update(defaults)
    return (
        Param("decoder", d["decoder"], str, "decoding ANN", choices=DECODERS),
        Param("decoding", d["decoding"], str, "time: the last tau_d readout samples; rate: their counts",
              choices=DECODINGS),
        Param("decoder_hidden", d["decoder_hidden"], int, "hidden units of the MLP decoder", minimum=1),
        Param("beta", d["beta"], float, "weight of the compression term", minimum=0.0),
        Param("r", d["r"], float, "reference firing rate of the readout", minimum=1e-6, maximum=1 - 1e-6),
        Param("tau_d", d["tau_d"], int, "decoding window (steps)", minimum=1),
        Param("estimator", d["estimator"], str, "encoder gradient estimator", choices=ESTIMATORS),
        Param("encoder", d["encoder"], str, "frozen: keep the random SNN, train only the decoder (control)",
              choices=("trained", "frozen")),
        Param("init", d["init"], str, "gain: hidden weights ~ init_gain/sqrt(fan-in); calibrated: then rescaled "
              "so that each hidden layer fires at init_rate on the first training batch", choices=INITS),
        Param("init_gain", d["init_gain"], float, "initial weight gain of hidden LIF layers", minimum=0.0),
        Param("init_rate", d["init_rate"], float, "target hidden firing rate of --init calibrated", minimum=1e-4,
              maximum=0.5),
        Param("seed", d["seed"], int, "seed of training data, initialisation and spike draws", minimum=0),
        Param("epochs", d["epochs"], int, "passes over the training data (the maximum, with --patience)", minimum=0),
        Param("patience", d["patience"], int, "stop after this many passes without a better validation metric and "
              "keep the best pass (0: train all epochs)", minimum=0),
        Param("output_prior", d["output_prior"], int, "1: the decoder's output starts at the training targets' prior",
              choices=(0, 1)),
        Param("decoder_input", d["decoder_input"], str, "centre: decoder inputs minus their running mean; "
              "standardise: also divided by their running sd", choices=DECODER_INPUTS),
        Param("readout_init_gain", d["readout_init_gain"], float, "scale of the readout's initial weights",
              minimum=0.0),
        Param("refit", d["refit"], int, "1: after training, train a fresh decoder on the frozen trained encoder "
              "with the same budget and report its metrics as refit_* (what the encoder's code holds)",
              choices=(0, 1)),
        Param("batch_size", d["batch_size"], int, "minibatch size", minimum=2),
        Param("lr_encoder", d["lr_encoder"], float, "Adam learning rate of the SNN", minimum=0.0),
        Param("lr_decoder", d["lr_decoder"], float, "Adam learning rate of the decoder", minimum=1e-12),
        Param("device", d["device"], str, "cpu, cuda, cuda:1, ... (default: CUDA when available)",
              validate=_check_device),
    )


MODEL_PARAMS = ("decoder", "decoding", "decoder_hidden", "beta", "r", "estimator", "init_gain", "decoder_input",
                "readout_init_gain")


def model_fields(p: dict) -> dict[str, Any]:
    """The `VDIBConfig` fields that every experiment takes from its common parameters as they are."""
    return {k: p[k] for k in MODEL_PARAMS}


@dataclass
class Data:
    """What an experiment builds from a configuration: batch-first (X, Y) splits and their input function."""

    train: tuple[torch.Tensor, torch.Tensor]
    test: tuple[torch.Tensor, torch.Tensor]
    val: tuple[torch.Tensor, torch.Tensor] | None = None  # validation: early stopping, model selection, tuning
    input_fn: InputFn | None = None
    info: dict = field(default_factory=dict)  # seeds and sizes, recorded in the result's provenance
    extra: dict = field(default_factory=dict)  # further named (X, Y) test sets, e.g. a secondary test protocol


class Experiment:
    """Base of a named experiment. A subclass sets `name`, `description`, `params` (its data parameters
    followed by `common_params(...)` with its defaults), `quick` (overrides of defaults in quick mode), and
    implements `data`, `model_config`, `evaluate`; `references` and `arrays` are optional."""

    name: str = ""
    description: str = ""
    params: tuple[Param, ...] = ()
    quick: dict = {}
    threads: int | None = None  # torch threads for a trial (1 for tiny models: no synchronisation overhead); None: as set

    def data(self, p: dict) -> Data:
        raise NotImplementedError

    def model_config(self, p: dict) -> VDIBConfig:
        raise NotImplementedError

    def evaluate(self, model: HybridModel, data: Data, p: dict) -> dict[str, float]:
        """Final test metrics (a flat dict of numbers)."""
        raise NotImplementedError

    def references(self, data: Data, p: dict) -> dict[str, float]:
        return {}

    def arrays(self, model: HybridModel, data: Data, p: dict) -> dict[str, np.ndarray]:
        return {}

    # ---- configuration --------------------------------------------------------------------------
    def param(self, name: str) -> Param:
        for prm in self.params:
            if prm.name == name:
                return prm
        raise ConfigError(f"unknown parameter --{name.replace('_', '-')} for {self.name}; "
                          f"valid: {', '.join('--' + q.flag for q in self.params)} (and --quick)")

    def configure(self, quick: bool = False, **overrides: Any) -> dict:
        """Full configuration: defaults, then quick-mode defaults, then `overrides` (validated)."""
        p = {prm.name: prm.default for prm in self.params}
        if quick:
            p.update(self.quick)
        for name, value in overrides.items():
            p[name] = self.param(name).check(value)
        p["quick"] = bool(quick)
        return p


def parameter_table(exp: Experiment) -> str:
    """An experiment's parameters as a Markdown table (flag, default, allowed values, meaning), as the book's
    chapters show them; flags inside the help text are set as code (so no "--" turns into a dash)."""
    def code(text: str) -> str:
        return re.sub(r"(--[a-z][a-z-]*)", r"`\1`", text)

    rows = [f"| `--{p.flag}` | {p.default} | {p.allowed().replace('|', ' or ')} | {code(p.help)} |" for p in exp.params]
    return "| parameter | default | allowed | meaning |\n|---|---|---|---|\n" + "\n".join(rows)


EXPERIMENTS: dict[str, Experiment] = {}


def register(experiment: Experiment) -> Experiment:
    EXPERIMENTS[experiment.name] = experiment
    return experiment


def get_experiment(name: str) -> Experiment:
    if name not in EXPERIMENTS:
        raise ConfigError(f"unknown experiment {name!r}; valid: {', '.join(sorted(EXPERIMENTS))}")
    return EXPERIMENTS[name]
