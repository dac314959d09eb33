"""Named experiments of the book, run as trials with result files (book chapter "Efficient predictive
coding"), and the analysis of trained models. Command line: `python -m vdib_core` (console script `vdib`).

    from vdib_core.experiments import run, load_results, group
    result = run("predictive-coding", out="runs/pc", delta=1, decoder="mlp", quick=True)
"""
from .runner import (  # noqa: F401
    EXPERIMENTS, ConfigError, Data, book_results, Experiment, Param, Result, Summary, common_params, get_experiment, group,
    load_results, paired_by_seed, read_result, register, result_path, run, run_trial, select, sign_beyond_spread,
    summarize, sweep, trial_key, write_result,
)
from . import mnist, mnist_dvs, predictive_coding  # noqa: F401  (register the experiments)
