"""Named experiments, result files and the `vdib` command line, on tiny configurations."""
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from vdib_core.data import drifting_blobs, pattern_to_class
from vdib_core.experiments import (
    ConfigError, get_experiment, group, load_results, read_result, result_path, run, trial_key,
)
from vdib_core.experiments import cli, results, sweeps
from vdib_core.experiments.predictive_coding import LONG_TEST_SEED, TEST_SET_SEED, blob_split

TINY = dict(n_train=16, t_train=12, n_val=4, n_test=6, t_test=30, n_draws=2, epochs=1, patience=1, decoder_hidden=16,
            batch_size=8)
TINY_FLAGS = [f"--{k.replace('_', '-')}={v}" for k, v in TINY.items()]


def vdib(*args: str) -> int:
    return cli.main([str(a) for a in args])


def test_list_names_every_parameter_with_default_and_allowed_values(capsys):
    assert vdib("list") == 0
    out = capsys.readouterr().out
    for name, section in zip(*[iter(re.split(r"^([\w-]+): ", out, flags=re.M)[1:])] * 2):
        for prm in get_experiment(name).params:
            line = next(ln for ln in section.splitlines() if ln.strip().startswith(f"--{prm.flag} "))
            assert f"default {prm.default}" in line and prm.allowed() in line
    assert {"mnist", "predictive-coding"} <= set(re.findall(r"^([\w-]+): ", out, flags=re.M))
    assert "linear|mlp|cnn" in out and "--quick" in out


def test_run_writes_one_result_file_with_the_fixed_schema(tmp_path, capsys):
    assert vdib("run", "predictive-coding", "--out", tmp_path, "--quick", "--delta", "1", "--decoding=rate",
                *TINY_FLAGS) == 0
    files = sorted(tmp_path.iterdir())
    assert [f.suffix for f in files] == [".json", ".npz"]  # nothing half-written left behind
    d = json.loads(files[0].read_text())
    assert list(d) == ["experiment", "params", "metrics", "references", "history", "provenance"]
    assert d["experiment"] == "predictive-coding"
    p = d["params"]
    assert p["delta"] == 1 and p["decoding"] == "rate" and p["quick"] is True and p["seed"] == 0
    assert set(p) == {prm.name for prm in get_experiment("predictive-coding").params} | {"quick"}
    for key in ("accuracy", "readout_rate", "val_accuracy", "accuracy_long_sequence"):
        assert 0 <= d["metrics"][key] <= 1
    assert set(d["references"]) == {"chance", "persistence", "persistence_long_sequence", "input_window"}
    assert "val_metric" in d["history"][0]  # validation after every pass (early stopping)
    assert d["references"]["chance"] == pytest.approx(1 / 210)
    assert len(d["history"]) == TINY["epochs"] and "loss" in d["history"][0]
    prov = d["provenance"]
    for key in ("version", "git_commit", "git_dirty", "torch", "cpu", "gpu", "device", "wall_s", "created"):
        assert key in prov
    assert prov["torch"] == torch.__version__ and prov["wall_s"] > 0
    assert prov["model_config"]["decoding"] == "rate" and prov["train_config"]["epochs"] == TINY["epochs"]
    assert files[0].name == result_path(tmp_path, "predictive-coding", p).name
    arrays = read_result(files[0]).arrays()
    assert arrays["readout"].shape[1] == p["n_readout"] and set(np.unique(arrays["readout"])) <= {0, 1}
    assert "readout_rate=" not in capsys.readouterr().err


def test_same_configuration_same_numbers_and_rerun_reproduces(tmp_path, capsys):
    a = run("predictive-coding", tmp_path / "a", quick=True, progress=False, **TINY)
    files = list((tmp_path / "a").glob("*.json"))
    assert vdib("rerun", files[0], "--out", tmp_path / "b") == 0
    b = read_result(next((tmp_path / "b").glob("*.json")))
    assert b.metrics == a["metrics"] and b.references == a["references"]
    assert "vdib rerun: identical" in capsys.readouterr().out
    assert a["provenance"]["cpu"] and "gpu" in a["provenance"]


def _changed(tmp_path, by: float, **provenance) -> Path:
    run("predictive-coding", tmp_path / "a", quick=True, progress=False, **TINY)
    path = next((tmp_path / "a").glob("*.json"))
    d = json.loads(path.read_text())
    d["metrics"]["readout_rate"] *= 1 + by  # a result that the code does not reproduce exactly (a non-zero metric)
    d["provenance"].update(provenance)
    path.write_text(json.dumps(d))
    return path


def test_rerun_reports_a_changed_result_and_the_machine_difference(tmp_path, capsys):
    path = _changed(tmp_path, 0.5, cpu="Another CPU model")
    assert vdib("rerun", path, "--out", tmp_path / "b") == 1
    captured = capsys.readouterr()
    assert "relative difference" in captured.out and "vdib rerun: different" in captured.err
    assert "cpu: recorded 'Another CPU model'" in captured.err
    assert "code: made at commit" not in captured.err  # the same checkout made and re-ran it


def test_rerun_names_a_different_code_commit(tmp_path, capsys):
    path = _changed(tmp_path, 0.5, git_commit="0123456789abcdef")
    assert vdib("rerun", path, "--out", tmp_path / "b") == 1
    assert "code: made at commit 0123456789, re-run at" in capsys.readouterr().err


def test_rerun_within_a_tolerance_passes_and_says_so(tmp_path, capsys):
    path = _changed(tmp_path, 1e-4)
    assert vdib("rerun", path, "--out", tmp_path / "b", "--tolerance", "1e-3") == 0
    assert "within the tolerance 0.001" in capsys.readouterr().out
    assert vdib("rerun", path, "--out", tmp_path / "c", "--tolerance", "1e-5") == 1
    assert vdib("rerun", path, "--out", tmp_path / "d", "--tolerance", "x") == 2


def test_frozen_encoder_trains_only_the_decoder():
    r = run("predictive-coding", None, quick=True, progress=False, encoder="frozen", **TINY)
    assert r["params"]["encoder"] == "frozen" and r["provenance"]["train_config"]["lr_encoder"] == 0.0


def test_sweep_is_a_cartesian_product_and_resumes_after_an_interruption(tmp_path, monkeypatch, capsys):
    calls = []
    real = sweeps.run_trial

    def interrupted_after_first(name, params, progress=True):
        calls.append(params)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(name, params, progress=progress)

    monkeypatch.setattr(sweeps, "run_trial", interrupted_after_first)
    sweep = ["sweep", "predictive-coding", "--out", tmp_path, "--quick", "--delta=-1..0", "--decoding", "time,rate",
             *TINY_FLAGS]
    assert vdib(*sweep) == 130
    assert len(list(tmp_path.glob("*.json"))) == 1 and not list(tmp_path.glob(".*"))  # no partial files
    monkeypatch.setattr(sweeps, "run_trial", real)
    assert vdib(*sweep) == 0
    assert "4 trials, 1 already done" in capsys.readouterr().out
    results = load_results(tmp_path)
    assert sorted((r.params["delta"], r.params["decoding"]) for r in results) == [
        (-1, "rate"), (-1, "time"), (0, "rate"), (0, "time")]
    assert vdib(*sweep) == 0  # a third time: everything is skipped
    assert "4 trials, 4 already done" in capsys.readouterr().out
    table = group(results, ["delta"], "metrics.accuracy")
    assert list(table) == [(-1,), (0,)] and all(s.n == 2 for s in table.values())


def test_show_prints_mean_sd_and_n(tmp_path, capsys):
    for seed in (0, 1):
        run("predictive-coding", tmp_path, quick=True, progress=False, seed=seed, **TINY)
    capsys.readouterr()
    assert vdib("show", tmp_path, "--by", "decoding") == 0
    out = capsys.readouterr().out
    header, _, row = out.splitlines()[1:4]
    assert header.split()[:3] == ["decoding", "n", "accuracy"]
    assert row.split()[:2] == ["time", "2"] and "±" in row
    assert vdib("show", tmp_path, "--provenance", "--by", "decoding") == 0
    assert "2 trials, " in capsys.readouterr().out.splitlines()[-3]  # then the commits and the machine


def test_trial_identity_ignores_the_device_only():
    p = get_experiment("predictive-coding").configure(True)
    assert trial_key("predictive-coding", p) == trial_key("predictive-coding", {**p, "device": "cpu"})
    assert trial_key("predictive-coding", p) != trial_key("predictive-coding", {**p, "seed": 1})


def test_a_parameter_added_later_keeps_the_keys_of_trials_made_before_it_at_its_default():
    p = get_experiment("predictive-coding").configure(True)
    before = {k: v for k, v in p.items() if k != "refit"}  # a result file written before --refit existed
    assert p["refit"] == 0 and trial_key("predictive-coding", p) == trial_key("predictive-coding", before)
    assert trial_key("predictive-coding", {**p, "refit": 1}) != trial_key("predictive-coding", p)


def test_refit_reports_a_fresh_decoder_on_the_frozen_trained_encoder_beside_the_unchanged_fit(tmp_path):
    plain = run("predictive-coding", quick=True, progress=False, delta=1, **TINY)
    refit = run("predictive-coding", tmp_path, quick=True, progress=False, delta=1, refit=1, **TINY)
    fit_metrics = {k: v for k, v in refit["metrics"].items() if not k.startswith("refit_")}
    assert fit_metrics == plain["metrics"]  # the trained model is reported as without the refit
    assert {f"refit_{k}" for k in plain["metrics"]} | {"refit_passes"} == set(refit["metrics"]) - set(fit_metrics)
    assert 1 <= refit["metrics"]["refit_passes"] <= TINY["epochs"]
    with pytest.raises(ValueError, match="frozen"):
        run("predictive-coding", quick=True, progress=False, encoder="frozen", refit=1, **TINY)


def test_with_fresh_decoder_keeps_the_trained_encoder_frozen_and_redraws_the_decoder():
    from vdib_core import HybridModel, VDIBConfig
    from vdib_core.experiments.trials import with_fresh_decoder
    torch.manual_seed(3)
    model = HybridModel(VDIBConfig(n_in=5, n_readout=4, n_out=3, tau_d=2, n_hidden=[6], decoder="mlp",
                                   decoder_hidden=8))
    with torch.no_grad():
        for prm in model.parameters():
            prm.add_(1.0)  # stands in for training
    fresh = with_fresh_decoder(model, seed=0)
    for (k, a), b in zip(model.encoder.state_dict().items(), fresh.encoder.state_dict().values()):
        assert torch.equal(a, b), k
    assert not any(prm.requires_grad for prm in fresh.encoder.parameters())
    assert all(prm.requires_grad for prm in fresh.decoder.parameters())
    assert not any(torch.equal(a, b) for a, b in zip(model.decoder.parameters(), fresh.decoder.parameters()))


@pytest.mark.parametrize("args, message", [
    (["run", "nope", "--out", "{tmp}"], "unknown experiment 'nope'; valid: mnist, mnist-dvs, predictive-coding"),
    (["run", "predictive-coding", "--out", "{tmp}", "--bogus", "1"], "unknown parameter --bogus"),
    (["run", "predictive-coding", "--out", "{tmp}", "--delta", "one"], "--delta expects int"),
    (["run", "predictive-coding", "--out", "{tmp}", "--decoder", "rnn"], "decoder must be one of linear, mlp, cnn"),
    (["run", "predictive-coding", "--out", "{tmp}", "--beta", "-1"], "beta must be in"),
    (["run", "predictive-coding", "--out", "{tmp}", "--device", "tpu9"], "device"),
    (["run", "predictive-coding"], "--out DIR is required"),
    (["run", "predictive-coding", "--out", "{tmp}/file/sub"], "not a writable directory"),
    (["sweep", "predictive-coding", "--out", "{tmp}", "--delta=1..x"], "--delta expects int"),
    (["sweep", "predictive-coding", "--out", "{tmp}", "--delta=3..1"], "empty range"),
    (["sweep", "predictive-coding", "--out", "{tmp}", "--beta=0.1..1"], "ranges lo..hi are for integer"),
    (["sweep", "predictive-coding", "--out", "{tmp}", "--decoding=time,,rate"], "malformed list"),
    (["rerun", "{tmp}/file", "--out", "{tmp}"], "is not a readable result file"),
    (["rerun", "{tmp}/other.json", "--out", "{tmp}"], "is not a vdib result file"),
    (["show", "{tmp}/nowhere"], "is not a directory"),
    (["show", "{tmp}/empty"], "no result files"),
    (["frobnicate"], "unknown command 'frobnicate'"),
])
def test_bad_input_gets_one_line_and_a_nonzero_exit(tmp_path, capsys, args, message):
    (tmp_path / "file").write_bytes(b"\x00not json")
    (tmp_path / "other.json").write_text('{"a": 1}')
    (tmp_path / "empty").mkdir()
    assert vdib(*[a.replace("{tmp}", str(tmp_path)) for a in args]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err and "Traceback" not in err


def test_python_dash_m_entry_point():
    done = subprocess.run([sys.executable, "-m", "vdib_core", "run", "predictive-coding", "--out", "/dev/null/x"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "not a writable directory" in done.stderr


def test_persistence_reference_equals_a_direct_count():
    delta, tau_d, T = 2, 3, 40
    exp = get_experiment("predictive-coding")
    p = exp.configure(True, **{**TINY, "delta": delta, "tau_d": tau_d, "t_test": T, "n_draws": 1})
    refs = exp.references(exp.data(p), p)
    x = drifting_blobs(T + delta, seed=LONG_TEST_SEED)  # [T+δ, 20]: the long test sequence, built independently
    hits = sum(pattern_to_class(x[t]).item() == pattern_to_class(x[t + delta]).item() for t in range(tau_d - 1, T))
    assert refs["persistence_long_sequence"] == pytest.approx(hits / (T - tau_d + 1))
    x = drifting_blobs(p["t_train"] + delta, seed=TEST_SET_SEED, batch=p["n_test"])  # [T+δ, N, 20]: the test set
    same = (pattern_to_class(x[:-delta]) == pattern_to_class(x[delta:]))[tau_d - 1:]  # [T−τ_d+1, N]
    assert refs["persistence"] == pytest.approx(same.double().mean().item())
    assert 0 < refs["persistence"] < 1 and 0 <= refs["input_window"] <= 1


def test_training_and_test_data_never_share_a_seed():
    exp = get_experiment("predictive-coding")
    seeds = {exp.data(exp.configure(True, seed=s, **TINY)).info["train_seed"] for s in range(5)}
    info = exp.data(exp.configure(True, **TINY)).info
    assert not {info["test_seed"], info["val_seed"], info["long_test_seed"]} & seeds
    assert len({info["test_seed"], info["val_seed"], info["long_test_seed"]}) == 3
    x, y = blob_split(10, -2, 0, 3)
    assert x.shape == (3, 10, 20) and y.shape == (3, 10)


def test_configure_rejects_unknown_parameters_and_bad_values():
    exp = get_experiment("predictive-coding")
    with pytest.raises(ConfigError, match="unknown parameter"):
        exp.configure(delta_t=1)
    with pytest.raises(ConfigError, match="must be int"):
        exp.configure(delta=0.5)
    assert exp.configure(True)["epochs"] == exp.quick["epochs"]
    assert exp.configure(True, epochs=7)["epochs"] == 7  # explicit values beat quick-mode defaults


def test_book_results_finds_the_committed_results_unless_live_runs_are_asked_for(monkeypatch, tmp_path):
    from vdib_core.experiments import book_results

    monkeypatch.chdir(tmp_path)  # not next to the chapters: found through the checkout vdib_core runs from
    assert book_results("mnist") == Path(__file__).resolve().parents[1] / "book/results/mnist"
    assert book_results("no_such_experiment") is None
    monkeypatch.setenv("VDIB_RESULTS", "live")
    assert book_results("predictive_coding/main") is None


def _fake(seed: int, decoding: str, acc: float):
    return results.Result("x", {"seed": seed, "decoding": decoding}, {"accuracy": acc}, {}, [], {}, Path("x"))


def test_paired_by_seed_pairs_only_the_seeds_both_sides_have():
    from vdib_core.experiments import paired_by_seed, select

    results = [_fake(2, "time", 0.9), _fake(0, "time", 0.5), _fake(0, "rate", 0.25), _fake(1, "rate", 0.1),
               _fake(2, "rate", 0.4)]
    assert [r.params["seed"] for r in select(results, decoding="rate")] == [0, 1, 2]
    diff = paired_by_seed(results, {"decoding": "time"}, {"decoding": "rate"}, "metrics.accuracy")
    np.testing.assert_allclose(diff, [0.25, 0.5])  # seeds 0 and 2, in seed order; seed 1 has no time result


def test_best_prints_the_flags_of_the_best_matching_result(tmp_path, capsys):
    for lr in (0.01, 0.3):
        for decoding in ("time", "rate"):
            run("predictive-coding", tmp_path, quick=True, progress=False, lr_encoder=lr, decoding=decoding, **TINY)
    capsys.readouterr()
    results = load_results(tmp_path, decoding="rate")
    best = max(results, key=lambda r: r.metrics["readout_rate"])
    assert vdib("best", "predictive-coding", tmp_path, "--quick", "--decoding", "rate", "--metric", "readout_rate",
                "--keys", "lr-encoder,decoding") == 0
    assert capsys.readouterr().out.strip() == f"--lr-encoder {best.params['lr_encoder']} --decoding rate"
    worst = min(results, key=lambda r: r.metrics["readout_rate"])
    assert vdib("best", "predictive-coding", tmp_path, "--quick", "--decoding", "rate", "--metric", "readout_rate",
                "--mode", "min", "--keys", "lr_encoder") == 0
    assert capsys.readouterr().out.strip() == f"--lr-encoder {worst.params['lr_encoder']}"
    assert vdib("best", "predictive-coding", tmp_path, "--decoding", "rate") == 2  # full-scale: none here
    assert vdib("best", "predictive-coding", tmp_path, "--quick", "--decoder", "cnn") == 2
    assert vdib("best", "predictive-coding", tmp_path, "--keys", "nope") == 2


# ---- command-line rough edges (issue: the reader's path) -------------------------------------------
def test_show_prints_a_single_trial_without_a_spread(tmp_path, capsys):
    run("predictive-coding", tmp_path, quick=True, progress=False, seed=0, **TINY)
    run("predictive-coding", tmp_path, quick=True, progress=False, seed=0, decoding="rate", **TINY)
    capsys.readouterr()
    assert vdib("show", tmp_path, "--by", "decoding") == 0
    rows = capsys.readouterr().out.splitlines()[3:]
    assert [r.split()[:2] for r in rows] == [["rate", "1"], ["time", "1"]]
    assert not any("±" in r for r in rows), rows  # one trial: its spread is unknown, not "± 0"


def test_result_files_are_readable_by_others(tmp_path):
    import os
    import stat

    old = os.umask(0o022)
    try:
        run("predictive-coding", tmp_path, quick=True, progress=False, **TINY)
    finally:
        os.umask(old)
    (path,) = tmp_path.glob("*.json")
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o644 for p in tmp_path.iterdir())


def test_a_window_longer_than_the_sequences_exits_2_and_leaves_no_folder(tmp_path, capsys):
    out = tmp_path / "new" / "runs"
    assert vdib("run", "predictive-coding", "--out", out, "--quick", "--tau-d", "99", *TINY_FLAGS) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["vdib run: error: --tau-d 99 is longer than the sequences (12 steps)"]
    assert not (tmp_path / "new").exists()
    assert vdib("run", "mnist", "--out", out, "--quick", "--tau-d", "999") == 2  # beyond the rate code's steps
    assert "longer than the sequences" in capsys.readouterr().err and not (tmp_path / "new").exists()


def test_the_local_sweep_goes_on_past_a_failed_trial_lists_it_and_exits_1(tmp_path, capsys):
    code = vdib("sweep", "predictive-coding", "--out", tmp_path, "--quick", *TINY_FLAGS, "--tau-d=2,99,3")
    out, err = capsys.readouterr()
    assert code == 1
    assert sorted(r.params["tau_d"] for r in load_results(tmp_path)) == [2, 3]  # the trial after it ran too
    why = "ValueError: tau_d=99 is longer than the sequences"
    assert out.count(f" tau_d=99] failed: {why}") == 1
    assert "vdib sweep: 1 trial(s) failed (the others are in" in err and f" tau_d=99] {why}" in err
    assert "Traceback" not in err


def test_progress_is_one_line_per_pass_when_output_is_not_a_terminal(tmp_path):
    # a real `vdib run` with its output redirected to a file, as in a batch job's log
    log = tmp_path / "log.txt"
    with open(log, "w") as f:
        done = subprocess.run([sys.executable, "-m", "vdib_core", "run", "predictive-coding", "--out", tmp_path,
                               "--quick", *[flag for flag in TINY_FLAGS if "epochs" not in flag and "patience" not in flag],
                               "--epochs=3", "--patience=0"],
                              stdout=f, stderr=subprocess.STDOUT, timeout=600)
    text = log.read_text()
    assert done.returncode == 0, text
    assert "\r" not in text  # no progress-bar frames
    assert [ln.split(":")[0] for ln in text.splitlines() if ln.startswith("epoch ")] == \
        ["epoch 1/3", "epoch 2/3", "epoch 3/3"]


def test_parameter_table_lists_every_parameter_with_flags_as_code():
    from vdib_core.experiments import parameter_table

    exp = get_experiment("mnist-dvs")
    lines = parameter_table(exp).splitlines()
    assert lines[0].startswith("| parameter |") and len(lines) == 2 + len(exp.params)
    root = next(line for line in lines if line.startswith("| `--data`"))
    assert "`--root`" in root  # a flag inside the help text is code, not text that typography would turn into "–root"


def test_tune_through_the_command_line_runs_the_grid_then_the_window(tmp_path, capsys):
    flags = [f for f in TINY_FLAGS if "seed" not in f]
    assert vdib("tune", "predictive-coding", "--out", tmp_path, "--quick", "--seed", "100", *flags,
                "--lr-encoder", "0.03,0.1", "--then-tau-d", "1", "--max-extensions", "0") == 0
    assert "chose {'lr_encoder'" in capsys.readouterr().out
    results = load_results(tmp_path)
    stage1 = sorted(r.params["lr_encoder"] for r in results if r.params["tau_d"] == 5)
    stage2 = [r for r in results if r.params["tau_d"] == 1]
    assert stage1 == [0.03, 0.1] and len(stage2) == 1 and {r.params["seed"] for r in results} == {100}
    best = max((r for r in results if r.params["tau_d"] == 5), key=lambda r: r.metrics["val_accuracy"])
    assert stage2[0].params["lr_encoder"] == best.params["lr_encoder"]  # the window is tuned at stage 1's choice
    assert vdib("tune", "predictive-coding", "--out", tmp_path, "--lr-encoder", "0.1") == 2  # no grid: one line


def test_provenance_summary_counts_compute_clock_time_and_commits():
    from vdib_core.experiments.results import Result, provenance_summary

    def made(created: str, wall: float, commit: str, dirty: bool) -> Result:
        prov = {"created": created, "wall_s": wall, "git_commit": commit, "git_dirty": dirty, "device": "cpu",
                "cpu": "X", "threads": 1}
        return Result("e", {}, {}, {}, [], prov, Path("e.json"))

    text = provenance_summary([made("2026-01-01T10:30:00+00:00", 1800, "a" * 40, False),
                               made("2026-01-01T11:00:00+00:00", 1800, "b" * 40, True),
                               made("2026-01-01T10:45:00+00:00", 900, "a" * 40, False)])
    lines = text.splitlines()
    assert lines[0] == ("3 trials, 1.25 h of compute, made between 2026-01-01 10:00 and 2026-01-01 11:00 UTC "
                        "(1.00 h of clock time)")  # two lanes side by side: more compute than clock time
    assert lines[1] == "commits: aaaaaaaaaa (2), bbbbbbbbbb (1); 1 from a modified checkout"
    assert lines[2] == "devices: cpu (3); CPUs: X (3); threads: 1 (3)"
    assert provenance_summary([]) == "no results"
