"""Sweeps: the cartesian product of parameter values, run one trial after the other, skipping trials
whose result file exists (so an interrupted sweep resumes). `cluster.sweep` runs the same plan on Ray.
"""
from __future__ import annotations

import functools
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
