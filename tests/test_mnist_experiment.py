"""The MNIST experiment and its independent evaluator (book chapter "Naturalizing MNIST")."""
import numpy as np
import pytest
import torch

from vdib_core.data import load_mnist
from vdib_core.experiments import ConfigError, run
from vdib_core.experiments.evaluator import LeNet, default_path, load_evaluator, save_evaluator, train_evaluator
from vdib_core.experiments.mnist import evaluator
from vdib_core.model import HybridModel, VDIBConfig
from vdib_core.objective import estimator_loss, vdib_loss
from vdib_core.train import TrainConfig, fit

TINY = dict(n_train=96, n_val=16, n_test=64, epochs=1, n_hidden=40, n_readout=16, decoder_hidden=32, steps=8, tau_d=8)


def test_committed_evaluator_reaches_its_target_on_clean_test_digits():
    ev = load_evaluator(default_path(), train_if_missing=False, progress=False)
    test = load_mnist("test", verbose=False)
    measured = ev.accuracy(test.images, test.labels)
    assert measured == pytest.approx(ev.clean_accuracy, abs=1e-12)  # the recorded number is this file's
    assert measured >= 0.97
    assert ev.info["n_test"] == len(test.labels)


def test_evaluator_trains_saves_and_loads_the_same_network(tmp_path):
    torch.set_num_threads(1)
    ev = train_evaluator(epochs=4, n_train=1000, progress=False)
    assert ev.clean_accuracy > 0.5  # ten classes: chance is 0.1
    path = save_evaluator(ev, tmp_path / "ev.pt")
    back = load_evaluator(path, progress=False)
    images = load_mnist("test", verbose=False).images[:200]
    assert torch.equal(back.predict(images), ev.predict(images))
    assert back.clean_accuracy == ev.clean_accuracy and back.sha256 == ev.sha256 and len(back.sha256) == 64


def test_evaluator_missing_or_unreadable_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.pt"):
        load_evaluator(tmp_path / "nope.pt", train_if_missing=False)
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="bad.pt.*delete it to retrain"):
        load_evaluator(bad)


def test_lenet_takes_flat_or_square_images():
    net = LeNet()
    x = torch.rand(3, 784)
    assert torch.equal(net(x), net(x.view(3, 28, 28)))
    assert net(x).shape == (3, 10)


def test_subsets_are_fixed_and_hold_every_class():
    a, b = load_mnist("test", verbose=False, n=100), load_mnist("test", verbose=False, n=100)
    assert torch.equal(a.images, b.images) and set(a.labels.tolist()) == set(range(10))
    full = load_mnist("test", verbose=False)
    assert len(full.labels) == 2000 and set(full.labels[:100].tolist()) == {0}  # why: source order is by class
    with pytest.raises(ValueError, match="n=2001"):
        load_mnist("test", verbose=False, n=2001)


def test_mnist_trial_reports_the_named_metrics_references_and_arrays():
    r = run("mnist", None, progress=False, **TINY)
    m, ref = r["metrics"], r["references"]
    assert {"evaluator_accuracy", "bce", "val_bce", "mse", "readout_rate", "hidden_rate", "kl"} <= set(m)
    assert m["val_bce"] > 0  # BCE per validation digit, in nats
    assert 0 <= m["evaluator_accuracy"] <= 1 and 0 < m["mse"] < 1 and 0 < m["readout_rate"] < 1
    assert m["bce"] > 0 and m["i_xz_upper_bits"] == pytest.approx(m["kl"] / np.log(2))
    assert ref["clean_accuracy"] >= 0.9 and ref["mean_image_bce"] > 0
    assert r["provenance"]["data"]["evaluator_sha256"] == evaluator().sha256


def test_mnist_arrays_hold_digits_reconstructions_and_rasters(tmp_path):
    r = run("mnist", tmp_path, progress=False, **TINY)
    arrays = np.load(tmp_path / r["provenance"]["arrays"])
    assert arrays["images"].shape == arrays["reconstructions"].shape == (16, 28, 28)
    assert arrays["images"].dtype == np.uint8 and arrays["labels"].shape == arrays["predicted"].shape == (16,)
    assert arrays["input"].shape == (8, 784) and arrays["readout"].shape == arrays["readout_prob"].shape == (8, 16)
    assert set(np.unique(arrays["readout"])) <= {0, 1}


def test_mnist_rejects_a_window_longer_than_the_code_and_more_digits_than_the_split():
    with pytest.raises((ConfigError, ValueError), match="tau_d"):
        run("mnist", None, progress=False, **{**TINY, "tau_d": 9})
    with pytest.raises(ValueError, match="n=100000"):
        run("mnist", None, progress=False, **{**TINY, "n_test": 100_000})


def test_frozen_encoder_keeps_its_weights_and_the_pathwise_check_still_catches_wrong_draws():
    cfg = VDIBConfig(n_in=12, n_hidden=(10,), n_readout=6, n_out=12, tau_d=4, decoder="linear", estimator="pathwise")
    torch.manual_seed(0)
    model = HybridModel(cfg)
    X = (torch.rand(32, 5, 12) < 0.3).float()
    enc = [p.detach().clone() for p in model.encoder_parameters()]
    dec = [p.detach().clone() for p in model.decoder_parameters()]
    model.encoder.requires_grad_(False)  # as `vdib run ... --encoder frozen` does
    fit(model, (X, X[:, -1]), TrainConfig(epochs=2, batch_size=8, lr_encoder=0.0, progress=False))
    assert all(torch.equal(a, b) for a, b in zip(enc, model.encoder_parameters()))
    assert not all(torch.equal(a, b) for a, b in zip(dec, model.decoder_parameters()))
    model.encoder.requires_grad_(True)
    out = model(X.transpose(0, 1), sample="bernoulli")  # wrong draws for the pathwise estimator
    with pytest.raises(ValueError, match="sample='threshold'"):
        estimator_loss(out, vdib_loss(out, X[:, -1], cfg), cfg)


def test_vdib_evaluator_prints_the_committed_accuracy_and_rejects_bad_options(capsys):
    from vdib_core.experiments import cli

    assert cli.main(["evaluator"]) == 0
    ev = load_evaluator(default_path(), train_if_missing=False)
    assert f"{ev.clean_accuracy:.2%}" in capsys.readouterr().out
    assert cli.main(["evaluator", "--bogus", "1"]) == 2
    assert "usage: vdib evaluator" in capsys.readouterr().err


def test_a_trial_does_not_depend_on_what_ran_before_in_the_process():
    # the evaluator is loaded once per process; loading it must not move torch's random stream, or the
    # first trial of a sweep would differ from the same configuration run again by `vdib rerun`
    evaluator.cache_clear()
    first = run("mnist", None, progress=False, **TINY)["metrics"]  # loads the evaluator
    again = run("mnist", None, progress=False, **TINY)["metrics"]  # evaluator cached
    assert first == again
    state = torch.get_rng_state()
    load_evaluator(default_path(), train_if_missing=False)
    train_evaluator(epochs=1, n_train=64, progress=False)
    assert torch.equal(state, torch.get_rng_state())


def test_validation_digits_are_held_out_of_training_disjoint_from_test_and_fixed():
    from vdib_core.experiments import get_experiment

    exp = get_experiment("mnist")
    a, b = exp.data(exp.configure(**TINY)), exp.data(exp.configure(**{**TINY, "seed": 5}))
    assert torch.equal(a.val[0], b.val[0]) and torch.equal(a.val[0], a.val[1])  # fixed; the target is the digit
    source = load_mnist("train", verbose=False, n=TINY["n_train"]).images.reshape(-1, 784)
    assert torch.equal(a.val[0], source[-TINY["n_val"]:]) and torch.equal(a.train[0], source[:-TINY["n_val"]])
    rows = lambda X: {x.numpy().tobytes() for x in X}  # noqa: E731
    assert not rows(a.val[0]) & rows(a.train[0]) and not rows(a.val[0]) & rows(a.test[0])
    with pytest.raises(ValueError, match="leaves no training digits"):
        exp.data(exp.configure(**{**TINY, "n_val": 96}))


def test_latency_encoding_gives_at_most_one_spike_per_pixel_and_no_randomness():
    from vdib_core.experiments import get_experiment

    exp = get_experiment("mnist")
    data = exp.data(exp.configure(**{**TINY, "encoding": "latency"}))
    X = data.train[0][:8]
    x1, x2 = data.input_fn(X, torch.Generator().manual_seed(0)), data.input_fn(X, torch.Generator().manual_seed(1))
    assert torch.equal(x1, x2) and x1.shape == (TINY["steps"], 8, 784) and x1.sum(0).max() == 1
    assert torch.equal(x1.sum(0) > 0, X > 0.01)  # every pixel above the threshold spikes once
