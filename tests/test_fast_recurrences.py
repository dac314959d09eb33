"""The recurrences and decoders against the pre-issue-14 reference kept in benchmarks/throughput.py:
identical spikes for the same generator, potentials, outputs and gradients equal to float32 tolerance.
Spikes are compared exactly: they could differ only where a logit lies within rounding of its threshold
(the fast path rounds differently), which these seeds do not hit."""
import importlib.util
from pathlib import Path

import pytest
import torch

from vdib_core import HybridModel, LIFLayer, StochasticReadout, Surrogate, VDIBConfig
from vdib_core.model import readout_windows
from vdib_core.neurons import SURROGATE_SHAPES, _BandedFilter, causal_filter_matrix

_spec = importlib.util.spec_from_file_location("throughput", Path(__file__).resolve().parents[1] / "benchmarks" / "throughput.py")
ref = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ref)


def assert_grads_close(new, old):
    """float32 agreement, relative to each gradient's scale (surrogate recursions can amplify gradients)."""
    for a, b in zip(new, old):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5 * max(1.0, b.abs().max().item()))


@pytest.mark.parametrize("shape", SURROGATE_SHAPES)
def test_lif_matches_reference(shape):
    torch.manual_seed(0)
    layer = LIFLayer(20, 30, surrogate=Surrogate(shape, 5.0))
    x = torch.bernoulli(torch.full((40, 6, 20), 0.3))
    s, u = layer(x)
    s_ref, u_ref = ref.reference_lif(layer, x)
    assert 0 < s.mean() < 0.5
    assert torch.equal(s, s_ref)
    torch.testing.assert_close(u, u_ref)
    w_s, w_u = torch.randn_like(s), torch.randn_like(u)  # a loss that reads both spikes and potentials
    params = list(layer.parameters())
    assert_grads_close(torch.autograd.grad((s * w_s).sum() + (u * w_u).sum(), params),
                       torch.autograd.grad((s_ref * w_s).sum() + (u_ref * w_u).sum(), params))


@pytest.mark.parametrize("mode", ["bernoulli", "threshold", "deterministic", "teacher_forced"])
@pytest.mark.parametrize("shape", ["fast_sigmoid", "boxcar"])
@pytest.mark.parametrize("n_in", [12, 200])  # the banded filter (narrow input), the dense [T, K*T] one (wide)
def test_readout_matches_reference(mode, shape, n_in):
    torch.manual_seed(1)
    ro = StochasticReadout(n_in, 7, n_basis=3, memory=4, fb_decay=0.6, surrogate=Surrogate(shape, 2.0))
    with torch.no_grad():
        ro.fb_weight.copy_(torch.randn(7) * 2)  # strong feedback, T = 30 > M = 4: the truncation matters
    h = torch.bernoulli(torch.full((30, 5, n_in), 0.3)).requires_grad_()
    given = torch.bernoulli(torch.full((30, 5, 7), 0.4)) if mode == "teacher_forced" else None
    sample = "bernoulli" if mode == "teacher_forced" else mode
    out = ro(h, sample=sample, z=given, generator=torch.Generator().manual_seed(7))
    out_ref = ref.reference_readout(ro, h, sample=sample, z=given, generator=torch.Generator().manual_seed(7))
    assert 0 < out.z.mean() < 1
    assert torch.equal(out.z, out_ref.z)
    torch.testing.assert_close(out.logits, out_ref.logits)
    w_z, w_u = torch.randn_like(out.z), torch.randn_like(out.z)
    params = list(ro.parameters()) + [h]
    loss = lambda o: (o.logits * w_u).sum() + ((o.z * w_z).sum() if o.z.requires_grad else 0)  # noqa: E731
    assert out.z.requires_grad == (mode == "threshold")
    assert_grads_close(torch.autograd.grad(loss(out), params), torch.autograd.grad(loss(out_ref), params))


@pytest.mark.parametrize("decoder", ["linear", "mlp", "cnn"])
@pytest.mark.parametrize("decoding", ["time", "rate"])
@pytest.mark.parametrize("target", ["sequence", "static"])
def test_model_matches_reference(decoder, decoding, target):
    """Whole models, pathwise: hidden layer + readout + decoder, spikes, outputs and every gradient."""
    torch.manual_seed(2)
    cfg = VDIBConfig(n_in=10, n_hidden=(16,), n_readout=6, n_out=5, tau_d=4, decoder=decoder, decoding=decoding,
                     target=target, decoder_hidden=32, memory=3, n_basis=2, estimator="pathwise")
    new, old = HybridModel(cfg), ref.ReferenceModel(cfg)
    old.load_state_dict(new.state_dict())
    with torch.no_grad():
        new.encoder.readout.fb_weight.fill_(-1.0)
        old.encoder.readout.fb_weight.fill_(-1.0)
    x = torch.bernoulli(torch.full((20, 4, 10), 0.4))
    out = new(x, sample="threshold", generator=torch.Generator().manual_seed(3))
    out_ref = old(x, sample="threshold", generator=torch.Generator().manual_seed(3))
    assert torch.equal(out.z, out_ref.z) and torch.equal(out.hidden[0], out_ref.hidden[0])
    torch.testing.assert_close(out.logits, out_ref.logits)
    torch.testing.assert_close(out.out, out_ref.out)
    torch.testing.assert_close(new.decoder.centre.mean, old.decoder.centre.mean)
    w = torch.randn_like(out.out)
    assert_grads_close(torch.autograd.grad((out.out * w).sum() + out.logits.sum(), list(new.parameters())),
                       torch.autograd.grad((out_ref.out * w).sum() + out_ref.logits.sum(), list(old.parameters())))


def test_decoder_reads_the_windows_like_the_reference():
    model = HybridModel(VDIBConfig(n_in=4, n_readout=3, n_out=2, tau_d=5, target="sequence", decoder="mlp",
                                   decoder_hidden=8))
    z = torch.bernoulli(torch.full((12, 2, 3), 0.5))
    windows = readout_windows(z, 5, "sequence")  # [S, B, τ_d, N_z]
    model.eval()
    torch.testing.assert_close(model.decoder(windows), ref.reference_decoder(model.decoder, windows))


@pytest.mark.parametrize("mode", ["bernoulli", "threshold", "deterministic"])
@pytest.mark.parametrize("fb_decay, dtype", [(0.5, torch.float32), (0.6, torch.float32), (0.6, torch.float64)])
def test_numpy_loops_match_the_torch_loops(monkeypatch, mode, fb_decay, dtype):
    """On the CPU the loops over time run numpy ufuncs (`_loop_ops`); other devices run the torch ops, with
    fused multiply-adds. Both paths, forced here on the CPU, give the same spikes, and potentials and
    gradients equal to rounding."""
    from vdib_core import neurons

    def run() -> list[torch.Tensor]:
        torch.manual_seed(3)
        layer = LIFLayer(12, 16).to(dtype)
        ro = StochasticReadout(16, 7, n_basis=3, memory=4, fb_decay=fb_decay).to(dtype)
        with torch.no_grad():
            ro.fb_weight.copy_(torch.randn(7) * 2)
        x = torch.bernoulli(torch.full((30, 5, 12), 0.3, dtype=dtype))
        h, u_h = layer(x)
        out = ro(h, sample=mode, generator=torch.Generator().manual_seed(7))
        w = torch.randn_like(out.z)
        loss = (out.logits * w).sum() + (u_h.sum() + (out.z * w).sum() if mode == "threshold" else 0)
        return [h, u_h, out.z, out.logits, *torch.autograd.grad(loss, [*layer.parameters(), *ro.parameters()])]

    assert neurons._loop_ops(torch.zeros(1, dtype=dtype)) is neurons._NUMPY_OPS
    fast = run()
    monkeypatch.setattr(neurons, "_loop_ops", lambda x: neurons._TORCH_OPS)
    slow = run()
    assert 0 < fast[0].mean() < 0.5 and 0 < fast[2].mean() < 1
    assert torch.equal(fast[0], slow[0]) and torch.equal(fast[2], slow[2])  # hidden and readout spikes
    tol = 1e-6 if dtype == torch.float32 else 1e-13  # measured: 2e-7 and 3e-16 of each tensor's scale
    for a, b in zip(fast, slow):
        torch.testing.assert_close(a, b, rtol=tol, atol=tol * max(1.0, b.abs().max().item()))


@pytest.mark.parametrize("T", [1, 3, 10, 25])
@pytest.mark.parametrize("memory", [1, 4, 10, 30])
def test_banded_filter_equals_the_dense_filter_matrix_product(T, memory):
    """`_BandedFilter` y_t = b + Σ_{m<M} x_{t−m} F_m against its closed form as dense Toeplitz matrices,
    y = b + Σ_m S_m (x F_m) with S_m [T, T] the shift by m steps (`causal_filter_matrix` of a unit impulse
    at lag m); forward and every gradient, float64. memory ≥ T: lags before the start contribute nothing."""
    g = torch.Generator().manual_seed(T * 100 + memory)
    B, C, D = 3, 5, 4
    x = torch.randn(T, B, C, generator=g, dtype=torch.float64, requires_grad=True)
    F = torch.randn(memory, C, D, generator=g, dtype=torch.float64, requires_grad=True)
    b = torch.randn(D, generator=g, dtype=torch.float64, requires_grad=True)
    shifts = [causal_filter_matrix(torch.eye(memory, dtype=torch.float64)[m], T) for m in range(memory)]  # [T, T]
    dense = b + sum((S @ (x @ F[m]).reshape(T, -1)).view(T, B, D) for m, S in enumerate(shifts))
    banded = _BandedFilter.apply(x, F, b)
    torch.testing.assert_close(banded, dense, rtol=1e-12, atol=1e-12)
    w = torch.randn(T, B, D, generator=g, dtype=torch.float64)
    for got, want in zip(torch.autograd.grad((banded * w).sum(), (x, F, b)),
                         torch.autograd.grad((dense * w).sum(), (x, F, b))):
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
    assert torch.autograd.gradcheck(_BandedFilter.apply, (x, F, b))


@pytest.mark.parametrize("T, n_in, banded", [(30, 12, True), (6, 4, True), (30, 200, False)])  # (6, 4): T < M
def test_readout_feedforward_banded_equals_dense_basis_matrix(T, n_in, banded):
    """The readout's feed-forward drive, whichever filter runs (banded for narrow inputs), against the dense
    [T, K*T] basis-matrix product of the weighted inputs; forward and gradients, float64."""
    torch.manual_seed(4)
    ro = StochasticReadout(n_in, 6, n_basis=4, memory=8).double()
    h = torch.bernoulli(torch.full((T, 5, n_in), 0.3, dtype=torch.float64)).requires_grad_()
    K, Z, N = ro.n_basis, ro.n_out, n_in
    P = (h.reshape(T * 5, N) @ ro.weight.view(Z, K, N).transpose(0, 1).reshape(K * Z, N).t())  # [T*B, K*Z]
    P = P.view(T, 5, K, Z).permute(2, 0, 1, 3).reshape(K * T, 5 * Z)  # [K*T, B*Z]
    A = torch.cat([causal_filter_matrix(ro.basis[:, k], T) for k in range(K)], dim=1)  # [T, K*T]
    dense = (A @ P).view(T, 5, Z) + ro.bias
    ff = ro.feedforward(h)
    assert (not ro._filters) == banded  # only the dense filter builds (and caches) a basis matrix
    torch.testing.assert_close(ff, dense, rtol=1e-12, atol=1e-12)
    w = torch.randn_like(ff)
    params = [h, ro.weight, ro.bias]
    for got, want in zip(torch.autograd.grad((ff * w).sum(), params), torch.autograd.grad((dense * w).sum(), params)):
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)


def test_filter_matrices_are_cached_per_length_and_usable_for_training_after_inference_mode():
    # a hidden layer wide enough for the readout's dense basis matrix (64·M > K·(64 + T)), not the band
    model = HybridModel(VDIBConfig(n_in=6, n_hidden=(64,), n_readout=4, n_out=3, tau_d=2))
    x = torch.bernoulli(torch.full((12, 2, 6), 0.4))
    with torch.inference_mode():
        model(x, sample="deterministic")  # builds the filter matrices for T = 12
    out = model(x, sample="threshold")
    (out.out.sum() + out.logits.sum()).backward()
    assert all(p.grad is not None for p in model.encoder.parameters())
    filters = model.encoder.readout._filters
    assert len(filters) == 1 and len(model.encoder.hidden[0]._filters) == 1
    A = next(iter(filters.values()))
    model(x[:7], sample="deterministic")
    assert len(filters) == 2 and next(iter(filters.values())) is A  # one per length, reused


def test_kl_matches_reference():
    """bernoulli_kl (softplus form, closed-form derivative) against the pre-issue-14 autograd log-sigmoid formula,
    and the reference's objective: vdib_loss computes its KL with the reference formula inside `objective_of`."""
    from vdib_core import bernoulli_kl, vdib_loss

    u = (6 * torch.randn(50, 8, 10, dtype=torch.float64)).requires_grad_()
    for r in (0.05, 0.3):
        new, old = bernoulli_kl(u, r), ref.reference_kl(u, r)
        torch.testing.assert_close(new, old, rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(*(torch.autograd.grad(k.sum(), u)[0] for k in (new, old)), rtol=1e-9, atol=1e-12)
    cfg = VDIBConfig(n_in=4, n_readout=3, n_out=2, tau_d=2, likelihood="gaussian", target="sequence")
    model = ref.ReferenceModel(cfg)
    out = model(torch.bernoulli(torch.full((6, 2, 4), 0.5)))
    with ref.objective_of(model):
        assert ref.vc.objective.bernoulli_kl is ref.reference_kl
        assert ref.vc.objective.decoder_nll is ref.reference_decoder_nll
        terms = vdib_loss(out, torch.randn(6, 2, 2), cfg)
    assert torch.equal(terms.kl_t, ref.reference_kl(out.logits, cfg.r).sum(-1))
    assert ref.vc.objective.bernoulli_kl is not ref.reference_kl  # restored on leaving
    assert ref.vc.objective.decoder_nll is not ref.reference_decoder_nll


def test_categorical_nll_matches_reference():
    """decoder_nll's fused cross-entropy against F.cross_entropy (the reference): values and gradients."""
    from vdib_core import decoder_nll

    out = torch.randn(7, 5, 11, dtype=torch.float64, requires_grad=True)  # [S, B, classes]
    y = torch.randint(0, 11, (7, 5))
    w = torch.rand(7, 5, dtype=torch.float64)  # unequal upstream gradients per row
    new, old = decoder_nll(out, y, "categorical"), ref.reference_decoder_nll(out, y, "categorical")
    torch.testing.assert_close(new, old, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(*(torch.autograd.grad((k * w).sum(), out)[0] for k in (new, old)), rtol=1e-12,
                               atol=1e-12)
    assert torch.autograd.gradcheck(lambda o: decoder_nll(o, y, "categorical"), (out,))
