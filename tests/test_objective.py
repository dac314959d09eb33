"""The VDIB objective against closed forms and exact enumeration (method.md §3, §5)."""
import math

import pytest
import torch

from vdib_core import HybridModel, VDIBConfig, bernoulli_kl, estimator_loss, spike_log_likelihood, vdib_loss
from vdib_core.objective import exact_expected_loss, readout_patterns


def closed_form_kl(u: torch.Tensor, r: float) -> torch.Tensor:
    p = 1 / (1 + torch.exp(-u))
    return p * torch.log(p / r) + (1 - p) * torch.log((1 - p) / (1 - r))


@pytest.mark.parametrize("r", [0.05, 0.2, 0.5, 0.9])
def test_bernoulli_kl_matches_closed_form(r):
    u = torch.linspace(-20, 20, 401, dtype=torch.float64)
    torch.testing.assert_close(bernoulli_kl(u, r), closed_form_kl(u, r), rtol=1e-10, atol=1e-12)


def test_bernoulli_kl_extreme_logits_and_gradient():
    r = 0.2
    u = torch.tensor([-100.0, -50.0, 50.0, 100.0], requires_grad=True)
    kl = bernoulli_kl(u, r)
    assert torch.isfinite(kl).all()
    # p -> 0: KL -> −log(1−r); p -> 1: KL -> −log r
    torch.testing.assert_close(kl.detach(), torch.tensor([-math.log(1 - r)] * 2 + [-math.log(r)] * 2))
    kl.sum().backward()
    assert torch.isfinite(u.grad).all() and u.grad.abs().max() < 1e-15
    # dKL/du = σ(u)σ(−u)(u − logit r), checked in float64 at moderate logits, and by finite differences
    v = torch.linspace(-8, 8, 33, dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(bernoulli_kl(v, r).sum(), v)
    expected = torch.sigmoid(v) * torch.sigmoid(-v) * (v - math.log(r / (1 - r)))
    torch.testing.assert_close(g, expected.detach(), rtol=1e-9, atol=1e-12)
    assert torch.autograd.gradcheck(lambda w: bernoulli_kl(w, r), (v,))


def test_bernoulli_kl_rejects_bad_rate():
    for r in (0.0, 1.0, -0.1, 1.5):
        with pytest.raises(ValueError, match="r must be in"):
            bernoulli_kl(torch.zeros(3), r)


def test_spike_log_likelihood_matches_explicit_computation():
    g = torch.Generator().manual_seed(0)
    u = torch.randn(5, 4, 3, generator=g, dtype=torch.float64) * 3
    z = torch.bernoulli(torch.full_like(u, 0.5), generator=g)
    p = 1 / (1 + torch.exp(-u))
    explicit = z * torch.log(p) + (1 - z) * torch.log(1 - p)
    torch.testing.assert_close(spike_log_likelihood(z, u), explicit, rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match="0/1"):
        spike_log_likelihood(z * 0.5, u)


# ----- unbiasedness of the score-function estimator, by exact enumeration ---------------------------

T, N_Z, N_IN = 3, 2, 3


def tiny_model(target: str, learning_signal: str = "to_go", baseline: str = "none", fb: float = 0.0):
    torch.manual_seed(1)
    cfg = VDIBConfig(n_in=N_IN, n_readout=N_Z, n_out=2, tau_d=2, likelihood="gaussian", target=target,
                     decoder="linear", estimator="score", baseline=baseline, learning_signal=learning_signal,
                     beta=0.7, r=0.3, n_basis=2, memory=3)
    model = HybridModel(cfg).double().eval()  # eval: the decoder's input centering stays fixed
    with torch.no_grad():
        model.encoder.readout.weight.mul_(3)
        model.encoder.readout.fb_weight.fill_(fb)
    x = torch.tensor([[1.0, 0, 1], [0, 1, 1], [1, 1, 0]], dtype=torch.float64).unsqueeze(1)  # [T, 1, N_in]
    y = (torch.tensor([[0.5, -1.0], [2.0, 0.3], [-0.4, 1.5]], dtype=torch.float64).unsqueeze(1) if target == "sequence"
         else torch.tensor([[0.5, -1.0]], dtype=torch.float64))
    return model, x, y


def exact_gradient(model, x, y):
    """∇ E_z[L] with the expectation written out as a sum over all 2^(T·N_z) readout patterns."""
    return torch.autograd.grad(exact_expected_loss(model, x, y), list(model.parameters()))


def estimator_groups(model, x, y, groups=40, per_group=500, seed=0):
    """Independent estimates of ∇L, each the mean of the estimator over `per_group` draws."""
    gen = torch.Generator().manual_seed(seed)
    yb = y.expand(T, per_group, -1) if model.cfg.target == "sequence" else y.expand(per_group, -1)
    grads = []
    for _ in range(groups):
        out = model(x.expand(-1, per_group, -1), sample="bernoulli", generator=gen)
        loss = estimator_loss(out, vdib_loss(out, yb, model.cfg), model.cfg)
        grads.append(torch.cat([g.flatten() for g in torch.autograd.grad(loss, list(model.parameters()))]))
    return torch.stack(grads)  # [groups, n_params]


def max_z_score(model, x, y, **kw):
    exact = torch.cat([g.flatten() for g in exact_gradient(model, x, y)])
    est = estimator_groups(model, x, y, **kw)
    se = est.std(0) / math.sqrt(est.shape[0])
    assert (se > 0).sum() > 5  # the estimator is random for most parameters
    z = (est.mean(0) - exact).abs() / (se + 1e-12)
    return z.max().item(), est


@pytest.mark.parametrize("target", ["sequence", "static"])
@pytest.mark.parametrize("baseline", ["none", "loo"])
def test_score_estimator_is_unbiased_with_feedback(target, baseline):
    model, x, y = tiny_model(target, "to_go", baseline, fb=-1.5)
    z_max, _ = max_z_score(model, x, y)
    # ~30 parameters, each mean of 40 independent group estimates: |z| < 4.5 holds with prob > 0.999
    assert z_max < 4.5


def expected_estimate(model, x, y):
    """E_z[estimator] computed exactly: the estimator at every readout pattern, weighted by p(z)."""
    total = None
    patterns = readout_patterns(T, N_Z)  # [T, 64, N_z]
    for k in range(patterns.shape[1]):
        z = patterns[:, k:k + 1]  # [T, 1, N_z]
        out = model(x, z=z)
        p = spike_log_likelihood(z, out.logits).sum().exp().detach()
        grads = torch.autograd.grad(estimator_loss(out, vdib_loss(out, y, model.cfg), model.cfg),
                                    list(model.parameters()))
        g = p * torch.cat([g.flatten() for g in grads])
        total = g if total is None else total + g
    return total


@pytest.mark.parametrize("target", ["sequence", "static"])
def test_score_estimator_expectation_equals_exact_gradient(target):
    model, x, y = tiny_model(target, "to_go", "none", fb=-1.5)
    exact = torch.cat([g.flatten() for g in exact_gradient(model, x, y)])
    torch.testing.assert_close(expected_estimate(model, x, y), exact, rtol=1e-9, atol=1e-12)


def test_window_learning_signal_unbiased_without_feedback_biased_with_it():
    model, x, y = tiny_model("sequence", "window", "none", fb=0.0)
    exact = torch.cat([g.flatten() for g in exact_gradient(model, x, y)])
    torch.testing.assert_close(expected_estimate(model, x, y), exact, rtol=1e-9, atol=1e-12)
    z_max, _ = max_z_score(model, x, y)  # and the sampled estimator agrees
    assert z_max < 4.5
    # with self-feedback, z_t shapes later spikes and costs outside its window: the truncated signal is biased
    model, x, y = tiny_model("sequence", "window", "none", fb=-4.0)
    exact = torch.cat([g.flatten() for g in exact_gradient(model, x, y)])
    bias = (expected_estimate(model, x, y) - exact).abs().max()
    assert bias > 1e-3 * exact.abs().max()


def test_leave_one_out_baseline_lowers_variance():
    model, x, y = tiny_model("sequence", "to_go", "none", fb=-1.5)
    y = y + 5.0  # a large mean loss: exactly the case a baseline is for
    var_none = estimator_groups(model, x, y, groups=30, per_group=100).var(0).sum()
    model.cfg.baseline = "loo"
    var_loo = estimator_groups(model, x, y, groups=30, per_group=100).var(0).sum()
    assert var_loo < 0.5 * var_none


def test_readout_patterns_and_exact_expectation():
    z = readout_patterns(2, 3)  # [T, P, N_z]
    assert z.shape == (2, 64, 3) and len({tuple(z[:, k].flatten().tolist()) for k in range(64)}) == 64
    with pytest.raises(ValueError, match="spikes to enumerate"):
        readout_patterns(30, 256)
    model, x, y = tiny_model("sequence")
    with torch.no_grad():  # the probabilities of all patterns sum to one: E[1] = 1 with a constant loss
        out = model(x.expand(-1, 64, -1), z=readout_patterns(T, N_Z))
        total = spike_log_likelihood(readout_patterns(T, N_Z), out.logits).sum((0, 2)).exp().sum()
    assert abs(total.item() - 1) < 1e-12
    with pytest.raises(ValueError, match="one example"):
        exact_expected_loss(model, x.expand(-1, 2, -1), y)
