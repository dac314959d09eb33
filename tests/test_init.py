"""Data-dependent initialisation (`--init calibrated`, book chapter "Naturalizing MNIST-DVS"):
`LIFLayer.calibrate` / `SNNEncoder.calibrate`, and `initialise` inside `run_trial`."""
import pytest
import torch

from vdib_core import HybridModel, VDIBConfig
from vdib_core.data import EmulatedMNISTDVS, load_mnist, rate_encode
from vdib_core.experiments import get_experiment, trials

RATE = 0.08
# the tiny mnist-dvs trial of run_trial below; its recordings are the ones `dvs_data` builds (2 per digit)
TINY = dict(n_hidden=16, n_readout=8, decoder_hidden=32, train_per_digit=3, val_per_digit=1, test_per_digit=2, epochs=0,
            dt=200_000.0)


@pytest.fixture(scope="module")
def dvs_data(private_data):
    """The private data dir (conftest.py) with the emulated MNIST-DVS recordings, 2 per digit of each split."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as a mnist-dvs trial builds them; two threads on a busy 2-core machine: ~5x slower
    try:
        for train in (True, False):
            EmulatedMNISTDVS(train=train, n_per_class=2, verbose=False)  # built once for the module
    finally:
        torch.set_num_threads(threads)
    return private_data


def _model(n_in: int, n_hidden: tuple[int, ...], seed: int = 0) -> HybridModel:
    torch.manual_seed(seed)
    return HybridModel(VDIBConfig(n_in=n_in, n_hidden=n_hidden, n_readout=8, n_out=10, tau_d=5))


def _rate(layer, x: torch.Tensor) -> float:
    return layer(x)[0].mean().item()


def _rate_coded_mnist(n: int = 200, T: int = 20) -> torch.Tensor:
    images = load_mnist("test", verbose=False, n=n).images  # [n, 28, 28], every class in any prefix
    return rate_encode(images, T, generator=torch.Generator().manual_seed(0))  # [T, n, 784]


def _emulated_dvs(train: bool, dt: float = 50_000) -> torch.Tensor:
    ds = EmulatedMNISTDVS(train=train, n_per_class=2, dt=dt, verbose=False)
    frames, labels = ds.to_tensors()  # [T, B, 2, 26, 26]
    return frames.reshape(ds.T, len(labels), 2 * 26 * 26)  # [T, B, 1352]


def test_calibration_sets_the_hidden_rate_of_rate_coded_mnist():
    x = _rate_coded_mnist()
    calib, held_out = x[:, :100], x[:, 100:]
    model = _model(784, (100,))
    layer = model.encoder.hidden[0]
    drawn = layer.weight.detach().clone()
    before = _rate(layer, calib)
    (report,) = model.encoder.calibrate(calib, RATE)
    assert abs(_rate(layer, calib) - RATE) < 0.005
    assert abs(_rate(layer, held_out) - RATE) < 0.25 * RATE
    assert report["rate_before"] == pytest.approx(before) and report["rate_after"] == pytest.approx(_rate(layer, calib))
    torch.testing.assert_close(layer.weight.detach(), report["gain"] * drawn)  # one gain for the whole layer
    assert torch.equal(layer.bias, torch.zeros(100))


def test_calibration_wakes_a_layer_the_default_gain_leaves_silent_on_dvs_events(dvs_data):
    calib, held_out = _emulated_dvs(train=True), _emulated_dvs(train=False)  # [40, 20, 1352] each
    assert calib.shape == held_out.shape == (40, 20, 1352)
    model = _model(1352, (100,))
    layer = model.encoder.hidden[0]
    assert model.cfg.init_gain == 5.0 and _rate(layer, calib) < 0.01  # sparse events: nearly silent as drawn
    (report,) = model.encoder.calibrate(calib, RATE)
    assert report["rate_before"] < 0.01 and report["gain"] > 1
    assert abs(_rate(layer, calib) - RATE) < 0.005
    assert abs(_rate(layer, held_out) - RATE) < 0.25 * RATE  # held-out recordings: the test split's


def test_two_hidden_layers_are_calibrated_first_to_last():
    x = _rate_coded_mnist(n=100, T=20)
    model = _model(784, (60, 40))
    first, second = model.encoder.hidden
    report = model.encoder.calibrate(x, RATE)
    assert len(report) == 2
    h = first(x)[0]  # the calibrated first layer's spikes feed the second
    assert abs(h.mean().item() - RATE) < 0.005 and abs(_rate(second, h) - RATE) < 0.005
    assert [r["rate_after"] for r in report] == pytest.approx([h.mean().item(), _rate(second, h)])


def test_calibration_refuses_an_input_without_spikes_and_a_bad_rate():
    model = _model(784, (100,))
    drawn = model.encoder.hidden[0].weight.detach().clone()
    with pytest.raises(ValueError, match=r"cannot calibrate a 784 -> 100 LIF layer to firing rate 0\.08.*"
                                         r"\(0 of its input bins are spikes\)"):
        model.encoder.calibrate(torch.zeros(10, 4, 784), RATE)
    x = _rate_coded_mnist(n=20, T=10)
    for rate in (0.0, 1.0):
        with pytest.raises(ValueError, match=r"target firing rate must be in \(0, 1\)"):
            model.encoder.calibrate(x, rate)
    assert torch.equal(model.encoder.hidden[0].weight, drawn)  # a refused calibration changes nothing


def test_run_trial_gain_keeps_the_drawn_weights_and_calibrated_records_the_rate(dvs_data, monkeypatch):
    exp = get_experiment("mnist-dvs")
    p = exp.configure(**TINY, init="gain")
    torch.manual_seed(p["seed"])
    drawn = HybridModel(exp.model_config(p)).encoder.hidden[0].weight.detach().clone()  # [16, 1352]

    seen = []
    initialise = trials.initialise

    def spy(model, data, p):  # the hidden weights right after `initialise`, before any training
        report = initialise(model, data, p)
        seen.append(model.encoder.hidden[0].weight.detach().clone())
        return report

    monkeypatch.setattr(trials, "initialise", spy)
    gain, _ = trials.run_trial("mnist-dvs", {**TINY, "init": "gain"}, progress=False)
    (init,) = gain["provenance"]["init"]
    assert torch.equal(seen[0], drawn)
    assert init["gain"] == 1.0 and init["rate_before"] == init["rate_after"] < 0.01

    calibrated, _ = trials.run_trial("mnist-dvs", {**TINY, "init": "calibrated", "init_rate": 0.05},
                                     progress=False)
    (init,) = calibrated["provenance"]["init"]
    assert abs(init["rate_after"] - 0.05) < 0.005 and init["rate_before"] < 0.01 and init["gain"] > 1
    torch.testing.assert_close(seen[1], init["gain"] * drawn)
    assert calibrated["params"]["init_rate"] == 0.05 and gain["params"]["init"] == "gain"
