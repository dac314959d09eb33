"""The chapters' exercises: their structure in every notebook (a static check), and the checkers of
vdib_core.exercises that the stubs and solutions call. The solutions themselves run as part of every
chapter (nbval, book build)."""
from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest
import torch

from vdib_core import exercises as ex

BOOK = Path(__file__).resolve().parents[1] / "book"
CHAPTERS = sorted(BOOK.glob("0[1-8]_*.ipynb"))
START = re.compile(r"```\{exercise-start\}[^\n]*\n:label: (\S+)")
SOLUTION = re.compile(r"```\{solution-start\} (\S+)")


def _src(cell: dict) -> str:
    return "".join(cell["source"])


def exercise_problems(nb: dict) -> tuple[list[str], list[str]]:
    """(labels of the exercises, problems found) for a notebook. Each exercise must be: a markdown cell
    opening a gated exercise with a label; a code cell (the stub) that raises NotImplementedError, tagged
    raises-exception (nbval accepts its error) and skip-execution (the book build skips it); the exercise's
    end; a gated solution with the same label, folded (:class: dropdown); a code cell that runs (no
    NotImplementedError), collapsed in Colab (cellView form, '#@title Solution'); the solution's end.
    Exercise cells carry no outputs, and they all come after a heading '## Exercises'."""
    cells, labels, problems = nb["cells"], [], []
    heading = next((i for i, c in enumerate(cells) if c["cell_type"] == "markdown"
                    and re.search(r"^## Exercises\s*$", _src(c), re.M)), None)
    i = 0
    while i < len(cells):
        m = START.search(_src(cells[i])) if cells[i]["cell_type"] == "markdown" else None
        if not m:
            i += 1
            continue
        label = m.group(1)
        labels.append(label)
        if heading is None or i < heading:
            problems.append(f"{label}: not in the block under '## Exercises'")
        kinds = [c["cell_type"] for c in cells[i + 1:i + 6]]
        if kinds != ["code", "markdown", "markdown", "code", "markdown"]:
            problems.append(f"{label}: expected stub, exercise-end, solution-start, solution, solution-end; "
                            f"got {kinds}")
            i += 1
            continue
        stub, end, sol_start, sol, sol_end = cells[i + 1:i + 6]
        tags = stub["metadata"].get("tags", [])
        if "raise NotImplementedError" not in _src(stub):
            problems.append(f"{label}: the stub does not raise NotImplementedError")
        for tag in ("raises-exception", "skip-execution"):
            if tag not in tags:
                problems.append(f"{label}: the stub is not tagged {tag}")
        if "```{exercise-end}" not in _src(end):
            problems.append(f"{label}: no exercise-end after the stub")
        s = SOLUTION.search(_src(sol_start))
        if not s or s.group(1) != label:
            problems.append(f"{label}: no solution with this label after the exercise")
        elif not re.search(r"^:class: dropdown\s*$", _src(sol_start), re.M):
            problems.append(f"{label}: the solution is not folded (:class: dropdown)")
        if "NotImplementedError" in _src(sol) or sol["metadata"].get("tags"):
            problems.append(f"{label}: the solution cell is a stub or tagged to be skipped")
        if sol["metadata"].get("cellView") != "form" or not _src(sol).startswith("#@title Solution"):
            problems.append(f"{label}: the solution is not a collapsed Colab form ('#@title Solution', cellView form)")
        if "```{solution-end}" not in _src(sol_end):
            problems.append(f"{label}: no solution-end after the solution")
        for c in (stub, sol):
            if c.get("outputs"):
                problems.append(f"{label}: committed with outputs")
        i += 6
    if len(set(labels)) != len(labels):
        problems.append(f"duplicate labels: {labels}")
    if len(SOLUTION.findall("".join(_src(c) for c in cells))) != len(labels):
        problems.append("a solution without an exercise")
    return labels, problems


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_every_chapter_has_checked_exercises(path):
    labels, problems = exercise_problems(json.loads(path.read_text()))
    assert 2 <= len(labels) <= 4, f"{path.name}: {len(labels)} exercises"
    assert not problems, problems


def test_labels_are_unique_across_the_book():
    labels = [label for p in CHAPTERS for label in exercise_problems(json.loads(p.read_text()))[0]]
    assert len(labels) == len(set(labels)) and len(CHAPTERS) == 8


def _synthetic(stub_tags=("raises-exception", "skip-execution"), with_solution=True, dropdown=True) -> dict:
    def md(s):
        return {"cell_type": "markdown", "metadata": {}, "source": [s]}

    def code(s, metadata):
        return {"cell_type": "code", "metadata": metadata, "outputs": [], "source": [s]}

    cells = [md("## Exercises"), md("```{exercise-start} T\n:label: ex-a\n```\ntext"),
             code("raise NotImplementedError('x')", {"tags": list(stub_tags)}), md("```{exercise-end}\n```")]
    if with_solution:
        cells += [md("```{solution-start} ex-a\n" + (":class: dropdown\n" if dropdown else "") + "```"),
                  code("#@title Solution\nx = 1", {"cellView": "form"}), md("```{solution-end}\n```")]
    return {"cells": cells}


def test_the_static_check_fails_on_broken_exercises():
    assert exercise_problems(_synthetic()) == (["ex-a"], [])
    assert any("solution-start" in p or "expected stub" in p for p in exercise_problems(_synthetic(with_solution=False))[1])
    assert any("dropdown" in p for p in exercise_problems(_synthetic(dropdown=False))[1])
    assert any("skip-execution" in p for p in exercise_problems(_synthetic(stub_tags=("raises-exception",)))[1])


# ---- the checkers ------------------------------------------------------------------------------------


def test_count_twins(capsys):
    a = torch.tensor([[1.0, 0], [0, 1], [0, 0]])
    assert ex.check_count_twins(a, a[:, [1, 0]]) and capsys.readouterr().out.startswith("correct")
    assert not ex.check_count_twins(a, a)  # the same neuron first
    assert not ex.check_count_twins(a, torch.tensor([[0.0, 1], [1, 1], [0, 0]]))  # counts differ
    assert "not yet" in capsys.readouterr().out
    with pytest.raises(ValueError):
        ex.check_count_twins(torch.ones(3), torch.ones(3))


def test_rate_code_steps():
    p = torch.tensor([0.5, 0.0, 1.0, 0.5])  # mean p(1 − p) = 0.125 -> T = 50 for an RMSE of 0.05
    assert ex.check_rate_code_steps(50, p) and not ex.check_rate_code_steps(49, p)


def test_order_decoder():
    assert ex.check_order_decoder(lambda X: (X[:, :, 1].argmax(1) < X[:, :, 0].argmax(1)).long())
    assert not ex.check_order_decoder(lambda X: torch.zeros(len(X), dtype=torch.long))


def test_psp_ramp_and_first_spike():
    assert ex.check_psp_ramp(ex.psp_ramp)
    assert not ex.check_psp_ramp(lambda t, T, a_s, a_m: (t + 1) / T)
    assert ex.check_first_spike(lambda w, T: ex.first_spike_step(w, T))
    assert not ex.check_first_spike(lambda w, T: 0)
    assert ex.first_spike_step(0.99) is None and ex.first_spike_step(20.0) == 2


def test_information_checkers():
    assert ex.z_channel_rate(1.0) == pytest.approx(1.0)  # a noiseless delay line
    assert ex.z_channel_rate(0.5) == pytest.approx(0.3113, abs=1e-4)  # H_b(1/4) − 1/2
    assert ex.check_z_channel_rate(ex.z_channel_rate) and not ex.check_z_channel_rate(lambda a: a / 2)
    assert ex.plugin_bias(2, 10_000) == pytest.approx((32 - 4) / (20_000 * math.log(2)))
    assert ex.check_plugin_bias(ex.plugin_bias) and not ex.check_plugin_bias(lambda m, N: 4**m / N)


def test_estimator_checkers():
    means = ex.estimator_means()
    assert means["score"] == pytest.approx(means["exact"], abs=1e-12)
    assert abs(means["pathwise"] / means["exact"] - 1) > 0.1
    assert ex.check_estimator_means(means)
    assert not ex.check_estimator_means({**means, "pathwise": means["exact"]})
    with pytest.raises(ValueError):
        ex.check_estimator_means({"exact": 0.0})
    assert ex.check_optimal_baseline(ex.optimal_baseline)
    assert not ex.check_optimal_baseline(lambda u, f0, f1: (f0 + f1) / 2)


def test_persistence_collapse_bins_prediction(capsys):
    acc = {d: ex.persistence_accuracy(d, n=20, T=50) for d in (1, 2)}
    assert ex.check_persistence(acc, n=20, T=50) and not ex.check_persistence({1: 0.5}, n=20, T=50)
    kl = {0.0: 0.7, 0.1: 0.2, 1.0: 0.002, 3.0: 0.0003}
    assert ex.collapse_beta(kl) == 1.0 and ex.collapse_beta({0.0: 1.0}) is None
    assert ex.check_collapse_beta(1.0, kl) and not ex.check_collapse_beta(3.0, kl)
    assert ex.check_bin_count(25_000, 80) and not ex.check_bin_count(25_000, 79)
    assert ex.check_prediction("a", {"a": 2.0, "b": 1.0}) and not ex.check_prediction("a", {"a": 2.0, "b": 1.0},
                                                                                       lower_is_better=True)
    assert "why?" in capsys.readouterr().out
    with pytest.raises(ValueError):
        ex.check_prediction("c", {"a": 1.0})
