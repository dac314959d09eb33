"""Neurons and model: surrogate shapes, filters, readout recursion, shapes and input validation."""
import math

import pytest
import torch

from vdib_core import HybridModel, LIFLayer, StochasticReadout, Surrogate, VDIBConfig, raised_cosine_basis
from vdib_core.neurons import causal_filter_matrix, psp_kernel


def surrogate_grad(shape, slope, x):
    x = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    s = Surrogate(shape, slope)(x)
    (g,) = torch.autograd.grad(s.sum(), x)
    return s.detach(), g


@pytest.mark.parametrize("shape,slope,x,expected", [
    ("boxcar", 2.0, [0.0, 0.4, -0.4, 0.6], [1.0, 1.0, 1.0, 0.0]),
    ("fast_sigmoid", 5.0, [0.0, 0.2, -0.2], [1.0, 0.25, 0.25]),
    ("sigmoid", 4.0, [0.0, math.log(3) / 4], [1.0, 0.75]),
    ("arctan", 2.0, [0.0, 1 / math.pi], [1.0, 0.5]),
])
def test_surrogate_derivatives_have_documented_values(shape, slope, x, expected):
    s, g = surrogate_grad(shape, slope, x)
    torch.testing.assert_close(s, (torch.tensor(x) > 0).double())  # forward is the Heaviside step
    torch.testing.assert_close(g, torch.tensor(expected, dtype=torch.float64))


@pytest.mark.parametrize("shape", ["boxcar", "sigmoid", "arctan"])
def test_unit_area_surrogates(shape):
    x = torch.linspace(-200, 200, 800_001, dtype=torch.float64)
    area = torch.trapezoid(Surrogate(shape, 3.0).grad(x), x).item()
    assert abs(area - 1) < 2e-3


def test_surrogate_rejects_bad_names():
    with pytest.raises(ValueError, match="unknown surrogate"):
        Surrogate("relu")
    with pytest.raises(ValueError, match="slope"):
        Surrogate("arctan", 0.0)


def test_filters():
    kappa = psp_kernel(200)
    assert abs(kappa.sum().item() - 1) < 1e-5 and (kappa >= 0).all()
    basis = raised_cosine_basis(8, 10)  # [M, K]
    assert basis.shape == (10, 8) and (basis >= 0).all()
    torch.testing.assert_close(basis.sum(0), torch.ones(8))
    assert basis[0].sum() > 0  # lag 0 is included
    with pytest.raises(ValueError, match="n_basis <= memory"):
        raised_cosine_basis(8, 3)
    x = torch.randn(7, 3)  # [T, channels]
    k = torch.tensor([0.5, 0.3, 0.2])
    explicit = torch.stack([sum(k[j] * x[t - j] for j in range(3) if t - j >= 0) for t in range(7)])
    torch.testing.assert_close(causal_filter_matrix(k, 7) @ x, explicit)


def test_lif_single_input_spike_follows_kernel_and_refractoriness():
    layer = LIFLayer(1, 1, threshold=1.0)
    with torch.no_grad():
        layer.weight.fill_(1.0)
    x = torch.zeros(20, 1, 1)
    x[2] = 1
    s, u = layer(x)
    torch.testing.assert_close(u[:, 0, 0], torch.cat([torch.zeros(2), psp_kernel(20)[:18]]))
    assert s.sum() == 0  # a single filtered spike stays below threshold
    with torch.no_grad():
        layer.bias.fill_(1.5)  # constant supra-threshold drive: fires, then the refractory term silences it
    s, u = layer(torch.zeros(20, 1, 1))
    spikes = s[:, 0, 0]
    assert spikes[0] == 1 and spikes[1] == 0
    assert 0.2 < spikes.mean() < 0.5


def test_readout_feedback_equals_explicit_truncated_convolution():
    torch.manual_seed(0)
    ro = StochasticReadout(4, 3, n_basis=3, memory=3, fb_decay=0.5)
    with torch.no_grad():
        ro.fb_weight.copy_(torch.tensor([-2.0, 1.0, 0.5]))
    h = torch.bernoulli(torch.full((12, 2, 4), 0.4))
    out = ro(h, sample="bernoulli")
    ff = ro.feedforward(h)
    c = torch.tensor([1.0, 0.5, 0.25])  # c(m) = 0.5^(m−1), m = 1..M
    for t in range(12):
        fb = sum(c[m - 1] * out.z[t - m] for m in range(1, 4) if t - m >= 0)
        torch.testing.assert_close(out.logits[t], ff[t] + ro.fb_weight * fb)
    again = ro(h, z=out.z)  # teacher forcing reproduces the logits of the sampled run
    torch.testing.assert_close(again.logits, out.logits)


def test_sampling_modes():
    torch.manual_seed(0)
    ro = StochasticReadout(5, 400, init_rate=0.3)
    h = torch.zeros(50, 8, 5)
    for mode in ("bernoulli", "threshold"):
        z = ro(h, sample=mode).z
        assert set(z.unique().tolist()) <= {0.0, 1.0}
        assert abs(z.mean().item() - 0.3) < 5 * math.sqrt(0.3 * 0.7 / z.numel())
    assert ro(h, sample="deterministic").z.sum() == 0  # σ(u) = 0.3 < 1/2 everywhere
    with pytest.raises(ValueError, match="sample mode"):
        ro(h, sample="poisson")


def test_pathwise_gradients_reach_the_hidden_layer():
    torch.manual_seed(0)
    cfg = VDIBConfig(n_in=20, n_hidden=(30,), n_readout=8, n_out=20, tau_d=5, estimator="pathwise")
    model = HybridModel(cfg)
    x = torch.bernoulli(torch.full((10, 4, 20), 0.3))
    out = model(x, sample="threshold")
    from vdib_core import estimator_loss, vdib_loss
    estimator_loss(out, vdib_loss(out, torch.rand(4, 20), cfg), cfg).backward()
    g = model.encoder.hidden[0].weight.grad
    assert g is not None and torch.isfinite(g).all() and g.abs().sum() > 0


def base_cfg(**kw):
    return VDIBConfig(**{"n_in": 6, "n_readout": 4, "n_out": 3, "tau_d": 4, **kw})


@pytest.mark.parametrize("kw,match", [
    ({"r": 0.0}, "r must be in"), ({"r": 1.0}, "r must be in"), ({"beta": -1.0}, "beta"),
    ({"decoder": "transformer"}, "unknown decoder"), ({"decoding": "phase"}, "unknown decoding"),
    ({"likelihood": "poisson"}, "unknown likelihood"), ({"tau_d": 0}, "tau_d"),
])
def test_config_rejects_bad_values(kw, match):
    with pytest.raises(ValueError, match=match):
        base_cfg(**kw)


def test_model_rejects_bad_input():
    model = HybridModel(base_cfg())
    with pytest.raises(ValueError, match="time-first"):
        model(torch.zeros(5, 6))  # wrong rank
    with pytest.raises(ValueError, match="time-first"):
        model(torch.zeros(5, 2, 7))  # wrong length
    with pytest.raises(ValueError, match="0/1 spikes"):
        model(torch.full((5, 2, 6), 0.5))  # not spikes
    with pytest.raises(ValueError, match="tau_d=4 is longer"):
        model(torch.zeros(3, 2, 6))


@pytest.mark.parametrize("decoder", ["linear", "mlp", "cnn"])
@pytest.mark.parametrize("decoding", ["time", "rate"])
@pytest.mark.parametrize("target", ["static", "sequence"])
def test_decoder_output_shapes(decoder, decoding, target):
    model = HybridModel(base_cfg(decoder=decoder, decoding=decoding, target=target, decoder_hidden=16))
    out = model(torch.bernoulli(torch.full((10, 5, 6), 0.5)))
    assert out.z.shape == out.logits.shape == (10, 5, 4)
    assert out.out.shape == ((1 if target == "static" else 7), 5, 3)


def test_hidden_firing_rate_is_healthy_at_initialisation_on_rate_coded_mnist():
    """Measured: normalised kernels + init give 5-30 % hidden firing on rate-coded digits at init."""
    from vdib_core.data import load_mnist, rate_encode
    images = load_mnist("train", verbose=False).images[:256].reshape(256, -1)
    for seed in range(3):
        torch.manual_seed(seed)
        model = HybridModel(VDIBConfig(n_in=784, n_hidden=(600,), n_readout=256, n_out=784, tau_d=30, r=0.3))
        with torch.no_grad():
            out = model(rate_encode(images, 30, torch.Generator().manual_seed(seed)))
        rate = out.hidden[0].mean().item()
        assert 0.05 <= rate <= 0.30, rate
        assert (out.hidden[0].sum((0, 1)) == 0).float().mean() < 0.2  # few silent neurons
        assert abs(out.z.mean().item() - 0.3) < 0.1  # the readout starts near its target rate r
