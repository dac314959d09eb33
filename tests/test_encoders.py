"""Spike encoders for images: rate and latency codes, and their input validation."""
import math

import pytest
import torch

from vdib_core.data import latency_encode, rate_encode


def test_rate_code_fires_at_the_pixel_intensity():
    p = torch.tensor([[0.0, 0.1, 0.5, 0.9, 1.0]])
    s = rate_encode(p.expand(2000, -1), 50, torch.Generator().manual_seed(0))  # [50, 2000, 5]
    assert s.shape == (50, 2000, 5) and set(s.unique().tolist()) <= {0.0, 1.0}
    freq = s.mean((0, 1))
    n = 50 * 2000
    tol = 5 * torch.sqrt(p[0] * (1 - p[0]) / n) + 1e-9  # 5 standard errors of a Bernoulli mean
    assert ((freq - p[0]).abs() <= tol).all(), freq
    assert freq[0] == 0 and freq[-1] == 1


def test_rate_code_is_reproducible_with_a_generator():
    p = torch.rand(4, 28, 28)
    a = rate_encode(p, 10, torch.Generator().manual_seed(3))
    b = rate_encode(p, 10, torch.Generator().manual_seed(3))
    assert a.shape == (10, 4, 784) and torch.equal(a, b)


def test_latency_code_one_spike_earlier_for_brighter_pixels():
    p = torch.tensor([[1.0, 0.8, 0.5, 0.2, 0.005, 0.0]])
    s = latency_encode(p, 20, threshold=0.01)  # [20, 1, 6]
    counts = s.sum(0)[0]
    assert counts.tolist() == [1, 1, 1, 1, 0, 0]  # pixels at or below threshold never spike
    times = s[:, 0, :4].argmax(0)
    assert times[0] == 0 and (times.diff() > 0).all()  # brighter pixels spike earlier
    expected = torch.round((1 - p[0, :4]) / 0.99 * 19)
    assert torch.equal(times.float(), expected)


@pytest.mark.parametrize("encode", [rate_encode, latency_encode])
def test_encoders_reject_bad_input(encode):
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        encode(torch.full((2, 3), 1.5), 5)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        encode(torch.full((2, 3), math.nan), 5)
    with pytest.raises(TypeError, match="float"):
        encode(torch.ones(2, 3, dtype=torch.int64), 5)
    with pytest.raises(TypeError, match="torch.Tensor"):
        encode([[0.5]], 5)
    with pytest.raises(ValueError, match="T must be"):
        encode(torch.rand(2, 3), 0)
