"""Named experiments as pure functions of their configuration, and their result files.

A *trial* is one configuration: a flat dict of parameters (the experiment's data parameters and the
model / training fields shared by every experiment, `seed` and `quick` included). `run_trial` turns a
configuration into one result: it builds the data and the model from the experiment, trains with
`vdib_core.fit`, evaluates, and returns the result dict and the arrays to keep. `write_result` stores
them atomically as `<dir>/<experiment>-<key>.json` (+ `.npz`), where `key` hashes the configuration,
so a sweep can skip what is done. The command line (`python -m vdib_core`) is a thin layer over this.

Result file (JSON, fixed top level): `experiment`, `params`, `metrics`, `references`, `history`,
`provenance` (`version`, `git_commit`, `git_dirty`, `torch`, `device`, `threads`, `wall_s`, `created`,
`model_config`, `train_config`, `data`, `arrays`).
"""
from __future__ import annotations

import datetime
import functools
import hashlib
import itertools
import json
import math
import os
import statistics
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from .. import __version__
from ..model import DECODERS, DECODINGS, ESTIMATORS, HybridModel, VDIBConfig
from ..train import InputFn, TrainConfig, fit, input_spikes, pick_device

TOP_LEVEL = ("experiment", "params", "metrics", "references", "history", "provenance")
EXECUTION_ONLY = ("device",)  # recorded, but not part of a trial's identity (the numbers should not depend on it)


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
             batch_size=64, lr_encoder=1e-3, lr_decoder=1e-3, device=None)
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
        Param("epochs", d["epochs"], int, "passes over the training data", minimum=0),
        Param("batch_size", d["batch_size"], int, "minibatch size", minimum=2),
        Param("lr_encoder", d["lr_encoder"], float, "Adam learning rate of the SNN", minimum=0.0),
        Param("lr_decoder", d["lr_decoder"], float, "Adam learning rate of the decoder", minimum=1e-12),
        Param("device", d["device"], str, "cpu, cuda, cuda:1, ... (default: CUDA when available)",
              validate=_check_device),
    )


@dataclass
class Data:
    """What an experiment builds from a configuration: batch-first (X, Y) splits and their input function."""

    train: tuple[torch.Tensor, torch.Tensor]
    test: tuple[torch.Tensor, torch.Tensor]
    val: tuple[torch.Tensor, torch.Tensor] | None = None  # for the experiment's final metrics (not per epoch)
    input_fn: InputFn | None = None
    info: dict = field(default_factory=dict)  # seeds and sizes, recorded in the result's provenance


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


EXPERIMENTS: dict[str, Experiment] = {}


def register(experiment: Experiment) -> Experiment:
    EXPERIMENTS[experiment.name] = experiment
    return experiment


def get_experiment(name: str) -> Experiment:
    if name not in EXPERIMENTS:
        raise ConfigError(f"unknown experiment {name!r}; valid: {', '.join(sorted(EXPERIMENTS))}")
    return EXPERIMENTS[name]


def trial_key(experiment: str, params: dict) -> str:
    """Identity of a trial: a hash of its experiment and parameters (execution-only ones left out)."""
    ident = {k: v for k, v in params.items() if k not in EXECUTION_ONLY}
    blob = json.dumps([experiment, ident], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def result_path(out: str | Path, experiment: str, params: dict) -> Path:
    return Path(out) / f"{experiment}-{trial_key(experiment, params)}.json"


def _git(*args: str) -> str | None:
    here = Path(__file__).resolve().parent
    try:
        done = subprocess.run(["git", *args], cwd=here, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def provenance() -> dict:
    """Package and torch versions, and the git commit of the checkout the package runs from (if any);
    `git_dirty`: tracked files differ from that commit."""
    commit = _git("rev-parse", "HEAD")
    dirty = None if commit is None else bool(_git("status", "--porcelain", "--untracked-files=no"))
    return {"version": __version__, "git_commit": commit, "git_dirty": dirty, "torch": torch.__version__}


def _history(history: list[dict]) -> list[dict]:
    return [{k: (float(v) if isinstance(v, float) else v) for k, v in h.items()} for h in history]


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
    if frozen:
        model.encoder.requires_grad_(False)  # the control: a random SNN; no backward pass through it
    tc = TrainConfig(epochs=p["epochs"], batch_size=p["batch_size"], lr_encoder=0.0 if frozen else p["lr_encoder"],
                     lr_decoder=p["lr_decoder"], seed=p["seed"], device=p["device"], progress=progress)
    device = pick_device(p["device"])
    init = initialise(model, data, p)
    history = fit(model, data.train, tc, input_fn=data.input_fn)
    model.eval()
    result = {
        "experiment": name,
        "params": p,
        "metrics": {k: float(v) for k, v in exp.evaluate(model, data, p).items()},
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


INITS = ("gain", "calibrated")
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


def _atomic_write(path: Path, write: Callable[[Any], None], mode: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it 0600; a result file is as readable as any other
        with os.fdopen(fd, mode) as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_result(out: str | Path, result: dict, arrays: dict[str, np.ndarray] | None = None) -> Path:
    """Write a trial's JSON (and its arrays as a compressed .npz beside it) atomically; -> JSON path.
    The arrays are written first, so a JSON on disk always has its arrays."""
    path = result_path(out, result["experiment"], result["params"])
    path.parent.mkdir(parents=True, exist_ok=True)
    if arrays:
        npz = path.with_suffix(".npz")
        _atomic_write(npz, lambda f: np.savez_compressed(f, **arrays), "wb")
        result["provenance"]["arrays"] = npz.name
    _atomic_write(path, lambda f: json.dump(result, f, indent=1, sort_keys=False), "w")
    return path


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


def plan(name: str, out: str | Path, quick: bool, axes: dict[str, list]) -> tuple[list[dict], list[dict]]:
    """The trials of a sweep (the cartesian product of `axes`, parameter -> list of values) and those of
    them whose result file is not in `out` yet; prints how many are done."""
    exp = get_experiment(name)
    trials = [exp.configure(quick, **dict(zip(axes, combo))) for combo in itertools.product(*axes.values())]
    todo = [p for p in trials if not result_path(out, name, p).exists()]
    print(f"{name}: {len(trials)} trials, {len(trials) - len(todo)} already done in {out}")
    return trials, todo


def label(params: dict, axes: dict | list) -> str:
    """A trial's values of the sweep's axes, as `[a=1 b=x]`: how a sweep names its trials."""
    return "[" + " ".join(f"{k}={params[k]}" for k in axes) + "]"


def sweep(name: str, out: str | Path, *, quick: bool = False, progress: bool = True,
          **axes: list) -> list[Path]:
    """Run the cartesian product of `axes` (parameter -> list of values) one trial after the other,
    skipping trials whose result file exists in `out` (so an interrupted sweep resumes); an overall
    progress bar and one summary line per trial. Returns the result paths of every trial of the grid.
    A trial that raises is reported and the sweep goes on; `TrialsFailed` at the end lists those.
    (`vdib_core.experiments.cluster.sweep` runs the same grid as Ray tasks.)"""
    from tqdm.auto import tqdm

    from ..train import interactive

    trials, todo = plan(name, out, quick, axes)
    progress = progress and interactive()  # redirected output: the summary lines are the progress
    bar = tqdm(todo, desc="sweep", unit="trial", disable=not progress)
    say = bar.write if progress else functools.partial(print, flush=True)
    failures: list[tuple[dict, str]] = []
    for params in bar:
        bar.set_postfix_str(label(params, axes)[1:-1])
        try:
            result, arrays = run_trial(name, params, progress=False)
        except Exception as e:  # a failed trial does not stop the others; listed at the end
            err = f"{type(e).__name__}: {(str(e).splitlines() or [''])[0]}"
            say(f"{label(params, axes)} failed: {err}")
            failures.append((params, err))
            continue
        path = write_result(out, result, arrays)
        say(f"{label(params, axes)} {summary_line(result)} -> {path.name}")
    if failures:
        raise TrialsFailed(failures)
    return [result_path(out, name, p) for p in trials]


class TrialsFailed(RuntimeError):
    """Some trials of a sweep failed (after the others ran); `failures` holds (configuration, one-line
    error) for each. Raised by both sweep backends."""

    def __init__(self, failures: list[tuple[dict, str]]):
        self.failures = failures
        super().__init__(f"{len(failures)} trial(s) failed")


# ---- reading results ------------------------------------------------------------------------------
@dataclass
class Result:
    """One result file: its JSON fields, its path, and its arrays loaded on demand."""

    experiment: str
    params: dict
    metrics: dict
    references: dict
    history: list
    provenance: dict
    path: Path

    def get(self, dotted: str) -> Any:
        """A value by dotted name, e.g. 'metrics.accuracy' or 'params.delta' (a bare name is a parameter)."""
        section, _, key = dotted.rpartition(".")
        return getattr(self, section or "params").get(key)

    def arrays(self) -> dict[str, np.ndarray]:
        name = self.provenance.get("arrays")
        if not name:
            return {}
        with np.load(self.path.parent / name) as f:
            return dict(f)


def read_result(path: str | Path) -> Result:
    path = Path(path)
    try:
        d = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ConfigError(f"{path} is not a readable result file ({type(e).__name__})") from None
    if not isinstance(d, dict) or any(k not in d for k in TOP_LEVEL):
        raise ConfigError(f"{path} is not a vdib result file (needs top-level keys {', '.join(TOP_LEVEL)})")
    return Result(**{k: d[k] for k in TOP_LEVEL}, path=path)


def book_results(name: str) -> Path | None:
    """The committed results `book/results/<name>` that the book's chapters read: next to the running
    notebook (the book build runs the chapters in book/), else in the checkout vdib_core runs from; None
    when absent (an installed package, Colab) or when `VDIB_RESULTS=live` asks a chapter for its small
    live runs instead."""
    if os.environ.get("VDIB_RESULTS") == "live":
        return None
    for base in (Path.cwd(), Path(__file__).resolve().parents[2] / "book"):
        if (base / "results" / name).is_dir():
            return base / "results" / name
    return None


def load_results(directory: str | Path, experiment: str | None = None, **where: Any) -> list[Result]:
    """Every result file under `directory` (recursively), optionally of one experiment and with parameters
    equal to `where` (e.g. `decoder='mlp', quick=False`), sorted by path."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    results = [read_result(p) for p in sorted(directory.rglob("*.json"))]
    return select([r for r in results if experiment is None or r.experiment == experiment], **where)


def select(results: list[Result], **where: Any) -> list[Result]:
    """The results whose parameters equal `where`, e.g. `select(results, decoder="mlp", encoder="frozen")`."""
    return [r for r in results if all(r.params.get(k) == v for k, v in where.items())]


def paired_by_seed(results: list[Result], where_a: dict, where_b: dict, value: str) -> np.ndarray:
    """Differences paired by seed: value (dotted name) of the `where_a` result minus that of the `where_b`
    result with the same seed, for every seed both have, in seed order -> [n_seeds]."""
    a = {r.params["seed"]: r.get(value) for r in select(results, **where_a)}
    b = {r.params["seed"]: r.get(value) for r in select(results, **where_b)}
    return np.array([a[s] - b[s] for s in sorted(a) if s in b], dtype=float)


def sign_beyond_spread(diff: np.ndarray) -> int:
    """+1 / −1 when paired differences all have that sign and their mean exceeds twice its standard error;
    0 otherwise, and for fewer than 2 differences."""
    diff = np.asarray(diff, dtype=float)
    if len(diff) < 2:
        return 0
    se = diff.std(ddof=1) / np.sqrt(len(diff))
    if (diff > 0).all() and diff.mean() > 2 * se:
        return 1
    if (diff < 0).all() and -diff.mean() > 2 * se:
        return -1
    return 0


@dataclass
class Summary:
    mean: float
    sd: float  # sample standard deviation over the group (0 for one value)
    n: int
    values: list[float]

    def __str__(self) -> str:
        return f"{self.mean:.4g} ± {self.sd:.2g} (n={self.n})"


def summarize(values: list[float]) -> Summary:
    vals = [float(v) for v in values]
    return Summary(statistics.fmean(vals), statistics.stdev(vals) if len(vals) > 1 else 0.0, len(vals), vals)


def group(results: list[Result], by: tuple[str, ...] | list[str], value: str) -> dict[tuple, Summary]:
    """Mean ± sd of `value` (dotted name, e.g. 'metrics.accuracy') over the results grouped by the
    parameters `by`: {(by values...): Summary}, sorted by key."""
    groups: dict[tuple, list[float]] = {}
    for r in results:
        v = r.get(value)
        if v is not None:
            groups.setdefault(tuple(r.params.get(b) for b in by), []).append(v)
    order = lambda k: tuple((0, v, "") if isinstance(v, (int, float)) else (1, 0, str(v)) for v in k)  # noqa: E731
    return {k: summarize(groups[k]) for k in sorted(groups, key=order)}
