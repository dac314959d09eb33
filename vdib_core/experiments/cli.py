"""The `vdib` command line (also `python -m vdib_core`): list, run, sweep, rerun, show, evaluator.

    vdib list
    vdib run predictive-coding --out runs/pc --delta 1 --decoder mlp [--quick]
    vdib sweep predictive-coding --out runs/pc --delta=-3..3 --decoding time,rate --seed 0..2 [--quick]
    vdib sweep predictive-coding --out runs/pc --seed 0..9 --backend ray --address auto --cpus-per-trial 1
    vdib tune predictive-coding --out runs/tune --seed 100 --decoding rate --lr-encoder 0.01,0.03,0.1 \
        --lr-decoder 0.003,0.01,0.03 --then-tau-d 1..4
    vdib rerun runs/pc/predictive-coding-0123456789ab.json --out runs/check [--tolerance 1e-3]
    vdib show runs/pc --by decoding,delta
    vdib evaluator [--retrain] [--path FILE]

Parameters are written `--name value` or `--name=value`; underscores and dashes are the same. Bad input
gets a one-line error and exit status 2, before any output folder is made; a trial that fails while running
exits with status 1 (a sweep, with either backend, runs the other trials first and then lists the failed
ones). Progress bars are drawn on a terminal; redirected to a file, the output has one line per pass.
"""
from __future__ import annotations

import math
import os
import sys
import tempfile
from pathlib import Path
from typing import Any, Sequence

from . import sweeps, trials, tuning
from .registry import EXPERIMENTS, ConfigError, get_experiment
from .results import Result, load_results, provenance_summary, read_result, write_result
from .stats import group
from .trials import summary_line

VERBS = ("list", "run", "sweep", "tune", "best", "rerun", "show", "evaluator")
USAGE = """usage: vdib {list,run,sweep,tune,best,rerun,show,evaluator} ...
  vdib list                                          experiments, parameters, defaults, allowed values
  vdib run EXPERIMENT --out DIR [--PARAM VALUE ...] [--quick]
  vdib sweep EXPERIMENT --out DIR [--quick] --PARAM v1,v2,... [--PARAM lo..hi] ...
             [--backend local|ray] [--address auto|ray://HOST:PORT] [--cpus-per-trial N] [--gpus-per-trial F]
  vdib tune EXPERIMENT --out DIR [--quick] --PARAM v1,v2,... [--then-PARAM v1,v2,...] [--PARAM VALUE ...]
             [--metric NAME] [--mode max|min] [--max-extensions N]
                                                     tune a variant on validation: a grid over the listed
                                                     parameters, extended at an edge, then the --then- ones
  vdib best EXPERIMENT DIR [--PARAM VALUE ...] [--metric NAME] [--mode max|min] [--keys PARAM,PARAM,...]
                                                     the flags of the best result among those with these
                                                     parameters (a tuning's choice, for the next command)
  vdib rerun RESULT.json --out DIR [--tolerance REL]
  vdib show DIR [--by PARAM,PARAM,...] [--provenance]  a table of results; with where, when, how long
  vdib evaluator [--retrain] [--path FILE]             the MNIST judge: load (or train) it, print its accuracy"""


def _options(tokens: Sequence[str]) -> tuple[list[str], dict[str, str], bool]:
    """Split tokens into positionals, `--name value` / `--name=value` options (names with underscores)
    and the `--quick` flag."""
    positional, options, quick = [], {}, False
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok == "--quick":
            quick = True
        elif tok.startswith("--") and len(tok) > 2:
            name, eq, value = tok[2:].partition("=")
            if not eq:
                if i + 1 >= len(tokens):
                    raise ConfigError(f"{tok} needs a value")
                i += 1
                value = tokens[i]
            name = name.replace("-", "_")
            if name in options:
                raise ConfigError(f"--{name.replace('_', '-')} given twice")
            options[name] = value
        else:
            positional.append(tok)
        i += 1
    return positional, options, quick


def _writable(out: str | None) -> Path:
    if not out:
        raise ConfigError("--out DIR is required (where the result files go)")
    path = Path(out)
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".vdib-write-check-"):
            pass
    except OSError as e:
        raise ConfigError(f"--out {out}: not a writable directory ({e.strerror or e})") from None
    return path


def _sweep_values(prm, text: str) -> list[Any]:
    """`v1,v2,...` or an integer range `lo..hi` (inclusive) -> parsed values."""
    if ".." in text:
        lo, _, hi = text.partition("..")
        if prm.kind is not int:
            raise ConfigError(f"--{prm.flag}: ranges lo..hi are for integer parameters; list the values instead")
        a, b = prm.parse(lo), prm.parse(hi)
        if a > b:
            raise ConfigError(f"--{prm.flag}: empty range {text!r}")
        return list(range(a, b + 1))
    items = text.split(",")
    if any(not item for item in items):
        raise ConfigError(f"--{prm.flag}: malformed list {text!r}")
    return [prm.parse(item) for item in items]


def cmd_list(args: list[str]) -> int:
    if args:
        raise ConfigError(f"list takes no arguments, got {' '.join(args)}")
    for exp in EXPERIMENTS.values():
        print(f"{exp.name}: {exp.description}")
        for prm in exp.params:
            quick = f", quick: {exp.quick[prm.name]}" if prm.name in exp.quick else ""
            print(f"  --{prm.flag:<16} default {prm.default!s:<10} allowed {prm.allowed()}{quick}   {prm.help}")
        print("  --quick            small data and few epochs (tests, CI, a first look)")
    return 0


def _configure(name: str, options: dict[str, str], quick: bool) -> dict:
    exp = get_experiment(name)
    return exp.configure(quick, **{k: exp.param(k).parse(v) for k, v in options.items()})


def _run_one(name: str, params: dict, out: Path, progress: bool = True) -> dict:
    result, arrays = trials.run_trial(name, params, progress=progress)
    path = write_result(out, result, arrays)
    print(f"{path}: {summary_line(result)}")
    return result


def _sequence_length(exp, p: dict) -> int | None:
    """The number of steps a trial's decoding window must fit in, where it is known from the parameters
    alone (without building the data); None where it is not."""
    if hasattr(exp, "tau_d") and callable(exp.tau_d):  # MNIST-DVS: from the recording length and dt
        try:
            exp.tau_d(p)
        except ValueError as e:
            raise ConfigError(str(e)) from None
        return None
    if "t_train" in p and "t_test" in p:  # predictive coding: training and test sequences
        return min(p["t_train"], p["t_test"])
    if "steps" in p:  # MNIST: the rate code's length
        return p["steps"]
    return None


def _preflight(name: str, p: dict) -> None:
    """Checks that need several parameters together, made before any folder is created or data loaded, so
    that such bad input exits 2 with one line (the experiment checks the same again when it runs)."""
    exp = get_experiment(name)
    length = _sequence_length(exp, p)
    if length is not None and p.get("tau_d", 0) > length:
        raise ConfigError(f"--tau-d {p['tau_d']} is longer than the sequences ({length} steps)")


def cmd_run(args: list[str]) -> int:
    positional, options, quick = _options(args)
    if len(positional) != 1:
        raise ConfigError("run takes one experiment: vdib run EXPERIMENT --out DIR [--PARAM VALUE ...]")
    out = options.pop("out", None)
    params = _configure(positional[0], options, quick)
    _preflight(positional[0], params)
    _run_one(positional[0], params, _writable(out))
    return 0


RAY_OPTIONS = {"address": str, "cpus_per_trial": float, "gpus_per_trial": float}  # for --backend ray


def _ray_options(options: dict[str, str]) -> dict[str, Any]:
    """Take the Ray backend's options out of `options` (the rest are the sweep's axes), parsed."""
    parsed = {}
    for name, kind in RAY_OPTIONS.items():
        if name in options:
            text = options.pop(name)
            try:
                parsed[name] = kind(text)
            except ValueError:
                raise ConfigError(f"--{name.replace('_', '-')} expects a number, got {text!r}") from None
    return parsed


def cmd_sweep(args: list[str]) -> int:
    positional, options, quick = _options(args)
    if len(positional) != 1:
        raise ConfigError("sweep takes one experiment: vdib sweep EXPERIMENT --out DIR --PARAM v1,v2 ...")
    exp = get_experiment(positional[0])
    out = _writable(options.pop("out", None))
    backend = options.pop("backend", "local")
    ray_options = _ray_options(options)
    axes = {k: _sweep_values(exp.param(k), v) for k, v in options.items()}
    if backend not in ("local", "ray"):
        raise ConfigError(f"--backend must be local or ray, got {backend!r}")
    if backend == "local" and ray_options:
        raise ConfigError(f"--{next(iter(ray_options)).replace('_', '-')} is for --backend ray")
    try:
        if backend == "local":
            sweeps.sweep(exp.name, out, quick=quick, **axes)
        else:
            from . import cluster  # only here: the local backend never imports Ray

            cluster.sweep(exp.name, out, quick=quick, **ray_options, **axes)
    except sweeps.TrialsFailed as e:  # both backends go on past a failed trial, then list them here
        how = "twice" if backend == "ray" else ""
        print(f"vdib sweep: {len(e.failures)} trial(s) failed{' ' + how if how else ''} "
              f"(the others are in {out}):", file=sys.stderr)
        for params, error in e.failures:
            print(f"  {sweeps.label(params, axes)} {error}", file=sys.stderr)
        return 1
    return 0


def _selection(options: dict[str, str]) -> tuple[str, bool]:
    """`--metric NAME` (default val_accuracy) and `--mode max|min` of tune and best -> ('metrics.NAME', maximize)."""
    metric = options.pop("metric", "val_accuracy")
    mode = options.pop("mode", "max")
    if mode not in ("max", "min"):
        raise ConfigError(f"--mode must be max or min, got {mode!r}")
    return f"metrics.{metric}", mode == "max"


def cmd_tune(args: list[str]) -> int:
    positional, options, quick = _options(args)
    if len(positional) != 1:
        raise ConfigError("tune takes one experiment: vdib tune EXPERIMENT --out DIR --PARAM v1,v2 ...")
    exp = get_experiment(positional[0])
    out = _writable(options.pop("out", None))
    metric, maximize = _selection(options)
    extensions = options.pop("max_extensions", "2")
    if not extensions.isdigit():
        raise ConfigError(f"--max-extensions expects a non-negative integer, got {extensions!r}")
    fixed, grid, then = {}, {}, {}
    for name, text in options.items():
        stage2 = name.startswith("then_")
        prm = exp.param(name[5:] if stage2 else name)
        values = _sweep_values(prm, text)
        if stage2:
            then[prm.name] = values
        elif len(values) > 1:
            grid[prm.name] = values
        else:
            fixed[prm.name] = values[0]
    if not grid:
        raise ConfigError("tune needs at least one parameter with several values (the grid), e.g. --lr-encoder 0.01,0.1")
    tuning.tune(exp.name, out, fixed=fixed, grid=grid, then=then or None, metric=metric, maximize=maximize,
                max_extensions=int(extensions), quick=quick)
    return 0


def cmd_best(args: list[str]) -> int:
    positional, options, quick = _options(args)
    if len(positional) != 2:
        raise ConfigError("best takes an experiment and a directory: vdib best EXPERIMENT DIR [--PARAM VALUE ...]")
    exp = get_experiment(positional[0])
    metric, maximize = _selection(options)
    keys = [k.replace("-", "_") for k in options.pop("keys", "lr_encoder,lr_decoder,tau_d").split(",") if k]
    for k in keys:
        exp.param(k)
    where = {k: exp.param(k).parse(v) for k, v in options.items()}
    results = load_results(positional[1], exp.name, quick=quick, **where)
    try:
        best = tuning.choose(results, metric, maximize=maximize)
    except ValueError:
        raise ConfigError(f"no {exp.name} result with {metric} and {where or 'any parameters'} "
                          f"in {positional[1]}") from None
    print(" ".join(f"--{k.replace('_', '-')} {best.params[k]}" for k in keys))
    return 0


MACHINE = ("cpu", "gpu", "device", "threads", "torch")  # provenance that can change the rounding


def cmd_rerun(args: list[str]) -> int:
    positional, options, quick = _options(args)
    if len(positional) != 1 or quick or set(options) - {"out", "tolerance"}:
        raise ConfigError("rerun takes one result file and --out: vdib rerun RESULT.json --out DIR [--tolerance REL]")
    try:
        tolerance = float(options.get("tolerance", "0"))
    except ValueError:
        raise ConfigError(f"--tolerance expects a number, got {options['tolerance']!r}") from None
    if not tolerance >= 0:
        raise ConfigError(f"--tolerance must be >= 0, got {tolerance}")
    old = read_result(positional[0])
    out = _writable(options.get("out"))
    new = _run_one(old.experiment, dict(old.params), out)
    worst = 0.0
    for key, value in old.metrics.items():
        now = new["metrics"].get(key)
        rel = math.inf if now is None else abs(now - value) / max(1e-12, abs(value)) if now != value else 0.0
        worst = max(worst, rel)
        verdict = "identical" if rel == 0 else f"relative difference {rel:.2g}"
        print(f"  {key}: recorded {value:.6g}, now {now:.6g}  {verdict}")
    machine = [f"{k}: recorded {old.provenance.get(k)!r}, now {new['provenance'].get(k)!r}" for k in MACHINE
               if old.provenance.get(k) != new["provenance"].get(k)]
    commits = [str(p.get("git_commit"))[:10] for p in (old.provenance, new["provenance"])]
    if worst == 0:
        print("vdib rerun: identical: every metric is bit for bit the recorded one")
        return 0
    if worst <= tolerance:
        print(f"vdib rerun: within the tolerance {tolerance:g} (largest relative difference {worst:.2g})")
        return 0
    print(f"vdib rerun: different: largest relative difference {worst:.2g} (tolerance {tolerance:g})", file=sys.stderr)
    if commits[0] != commits[1]:
        print(f"  code: made at commit {commits[0]}, re-run at {commits[1]} (check out the recorded commit to run "
              "the same code)", file=sys.stderr)
    if machine:
        print("  this machine differs from the one that made the result, and floating-point rounding with it:\n  "
              + "\n  ".join(machine), file=sys.stderr)
    elif "cpu" not in old.provenance:
        print("  the result does not record its CPU; bitwise equality holds only on the same kind of CPU",
              file=sys.stderr)
    return 1


def _mean_sd(stat) -> str:
    """`mean ± sd`, or the value alone for a single trial (its spread is unknown, not 0)."""
    return f"{stat.mean:.4g} ± {stat.sd:.2g}" if stat.n > 1 else f"{stat.mean:.4g}"


def _table(results: list[Result], by: list[str]) -> str:
    metrics = list(dict.fromkeys(k for r in results for k in r.metrics))
    refs = list(dict.fromkeys(k for r in results for k in r.references))
    cols = [f"metrics.{k}" for k in metrics] + [f"references.{k}" for k in refs]
    stats = {c: group(results, by, c) for c in cols}
    keys = list(dict.fromkeys(k for s in stats.values() for k in s))
    header = by + ["n"] + [c.split(".", 1)[1] for c in cols]
    rows = []
    for key in keys:
        n = max(stats[c][key].n for c in cols if key in stats[c])
        cells = [_mean_sd(stats[c][key]) if key in stats[c] else "-" for c in cols]
        rows.append([str(v) for v in key] + [str(n)] + cells)
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]
    fmt = lambda row: "  ".join(cell.ljust(w) for cell, w in zip(row, widths))  # noqa: E731
    return "\n".join([fmt(header), fmt(["-" * w for w in widths])] + [fmt(r) for r in rows])


def cmd_show(args: list[str]) -> int:
    provenance = "--provenance" in args
    positional, options, quick = _options([a for a in args if a != "--provenance"])
    if len(positional) != 1 or quick or set(options) - {"by"}:
        raise ConfigError("show takes one directory: vdib show DIR [--by PARAM,PARAM] [--provenance]")
    directory = Path(positional[0])
    if not directory.is_dir():
        raise ConfigError(f"{directory} is not a directory")
    results = load_results(directory)
    if not results:
        raise ConfigError(f"no result files in {directory}")
    for name in sorted({r.experiment for r in results}):
        rs = [r for r in results if r.experiment == name]
        if "by" in options:
            by = [b.replace("-", "_") for b in options["by"].split(",") if b]
            known = set().union(*(r.params for r in rs))
            bad = [b for b in by if b not in known]
            if bad:
                raise ConfigError(f"--by: unknown parameter(s) {', '.join(bad)}; valid: {', '.join(sorted(known))}")
        else:  # the parameters that vary, except the seed
            by = [k for k in rs[0].params if k != "seed" and len({str(r.params.get(k)) for r in rs}) > 1]
        print(f"{name}: {len(rs)} result files, mean ± sd over the rest (n = 1: the value alone)")
        print(_table(rs, by))
        if provenance:
            print(provenance_summary(rs))
    return 0


def cmd_evaluator(args: list[str]) -> int:
    from .evaluator import default_path, load_evaluator, save_evaluator, train_evaluator

    positional, options, quick = _options([a for a in args if a != "--retrain"])
    if positional or quick or set(options) - {"path"}:
        raise ConfigError("usage: vdib evaluator [--retrain] [--path FILE]")
    path = Path(options.get("path") or default_path())
    import torch

    torch.set_num_threads(1)  # the committed artefact is reproducible bit for bit on one thread
    if "--retrain" in args:
        evaluator = train_evaluator()
        save_evaluator(evaluator, path)
    else:
        evaluator = load_evaluator(path)
    info = evaluator.info
    print(f"MNIST evaluator {evaluator.path}: {evaluator.clean_accuracy:.2%} on {info['n_test']:,} clean test digits; "
          f"trained on {info['n_train']:,} ({info['source']}); sha256 {evaluator.sha256[:12]}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE)
        return 0 if argv else 2
    verb, args = argv[0], argv[1:]
    if verb not in VERBS:
        print(f"vdib: error: unknown command {verb!r}; valid: {', '.join(VERBS)}", file=sys.stderr)
        return 2
    os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")  # huge pages: fewer first-touch faults on big gradients
    try:
        return {"list": cmd_list, "run": cmd_run, "sweep": cmd_sweep, "tune": cmd_tune, "best": cmd_best,
                "rerun": cmd_rerun,
                "show": cmd_show,
                "evaluator": cmd_evaluator}[verb](args)
    except ConfigError as e:
        print(f"vdib {verb}: error: {e}", file=sys.stderr)
        return 2
    except (ValueError, TypeError, FloatingPointError) as e:  # raised by the model or the data with a message
        print(f"vdib {verb}: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"vdib {verb}: interrupted; finished trials are saved, a sweep resumes where it stopped",
              file=sys.stderr)
        return 130


def console() -> None:
    """Entry point of the `vdib` console script."""
    sys.exit(main())
