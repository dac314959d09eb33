"""Named experiments of the book, run as trials with result files (book chapter "Efficient predictive
coding"), and the analysis of trained models. Command line: `python -m vdib_core` (console script `vdib`).

    from vdib_core.experiments import run, load_results, group, paired_test
    result = run("predictive-coding", out="runs/pc", delta=1, decoder="mlp", quick=True)
"""
from .registry import (  # noqa: F401
    EXPERIMENTS, ConfigError, Data, Experiment, Param, common_params, get_experiment, parameter_table, register,
)
from .results import Result, book_results, load_results, read_result, result_path, select, trial_key, write_result  # noqa: F401
from .stats import (  # noqa: F401
    PairedTest, Summary, Verdict, group, holm, paired_by_seed, paired_test, summarize, verdict_table, verdict_text,
    verdict_word, verdicts,
)
from .sweeps import sweep  # noqa: F401
from .trials import run, run_trial  # noqa: F401
from .tuning import choose, tune  # noqa: F401
from . import mnist, mnist_dvs, predictive_coding  # noqa: F401  (register the experiments)
