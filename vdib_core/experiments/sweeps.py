"""Sweeps: the cartesian product of parameter values, run one trial after the other, skipping trials
whose result file exists (so an interrupted sweep resumes). `cluster.sweep` runs the same plan on Ray.
"""
from __future__ import annotations

import itertools
from pathlib import Path

from .registry import get_experiment
from .results import result_path, write_result
from .trials import run_trial, summary_line

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
    (`vdib_core.experiments.cluster.sweep` runs the same grid as Ray tasks.)"""
    from tqdm.auto import tqdm

    trials, todo = plan(name, out, quick, axes)
    bar = tqdm(todo, desc="sweep", unit="trial", disable=not progress)
    for params in bar:
        bar.set_postfix_str(label(params, axes)[1:-1])
        result, arrays = run_trial(name, params, progress=False)
        path = write_result(out, result, arrays)
        (bar.write if progress else print)(f"{label(params, axes)} {summary_line(result)} -> {path.name}")
    return [result_path(out, name, p) for p in trials]
