"""Training loop: learning on tiny tasks, seeds, checkpoints, resume, non-finite losses."""
import pytest
import torch

from vdib_core import HybridModel, TrainConfig, VDIBConfig, evaluate, fit, load_checkpoint, save_checkpoint
from vdib_core.data import spike_order_task as order_task


def order_model(decoding: str, seed: int = 0, **kw) -> HybridModel:
    torch.manual_seed(seed)
    cfg = VDIBConfig(n_in=2, n_readout=16, n_out=2, tau_d=12, likelihood="categorical", decoder="mlp",
                     decoder_hidden=32, decoding=decoding, beta=0.01, r=0.3, **kw)
    return HybridModel(cfg)


def test_counts_are_equal_but_time_decoding_learns_the_order():
    X, Y = order_task(512)
    assert (X.sum(1)[Y == 0] == X.sum(1)[Y == 1][: (Y == 0).sum()]).all()  # same counts in both classes
    test = order_task(512, seed=1)
    tc = TrainConfig(epochs=25, batch_size=64, lr_encoder=3e-3, lr_decoder=3e-3, progress=False)
    acc = {}
    for decoding in ("time", "rate"):
        model = order_model(decoding)
        history = fit(model, (X, Y), tc)
        assert history[-1]["loss"] < history[0]["loss"]  # training lowers the loss
        acc[decoding] = evaluate(model, test)["metric"]
    assert acc["time"] > 0.95, acc
    assert acc["time"] - acc["rate"] > 0.15, acc


def tiny_setup(seed=0):
    X, Y = order_task(96, seed=seed)
    return order_model("time", seed=seed), (X, Y), TrainConfig(epochs=2, batch_size=32, seed=seed, progress=False)


def test_same_seed_same_numbers():
    runs = []
    for _ in range(2):
        model, data, tc = tiny_setup()
        runs.append(([{k: v for k, v in h.items() if k != "time_s"} for h in fit(model, data, tc)],
                     evaluate(model, data, seed=3)))
    assert runs[0] == runs[1]
    model, data, tc = tiny_setup()
    tc.seed = 1
    other = [{k: v for k, v in h.items() if k != "time_s"} for h in fit(model, data, tc)]
    assert other != runs[0][0]


def test_checkpoint_round_trip_restores_identical_outputs(tmp_path):
    model, data, tc = tiny_setup()
    fit(model, data, tc)
    save_checkpoint(tmp_path / "m.pt", model, train_cfg=tc, epoch=2)
    loaded, ckpt = load_checkpoint(tmp_path / "m.pt")
    assert ckpt["version"] and ckpt["model_cfg"]["n_readout"] == 16 and ckpt["train_cfg"]["epochs"] == 2
    x = data[0][:8].transpose(0, 1)
    for m in (model, loaded):
        m.eval()
    a = model(x, generator=torch.Generator().manual_seed(5))
    b = loaded(x, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a.z, b.z) and torch.equal(a.out, b.out)
    with pytest.raises(ValueError, match="not a readable vdib_core checkpoint"):
        torch.save({"foo": 1}, tmp_path / "bad.pt")
        load_checkpoint(tmp_path / "bad.pt")


def test_resume_reproduces_uninterrupted_training(tmp_path):
    model, data, tc = tiny_setup()
    tc.epochs = 3
    fit(model, data, tc)
    model2, _, tc2 = tiny_setup()
    tc2.epochs = 1
    fit(model2, data, tc2, checkpoint=tmp_path / "c.pt")
    model3, _, tc3 = tiny_setup(seed=0)
    tc3.epochs = 3
    history = fit(model3, data, tc3, checkpoint=tmp_path / "c.pt", resume=True)
    assert [h["epoch"] for h in history] == [1, 2, 3]
    for p, q in zip(model.state_dict().values(), model3.state_dict().values()):
        assert torch.equal(p, q)


def test_non_finite_loss_stops_with_step_and_saves_last_good(tmp_path):
    model, data, tc = tiny_setup()
    with torch.no_grad():
        model.decoder.net[-1].bias.fill_(float("nan"))
    with pytest.raises(FloatingPointError, match="epoch 1, step 1"):
        fit(model, data, tc, checkpoint=tmp_path / "nan.pt")
    _, ckpt = load_checkpoint(tmp_path / "nan.pt")
    assert ckpt["epoch"] == 0


def test_bad_training_data():
    model, (X, Y), tc = tiny_setup()
    with pytest.raises(ValueError, match="same, non-zero number"):
        fit(model, (X, Y[:-1]), tc)
    with pytest.raises(TypeError, match="tuple"):
        fit(model, X, tc)


def test_mlp_decoder_units_stay_alive_on_spike_windows():
    """A measured pitfall: an MLP reading 0/1 windows lost ~all ReLUs at lr 1e-3; input centring prevents it."""
    torch.manual_seed(0)
    cfg = VDIBConfig(n_in=100, n_hidden=(), n_readout=64, n_out=100, tau_d=20, decoder="mlp", decoder_hidden=256,
                     r=0.3, beta=1e-3)
    model = HybridModel(cfg)
    images = (torch.rand(256, 100) < 0.2).float()
    X = (torch.rand(256, 20, 100) < images.unsqueeze(1) * 0.8).float()
    fit(model, (X, images), TrainConfig(epochs=3, batch_size=32, lr_encoder=1e-3, lr_decoder=1e-3, progress=False))
    model.eval()
    with torch.no_grad():
        out = model(X[:128].transpose(0, 1))
        windows = out.z[-20:].transpose(0, 1).reshape(128, 20, 64)
        hidden = model.decoder.net[:3](model.decoder.centre(windows))  # Flatten, Linear, ReLU
    dead = (hidden.max(0).values <= 0).float().mean().item()
    assert dead < 0.05


@pytest.mark.parametrize("damage", ["corrupt", "truncated", "empty"])
def test_unreadable_checkpoint_is_a_clear_error_naming_the_file(tmp_path, damage):
    model, data, tc = tiny_setup()
    path = tmp_path / "run" / "model.pt"
    save_checkpoint(path, model, train_cfg=tc)
    raw = path.read_bytes()
    path.write_bytes({"corrupt": b"\x80garbage" + raw[50:], "truncated": raw[: len(raw) // 2], "empty": b""}[damage])
    with pytest.raises(ValueError, match=rf"{path}.* is not a readable vdib_core checkpoint"):
        load_checkpoint(path)
    with pytest.raises(ValueError, match=rf"{path}.* is not a readable vdib_core checkpoint"):
        fit(model, data, tc, checkpoint=path, resume=True)


def test_a_foreign_file_is_not_a_checkpoint(tmp_path):
    path = tmp_path / "weights.pt"
    torch.save({"weights": torch.zeros(3)}, path)
    with pytest.raises(ValueError, match=f"{path} is not a readable vdib_core checkpoint"):
        load_checkpoint(path)


def test_evaluate_raises_on_nan_targets_like_fit():
    torch.manual_seed(0)
    cfg = VDIBConfig(n_in=4, n_readout=3, n_out=2, tau_d=5, likelihood="gaussian", decoder="linear")
    X = (torch.rand(10, 5, 4) < 0.5).float()
    Y = torch.randn(10, 2)
    Y[7, 1] = float("nan")
    model = HybridModel(cfg)
    with pytest.raises(FloatingPointError, match="non-finite loss for example 7"):
        evaluate(model, (X, Y), batch_size=4)
    with pytest.raises(FloatingPointError):
        fit(model, (X, Y), TrainConfig(epochs=1, batch_size=10, progress=False))
    assert torch.isfinite(torch.tensor(evaluate(model, (X[:7], Y[:7]))["loss"]))


def test_int_n_hidden_is_one_layer():
    cfg = VDIBConfig(n_in=4, n_readout=3, n_out=2, tau_d=2, n_hidden=6)
    assert cfg.n_hidden == (6,)
    assert len(HybridModel(cfg).encoder.hidden) == 1


def test_float64_spikes_are_accepted():
    torch.manual_seed(0)
    model = HybridModel(VDIBConfig(n_in=4, n_readout=3, n_out=2, tau_d=2, n_hidden=(5,)))
    x = (torch.rand(6, 2, 4, dtype=torch.float64) < 0.5).double()
    a = model(x, generator=torch.Generator().manual_seed(1))
    b = model(x.float(), generator=torch.Generator().manual_seed(1))
    assert a.z.dtype == torch.float32 and torch.equal(a.z, b.z)
