"""The mnist-dvs experiment (book chapter "Naturalizing MNIST-DVS") on tiny configurations: the command line on
emulated and on synthetic "real" recordings, the class images, k-NN separability, the decoding window."""
import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from vdib_core.data import load_mnist, make_events, write_aedat
from vdib_core.experiments import cli, get_experiment
from vdib_core.experiments.analysis import knn_separability
from vdib_core.experiments.mnist_dvs import class_images

TINY = dict(n_hidden=16, n_readout=8, decoder_hidden=32, train_per_digit=3, val_per_digit=1, test_per_digit=2, epochs=1,
            dt=200_000)
FLAGS = [f"--{k.replace('_', '-')}={v}" for k, v in TINY.items()]
T = 10  # 2 s at dt = 200 ms
METRICS = ("evaluator_accuracy", "bce", "val_bce", "kl", "readout_rate", "hidden_rate", "knn_time", "knn_rate",
           "i_xz_upper_bits")
REFERENCES = ("knn_input", "ceiling_accuracy", "mean_image_bce")


def vdib(*args) -> int:
    return cli.main([str(a) for a in args])


@pytest.fixture(scope="module")
def data_copy(private_data):
    """The module's private data dir (conftest.py): the emulated recordings are built there."""
    return private_data


def _result(out):
    """The one result of a run in `out` -> (JSON dict, arrays)."""
    files = sorted(out.iterdir())
    assert [f.suffix for f in files] == [".json", ".npz"]
    d = json.loads(files[0].read_text())
    with np.load(files[1]) as f:
        return d, dict(f)


def _check_result(d: dict, arrays: dict, n_train: int, n_test: int) -> None:
    m, ref, p = d["metrics"], d["references"], d["params"]
    assert set(METRICS) <= set(m) and set(REFERENCES) <= set(ref)
    for key in ("evaluator_accuracy", "knn_time", "knn_rate"):
        assert 0 <= m[key] <= 1, key
    for key in ("readout_rate", "hidden_rate"):
        assert 0 <= m[key] <= 1, key
    assert 0 <= ref["knn_input"] <= 1 and ref["ceiling_accuracy"] >= 0.9  # the evaluator knows the class images
    assert m["bce"] > 0 and ref["mean_image_bce"] > 0 and m["kl"] >= 0
    assert m["i_xz_upper_bits"] == pytest.approx(m["kl"] / math.log(2))
    prov = d["provenance"]
    info = prov["data"]
    assert len(info["class_image_indices"]) == 10 and info["class_image_indices"] == class_images()[1]
    assert info["n_train"] == n_train and info["n_test"] == n_test and info["T"] == T and info["n_val"] == 10
    assert prov["model_config"]["tau_d"] == T  # --tau-d 0 (the default): the whole recording
    (init,) = prov["init"]  # --init calibrated is this experiment's default
    assert p["init"] == "calibrated" and abs(init["rate_after"] - p["init_rate"]) < 0.005
    n_z = p["n_readout"]
    shapes = {"class_images": (10, 28, 28), "input_frames": (10, 2, 26, 26), "reconstructions": (10, 28, 28),
              "labels": (10,), "predicted": (10,), "readout": (T, n_z), "readout_prob": (T, n_z),
              "test_labels": (n_test,), "readout_counts": (n_test, n_z), "tsne_time": (n_test, 2),
              "tsne_rate": (n_test, 2)}
    assert {k: arrays[k].shape for k in shapes} == shapes
    assert arrays["labels"].tolist() == list(range(10)) and sorted(arrays["test_labels"]) == sorted(
        list(range(10)) * (n_test // 10))
    assert np.array_equal(arrays["class_images"],
                          (class_images()[0].numpy() * 255).round().astype(np.uint8))
    assert arrays["readout_counts"].max() <= T and set(np.unique(arrays["readout"])) <= {0, 1}
    assert np.isfinite(arrays["tsne_time"].astype(float)).all() and np.isfinite(arrays["tsne_rate"].astype(float)).all()
    assert arrays["input_frames"].max() <= T  # binary frames summed over T bins


def test_emulated_trial_through_the_command_line(data_copy, tmp_path):
    assert vdib("run", "mnist-dvs", "--out", tmp_path, *FLAGS) == 0
    d, arrays = _result(tmp_path)
    assert d["params"]["data"] == "emulated" and d["params"]["tau_d"] == 0
    _check_result(d, arrays, n_train=20, n_test=20)
    assert arrays["input_frames"].sum() > 0
    assert any(data_copy.glob("mnist-dvs-emulated/*.npz"))  # built in the private data dir


def _raw_recording(rng: np.random.Generator, n: int = 300) -> np.ndarray:
    """n random events inside the crop, in raw sensor coordinates (x = 127 - x'), over 2 s from a late start."""
    x = 127 - rng.integers(48, 74, n)
    y = rng.integers(48, 74, n)
    t = np.sort(rng.integers(0, 2_000_000, n)) + 5_000_000
    return make_events(x, y, t, rng.integers(0, 2, n))


@pytest.fixture
def real_tree(tmp_path):
    """The real recordings' layout: recordings 1-3 (train) and 901-902 (test) of every digit."""
    rng = np.random.default_rng(0)
    raw = {}
    for digit in range(10):
        folder = tmp_path / "mnist_dvs" / f"grabbed_data{digit}" / "scale4"
        folder.mkdir(parents=True)
        for number in (1, 2, 3, 901, 902):
            raw[digit, number] = _raw_recording(rng)
            write_aedat(folder / f"mnist_{digit}_scale04_{number:04d}.aedat", raw[digit, number],
                        header=["synthetic recording written by the tests"])
    return tmp_path / "mnist_dvs", raw


def test_real_recordings_through_the_command_line(data_copy, real_tree, tmp_path):
    root, raw = real_tree
    out = tmp_path / "out"
    assert vdib("run", "mnist-dvs", "--out", out, "--data", "real", "--root", root, *FLAGS) == 0
    d, arrays = _result(out)
    assert d["params"]["data"] == "real" and d["params"]["root"] == str(root)
    assert str(root) in d["provenance"]["data"]["recordings"]
    _check_result(d, arrays, n_train=20, n_test=20)  # 3 training recordings of each digit, the last held out
    for digit in range(10):  # time-summed binary frames of the first test recording (901), re-derived
        ev = raw[digit, 901]
        x, y, t = 127 - ev["x"].astype(int) - 48, ev["y"].astype(int) - 48, ev["t"] - ev["t"][0]
        frames = np.zeros((T, 2, 26, 26), dtype=np.uint16)
        frames[t // 200_000, ev["p"].astype(int), y, x] = 1
        assert np.array_equal(arrays["input_frames"][digit], frames.sum(0))


def test_real_data_without_root_is_a_one_line_configuration_error(tmp_path, capsys):
    assert vdib("run", "mnist-dvs", "--out", tmp_path, "--data", "real", *FLAGS) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "--data real needs --root DIR" in err and err.startswith("vdib run: error:")
    assert not any(tmp_path.iterdir())


def test_class_images_are_fixed_labelled_and_distinct():
    images, chosen = class_images()
    assert class_images()[1] == chosen  # cached
    class_images.cache_clear()
    fresh_images, fresh = class_images()  # computed again
    assert fresh == chosen and torch.equal(fresh_images, images)
    mnist = load_mnist("train", verbose=False)
    assert mnist.labels[chosen].tolist() == list(range(10)) and torch.equal(images, mnist.images[chosen])
    flat = images.reshape(10, -1)
    assert (torch.cdist(flat, flat) + torch.eye(10)).min() > 0  # ten different images
    X = mnist.images.reshape(len(mnist.labels), -1).numpy().astype(np.float64)
    y = mnist.labels.numpy()
    for c, i in enumerate(chosen):  # the image of class c nearest to the class's mean image
        members = np.flatnonzero(y == c)
        dist = ((X[members] - X[members].mean(0)) ** 2).sum(1)
        assert i == members[dist.argmin()]


def test_knn_separability_of_separable_random_and_too_small_classes():
    labels = torch.arange(10).repeat(10)  # 10 classes x 10
    codes = F.one_hot(labels, 10).repeat(1, 3)  # [100, 30], identical within a class
    assert knn_separability(codes, labels) == 1.0
    gen = torch.Generator().manual_seed(0)
    labels = torch.arange(10).repeat(50)  # 10 balanced classes of 50
    codes = (torch.rand(500, 200, generator=gen) < 0.5).to(torch.uint8)  # [500, 200], unrelated to the labels
    assert abs(knn_separability(codes, labels) - 0.1) < 0.06
    labels = torch.tensor([0, 0, 1, 1, 2])
    with pytest.raises(ValueError, match="smallest class 1"):
        knn_separability(torch.rand(5, 4), labels)


def test_decoding_window_defaults_to_the_recording_and_cannot_exceed_it(tmp_path, capsys):
    exp = get_experiment("mnist-dvs")
    assert exp.model_config(exp.configure(**TINY)).tau_d == T  # --tau-d 0: tau_d = T
    assert exp.model_config(exp.configure(**TINY, tau_d=0)).tau_d == T
    assert exp.model_config(exp.configure(**TINY, tau_d=4)).tau_d == 4
    assert exp.model_config(exp.configure(**TINY, tau_d=T)).tau_d == T
    with pytest.raises(ValueError, match=r"tau_d=11 is longer than the recordings \(T = 10 steps"):
        exp.model_config(exp.configure(**TINY, tau_d=11))
    assert vdib("run", "mnist-dvs", "--out", tmp_path, *FLAGS, "--tau-d", "11") == 2  # bad input: before any data is built
    err = capsys.readouterr().err
    assert "tau_d=11 is longer than the recordings (T = 10 steps at dt=200000 µs)" in err
    assert not any(tmp_path.iterdir())


def test_validation_recordings_are_the_last_of_each_digit_and_never_trained_on():
    from vdib_core.experiments.mnist_dvs import held_out

    labels = torch.tensor([0, 0, 0, 1, 1, 2, 2, 2, 2])
    assert held_out(labels, 1).nonzero().flatten().tolist() == [2, 4, 8]
    assert held_out(labels, 2).nonzero().flatten().tolist() == [1, 2, 3, 4, 7, 8]
    assert torch.equal(held_out(labels, 2), held_out(labels, 2))  # no randomness


def test_emulated_validation_split_is_disjoint_from_training_and_test(data_copy):
    exp = get_experiment("mnist-dvs")
    p = exp.configure(**TINY)
    a, b = exp.data(p), exp.data(exp.configure(**{**TINY, "seed": 3}))
    assert torch.equal(a.val[0], b.val[0]) and torch.equal(a.val[1], b.val[1])  # the same for every seed
    rows = lambda X: {bytes(x.numpy().tobytes()) for x in X}  # noqa: E731
    assert len(a.val[0]) == 10 and not rows(a.val[0]) & rows(a.train[0]) and not rows(a.val[0]) & rows(a.test[0])
    with pytest.raises(ValueError, match="leaves no training recordings"):
        exp.data(exp.configure(**{**TINY, "val_per_digit": 3}))
