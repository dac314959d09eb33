"""Statistics over result files: paired-by-seed differences, the paired test that every verdict of the
book comes from (`paired_test`, with Holm's correction across a chapter's verdicts: `holm`), and mean ± sd
summaries by group.
"""
from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

import numpy as np
from scipy import stats as _scipy_stats

from .results import Result, select

def paired_by_seed(results: list[Result], where_a: dict, where_b: dict, value: str) -> np.ndarray:
    """Differences paired by seed: value (dotted name) of the `where_a` result minus that of the `where_b`
    result with the same seed, for every seed both have, in seed order -> [n_seeds]."""
    a = {r.params["seed"]: r.get(value) for r in select(results, **where_a)}
    b = {r.params["seed"]: r.get(value) for r in select(results, **where_b)}
    return np.array([a[s] - b[s] for s in sorted(a) if s in b], dtype=float)



@dataclass(frozen=True)
class PairedTest:
    """A two-sided paired t-test on per-seed differences a − b (book chapter "Efficient predictive coding",
    section "How a verdict is made"): their mean, its 95 % (1 − alpha) confidence interval, t and p."""

    n: int  # number of paired seeds
    mean: float  # mean difference a − b
    ci_low: float
    ci_high: float
    t: float
    p: float  # two-sided p-value (nan for fewer than 2 pairs or zero spread with zero mean)
    alpha: float

    @property
    def significant(self) -> bool:
        """p < alpha (uncorrected; see `holm` for a chapter's family of verdicts)."""
        return self.p < self.alpha

    @property
    def sign(self) -> int:
        """+1 / −1 when the difference is significant at alpha in that direction, else 0."""
        return int(np.sign(self.mean)) if self.significant else 0

    def __str__(self) -> str:
        return (f"{self.mean:+.3g} [{self.ci_low:+.3g}, {self.ci_high:+.3g}] "
                f"(n={self.n}, p={self.p:.2g})")


def paired_test(diff: np.ndarray | list[float], alpha: float = 0.05) -> PairedTest:
    """Student's paired two-sided t-test of "mean difference = 0" on per-seed differences `diff`, with the
    (1 − alpha) confidence interval of the mean difference: mean ± t_{1−alpha/2, n−1} · sd/√n. Needs n ≥ 2;
    every verdict of the book comes from here, over ≥ 5 seeds."""
    d = np.asarray(diff, dtype=float)
    if d.ndim != 1 or not np.isfinite(d).all():
        raise ValueError(f"diff must be a 1-D array of finite differences, got shape {d.shape}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    n, mean = len(d), float(d.mean()) if len(d) else math.nan
    if n < 2:
        return PairedTest(n, mean, math.nan, math.nan, math.nan, math.nan, alpha)
    se = float(d.std(ddof=1)) / math.sqrt(n)
    half = float(_scipy_stats.t.ppf(1 - alpha / 2, n - 1)) * se
    if se == 0:
        t, p = (math.nan, math.nan) if mean == 0 else (math.copysign(math.inf, mean), 0.0)
    else:
        t = mean / se
        p = float(2 * _scipy_stats.t.sf(abs(t), n - 1))
    return PairedTest(n, mean, mean - half, mean + half, t, p, alpha)


def holm(pvalues: list[float], alpha: float = 0.05) -> tuple[list[bool], list[float]]:
    """Holm's step-down correction for a family of m tests: -> (rejected at family-wise level alpha,
    adjusted p-values), in the input order. Adjusted p_(i) = max_{j ≤ i} min(1, (m − j + 1) p_(j)) over the
    p-values sorted increasingly; a nan p-value is never rejected (adjusted nan)."""
    p = np.asarray(pvalues, dtype=float)
    ok = ~np.isnan(p)
    m = int(ok.sum())
    adjusted = np.full(len(p), np.nan)
    idx = np.flatnonzero(ok)[np.argsort(p[ok], kind="stable")]
    running = 0.0
    for rank, i in enumerate(idx):
        running = max(running, min(1.0, (m - rank) * p[i]))
        adjusted[i] = running
    return [bool(a < alpha) if not np.isnan(a) else False for a in adjusted], adjusted.tolist()


@dataclass(frozen=True)
class Verdict:
    """One comparison of a chapter's family: its paired test, Holm-adjusted p-value and outcome."""

    name: str
    test: PairedTest
    p_holm: float  # nan when the comparison has too few seeds to enter the family
    enough_seeds: bool

    @property
    def sign(self) -> int:
        """+1 / −1: the difference is significant after Holm's correction, in that direction; else 0."""
        return int(np.sign(self.test.mean)) if self.enough_seeds and self.p_holm < self.test.alpha else 0


def verdicts(comparisons: dict[str, np.ndarray], alpha: float = 0.05, min_seeds: int = 5) -> list[Verdict]:
    """A chapter's verdicts: `paired_test` on each comparison's per-seed differences, with Holm's correction
    over the comparisons that have at least `min_seeds` seeds (the others get no verdict: sign 0)."""
    tests = {name: paired_test(d, alpha) for name, d in comparisons.items()}
    family = [name for name, t in tests.items() if t.n >= min_seeds]
    _, adjusted = holm([tests[name].p for name in family], alpha)
    p_holm = dict(zip(family, adjusted))
    return [Verdict(name, t, p_holm.get(name, float("nan")), name in p_holm) for name, t in tests.items()]


def verdict_word(v: Verdict, a: str, b: str) -> str:
    """A verdict in words for a comparison a − b: which side is better after Holm's correction, "no
    significant difference", or "no verdict" below the family's minimum of seeds."""
    if not v.enough_seeds:
        return f"no verdict ({v.test.n} seed{'s' if v.test.n != 1 else ''})"
    return {1: f"**{a} better**", -1: f"**{b} better**", 0: "no significant difference"}[v.sign]


def verdict_text(v: Verdict | None, a: str, b: str, unit: str = "points", digits: int = 1) -> str:
    """A verdict as a clause for a chapter's prose: the mean difference a − b with its 95 % confidence interval,
    Holm's p and `verdict_word`; the mean alone below the family's minimum of seeds; "not run" for None."""
    if v is None:
        return "not run"
    t = v.test
    if not v.enough_seeds:
        return f"{t.mean:+.{digits}f} {unit} ({t.n} seed{'s' if t.n != 1 else ''}: no verdict)"
    return (f"{t.mean:+.{digits}f} {unit}, 95 % CI [{t.ci_low:+.{digits}f}, {t.ci_high:+.{digits}f}], "
            f"Holm p = {v.p_holm:.2g}: {verdict_word(v, a, b)}")


def verdict_table(vs: list[Verdict], sides: dict[str, tuple[str, str]], unit: str = "accuracy points",
                  digits: int = 1) -> str:
    """A chapter's verdicts as a Markdown table: seeds, mean difference, 95 % confidence interval, p, Holm's
    p and the verdict in words (`sides[name]` = the names of a and b in the comparison a − b)."""
    def num(x: float) -> str:
        return "–" if x != x else f"{x:+.{digits}f}"

    def p_text(p: float) -> str:
        return "–" if p != p else f"{p:.2g}"

    def ci(t: PairedTest) -> str:
        return "–" if t.n < 2 else f"[{num(t.ci_low)}, {num(t.ci_high)}]"

    rows = [f"| {v.name} | {v.test.n} | {num(v.test.mean)} | {ci(v.test)} | {p_text(v.test.p)} | {p_text(v.p_holm)} | "
            f"{verdict_word(v, *sides[v.name])} |" for v in vs]
    return (f"| comparison ({unit}) | seeds | mean difference | 95 % CI | p | p (Holm) | verdict |\n"
            "|---|---|---|---|---|---|---|\n" + "\n".join(rows))


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
