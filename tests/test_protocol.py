"""The equal-footing protocol: output prior, decoder input scale, early stopping on validation, the paired
test with Holm's correction, and tuning on validation."""
import math

import numpy as np
import pytest
import torch

from vdib_core import HybridModel, TrainConfig, VDIBConfig, evaluate, fit
from vdib_core.experiments import choose, holm, load_results, paired_test, tune, verdict_table, verdict_text, verdicts
from vdib_core.experiments.tuning import extend_at_edge
from vdib_core.model import InputNorm
from vdib_core.objective import target_prior
from vdib_core.train import best_epoch


def _model(likelihood: str, decoder: str, decoding: str = "time", n_out: int = 6, target: str = "static"):
    torch.manual_seed(0)
    return HybridModel(VDIBConfig(n_in=5, n_readout=4, n_out=n_out, tau_d=3, decoder=decoder, decoding=decoding,
                                  likelihood=likelihood, target=target, decoder_hidden=8, cnn_channels=(2, 3)))


@pytest.mark.parametrize("decoder", ["linear", "mlp", "cnn"])
@pytest.mark.parametrize("decoding", ["time", "rate"])
def test_an_untrained_model_with_the_output_prior_predicts_the_prior_whatever_its_input(decoder, decoding):
    g = torch.Generator().manual_seed(1)
    images = (torch.rand(50, 6, generator=g) < torch.tensor([0.0, 0.1, 0.5, 0.9, 1.0, 0.3])).float()  # [N, 6]
    model = _model("bernoulli", decoder, decoding)
    model.decoder.init_prior(target_prior(images, "bernoulli", 6))
    x = (torch.rand(7, 11, 5, generator=g) < 0.3).float()  # [T, B, N_in]
    out = model(x).out  # [1, B, 6]
    p = (images.sum(0) + 0.5) / (len(images) + 1)  # half-count smoothing: finite even for all-0 / all-1 pixels
    torch.testing.assert_close(torch.sigmoid(out), p.expand_as(out))


def test_target_prior_for_classes_and_gaussian_targets():
    y = torch.tensor([[0, 0, 1], [2, 0, 1]])  # class indices, any shape
    log_p = target_prior(y, "categorical", 4)
    torch.testing.assert_close(log_p.exp(), torch.tensor([3.5, 2.5, 1.5, 0.5]) / 8)
    assert math.isclose(log_p.exp().sum().item(), 1.0, rel_tol=1e-6)
    y = torch.tensor([[1.0, -2.0], [3.0, 0.0]])
    torch.testing.assert_close(target_prior(y, "gaussian", 2), torch.tensor([2.0, -1.0]))
    with pytest.raises(ValueError, match="class indices"):
        target_prior(torch.tensor([5]), "categorical", 4)
    with pytest.raises(ValueError, match="outputs in their last dimension"):
        target_prior(y, "bernoulli", 3)


def test_fit_starts_the_output_at_the_prior_for_a_categorical_sequence_target():
    model = _model("categorical", "mlp", n_out=5, target="sequence")
    g = torch.Generator().manual_seed(2)
    X = (torch.rand(12, 9, 5, generator=g) < 0.3).float()  # [N, T, N_in]
    Y = torch.randint(0, 3, (12, 9), generator=g)  # classes 3 and 4 never occur
    fit(model, (X, Y), TrainConfig(epochs=0, progress=False, output_prior=True))
    out = model(X.transpose(0, 1)).out  # [S, B, 5]
    torch.testing.assert_close(out.log_softmax(-1), target_prior(Y, "categorical", 5).expand_as(out))


def test_standardised_inputs_have_zero_mean_and_unit_variance_for_counts_and_spikes():
    g = torch.Generator().manual_seed(3)
    norm = InputNorm((1, 4), standardise=True).train()
    counts = torch.rand(4000, 1, 4, generator=g) * torch.tensor([0.1, 1.0, 5.0, 20.0])  # very different scales
    v = norm(counts)
    torch.testing.assert_close(v.mean(0), torch.zeros(1, 4), atol=1e-4, rtol=0)
    var = counts.var(0, unbiased=False)
    torch.testing.assert_close(v.var(0, unbiased=False), var / (var + norm.eps), atol=1e-3, rtol=0)  # ≈ 1
    assert (v.var(0, unbiased=False) > 0.8).all()
    centred = InputNorm((1, 4)).train()
    torch.testing.assert_close(centred(counts).var(0, unbiased=False), counts.var(0, unbiased=False))


def _blob_task(n: int, seed: int):
    from vdib_core.experiments.predictive_coding import blob_split
    return blob_split(20, 0, seed, n)


def test_early_stopping_keeps_the_best_validation_pass_and_stops_after_the_patience():
    torch.manual_seed(0)
    model = HybridModel(VDIBConfig(n_in=20, n_readout=6, n_out=210, tau_d=2, likelihood="categorical",
                                   target="sequence", decoder="linear", decoding="time"))
    train, val = _blob_task(64, 5), _blob_task(16, 6)
    cfg = TrainConfig(epochs=12, batch_size=16, lr_encoder=0.3, lr_decoder=0.3, progress=False, patience=2, seed=4)
    history = fit(model, train, cfg, val=val)
    best = best_epoch(history, higher=True)
    assert best == max(range(1, len(history) + 1), key=lambda e: (history[e - 1]["val_metric"], -e))
    assert len(history) == cfg.epochs or len(history) - best == cfg.patience  # stopped by the patience rule
    # the model fit leaves behind is the best pass's: its validation metric (same draws) is the recorded best
    again = evaluate(model, val, sample="threshold", seed=cfg.seed)["metric"]
    assert again == pytest.approx(history[best - 1]["val_metric"], abs=1e-6)
    with pytest.raises(ValueError, match="needs validation data"):
        fit(model, train, cfg)


def test_best_epoch_of_a_history():
    h = [{"epoch": 1, "val_metric": 0.2}, {"epoch": 2, "val_metric": 0.5}, {"epoch": 3, "val_metric": 0.5},
         {"epoch": 4, "val_metric": 0.1}]
    assert best_epoch(h, higher=True) == 2 and best_epoch(h, higher=False) == 4
    assert best_epoch([{"epoch": 1}], higher=True) is None


def test_paired_test_reproduces_students_sleep_data():
    # Cushny & Peebles' sleep data as analysed by Student (1908): extra hours of sleep, drug 2 − drug 1.
    # R: t.test(extra ~ group, data = sleep, paired = TRUE) -> t = -4.0621, df = 9, p-value = 0.002833,
    # 95 percent confidence interval -2.4598858 -0.7001142, mean difference -1.58 (group 1 − group 2).
    d = np.array([1.2, 2.4, 1.3, 1.3, 0.0, 1.0, 1.8, 0.8, 4.6, 1.4])
    t = paired_test(d)
    assert t.n == 10 and t.mean == pytest.approx(1.58)
    assert t.t == pytest.approx(4.0621, abs=1e-4) and t.p == pytest.approx(0.002833, abs=1e-6)
    assert (t.ci_low, t.ci_high) == pytest.approx((0.7001142, 2.4598858), abs=1e-6)
    assert t.significant and t.sign == 1 and paired_test(-d).sign == -1
    noise = paired_test([0.3, -0.2, 0.1, -0.4, 0.25])
    assert not noise.significant and noise.sign == 0 and noise.ci_low < 0 < noise.ci_high
    assert math.isnan(paired_test([1.0]).p) and paired_test([1.0]).sign == 0
    with pytest.raises(ValueError):
        paired_test([1.0, float("nan")])


def test_holm_matches_the_textbook_step_down():
    # R: p.adjust(c(0.01, 0.04, 0.03, 0.005), "holm") -> 0.03 0.06 0.06 0.02
    rejected, adjusted = holm([0.01, 0.04, 0.03, 0.005])
    assert adjusted == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert rejected == [True, False, False, True]
    rejected, adjusted = holm([0.2, float("nan")])
    assert rejected == [False, False] and adjusted[0] == pytest.approx(0.2) and math.isnan(adjusted[1])


def test_extend_at_edge_adds_one_log_step_beyond_the_edge_only():
    assert extend_at_edge([0.01, 0.03, 0.1], 0.1) == [0.01, 0.03, 0.1, 0.333]
    assert extend_at_edge([0.01, 0.03, 0.1], 0.01) == [0.00333, 0.01, 0.03, 0.1]
    assert extend_at_edge([0.01, 0.03, 0.1], 0.03) == [0.01, 0.03, 0.1]
    assert extend_at_edge([0.5], 0.5) == [0.5]


TINY = dict(n_train=32, t_train=16, n_val=8, n_test=8, t_test=30, n_draws=1, epochs=2, patience=1, batch_size=16,
            delta=0, seed=100)


def test_tune_extends_the_grid_at_an_edge_then_tunes_the_window_and_choose_agrees(tmp_path, monkeypatch):
    from vdib_core.experiments import sweeps, trials

    scores = {}
    real = trials.run_trial

    def scored(name, params, progress=True):  # a real trial whose validation score prefers lr 0.3, window 2
        result, arrays = real(name, params, progress=progress)
        score = -abs(math.log(params["lr_encoder"] / 0.3)) - abs(params["tau_d"] - 2)
        result["metrics"]["val_accuracy"] = scores[(params["lr_encoder"], params["tau_d"])] = score
        return result, arrays

    monkeypatch.setattr(sweeps, "run_trial", scored)
    fixed = {k: v for k, v in TINY.items()}
    out = tune("predictive-coding", tmp_path, fixed=fixed, grid={"lr_encoder": [0.01, 0.03, 0.1]},
               then={"tau_d": [1, 2, 3]}, quick=True, progress=False)
    # 0.1 sat on the edge: one step further; 0.333 was then on the edge: one more, until the best is inside
    assert out["grid"] == {"lr_encoder": [0.01, 0.03, 0.1, 0.333, 1.11]}
    assert out["stage1"] == {"lr_encoder": 0.333} and out["choice"] == {"lr_encoder": 0.333, "tau_d": 2}
    assert out["n_trials"] == 5 + 3 == len(scores)  # 5 learning rates at tau_d = 5, then 3 windows
    best = choose(load_results(tmp_path), "metrics.val_accuracy")
    assert (best.params["lr_encoder"], best.params["tau_d"]) == (0.333, 2)
    again = tune("predictive-coding", tmp_path, fixed=fixed, grid={"lr_encoder": [0.01, 0.03, 0.1]},
                 then={"tau_d": [1, 2, 3]}, quick=True, progress=False)
    assert again["choice"] == out["choice"] and len(scores) == 8  # resumed: nothing ran again


def test_tune_resumed_with_more_extensions_grows_the_grid_further(tmp_path, monkeypatch):
    from vdib_core.experiments import sweeps, trials

    real, ran = trials.run_trial, []

    def scored(name, params, progress=True):  # validation prefers ever larger encoder learning rates
        result, arrays = real(name, params, progress=progress)
        result["metrics"]["val_accuracy"] = math.log(params["lr_encoder"])
        ran.append(params["lr_encoder"])
        return result, arrays

    monkeypatch.setattr(sweeps, "run_trial", scored)
    kw = dict(fixed=dict(TINY), grid={"lr_encoder": [0.01, 0.03, 0.1]}, quick=True, progress=False)
    first = tune("predictive-coding", tmp_path, max_extensions=1, **kw)
    assert first["grid"] == {"lr_encoder": [0.01, 0.03, 0.1, 0.333]} and first["choice"] == {"lr_encoder": 0.333}
    more = tune("predictive-coding", tmp_path, max_extensions=3, **kw)  # the files hold 0.333: the edge moves on
    assert more["grid"] == {"lr_encoder": [0.01, 0.03, 0.1, 0.333, 1.11, 3.7]} and more["choice"] == {"lr_encoder": 3.7}
    assert sorted(ran) == [0.01, 0.03, 0.1, 0.333, 1.11, 3.7]  # each trial ran once


def test_verdicts_correct_only_over_comparisons_with_enough_seeds():
    big = np.array([1.0, 1.1, 0.9, 1.2, 1.05])  # clearly positive, 5 seeds
    weak = np.array([0.3, -0.1, 0.4, 0.2, 0.35])  # p ≈ 0.05 alone
    few = np.array([2.0, 2.1, 1.9])  # 3 seeds: no verdict
    v = {x.name: x for x in verdicts({"big": big, "weak": weak, "few": -few})}
    assert v["big"].sign == 1 and v["big"].p_holm == pytest.approx(2 * paired_test(big).p)
    assert v["weak"].p_holm >= paired_test(weak).p and v["weak"].sign == 0
    assert not v["few"].enough_seeds and v["few"].sign == 0 and math.isnan(v["few"].p_holm)
    assert v["few"].test.sign == -1  # significant on its own, but below the seed requirement


def test_verdict_table_names_the_winner_only_after_the_correction():
    vs = verdicts({"a − b": np.array([1.0, 1.1, 0.9, 1.2, 1.05]), "c − d": np.array([-0.3, 0.1, -0.4, -0.2, -0.35]),
                   "e − f": np.array([-2.0, -2.1])})
    rows = verdict_table(vs, {"a − b": ("a", "b"), "c − d": ("c", "d"), "e − f": ("e", "f")}).splitlines()
    assert len(rows) == 5 and rows[0].startswith("| comparison (accuracy points) | seeds |")
    assert rows[2].startswith("| a − b | 5 | +1.1 | [+0.9, +1.2] |") and rows[2].endswith("**a better** |")
    assert rows[3].endswith("no significant difference |")  # p ≈ 0.04 alone, not after Holm over two
    assert rows[4].endswith("| – | no verdict (2 seeds) |")  # no Holm p: below the family's 5 seeds


def test_verdict_text_gives_the_interval_and_holm_p_only_with_enough_seeds():
    v = {x.name: x for x in verdicts({"a − b": np.array([-1.0, -1.1, -0.9, -1.2, -1.05]), "c − d": np.array([2.0, 2.2])})}
    t = v["a − b"].test
    assert verdict_text(v["a − b"], "a", "b", "nats") == (
        f"-1.1 nats, 95 % CI [{t.ci_low:+.1f}, {t.ci_high:+.1f}], Holm p = {v['a − b'].p_holm:.2g}: **b better**")
    assert verdict_text(v["c − d"], "c", "d") == "+2.1 points (2 seeds: no verdict)"
    assert verdict_text(None, "a", "b") == "not run"
