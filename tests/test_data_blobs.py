"""Drifting blobs (method.md §6.1): shapes, statistics, the 210-class mapping and target alignment."""
import math

import pytest
import torch

from vdib_core.data import N_CLASSES, blob_targets, class_to_pattern, drifting_blobs, pattern_to_class

N_SEQ, T = 400, 100


@pytest.fixture(scope="module")
def sequences():
    return drifting_blobs(T, seed=123, batch=N_SEQ)  # [T, B, 20]


def test_shape_binary_and_one_or_two_active():
    x = drifting_blobs(1000, seed=0)
    assert x.shape == (1000, 20)
    assert ((x == 0) | (x == 1)).all()
    active = x.sum(1)
    assert ((active >= 1) & (active <= 2)).all()
    assert (active == 2).any() and (active == 1).any()
    assert torch.equal(x, drifting_blobs(1000, seed=0)) and not torch.equal(x, drifting_blobs(1000, seed=1))


def _check_rate(per_sequence: torch.Tensor, reference: float):
    """Reference quoted to ~1 percentage point (method.md says '≈'), plus 4 standard errors across sequences."""
    mean = per_sequence.mean().item()
    se = per_sequence.std().item() / math.sqrt(len(per_sequence))
    assert abs(mean - reference) < 0.01 + 4 * se, (mean, reference, se)


@pytest.mark.parametrize("delta, reference", [(1, 0.21), (2, 0.15), (3, 0.10)])
def test_persistence_accuracy(sequences, delta, reference):
    for d in (delta, -delta):  # persistence is symmetric in time: same rate for recall and prediction
        inputs, targets, _ = blob_targets(sequences, d)
        correct = (pattern_to_class(inputs) == targets).float()  # [T - |d|, B]
        _check_rate(correct.mean(0), reference)


def test_coincidence_rate(sequences):
    coincide = (sequences.sum(-1) == 1).float()  # [T, B] both blobs on the same input
    _check_rate(coincide.mean(0), 0.06)


def test_class_mapping_round_trip():
    classes = torch.arange(N_CLASSES)
    patterns = class_to_pattern(classes)  # [210, 20]
    assert N_CLASSES == 210 and patterns.shape == (210, 20)
    assert (patterns.sum(1)[:20] == 1).all() and (patterns.sum(1)[20:] == 2).all()
    assert len({tuple(p.tolist()) for p in patterns}) == 210
    assert torch.equal(pattern_to_class(patterns), classes)
    x = drifting_blobs(50, seed=4, batch=3)  # [50, 3, 20]
    assert torch.equal(class_to_pattern(pattern_to_class(x)), x)


def test_mapping_rejects_bad_input():
    with pytest.raises(ValueError, match="1 or 2"):
        pattern_to_class(torch.ones(20))
    with pytest.raises(ValueError, match="binary"):
        pattern_to_class(torch.full((20,), 0.5))
    with pytest.raises(ValueError, match=r"\[0, 210\)"):
        class_to_pattern(torch.tensor([210]))
    with pytest.raises(TypeError):
        class_to_pattern(torch.tensor([1.0]))


@pytest.mark.parametrize("delta", [-7, -1, 0, 1, 5])
def test_target_alignment(delta):
    x = drifting_blobs(40, seed=9, batch=2)  # [40, 2, 20]
    inputs, targets, times = blob_targets(x, delta)
    assert len(times) == len(inputs) == len(targets) == 40 - abs(delta)
    assert times.start == max(0, -delta) and times.stop == 40 - max(0, delta)
    for k, t in enumerate(times):
        assert torch.equal(inputs[k], x[t])
        assert torch.equal(class_to_pattern(targets[k]), x[t + delta])


def test_target_range_errors():
    x = drifting_blobs(10, seed=0)
    with pytest.raises(ValueError, match="< T"):
        blob_targets(x, 10)
    with pytest.raises(ValueError, match="< T"):
        blob_targets(x, -10)
    with pytest.raises(TypeError):
        blob_targets(x, 1.5)


def test_pattern_to_class_of_a_single_pattern():
    x = torch.zeros(20)
    x[[3, 7]] = 1
    assert pattern_to_class(x).item() == pattern_to_class(x[None])[0].item()
    assert torch.equal(class_to_pattern(pattern_to_class(x)), x)
