"""Tuning a variant on validation data (book chapter "Efficient predictive coding", section "Equal
footing"): the same protocol for every variant (a decoder × decoding × estimator, or a control).

Stage 1 runs a grid over `grid` (e.g. the encoder and decoder learning rates, log-spaced) and extends an
axis by one log step beyond its edge whenever the best trial sits on that edge, until it sits inside (or
`max_extensions` steps were added). Stage 2 (`then`, e.g. the decoding window) varies further parameters
at stage 1's choice. Every trial is an ordinary result file (a tuning seed of its own keeps them apart
from the evaluation seeds), so `choose` recomputes a choice from the files alone, and an interrupted
tuning resumes like a sweep.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from .registry import get_experiment
from .results import Result, load_results, select
from .sweeps import sweep


def choose(results: list[Result], metric: str, maximize: bool = True, **where: Any) -> Result:
    """The result with the best `metric` (dotted name, e.g. 'metrics.val_accuracy') among `results`
    with parameters `where` (ties: the first by path)."""
    pool = [r for r in select(results, **where) if r.get(metric) is not None]
    if not pool:
        raise ValueError(f"no result with {metric} among {len(results)} results matching {where}")
    return (max if maximize else min)(pool, key=lambda r: r.get(metric))


def extend_at_edge(grid: list, value: Any) -> list:
    """A sorted grid with one more log-spaced value beyond the edge `value` sits on (the grid's own ratio
    at that end); the grid itself when `value` is inside. Grids of one value, or with a non-positive edge
    to extend downwards, cannot be extended and are returned as they are."""
    g = sorted(grid)
    if len(g) < 2 or value not in (g[0], g[-1]):
        return g
    if value == g[-1]:
        step = g[-1] / g[-2] if g[-2] > 0 else 2.0
        new = g[-1] * step
    else:
        if g[0] <= 0:
            return g
        new = g[0] / (g[1] / g[0])
    return sorted(set(g) | {float(f"{new:.3g}")})  # 0.1 * 3.16... -> 0.316: values as a person writes them


def tune(name: str, out: str | Path, *, fixed: dict, grid: dict[str, list], then: dict[str, list] | None = None,
         metric: str = "metrics.val_accuracy", maximize: bool = True, max_extensions: int = 2,
         quick: bool = False, progress: bool = True) -> dict[str, Any]:
    """Tune one variant of experiment `name` (its parameters `fixed`) on validation: stage 1 over `grid`
    with edge extension, then stage 2 over `then` at stage 1's choice. Trials are written to `out`.
    Returns a dict: `choice` (the parameters chosen in the end), `stage1` (stage 1's choice), `score` and
    `stage1_score` (their metric), `n_trials` (this variant's trials in `out`), `grid` (the final stage-1 grid)."""
    exp = get_experiment(name)
    for k in list(grid) + list(then or {}) + list(fixed):
        exp.param(k)  # unknown names fail here, before any trial runs
    grid = {k: sorted(v) for k, v in grid.items()}
    base = exp.configure(quick, **fixed)
    at_base = {k: base[k] for k in then or {}}  # stage 1 runs with stage 2's parameters at their base values
    for extension in range(max_extensions + 1):
        sweep(name, out, quick=quick, progress=progress, **{k: [v] for k, v in fixed.items()}, **grid)
        results = load_results(out, name, **fixed, quick=quick)
        in_grid = [r for r in results if all(r.params[k] in v for k, v in grid.items())]  # a resumed tuning's
        best = choose(in_grid, metric, maximize, **at_base)  # files may hold a later extension: grow step by step
        grown = {k: extend_at_edge(v, best.params[k]) for k, v in grid.items()}
        if grown == grid or extension == max_extensions:  # inside, or out of extensions: `grid` is what ran
            break
        grid = grown
    stage1 = {k: best.params[k] for k in grid}
    stage1_score = best.get(metric)
    final = best
    if then:
        sweep(name, out, quick=quick, progress=progress, **{k: [v] for k, v in {**fixed, **stage1}.items()}, **then)
        results = load_results(out, name, **fixed, quick=quick)
        final = choose(results, metric, maximize, **stage1)
    choice = {k: final.params[k] for k in list(grid) + list(then or {})}
    n_trials = len(load_results(out, name, **fixed, quick=quick))
    score = final.get(metric)
    print(f"{name} {fixed}: chose {choice} ({metric} {score:.4g}; stage 1 {stage1}, "
          f"{stage1_score:.4g}) after {n_trials} trials")
    return {"choice": choice, "stage1": stage1, "score": score, "stage1_score": stage1_score,
            "n_trials": n_trials, "grid": grid}
